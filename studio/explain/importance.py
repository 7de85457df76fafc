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


def _batches(
    dataset: Dataset[Any], batch_size: int, limit: int
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Input batches of an (inputs, target) dataset: one tensor per model input."""
    import torch

    count = min(len(dataset), limit)  # type: ignore[arg-type]
    for start in range(0, count, batch_size):
        items = [dataset[index][0] for index in range(start, min(start + batch_size, count))]
        parts = [item if isinstance(item, (tuple, list)) else (item,) for item in items]
        yield tuple(
            torch.stack([torch.as_tensor(part[position]) for part in parts])
            for position in range(len(parts[0]))
        )


def data_mean(
    dataset: Dataset[Any], *, limit: int = 10_000, batch_size: int = 256
) -> np.ndarray | tuple[np.ndarray, ...]:
    """The mean input over (up to `limit` samples of) a dataset: the "mean" baseline.

    A dataset of several inputs gives one mean per input, as `explain(data_mean=...)` takes it.
    """
    totals: list[np.ndarray] | None = None
    count = 0
    for batch in _batches(dataset, batch_size, limit):
        sums = [part.double().sum(dim=0).numpy() for part in batch]
        totals = sums if totals is None else [a + b for a, b in zip(totals, sums, strict=True)]
        count += len(batch[0])
    if totals is None:
        raise ExplainError("The dataset is empty, so it has no mean sample.")
    means = tuple((total / count).astype(np.float32) for total in totals)
    return means[0] if len(means) == 1 else means


@dataclass(frozen=True)
class GlobalImportance:
    """Mean |attribution| per input position (per feature for tables) over many samples.

    Attributes:
        mean_abs: mean absolute attribution, one sample's shape (the first input's).
        samples: how many samples were explained (fewer than asked when cancelled).
        cancelled: the caller stopped the walk early; `mean_abs` covers what was done.
        per_input: mean absolute attribution of every model input, in order.
    """

    mean_abs: np.ndarray
    samples: int
    cancelled: bool
    per_input: tuple[np.ndarray, ...] = ()


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
    for step in global_importance_steps(
        model,
        dataset,
        method=method,
        limit=limit,
        batch_size=batch_size,
        should_stop=should_stop,
        **explain_options,
    ):
        if isinstance(step, GlobalImportance):
            return step
        if progress is not None:
            progress(*step)
    raise AssertionError("global_importance_steps ends with its result")  # pragma: no cover


def global_importance_steps(
    model: nn.Module,
    dataset: Dataset[Any],
    *,
    method: str,
    limit: int = 1000,
    batch_size: int = 64,
    should_stop: Callable[[], bool] | None = None,
    **explain_options: Any,
) -> Iterator[tuple[int, int] | GlobalImportance]:
    """`global_importance` as a generator: (done, total) after each batch, then the result.

    A worker thread yields these straight to the window's progress bar.
    """
    total = min(len(dataset), limit)  # type: ignore[arg-type]
    summed: list[np.ndarray] | None = None
    done = 0
    cancelled = False
    for batch in _batches(dataset, batch_size, limit):
        if should_stop is not None and should_stop():
            cancelled = True
            break
        result = explain(
            model, batch if len(batch) > 1 else batch[0], method=method, **explain_options
        )
        if result.space != "input":
            raise ExplainError(
                f"{method} explains a layer, not the inputs; global importance needs an "
                "input method such as Saliency or IntegratedGradients."
            )
        sums = [np.abs(part.values).astype(np.float64).sum(axis=0) for part in result.per_input]
        summed = sums if summed is None else [a + b for a, b in zip(summed, sums, strict=True)]
        done += len(batch[0])
        yield done, total
    if summed is None:
        if cancelled:
            yield GlobalImportance(np.zeros(0, dtype=np.float32), 0, True)
            return
        raise ExplainError("The dataset is empty; there is nothing to explain.")
    means = tuple((part / done).astype(np.float32) for part in summed)
    yield GlobalImportance(means[0], done, cancelled, means)
