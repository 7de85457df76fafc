"""Lightning-style callbacks: no-op hooks with one signature, called by one dispatcher.

Every hook takes the trainer and returns nothing; what a hook needs (the epoch, the last
step's loss, the epoch's logs, the error) is on the trainer. A callback that wants training to
end calls ``trainer.request_stop(reason)`` (which sets ``trainer.should_stop``); the trainer
finishes the current step and stops cleanly. A stop inside an epoch calls
``on_epoch_interrupted`` instead of the validation and epoch-end hooks.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from studio.training.checkpoints import save_checkpoint
from studio.training.events import EventStream
from studio.training.runs import RunFolder

if TYPE_CHECKING:
    from studio.training.trainer import Trainer

HOOKS = (
    "on_fit_start",
    "on_epoch_start",
    "on_batch_end",
    "on_validation_end",
    "on_epoch_end",
    "on_epoch_interrupted",
    "on_fit_end",
    "on_exception",
)
# Epochs shorter than this keep their checkpoint in memory until this long after the last
# write (see `Checkpoints`): a small model's epoch is shorter than one fsync.
CHECKPOINT_INTERVAL_S = 2.0
MAXIMIZED = ("accuracy", "f1", "precision", "recall", "r2")


class Callback:
    """Base class: override the hooks you need; the others do nothing."""

    def on_fit_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, trainer: Trainer) -> None: ...
    def on_batch_end(self, trainer: Trainer) -> None: ...
    def on_validation_end(self, trainer: Trainer) -> None: ...
    def on_epoch_end(self, trainer: Trainer) -> None: ...
    def on_epoch_interrupted(self, trainer: Trainer) -> None: ...
    def on_fit_end(self, trainer: Trainer) -> None: ...
    def on_exception(self, trainer: Trainer) -> None: ...


class CallbackList:
    """The one dispatcher: calls a hook on every callback, in order.

    Only hooks a callback overrides are called: per-batch dispatch then costs nothing for the
    callbacks that ignore batches, which keeps the loop at hand-written speed.
    """

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)
        self._bound = {
            hook: [
                getattr(c, hook)
                for c in self.callbacks
                if getattr(type(c), hook) is not getattr(Callback, hook)
            ]
            for hook in HOOKS
        }

    def call(self, hook: str, trainer: Trainer) -> None:
        for method in self._bound[hook]:
            method(trainer)


def monitored_key(metric: str) -> str:
    """ "auto" → "val_loss"; "accuracy" → "val_accuracy"; "train_loss" stays."""
    if metric == "auto":
        return "val_loss"
    return metric if metric.startswith(("val_", "train_")) else f"val_{metric}"


def improves(key: str, value: float, best: float | None) -> bool:
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value > best if key.removeprefix("val_") in MAXIMIZED else value < best


class RunStatus(Callback):
    """Keeps the run's `status.json` current: at the start, with every `last.pt`, at the end.

    Its "epoch" counts finished epochs, so a run stopped inside epoch 3 says 2.
    """

    def __init__(self, run: RunFolder) -> None:
        self.run = run
        self.started = 0.0

    def _write(self, trainer: Trainer, status: str, message: str | None = None) -> None:
        self.run.write_status(
            status,
            started=self.started,
            epoch=trainer.epochs_done,
            step=trainer.step,
            epochs=trainer.epochs,
            message=message,
        )

    def on_fit_start(self, trainer: Trainer) -> None:
        self.started = time.time()
        self._write(trainer, "running")

    def on_epoch_end(self, trainer: Trainer) -> None:
        # Written with `last.pt` (this callback comes after `Checkpoints`), so that a killed
        # run's status names the epoch its checkpoint holds, and short epochs skip both.
        if any(kind == "last" for kind, _ in trainer.saved):
            self._write(trainer, "running")

    def on_fit_end(self, trainer: Trainer) -> None:
        message = None
        if trainer.status == "failed":
            message = error_message(trainer.error)
        elif trainer.status == "stopped":
            message = trainer.stop_reason or "stopped"
        self._write(trainer, trainer.status, message)


def error_message(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return str(error) or type(error).__name__


class MetricsLog(Callback):
    """Appends each epoch's logs to `metrics.jsonl` (a kill loses at most the line in writing)."""

    def __init__(self, run: RunFolder) -> None:
        self.run = run

    def on_epoch_end(self, trainer: Trainer) -> None:
        self.run.append_metrics(trainer.epoch_logs)


