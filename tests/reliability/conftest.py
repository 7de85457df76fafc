"""Shared parts of the reliability suite: case counts, and the figures the report collects.

Fuzz tests run `STRATA_FUZZ_EXAMPLES` cases each (a few dozen in the default suite); the
dedicated run raises it:

    STRATA_FUZZ_EXAMPLES=10000 pytest -m fuzz tests/reliability     # >= 10,000 per fuzz test
    pytest -m slow tests/reliability                                 # 20 kills, 100,000-step soak

When `STRATA_RELIABILITY_JSON` names a file, the figures (cases run, faults injected, what
was lost) are merged into it at the end of the session; `python -m benchmarks` reads it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPORT_ENV = "STRATA_RELIABILITY_JSON"
EXAMPLES_ENV = "STRATA_FUZZ_EXAMPLES"
DEFAULT_EXAMPLES = 40


def fuzz_examples(default: int = DEFAULT_EXAMPLES) -> int:
    """Cases per fuzz test: `STRATA_FUZZ_EXAMPLES`, else the default suite's small count."""
    return int(os.environ.get(EXAMPLES_ENV, default))


def fuzz_settings(default: int = DEFAULT_EXAMPLES) -> settings:
    """Hypothesis settings for a fuzz test; the deadline only catches hangs, so it is generous."""
    return settings(
        max_examples=fuzz_examples(default),
        deadline=timedelta(seconds=30),
        derandomize=EXAMPLES_ENV not in os.environ,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


_FIGURES: Counter[str] = Counter()


class Figures:
    """Counts (cases run, faults injected, losses) kept for `benchmarks/RESULTS.md`."""

    def add(self, name: str, amount: int = 1) -> None:
        _FIGURES[name] += amount


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    yield Figures()
    target = os.environ.get(REPORT_ENV)
    if not target or not _FIGURES:
        return
    label = os.environ.get("STRATA_RELIABILITY_LABEL") or (
        f"{fuzz_examples()} cases per fuzz test, -m {request.config.option.markexpr!r}"
    )
    path = Path(target)
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    # One entry per kind of run, so that a quick run never overwrites the long run's figures.
    previous[label] = dict(sorted(_FIGURES.items()))
    path.write_text(json.dumps(previous, indent=2) + "\n", encoding="utf-8")
