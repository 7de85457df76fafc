"""The training loop: epochs of steps, validation, and callbacks at each stage.

The loop itself does what a hand-written PyTorch loop does and nothing more per step; all
else (events, progress, checkpoints, metrics files, early stopping) is a callback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader

from studio.training.callbacks import Callback, CallbackList
from studio.training.checkpoints import capture_rng_state
from studio.training.errors import NonFiniteLossError
from studio.training.modes.base import TrainingMode


def reseed_order(loader: DataLoader[Any], seed: int, epoch: int) -> None:
    """Give the shuffling a seed per epoch, so a resumed run sees the batches it would have."""
    sampler = getattr(loader, "sampler", None)
    inner = getattr(sampler, "sampler", None)
    generator = getattr(inner, "generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(seed * 100_003 + epoch)


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
        self.epoch = 0
        self.step = 0
        self.batch = 0
        self.batches = len(train_loader)
        self.loss_value = float("nan")
        self.train_loss = float("nan")
        self.step_losses: dict[str, float] = {}
        self.epoch_logs: dict[str, Any] = {}
        self.validation_logs: dict[str, float] = {}
        self.saved: list[tuple[str, str]] = []
        self.pending_logs: list[str] = []
        self.should_stop = False
        self.status = "running"
        self.error: BaseException | None = None
        self.epoch_started = 0.0
        self.best: float | None = None

    def log(self, message: str) -> None:
        """A message for the user: an event with --events, a line on stderr otherwise."""
        self.pending_logs.append(message)

    def describe(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "epochs": self.epochs,
            "start_epoch": self.start_epoch,
            "steps_per_epoch": self.batches,
            **self.info,
        }

    def step_logs(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.epoch_started
        samples = self.batch * (self.train_loader.batch_size or 0)
        batch_sampler = getattr(self.train_loader, "sampler", None)
        samples = samples or self.batch * int(getattr(batch_sampler, "batch_size", 0) or 0)
        return {
            "epoch": self.epoch,
            "step": self.step,
            "batch": self.batch,
            "batches": self.batches,
            **self.step_losses,
            "lr": self.mode.learning_rate(),
            "samples_per_s": samples / elapsed if elapsed > 0 else None,
        }

    def checkpoint_state(self, best: float | None = None) -> dict[str, Any]:
        """Only tensors and plain values, so that `torch.load(weights_only=True)` reads it."""
        return {
            "format": 1,
            "model": self.mode.main_model.state_dict(),
            "mode": self.mode.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "best": best,
            "rng": capture_rng_state(),
        }

    def fit(self, start_epoch: int = 0, start_step: int = 0) -> str:
        """Train; returns "completed" or "stopped". Exceptions propagate after on_exception."""
        self.start_epoch = self.epoch = start_epoch
        self.step = start_step
        call = self.callbacks.call
        try:
            call("on_fit_start", self)
            for epoch in range(start_epoch + 1, self.epochs + 1):
                self.epoch = epoch
                self._train_epoch(epoch)
                if self.should_stop and self.batch < self.batches:
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

    def _train_epoch(self, epoch: int) -> None:
        call = self.callbacks.call
        self.saved = []
        self.mode.train(True)
        reseed_order(self.train_loader, self.seed, epoch)
        call("on_epoch_start", self)
        self.epoch_started = time.perf_counter()
        total = 0.0
        self.batch = 0
        for batch in self.train_loader:
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
                return
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
        monitored = logs.get(self.monitor)
        self.mode.epoch_end(float(monitored) if monitored is not None else None)
        self.callbacks.call("on_epoch_end", self)
