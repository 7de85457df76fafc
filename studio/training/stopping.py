"""Graceful stop: a "stop" line on stdin (what the window sends) or SIGTERM/SIGINT.

Stop means "checkpoint, then exit". The request only asks the trainer to stop; it ends after
the current step, writes `last.pt` (inside an epoch too, with how far the epoch got, so that
`--resume` finishes it and no work is lost), writes `done` with status "stopped", and exits 0.
A second signal is not intercepted, so it ends the process at once (the window's second
press of Stop), and the run keeps its previous checkpoint.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from studio.training.callbacks import Callback

if TYPE_CHECKING:
    from studio.training.trainer import Trainer

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequests(Callback):
    """Turns stop requests into the trainer's cooperative `should_stop`."""

    def __init__(
        self, *, stdin: TextIO | None = None, signals: bool = True, stop_on_eof: bool = False
    ) -> None:
        self.requested = threading.Event()
        self.stdin = stdin
        self.signals = signals
        # The window holds the child's stdin open; its end means the window has gone (killed
        # or crashed), and a child nobody watches should checkpoint and end, not run on.
        self.stop_on_eof = stop_on_eof
        self.previous: dict[int, object] = {}

    def request(self) -> None:
        self.requested.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request()
        # The next signal of this kind is not ours to soften.
        signal.signal(signum, signal.SIG_DFL)

    def _read_stdin(self, stream: TextIO) -> None:
        for line in stream:
            if line.strip().lower() == "stop":
                self.request()
                return
        if self.stop_on_eof:
            self.request()

    def on_fit_start(self, trainer: Trainer) -> None:
        if self.signals and threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self.previous[signum] = signal.signal(signum, self._on_signal)
        if self.stdin is not None:
            threading.Thread(
                target=self._read_stdin, args=(self.stdin,), name="stop-listener", daemon=True
            ).start()

    def on_batch_end(self, trainer: Trainer) -> None:
        if self.requested.is_set() and not trainer.should_stop:
            trainer.request_stop(f"stop requested: stopping at step {trainer.step}")

    def on_epoch_end(self, trainer: Trainer) -> None:
        self.on_batch_end(trainer)

    def on_fit_end(self, trainer: Trainer) -> None:
        for signum, handler in self.previous.items():
            if signal.getsignal(signum) == self._on_signal:
                signal.signal(signum, handler)  # type: ignore[arg-type]
        self.previous.clear()


def stdin_stop_requests(*, stop_on_eof: bool = False) -> StopRequests:
    """For `studio train --events`: listen on stdin and for signals."""
    return StopRequests(stdin=sys.stdin, stop_on_eof=stop_on_eof)
