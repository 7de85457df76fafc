"""The bounds the reliability suite relies on: `time_bound` stops a hang while it runs, and
every fuzz test carries a hard timeout for the hangs no signal can reach."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from .conftest import time_bound

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="SIGALRM is POSIX")


@pytest.mark.timeout(30, method="thread")
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_blocked_open_is_stopped(tmp_path: Path) -> None:
    """The hang a project or data loader meets first: a FIFO with no writer."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match="a hang"), time_bound(0.2):
        fifo.read_bytes()
    assert time.monotonic() - started < 5


@pytest.mark.timeout(30, method="thread")
def test_a_hang_is_not_mistaken_for_a_refusal() -> None:
    """Loaders turn unexpected exceptions into their error type; a hang must stay a failure."""
    with pytest.raises(pytest.fail.Exception, match="a hang"), time_bound(0.2):
        try:
            while True:
                time.sleep(0.01)
        except Exception:  # what a loader's catch-all does
            pass


def test_the_alarm_is_gone_afterwards() -> None:
    previous = signal.getsignal(signal.SIGALRM)
    with time_bound(5):
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    assert signal.getsignal(signal.SIGALRM) is previous


def test_every_fuzz_test_has_a_hard_timeout(request: pytest.FixtureRequest) -> None:
    fuzz = [item for item in request.session.items if item.get_closest_marker("fuzz")]
    if not fuzz:
        pytest.skip("no fuzz test was collected in this run")
    unbounded = [item.nodeid for item in fuzz if not item.get_closest_marker("timeout")]
    assert not unbounded, f"fuzz tests without a hard timeout: {unbounded}"
