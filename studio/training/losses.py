"""The loss from the project's settings; "auto" follows the task."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def loss_name_for(task: str, requested: str = "auto") -> str:
    """Cross-entropy (on logits) for classification, MSE for everything else, unless chosen."""
    if requested != "auto":
        return requested
    return "cross_entropy" if task == "classification" else "mse"


def make_loss(name: str) -> nn.Module:
    """The `nn.Module` for a resolved loss name (see `loss_name_for`)."""
    losses: dict[str, Callable[[], nn.Module]] = {
        "cross_entropy": nn.CrossEntropyLoss,
        "bce": nn.BCEWithLogitsLoss,
        "mse": nn.MSELoss,
        "l1": nn.L1Loss,
        "huber": nn.HuberLoss,
    }
    return losses[name]()


def match_target(name: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Shape and type the target as the loss expects, e.g. float (N, 1) labels for BCE."""
    if name == "cross_entropy":
        return target.long()
    target = target.to(output.dtype)
    if target.shape != output.shape and target.numel() == output.numel():
        target = target.reshape(output.shape)
    return target