class Checkpoints(Callback):
    """Writes `last.pt` after epochs and `best.pt` whenever the monitored metric improves.

    A stop inside an epoch writes `last.pt` too, with how far the epoch got, so that Stop
    loses no work: `--resume` finishes that epoch.

    Each write ends in fsync (a few milliseconds), which for a small model is more than its
    whole epoch. So epochs that end within `interval` seconds of the last write keep their
    checkpoint in memory instead, and it is written `interval` seconds after the last one,
    at the last epoch, at a stop, and when the run ends in any way (an error included): a
    killed process loses at most `interval` seconds of training. Epochs longer than that
    (any model worth the wait) are written every epoch, as before.
    """

    def __init__(
        self,
        run: RunFolder,
        monitor: str = "auto",
        best: float | None = None,
        interval: float = CHECKPOINT_INTERVAL_S,
    ) -> None:
        self.run = run
        self.key = monitored_key(monitor)
        self.best = best
        self.interval = interval
        self.last_write = -math.inf  # the first epoch is always written
        self.pending_last: dict[str, Any] | None = None
        self.pending_best: dict[str, Any] | None = None

    def on_epoch_end(self, trainer: Trainer) -> None:
        value = trainer.epoch_logs.get(self.key)
        improved = isinstance(value, float) and improves(self.key, value, self.best)
        if improved:
            self.best = value
        state = trainer.checkpoint_state(best=self.best)
        due = (
            time.monotonic() - self.last_write >= self.interval
            or trainer.epoch >= trainer.epochs
            or trainer.should_stop
        )
        if not due:
            # The weights and optimizer state change in place: keep a copy, not a view.
            kept = copy.deepcopy(state)
            self.pending_last = kept
            if improved:
                self.pending_best = kept
            return
        self.pending_last = None
        self._save(trainer, "last", state)
        if improved:
            self.pending_best = None
            self._save(trainer, "best", state)
        elif self.pending_best is not None:
            self._save(trainer, "best", self.pending_best)
            self.pending_best = None

    def on_epoch_interrupted(self, trainer: Trainer) -> None:
        self.pending_last = None
        self._save(trainer, "last", trainer.checkpoint_state(best=self.best))
        trainer.log(
            f"saved {self.run.last.name} in epoch {trainer.epoch} after batch {trainer.batch} "
            f"of {trainer.batches}; resuming run {trainer.run_id} picks up from there"
        )

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.pending_last is not None:
            self._save(trainer, "last", self.pending_last)
        if self.pending_best is not None:
            self._save(trainer, "best", self.pending_best)
        self.pending_last = self.pending_best = None

    def _save(self, trainer: Trainer, kind: str, state: dict[str, Any]) -> None:
        path = self.run.last if kind == "last" else self.run.best
        save_checkpoint(path, state)
        self.last_write = time.monotonic()
        trainer.saved.append((kind, str(path)))


class EarlyStopping(Callback):
    """Stops when the monitored metric has not improved for `patience` epochs."""

    def __init__(self, monitor: str = "auto", patience: int = 5) -> None:
        self.key = monitored_key(monitor)
        self.patience = patience
        self.best: float | None = None
        self.bad_epochs = 0

    def on_epoch_end(self, trainer: Trainer) -> None:
        value = trainer.epoch_logs.get(self.key)
        if value is None:
            trainer.log(f"early stopping watches {self.key!r}, which this run does not compute")
            return
        if improves(self.key, float(value), self.best):
            self.best, self.bad_epochs = float(value), 0
            return
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            trainer.request_stop(
                f"early stopping: {self.key} has not improved for {self.patience} epochs "
                f"(best {self.best:.6g})"
            )


