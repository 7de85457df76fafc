"""The interface the trainer drives; one subclass per training mode."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

Batch = tuple[Any, torch.Tensor]


class TrainingMode:
    """Owns the models, optimizers and schedulers of a mode, and runs its steps.

    `training_step` returns the step's losses as Python floats (the trainer checks them for
    NaN/Inf); `validate` returns the epoch's validation logs ("val_loss", metrics, ...).
    """

    task = "classification"

    def __init__(self, device: torch.device, autocast: torch.dtype | None = None) -> None:
        self.device = device
        self.autocast_dtype = autocast
        self.on_cpu = device.type == "cpu"
        # Set by a mode whose model went channels-last: 4-d inputs follow it.
        self.channels_last = False
        # fp16 gradients underflow without loss scaling (bf16 keeps fp32's range); a mode with
        # several optimizers steps each through this one scaler and updates it once per step.
        use_scaler = autocast == torch.float16 and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None

    @property
    def models(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    @property
    def main_model(self) -> nn.Module:
        return next(iter(self.models.values()))

    def training_step(self, batch: Batch) -> dict[str, float]:
        raise NotImplementedError

    def validate(self, batches: Iterable[Batch]) -> dict[str, float]:
        raise NotImplementedError

    def epoch_end(self, monitored: float | None) -> None:
        """Step per-epoch schedulers."""

    def learning_rate(self) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def train(self, mode: bool = True) -> None:
        for model in self.models.values():
            model.train(mode)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def to_device(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return self._moved(value)
        return tuple(self._moved(v) for v in value)

    def _moved(self, tensor: torch.Tensor) -> torch.Tensor:
        # `is_cpu` costs a fraction of what a `.to()` that has nothing to do costs, which
        # shows per step on small models.
        if self.on_cpu and tensor.is_cpu:
            return tensor
        if self.channels_last and tensor.ndim == 4:
            return tensor.to(self.device, non_blocking=True, memory_format=torch.channels_last)
        return tensor.to(self.device, non_blocking=True)


def as_args(inputs: Any) -> tuple[torch.Tensor, ...]:
    return inputs if isinstance(inputs, tuple) else (inputs,)
