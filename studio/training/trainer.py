"""The training loop: epochs of steps, validation, and callbacks at each stage.

The loop itself does what a hand-written PyTorch loop does and nothing more per step; all
else (events, progress, checkpoints, metrics files, early stopping) is a callback.
"""

from __future__ import annotations

import collections
import itertools
import math
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader

from studio.training.callbacks import Callback, CallbackList
from studio.training.checkpoints import FORMAT as CHECKPOINT_FORMAT
from studio.training.checkpoints import capture_rng_state
from studio.training.devices import cuda_memory_mb, gpu_utilization
from studio.training.errors import NonFiniteLossError
from studio.training.modes.base import TrainingMode


def reseed_order(loader: DataLoader[Any], seed: int, epoch: int) -> None:
    """Seed the epoch's randomness from (seed, epoch), so a resumed run sees what it would have.

    That is the shuffling, the loader's own generator (the workers' seeds derive from it) and,
    without workers, the augmentation stream: none of them then depends on how many epochs this
    process has run.
    """
    epoch_seed = seed * 100_003 + epoch
    sampler = getattr(loader, "sampler", None)
    inner = getattr(sampler, "sampler", None)
    generator = getattr(inner, "generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(epoch_seed)
    # A DistributedSampler (several processes) shuffles from its seed and the epoch.
    set_epoch = getattr(inner, "set_epoch", None)
    if callable(set_epoch):
        set_epoch(epoch)
    # Offsets of 2**32 keep these streams apart from every epoch's shuffling seed.
    if isinstance(loader.generator, torch.Generator):
        loader.generator.manual_seed(epoch_seed + 2**32)
    reseed = getattr(loader.dataset, "reseed", None)
    if loader.num_workers == 0 and callable(reseed):
        reseed(epoch_seed + 2**33)


class Trainer:
    """Runs a `TrainingMode` over the loaders for epochs `start_epoch + 1 .. epochs`."""

    def __init__(
        self,
        mode: TrainingMode,
        train_loader: DataLoader[Any],
        validation_loader: DataLoader[Any],
        *,
        epochs: int,
        callbacks: Sequence[Callback] = (),
        seed: int = 0,
        run_id: str = "",
        info: dict[str, Any] | None = None,
        monitor: str = "val_loss",
    ) -> None:
        self.mode = mode
        self.train_loader = train_loader
        self.validation_loader = validation_loader
        self.epochs = epochs
        self.callbacks = CallbackList(callbacks)
        self.seed = seed
        self.run_id = run_id
        self.info = dict(info or {})
        self.monitor = monitor
        self.start_epoch = 0
        self.start_batch = 0
        self.epoch = 0
        self.epochs_done = 0
        self.step = 0
        self.batch = 0
        self.batches = len(train_loader)
        self.epoch_first_batch = 0
        self.loss_value = float("nan")
        self.loss_sum = 0.0
        self.train_loss = float("nan")
        self.step_losses: dict[str, float] = {}
        self.epoch_logs: dict[str, Any] = {}
        self.validation_logs: dict[str, float] = {}
        self.saved: list[tuple[str, str]] = []
        self.pending_logs: list[str] = []
        self.should_stop = False
        self.stop_reason: str | None = None
        self.stopped_mid_epoch = False
        self.status = "running"
        self.error: BaseException | None = None
        self.epoch_started = 0.0
        self.best: float | None = None
        self.on_cuda = mode.device.type == "cuda"

    def log(self, message: str) -> None:
        """A message for the user: an event with --events, a line on stderr otherwise."""
        self.pending_logs.append(message)

    def request_stop(self, reason: str) -> None:
        """End after the current step, keeping the first reason (the run's status shows it)."""
        if not self.should_stop:
            self.should_stop = True
            self.stop_reason = reason
            self.log(reason)

    def describe(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "epochs": self.epochs,
            "start_epoch": self.start_epoch,
            "start_batch": self.start_batch,
            "steps_per_epoch": self.batches,
            **self.info,
        }

    def step_logs(self) -> dict[str, Any]:
        """The figures of a `step` event; computed only when one is sent (they are throttled)."""
        elapsed = time.perf_counter() - self.epoch_started
        trained = self.batch - self.epoch_first_batch
        samples = trained * (self.train_loader.batch_size or 0)
        batch_sampler = getattr(self.train_loader, "sampler", None)
        samples = samples or trained * int(getattr(batch_sampler, "batch_size", 0) or 0)
        logs: dict[str, Any] = {
            "epoch": self.epoch,
            "step": self.step,
            "batch": self.batch,
            "batches": self.batches,
            **self.step_losses,
            "lr": self.mode.learning_rate(),
            "samples_per_s": samples / elapsed if elapsed > 0 else None,
        }
        if self.on_cuda:
            logs["gpu_memory_mb"] = cuda_memory_mb(self.mode.device)
            busy = gpu_utilization(self.mode.device)
            if busy is not None:
                logs["gpu_utilization"] = busy
        return logs

    def checkpoint_state(self, best: float | None = None) -> dict[str, Any]:
        """Only tensors and plain values, so that `torch.load(weights_only=True)` reads it.

        "epoch" counts finished epochs. After a stop inside an epoch, "epoch_progress" says
        how far that epoch got (batches trained, their summed loss), so a resume can finish
        it rather than redo it; it is None at an epoch's end.
        """
        progress = None
        if self.stopped_mid_epoch:
            progress = {"epoch": self.epoch, "batches": self.batch, "loss_sum": self.loss_sum}
        # The weights once, inside the mode's state (see `checkpoints.checkpoint_models`).
        return {
            "format": CHECKPOINT_FORMAT,
            "mode": self.mode.state_dict(),
            "epoch": self.epochs_done,
            "step": self.step,
            "best": best,
            "rng": capture_rng_state(),
            "epoch_progress": progress,
        }

    def fit(
        self,
        start_epoch: int = 0,
        start_step: int = 0,
        *,
        start_batch: int = 0,
        start_loss_sum: float = 0.0,
    ) -> str:
        """Train; returns "completed" or "stopped". Exceptions propagate after on_exception.

        Args:
            start_epoch: epochs already finished (a resumed run's checkpoint says).
            start_step: steps already taken.
            start_batch: batches of epoch `start_epoch + 1` already trained (a stop inside
                that epoch); they are skipped, and the epoch's loss adds `start_loss_sum`.
            start_loss_sum: the summed loss of those batches.
        """
        self.start_epoch = self.epoch = self.epochs_done = start_epoch
        self.start_batch = start_batch
        self.step = start_step
        call = self.callbacks.call
        try:
            call("on_fit_start", self)
            for epoch in range(start_epoch + 1, self.epochs + 1):
                self.epoch = epoch
                resuming = epoch == start_epoch + 1
                self._train_epoch(
                    epoch,
                    done=start_batch if resuming else 0,
                    loss_sum=start_loss_sum if resuming else 0.0,
                )
                if self.should_stop and self.batch < self.batches:
                    self.stopped_mid_epoch = True
                    call("on_epoch_interrupted", self)
                    break
                self.mode.train(False)
                self.validation_logs = self.mode.validate(self.validation_loader)
                call("on_validation_end", self)
                self._finish_epoch()
                if self.should_stop:
                    break
            self.status = "stopped" if self.should_stop else "completed"
        except BaseException as exc:
            self.status = "failed"
            self.error = exc
            call("on_exception", self)
            raise
        finally:
            call("on_fit_end", self)
        return self.status

    def _train_epoch(self, epoch: int, *, done: int = 0, loss_sum: float = 0.0) -> None:
        call = self.callbacks.call
        self.saved = []
        self.mode.train(True)
        reseed_order(self.train_loader, self.seed, epoch)
        call("on_epoch_start", self)
        batches = iter(self.train_loader)
        if done:
            # Finishing an epoch a stop interrupted: the order is the one it had (reseeded
            # above); drawing its first batches without training on them also leaves the
            # augmentation streams where the interrupted run left them.
            collections.deque(itertools.islice(batches, done), maxlen=0)
        self.epoch_started = time.perf_counter()
        self.epoch_first_batch = done
        total = loss_sum
        self.batch = done
        for batch in batches:
            losses = self.mode.training_step(batch)
            loss = losses["loss"]
            self.step += 1
            self.batch += 1
            if not math.isfinite(loss):
                raise NonFiniteLossError(
                    f"the loss became {loss} at step {self.step} (epoch {epoch}, batch "
                    f"{self.batch}); lower the learning rate (now {self.mode.learning_rate():g}) "
                    "or turn on gradient clipping (training.grad_clip)"
                )
            total += loss
            self.loss_value = loss
            self.step_losses = losses
            call("on_batch_end", self)
            if self.should_stop:
                break
        self.loss_sum = total
        self.train_loss = total / max(self.batch, 1)

    def _finish_epoch(self) -> None:
        logs: dict[str, Any] = {
            "epoch": self.epoch,
            "step": self.step,
            "train_loss": self.train_loss,
            **self.validation_logs,
            "lr": self.mode.learning_rate(),
            "epoch_time": time.perf_counter() - self.epoch_started,
        }
        self.epoch_logs = logs
        self.epochs_done = self.epoch
        monitored = logs.get(self.monitor)
        self.mode.epoch_end(float(monitored) if monitored is not None else None)
        self.callbacks.call("on_epoch_end", self)