class EventWriter(Callback):
    """Writes the JSON-lines events; `step` events throttle themselves (≤ `rate` per second)."""

    def __init__(self, stream: EventStream, rate: float = 20.0) -> None:
        self.stream = stream
        self.interval = 1.0 / rate
        self.last_step_time = 0.0

    def _drain_logs(self, trainer: Trainer) -> None:
        for message in trainer.pending_logs:
            self.stream.emit("log", level="info", message=message)
        trainer.pending_logs.clear()

    def on_fit_start(self, trainer: Trainer) -> None:
        self.stream.emit("started", **trainer.describe())
        self._drain_logs(trainer)

    def on_batch_end(self, trainer: Trainer) -> None:
        now = time.monotonic()
        # Throttled even at the end of an epoch: the `epoch` event carries the epoch's figures.
        if now - self.last_step_time >= self.interval:
            self.last_step_time = now
            self.stream.emit("step", **trainer.step_logs())

    def on_epoch_end(self, trainer: Trainer) -> None:
        self.stream.emit("epoch", **trainer.epoch_logs)
        self._emit_saved(trainer)
        self._drain_logs(trainer)

    def on_epoch_interrupted(self, trainer: Trainer) -> None:
        self._emit_saved(trainer, batch=trainer.batch)
        self._drain_logs(trainer)

    def _emit_saved(self, trainer: Trainer, **where: int) -> None:
        for kind, path in trainer.saved:
            self.stream.emit(
                "checkpoint", kind=kind, path=path, epoch=trainer.epoch, step=trainer.step, **where
            )
        trainer.saved.clear()  # each once: what the end of the run writes comes with `done`

    def on_exception(self, trainer: Trainer) -> None:
        self._drain_logs(trainer)
        error = trainer.error
        self.stream.emit(
            "error", message=error_message(error), kind=type(error).__name__, step=trainer.step
        )

    def on_fit_end(self, trainer: Trainer) -> None:
        self._drain_logs(trainer)
        self._emit_saved(trainer)
        self.stream.emit(
            "done",
            status=trainer.status,
            epoch=trainer.epoch,
            step=trainer.step,
            run=trainer.run_id,
        )


class ProgressBar(Callback):
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, stream: TextIO | None = None, width: int = 24) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.last_draw = 0.0
        self.bar_shown = False

    def on_fit_start(self, trainer: Trainer) -> None:
        info = trainer.describe()
        print(
            f"run {info['run']} on {info['device']} ({info['device_reason']}); "
            f"epochs {info['start_epoch'] + 1}-{info['epochs']}",
            file=self.stream,
        )
        self._print_logs(trainer)

    def on_batch_end(self, trainer: Trainer) -> None:
        now = time.monotonic()
        if now - self.last_draw < 0.1:
            return
        self.last_draw = now
        done = trainer.batch / max(trainer.batches, 1)
        filled = int(done * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(
            f"\repoch {trainer.epoch}/{trainer.epochs} [{bar}] "
            f"{trainer.batch}/{trainer.batches} loss {trainer.loss_value:.4f}"
        )
        self.stream.flush()
        self.bar_shown = True

    def on_epoch_end(self, trainer: Trainer) -> None:
        logs = trainer.epoch_logs
        shown = "  ".join(
            f"{k} {v:.4f}"
            for k, v in logs.items()
            if isinstance(v, float) and k not in ("lr", "epoch_time")
        )
        self.stream.write(f"\repoch {trainer.epoch}/{trainer.epochs}  {shown}\x1b[K\n")
        self.bar_shown = False
        self._print_logs(trainer)

    def on_epoch_interrupted(self, trainer: Trainer) -> None:
        if self.bar_shown:
            self.stream.write("\n")  # keep the bar where the epoch stopped
            self.bar_shown = False
        self._print_logs(trainer)

    def on_fit_end(self, trainer: Trainer) -> None:
        self._print_logs(trainer)
        print(f"{trainer.status}: run {trainer.run_id}", file=self.stream)

    def _print_logs(self, trainer: Trainer) -> None:
        for message in trainer.pending_logs:
            print(message, file=self.stream)
        trainer.pending_logs.clear()
