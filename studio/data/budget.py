"""How much memory the data may take, checked before anything that large is allocated.

A small file can declare a huge array (a 4 MB gzip that decodes to 8 GB, an `.npy` header
claiming 10¹² rows), and in-range settings can multiply into one (a series window of 50,000,
4096² images); either would exhaust the machine's memory before anything else could object.
Every reader computes the bytes it is about to allocate and calls `check_memory` first, which
refuses, in a sentence naming the file, the size and the setting to change, anything above
half of the machine's memory (or what ``STRATA_DATA_MEMORY`` says, in bytes or with a K/M/G
suffix: on a shared machine, or in a test).
"""

from __future__ import annotations

from studio.core.memory import machine_memory, size_from_environment
from studio.core.safe_files import size_text
from studio.data.errors import DataError

BUDGET_VARIABLE = "STRATA_DATA_MEMORY"
MEMORY_FRACTION = 0.5
# When the machine's memory cannot be read (no sysconf): a size most machines that train hold.
FALLBACK_BUDGET = 8 * 2**30


def data_memory_budget() -> tuple[int, str]:
    """(bytes the data may take, where that figure comes from, for messages)."""
    budget = size_from_environment(BUDGET_VARIABLE)
    if budget is not None:
        return budget, f"set by {BUDGET_VARIABLE}"
    memory = machine_memory()
    if memory is None:
        return FALLBACK_BUDGET, "this machine's memory is unknown"
    return int(memory * MEMORY_FRACTION), f"half of this machine's {size_text(memory)}"


def check_memory(label: str, size: int, what: str, advice: str) -> None:
    """Refuse `size` bytes of data over the budget, before they are allocated.

    Args:
        label: the file (or dataset) the message names.
        size: the bytes about to be allocated.
        what: what they would hold ("400 images of 3 × 4096 × 4096").
        advice: what to change, naming the setting ("lower the image size (size)").

    Raises:
        DataError: `size` is over the budget.
    """
    budget, origin = data_memory_budget()
    if size > budget:
        raise DataError(
            f"{label}: {what} would take {size_text(size)} of memory, more than the "
            f"{size_text(budget)} data may use ({origin}); {advice}"
        )
