"""Normalisation fitted on the training split; the state survives a JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.core.project import DataSection
from studio.data.prepare import prepare_data
from studio.data.preprocessing import PreprocessingState, fit_normalization
from studio.data.raw import FeatureAxis
from tests.data.conftest import section


def test_standardize_uses_only_the_given_rows() -> None:
    data = np.array([[1.0, 10.0], [3.0, 10.0], [1000.0, -5.0]], dtype=np.float32)
    norm = fit_normalization(data, np.array([0, 1]), FeatureAxis(0), "standardize")
    assert norm.shift == (2.0, 10.0)
    assert norm.scale == (1.0, 1.0)  # the constant column gets scale 1, not 0
    np.testing.assert_allclose(norm.apply(data[:2]), [[-1, 0], [1, 0]])
    np.testing.assert_allclose(norm.invert(norm.apply(data)), data, rtol=1e-6)


def test_chunked_statistics_are_exact_when_the_mean_dwarfs_the_spread() -> None:
    rng = np.random.default_rng(0)
    data = (1e6 + rng.normal(0, 0.5, (10_000, 3))).astype(np.float64)
    norm = fit_normalization(data, np.arange(10_000), FeatureAxis(0), "standardize")
    np.testing.assert_allclose(norm.shift, data.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(norm.scale, data.std(axis=0), rtol=1e-9)


def test_minmax_per_channel_of_images_and_masked_columns() -> None:
    images = np.zeros((4, 2, 3, 3), dtype=np.uint8)
    images[:, 0] = 10
    images[1, 0, 0, 0] = 250
    images[:, 1] = np.arange(9).reshape(3, 3)
    norm = fit_normalization(images, np.arange(4), FeatureAxis(0), "minmax")
    assert norm.shift == (10.0, 0.0) and norm.scale == (240.0, 8.0)
    assert norm.broadcast_shape(3) == (1, 2, 1, 1)
    table = np.array([[1.0, 0.0], [3.0, 1.0]])
    norm = fit_normalization(table, np.arange(2), FeatureAxis(0, (True, False)), "standardize")
    assert norm.shift == (2.0, 0.0) and norm.scale == (1.0, 1.0)


def test_state_round_trips_through_json(tmp_path: Path, iris_csv: Path) -> None:
    prepared = prepare_data(section(kind="table", path=iris_csv.name), iris_csv.parent)
    state = prepared.state
    text = json.dumps(state.to_json())
    again = PreprocessingState.from_json(json.loads(text))
    assert again == state
    batch = prepared.inputs[0][:5]
    np.testing.assert_allclose(
        again.normalize_inputs([batch])[0], state.normalize_inputs([batch])[0]
    )
    assert again.encoder["features"] == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    ]


def test_regression_targets_are_standardised_and_restored() -> None:
    prepared = prepare_data(DataSection(dataset="diabetes"))
    state = prepared.state
    assert state.target is not None
    assert prepared.target is not None
    train = prepared.target[prepared.split.train]
    assert state.target.shift[0] == pytest.approx(float(train.mean()), rel=1e-6)
    normalised = state.target.apply(prepared.target)
    np.testing.assert_allclose(state.denormalize_target(normalised), prepared.target, rtol=1e-5)
    off = DataSection.model_validate(
        {"dataset": "diabetes", "preprocessing": {"normalize_target": False}}
    )
    assert prepare_data(off).state.target is None


def test_auto_normalisation_by_kind() -> None:
    images = prepare_data(DataSection(dataset="digits")).state.inputs[0].normalization
    assert images is not None and images.method == "minmax" and images.shift == (0.0,)
    assert images.scale == (16.0,)
    assert prepare_data(DataSection(dataset="text")).state.inputs[0].normalization is None
    none = DataSection.model_validate({"dataset": "iris", "preprocessing": {"normalize": "none"}})
    assert prepare_data(none).state.inputs[0].normalization is None
    state = prepare_data(DataSection(dataset="text")).state
    assert state.vocabulary is not None and state.vocabulary[:2] == ["<pad>", "<unk>"]


def test_a_newer_state_is_refused() -> None:
    from studio.data.errors import DataError

    with pytest.raises(DataError, match="version 99"):
        PreprocessingState.from_json({"version": 99})
