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
        return _multiclass(name, output.argmax(dim=-1), target, output.shape[-1])
    if name == "accuracy":
        return float(tmf.accuracy(predicted, target, **task_kwargs))
    function = {"f1": tmf.f1_score, "precision": tmf.precision, "recall": tmf.recall}[name]
    return float(function(predicted, target, **task_kwargs))


def _multiclass(name: str, predicted: torch.Tensor, target: torch.Tensor, classes: int) -> float:
    """Accuracy and macro scores from one confusion matrix, as torchmetrics defines them.

    torchmetrics' functional calls each rebuild their statistics and check their arguments,
    which on a small split costs more than the whole validation pass (it was most of the
    trainer's overhead over a hand-written loop on iris). One `bincount` gives all four; the
    tests hold the figures equal to torchmetrics'.
    """
    target = target.clamp(0, classes - 1)
    matrix = torch.bincount(target * classes + predicted, minlength=classes * classes)
    matrix = matrix.reshape(classes, classes).double()
    true_positive = matrix.diagonal()
    if name == "accuracy":
        return float(true_positive.sum() / matrix.sum().clamp(min=1))
    false_positive = matrix.sum(0) - true_positive
    false_negative = matrix.sum(1) - true_positive
    if name == "precision":
        numerator, denominator = true_positive, true_positive + false_positive
    elif name == "recall":
        numerator, denominator = true_positive, true_positive + false_negative
    else:
        numerator = 2 * true_positive
        denominator = 2 * true_positive + false_positive + false_negative
    scores = torch.where(denominator > 0, numerator / denominator.clamp(min=1), 0.0)
    # A class absent from both targets and predictions does not count in the macro mean.
    present = (true_positive + false_positive + false_negative) > 0
    return float(scores[present].mean()) if bool(present.any()) else 0.0
