"""Supervised training (classification, regression) and autoencoders (target = input)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from studio.core.project import TrainingSection
from studio.training.devices import wants_channels_last
from studio.training.losses import make_loss, match_target
from studio.training.metrics import MetricAccumulator
from studio.training.modes.base import Batch, TrainingMode, as_args
from studio.training.optim import Schedule, make_optimizer


class SupervisedMode(TrainingMode):
    """One model, one loss, one optimizer: the plain PyTorch loop, nothing added per step."""

    def __init__(
        self,
        model: nn.Module,
        settings: TrainingSection,
        *,
        loss: str,
        metrics: Iterable[str],
        steps_per_epoch: int,
        device: torch.device,
        autocast: torch.dtype | None = None,
    ) -> None:
        super().__init__(device, autocast)
        self.model = model.to(device)
        if wants_channels_last(self.model, device):
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self.channels_last = True
        self.compiles = settings.compile
        self.forward_model: nn.Module = self.model
        self.use_model(self.model)
        self.autoencoder = settings.mode == "autoencoder"
        self.task = settings.task
        self.loss_name = loss
        self.loss = make_loss(loss)
        self.metric_names = list(metrics)
        self.grad_clip = settings.grad_clip
        self.optimizer = make_optimizer(self.model.parameters(), settings)
        self.schedule = Schedule(self.optimizer, settings, steps_per_epoch)

    @property
    def models(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def use_model(self, model: nn.Module) -> None:
        """Train `model` from now on (DDP wraps the model after it is built).

        Forward passes go through `forward_model`: the `torch.compile` wrapper when the
        settings ask for it, sharing `model`'s parameters, so checkpoints, metrics and exports
        still see the weights under their own names. Replacing `model` without rebuilding
        the wrapper would leave the forward pass on the old module (for DDP: no gradient
        all-reduce, each process training alone).
        """
        self.model = model
        self.forward_model = (
            torch.compile(model) if self.compiles else model  # type: ignore[assignment]
        )

    def _loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        inputs, target = batch
        inputs = self.to_device(inputs)
        args = as_args(inputs)
        target = args[0] if self.autoencoder else self.to_device(target)
        with self.autocast():
            output = self.forward_model(*args)
            loss = self.loss(output, match_target(self.loss_name, output, target))
        return loss, output, target

    def training_step(self, batch: Batch) -> dict[str, float]:
        loss, _, _ = self._loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.grad_clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if self.grad_clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
        self.schedule.batch_end()
        return {"loss": loss.item()}

    @torch.no_grad()
    def validate(self, batches: Iterable[Batch]) -> dict[str, float]:
        metrics = MetricAccumulator(self.metric_names, self.task)
        total, count = 0.0, 0
        for batch in batches:
            loss, output, target = self._loss(batch)
            size = len(output)
            total += loss.item() * size
            count += size
            metrics.update(output, target)
        logs = {"val_loss": total / count if count else float("nan")}
        logs.update({f"val_{k}": v for k, v in metrics.compute().items()})
        return logs

    def epoch_end(self, monitored: float | None) -> None:
        self.schedule.epoch_end(monitored)

    def learning_rate(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "models": {"model": self.model.state_dict()},
            "optimizers": {"model": self.optimizer.state_dict()},
            "schedulers": {"model": self.schedule.state_dict()},
        }
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["models"]["model"])
        self.optimizer.load_state_dict(state["optimizers"]["model"])
        self.schedule.load_state_dict(state["schedulers"]["model"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
