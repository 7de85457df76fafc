"""Shared parts of the reliability suite: case counts, and the figures the report collects.

Fuzz tests run `STRATA_FUZZ_EXAMPLES` cases each (a few dozen in the default suite); the
dedicated run raises it:

    STRATA_FUZZ_EXAMPLES=10000 pytest -m fuzz tests/reliability     # >= 10,000 per fuzz test
    pytest -m slow tests/reliability                                 # 20 kills, 100,000-step soak

When `STRATA_RELIABILITY_JSON` names a file, the figures (cases run, faults injected, what
was lost) are merged into it at the end of the session; `python -m benchmarks` reads it.

Every load of a fuzzed or hostile file runs under `time_bound`, which fails that one case
after `STRATA_FUZZ_CASE_SECONDS` (10 s) while it is still running; a test that loads such
files also carries `hard_timeout` (or `fuzz_timeout`), which ends a hang stuck in C code,
where no Python signal handler can run.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import HealthCheck, settings

REPORT_ENV = "STRATA_RELIABILITY_JSON"
EXAMPLES_ENV = "STRATA_FUZZ_EXAMPLES"
CASE_SECONDS_ENV = "STRATA_FUZZ_CASE_SECONDS"
DEFAULT_EXAMPLES = 40
CASE_SECONDS = float(os.environ.get(CASE_SECONDS_ENV, 10))
# Hypothesis shrinks a failing case for up to five minutes; a hang found by `time_bound`
# must be reported, not cut short by the hard timeout while it is being shrunk.
SHRINK_SECONDS = 300


def fuzz_examples(default: int = DEFAULT_EXAMPLES) -> int:
    """Cases per fuzz test: `STRATA_FUZZ_EXAMPLES`, else the default suite's small count."""
    return int(os.environ.get(EXAMPLES_ENV, default))


def fuzz_settings(default: int = DEFAULT_EXAMPLES) -> settings:
    """Hypothesis settings for a fuzz test.

    No deadline: hypothesis measures one only after a case returns, so it never sees a hang;
    `time_bound` stops a slow case while it runs.
    """
    return settings(
        max_examples=fuzz_examples(default),
        deadline=None,
        derandomize=EXAMPLES_ENV not in os.environ,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def hard_timeout(seconds: float) -> pytest.MarkDecorator:
    """A pytest-timeout bound for a whole test, setup included.

    The thread method dumps every stack and ends the run: unlike a signal, it also stops a
    hang inside C code, and it leaves SIGALRM to `time_bound`.
    """
    return pytest.mark.timeout(seconds, method="thread")


def fuzz_timeout(default: int = DEFAULT_EXAMPLES) -> pytest.MarkDecorator:
    """`hard_timeout` for a fuzz test, scaled with its case count (half a second a case, where
    a typical case takes under 20 ms) plus the time to shrink a failure."""
    return hard_timeout(60 + SHRINK_SECONDS + fuzz_examples(default) * 0.5)


@contextmanager
def time_bound(seconds: float = CASE_SECONDS) -> Iterator[None]:
    """Fail the enclosed load when it runs longer than `seconds`, instead of hanging.

    SIGALRM interrupts the load (a blocked `open` or `read` included) with `pytest.fail`, a
    BaseException, so no `except Exception` in the product can turn a hang into a refusal;
    hypothesis reports the case that hung. Off the main thread, or where SIGALRM is missing
    or already armed by someone else, only the test's `hard_timeout` applies.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or signal.getitimer(signal.ITIMER_REAL)[0]:
        yield
        return

    def hung(_signum: int, _frame: FrameType | None) -> None:
        pytest.fail(f"still running after {seconds:g} s: a hang")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
