"""The machine's memory and the budgets read from the environment, in one place.

Data readers, the ONNX importer, the training forecast and the window all compare a size
they are about to allocate with the machine's memory; each budget can be overridden by an
environment variable (``STRATA_DATA_MEMORY=16M``) on a shared machine or in a test.
"""

from __future__ import annotations

import os

_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def machine_memory() -> int | None:
    """The machine's physical memory in bytes, or None where it cannot be read."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return None
    return pages * page_size if pages > 0 and page_size > 0 else None


def parse_size(text: str) -> int | None:
    """``"16M"`` → 16 MiB, ``"2.5G"``, ``"1024"`` (bytes); None for anything else or ≤ 0."""
    given = text.strip().upper().removesuffix("B")
    if not given:
        return None
    number, suffix = (given[:-1], given[-1]) if given[-1] in _SUFFIXES else (given, "")
    try:
        size = int(float(number) * _SUFFIXES[suffix])
    except (ValueError, OverflowError):
        return None
    return size if size > 0 else None


def size_from_environment(variable: str) -> int | None:
    """The size an environment variable sets (see `parse_size`), or None when unset or bad."""
    return parse_size(os.environ.get(variable, ""))
