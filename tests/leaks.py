"""What a test may not leave behind: threads and child processes (the window fixtures and the
soak test use these)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def live_children() -> set[int]:
    """Ids of this process's child processes that are still running (zombies excluded)."""
    found = set()
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: nothing to check against
        return found
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            found.add(int(entry.name))
    return found


# Threads a library starts once for the whole process, never ours to stop.
LIBRARY_THREADS = frozenset({"tqdm_monitor"})


def threads_left(before: set[threading.Thread], patience_s: float = 5.0) -> list[str]:
    """Names of the Python threads started since `before` that are still alive after
    `patience_s` (a worker finishing its last item is given that long).

    Threads Python did not start (Qt's, seen from Python as dummies; the task runner's QThreads
    are checked by the window fixture itself) and library singletons are not counted.
    """
    deadline = time.monotonic() + patience_s

    def ours(thread: threading.Thread) -> bool:
        return (
            thread not in before
            and not isinstance(thread, threading._DummyThread)
            and thread.name not in LIBRARY_THREADS
        )

    for thread in threading.enumerate():
        if ours(thread):
            thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threading.enumerate() if ours(t) and t.is_alive()]


def children_left(before: set[int], patience_s: float = 5.0) -> set[int]:
    """Children started since `before` that are still running after `patience_s`."""
    deadline = time.monotonic() + patience_s
    while True:
        left = live_children() - before
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
