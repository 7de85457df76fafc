"""Validation metrics, computed once per epoch over the whole split with torchmetrics.

Accumulating the outputs and computing once gives the exact figure (a mean of per-batch F1s
is not the F1), and costs nothing inside the training loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchmetrics import functional as tmf

CLASSIFICATION_METRICS = ("accuracy", "f1", "precision", "recall")
REGRESSION_METRICS = ("mae", "r2")


def default_metrics(task: str) -> tuple[str, ...]:
    """The metrics shown when the project names none."""
    if task == "classification":
        return ("accuracy", "f1")
    if task == "regression":
        return ("mae", "r2")
    return ()


class MetricAccumulator:
    """Collects (output, target) batches and computes the named metrics at the end."""

    def __init__(self, names: Sequence[str], task: str) -> None:
        self.names = [n for n in names if _applies(n, task)]
        self.task = task
        self.outputs: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        if self.names:
            self.outputs.append(output.detach().float().cpu())
            self.targets.append(target.detach().cpu())

    def compute(self) -> dict[str, float]:
        if not self.names or not self.outputs:
            return {}
        output = torch.cat(self.outputs)
        target = torch.cat(self.targets)
        self.outputs, self.targets = [], []
        if self.task == "classification":
            return {n: _classification(n, output, target) for n in self.names}
        output = output.reshape(len(output), -1)
        target = target.reshape(len(target), -1).float()
        if output.shape[1] == 1:
            output, target = output[:, 0], target[:, 0]
        results = {}
        for name in self.names:
            if name == "mae":
                results[name] = float(tmf.mean_absolute_error(output, target))
            elif len(output) >= 2:
                results[name] = float(tmf.r2_score(output, target))
        return results


def _applies(name: str, task: str) -> bool:
    if task == "classification":
        return name in CLASSIFICATION_METRICS
    return task == "regression" and name in REGRESSION_METRICS


def _classification(name: str, output: torch.Tensor, target: torch.Tensor) -> float:
    target = target.reshape(-1).long()
    if output.ndim == 1 or output.shape[-1] == 1:
        # One logit per sample: a binary classifier trained with BCE.
        predicted = (output.reshape(-1) > 0).long()
        task_kwargs: dict[str, Any] = {"task": "binary", "validate_args": False}
    else:
        predicted = output.argmax(dim=-1)
        task_kwargs = {
            "task": "multiclass",
            "num_classes": output.shape[-1],
            "average": "macro",
            # Predictions come from argmax/thresholds, so they are valid by construction;
            # the checks would cost more than the metric itself on small splits.
            "validate_args": False,
        }
    if name == "accuracy":
        kwargs = dict(task_kwargs, average="micro") if "num_classes" in task_kwargs else task_kwargs
        return float(tmf.accuracy(predicted, target, **kwargs))
    function = {"f1": tmf.f1_score, "precision": tmf.precision, "recall": tmf.recall}[name]
    return float(function(predicted, target, **task_kwargs))
