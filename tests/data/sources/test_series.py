"""Time-series CSVs: windows, horizon, several series, chronological splits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from studio.core.data_settings import SeriesSource, SplitSettings
from studio.data.errors import DataError
from studio.data.sources.series import read_series
from tests.data.conftest import series_csv

Write = Callable[[str, str | bytes], Path]
SPLITS = SplitSettings(validation=0.2, test=0.2)


def series(path: Path, **settings: object):
    source = SeriesSource(path=path.name, **settings)  # type: ignore[arg-type]
    return read_series(source, path.parent, SPLITS)


def test_forecast_windows_over_several_series(write: Write) -> None:
    path = write("s.csv", series_csv(steps=100))
    raw = series(
        path,
        series_id_column="sensor",
        time_column="t",
        columns=["temperature", "pressure"],
        targets=["pressure"],
        window=10,
        horizon=3,
    )
    (windows,) = raw.encoder.encode()
    assert raw.kind == "sequence" and raw.task == "regression"
    assert windows.shape[1:] == (10, 2)
    assert raw.target is not None and raw.target.shape[1:] == (3,)
    # Per series: train 60 steps -> 48 windows; validation and test 20 steps -> 8 each.
    assert len(raw) == 2 * (48 + 8 + 8)
    # pressure is 1000 + t: the target is the 3 steps after the window.
    first = windows[0]
    assert first[:, 1].tolist() == [1000 + t for t in range(10)]
    assert raw.target[0].tolist() == [1010, 1011, 1012]
    assert raw.fixed_split is not None
    assert np.bincount(raw.fixed_split).tolist() == [96, 16, 16]
    # No validation window reaches back into the training part of its series.
    validation = windows[raw.fixed_split == 1][:, 0, 1]
    assert validation.min() >= 1060


def test_rows_are_sorted_by_the_time_column(write: Write) -> None:
    lines = ["t,value"] + [f"{t},{t * 2}" for t in reversed(range(40))]
    raw = series(write("s.csv", "\n".join(lines) + "\n"), time_column="t", window=5)
    (windows,) = raw.encoder.encode()
    assert windows[0, :, 0].tolist() == [0, 2, 4, 6, 8]


def test_window_classification(write: Write) -> None:
    path = write("s.csv", series_csv(steps=80, series=("a",)))
    raw = series(
        path,
        columns=["temperature"],
        task="classification",
        label_column="state",
        window=5,
        time_column="t",
    )
    assert raw.task == "classification" and raw.class_names == ["high", "low"]
    assert raw.target is not None and raw.target[:8].tolist() == [0, 0, 0, 0, 0, 0, 1, 1]


def test_errors_name_the_place(write: Write) -> None:
    with pytest.raises(DataError, match="too short for windows of 50 steps"):
        series(
            write("s.csv", series_csv(steps=30, series=("a",))), columns=["temperature"], window=50
        )
    gap = "t,value\n0,1\n1,\n2,3\n"
    with pytest.raises(DataError, match=r"^gap\.csv, row 3, column 'value': the value is missing"):
        series(write("gap.csv", gap), window=1)
    with pytest.raises(ValueError, match="label_column"):
        SeriesSource(path="x.csv", task="classification")


def test_a_validation_part_shorter_than_a_window_is_refused(write: Write) -> None:
    """60 steps with a window of 20: training gets windows, validation (12 steps) none, and
    every epoch's validation loss would be NaN in a run that looks finished."""
    with pytest.raises(DataError, match=r"no validation windows.*data: window"):
        series(
            write("s.csv", series_csv(steps=60, series=("a",))), columns=["temperature"], window=20
        )
