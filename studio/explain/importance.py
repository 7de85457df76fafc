"""Dataset-level views: the average sample (a baseline) and global feature importance.

Both walk a dataset in batches so memory stays bounded, and global importance reports progress
and can be cancelled, because over a validation set it takes seconds to minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.explain.engine import explain
from studio.explain.errors import ExplainError

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.data import Dataset


def _batches(dataset: Dataset[Any], batch_size: int, limit: int) -> Iterator[torch.Tensor]:
    """Input batches of an (inputs, target) dataset; single-input models only for now."""
    import torch

    count = min(len(dataset), limit)  # type: ignore[arg-type]
    for start in range(0, count, batch_size):
        items = [dataset[index][0] for index in range(start, min(start + batch_size, count))]
        if isinstance(items[0], (tuple, list)):
            raise ExplainError("Models with several inputs cannot be explained yet.")
        yield torch.stack([torch.as_tensor(item) for item in items])


def data_mean(dataset: Dataset[Any], *, limit: int = 10_000, batch_size: int = 256) -> np.ndarray:
    """The mean input over (up to `limit` samples of) a dataset: the "mean" baseline."""
    total: np.ndarray | None = None
    count = 0
    for batch in _batches(dataset, batch_size, limit):
        summed = batch.double().sum(dim=0).numpy()
        total = summed if total is None else total + summed
        count += len(batch)
    if total is None:
        raise ExplainError("The dataset is empty, so it has no mean sample.")
    return (total / count).astype(np.float32)


@dataclass(frozen=True)
class GlobalImportance:
    """Mean |attribution| per input position (per feature for tables) over many samples.

    Attributes:
        mean_abs: mean absolute attribution, one sample's shape.
        samples: how many samples were explained (fewer than asked when cancelled).
        cancelled: the caller stopped the walk early; `mean_abs` covers what was done.
    """

    mean_abs: np.ndarray
    samples: int
    cancelled: bool


def global_importance(
    model: nn.Module,
    dataset: Dataset[Any],
    *,
    method: str,
    limit: int = 1000,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    **explain_options: Any,
) -> GlobalImportance:
    """Explain up to `limit` samples batch by batch and average |attribution|.

    Args:
        model: the trained model.
        dataset: yields (inputs, target) pairs, as `studio.data` datasets do.
        method: a method name; extra keyword arguments go to `explain`.
        progress: called with (done, total) after each batch, for a progress bar.
        should_stop: polled before each batch; returning True cancels (a Cancel button).
    """
    total = min(len(dataset), limit)  # type: ignore[arg-type]
    summed: np.ndarray | None = None
    done = 0
    cancelled = False
    for batch in _batches(dataset, batch_size, limit):
        if should_stop is not None and should_stop():
            cancelled = True
            break
        values = np.abs(explain(model, batch, method=method, **explain_options).values)
        batch_sum = values.astype(np.float64).sum(axis=0)
        summed = batch_sum if summed is None else summed + batch_sum
        done += len(batch)
        if progress is not None:
            progress(done, total)
    if summed is None:
        if cancelled:
            return GlobalImportance(np.zeros(0, dtype=np.float32), 0, True)
        raise ExplainError("The dataset is empty; there is nothing to explain.")
    return GlobalImportance((summed / done).astype(np.float32), done, cancelled)
