"""Global importance over a dataset (with progress and cancel) and the data-mean baseline."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from studio.explain import explain
from studio.explain.importance import data_mean, global_importance
from tests.explain.conftest import ModelCase


def _rows() -> TensorDataset:
    torch.manual_seed(0)
    rows = torch.randn(150, 4)
    return TensorDataset(rows, torch.zeros(150, dtype=torch.long))


def test_data_mean_is_the_average_sample() -> None:
    dataset = _rows()
    np.testing.assert_allclose(
        data_mean(dataset, batch_size=32), dataset.tensors[0].mean(0), atol=1e-6
    )


def test_mean_baseline_from_the_dataset(table_case: ModelCase) -> None:
    mean = data_mean(_rows())
    result = explain(
        table_case.model,
        table_case.inputs,
        method="IntegratedGradients",
        baseline="mean",
        data_mean=mean,
    )
    assert result.baseline == "mean"


def test_global_importance_reports_progress_and_averages(table_case: ModelCase) -> None:
    calls: list[tuple[int, int]] = []
    result = global_importance(
        table_case.model,
        _rows(),
        method="Saliency",
        limit=100,
        batch_size=32,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(32, 100), (64, 100), (96, 100), (100, 100)]
    assert result.samples == 100 and not result.cancelled
    assert result.mean_abs.shape == (4,) and (result.mean_abs >= 0).all()


def test_global_importance_can_be_cancelled(table_case: ModelCase) -> None:
    batches = iter([False, False, True])
    result = global_importance(
        table_case.model,
        _rows(),
        method="Saliency",
        batch_size=32,
        should_stop=lambda: next(batches),
    )
    assert result.cancelled and result.samples == 64
