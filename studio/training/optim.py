"""Optimizers and learning-rate schedulers from the project's settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from studio.core.project import TrainingSection


def make_optimizer(
    parameters: Iterable[torch.nn.Parameter], settings: TrainingSection
) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam, AdamW or RMSprop with the project's rate and decay."""
    params = [p for p in parameters if p.requires_grad]
    chosen = settings.optimizer
    lr, decay = settings.learning_rate, chosen.weight_decay
    if chosen.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=chosen.momentum,
            nesterov=chosen.nesterov and chosen.momentum > 0,
            weight_decay=decay,
        )
    if chosen.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    if chosen.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=chosen.momentum, weight_decay=decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=decay)


class Schedule:
    """A scheduler and when it steps: per batch (one-cycle), per epoch, or on a metric."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, settings: TrainingSection, steps_per_epoch: int
    ) -> None:
        chosen = settings.scheduler
        self.name = chosen.name
        self.scheduler: Any = None
        if chosen.name == "step":
            self.scheduler = torch.optim.lr_scheduler.StepLR(
                optimizer, step_size=chosen.step_size, gamma=chosen.gamma
            )
        elif chosen.name == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=settings.epochs
            )
        elif chosen.name == "onecycle":
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=settings.learning_rate,
                epochs=settings.epochs,
                steps_per_epoch=max(steps_per_epoch, 1),
            )
        elif chosen.name == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=chosen.gamma, patience=chosen.patience
            )

    @property
    def per_batch(self) -> bool:
        return self.name == "onecycle"

    def batch_end(self) -> None:
        # One-cycle cannot step past its planned total (a longer resumed run ends at its floor).
        if self.per_batch and self.scheduler.last_epoch + 1 < self.scheduler.total_steps:
            self.scheduler.step()

    def epoch_end(self, monitored: float | None) -> None:
        if self.scheduler is None or self.per_batch:
            return
        if self.name == "plateau":
            if monitored is not None:
                self.scheduler.step(monitored)
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scheduler is None else dict(self.scheduler.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scheduler is not None and state:
            self.scheduler.load_state_dict(state)
