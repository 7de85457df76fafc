"""Time series: sliding windows over one or several series, for forecasting or classification.

A CSV holds one row per time step and one column per channel; a series-id column separates
independent series (windows never cross from one to the next). Each series is split in time
(the first part trains, the next validates, the last tests), so no window of the validation
or test part overlaps a training window, which a random split of overlapping windows would.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.core.data_settings import SeriesSource, SplitSettings
from studio.data.budget import check_memory
from studio.data.csv_reader import CsvColumns, read_csv_columns
from studio.data.errors import DataError, where
from studio.data.paths import resolve_path
from studio.data.previews import ColumnStats, Preview, SeriesPreview, numeric_stats
from studio.data.raw import ArrayEncoder, FeatureAxis, RawData
from studio.data.signature import Task


def read_series(source: SeriesSource, base_dir: Path | None, splits: SplitSettings) -> RawData:
    """Windows of `source.window` steps with their targets, split in time per series."""
    label = source.path
    path = resolve_path(source.path, base_dir)
    text = [c for c in (source.series_id_column, source.label_column) if c is not None]
    columns = read_csv_columns(
        path,
        label,
        delimiter=source.delimiter,
        encoding=source.encoding,
        fallback_encoding=source.fallback_encoding,
        text_columns=text,
    )
    special = {source.series_id_column, source.time_column, source.label_column}
    channels = (
        list(source.columns)
        if source.columns
        else [n for n in columns.names if n not in special and columns.mostly_numbers(n)]
    )
    if not channels:
        raise DataError(f"{label}: no numeric columns to use as series")
    targets = list(source.targets) if source.targets else channels
    known = set(columns.names)
    for name in {*channels, *targets, *(c for c in special if c is not None)}:
        if name not in known:
            raise DataError(f"{label}: no column named {name!r}; the columns are {columns.names}")
    values = {name: _complete_numbers(columns, name) for name in dict.fromkeys(channels + targets)}
    groups = _series_rows(columns, source)

    class_names: list[str] = []
    codes: np.ndarray | None = None
    if source.task == "classification":
        assert source.label_column is not None  # the settings validator guarantees it
        missing = columns.missing(source.label_column)
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise DataError(f"{columns.where(row, source.label_column)}: the label is missing")
        labels = np.asarray([str(v).strip() for v in columns.values[source.label_column]])
        uniques, codes = np.unique(labels, return_inverse=True)
        class_names = [str(u) for u in uniques]
        if len(class_names) < 2:
            raise DataError(
                f"{where(label, column=source.label_column)}: every row has the label "
                f"{class_names[0]!r}; a classifier needs at least two classes"
            )

    x_all = np.stack([values[c] for c in channels], axis=1).astype(np.float32)
    y_all = np.stack([values[c] for c in targets], axis=1).astype(np.float32)
    series = [
        SeriesData(
            name,
            x_all[rows],
            y_all[rows] if source.task == "forecast" else None,
            codes[rows].astype(np.int64) if codes is not None else None,
        )
        for name, rows in groups
    ]
    return series_raw_data(
        label,
        channels,
        series,
        class_names,
        window=source.window,
        horizon=source.horizon,
        stride=source.stride,
        splits=splits,
    )


@dataclass
class SeriesData:
    """One series in time order: inputs (T, C), and forecast targets (T, K) or labels (T,)."""

    name: str
    inputs: np.ndarray
    targets: np.ndarray | None = None
    labels: np.ndarray | None = None


def series_raw_data(
    label: str,
    channels: list[str],
    series: list[SeriesData],
    class_names: list[str],
    *,
    window: int,
    horizon: int,
    stride: int,
    splits: SplitSettings,
) -> RawData:
    """Windows over every series, split in time: forecasting when the series carry targets.

    A forecast window's target is the next `horizon` steps of every target channel, flattened
    step by step; a classification window takes the label of its last step.
    """
    forecast = series[0].labels is None
    horizon = horizon if forecast else 0
    fractions = (1.0 - splits.validation - splits.test, splits.validation)
    inputs: list[np.ndarray] = []
    outputs: list[np.ndarray] = []
    split: list[np.ndarray] = []
    plans = [
        (one, part, np.arange(start, stop - window - horizon + 1, stride))
        for one in series
        for part, (start, stop) in enumerate(
            itertools.pairwise(_time_bounds(len(one.inputs), fractions))
        )
    ]
    _check_window_memory(label, sum(len(starts) for _, _, starts in plans), window, channels)
    for one, part, starts in plans:
        if starts.size == 0:
            continue
        inputs.append(one.inputs[starts[:, None] + np.arange(window)])
        if forecast:
            assert one.targets is not None
            ahead = one.targets[starts[:, None] + window + np.arange(horizon)]
            outputs.append(ahead.reshape(len(starts), -1))
        else:
            assert one.labels is not None
            outputs.append(one.labels[starts + window - 1])
        split.append(np.full(len(starts), part, dtype=np.int8))
    if not any((s == 0).any() for s in split):
        shortest = min(len(one.inputs) for one in series)
        raise DataError(
            f"{label}: the series are too short for windows of {window} steps"
            f"{f' and a horizon of {horizon}' if horizon else ''}: the training part of the "
            f"shortest series has about {int(shortest * fractions[0])} steps. Use a shorter "
            "window or more data."
        )
    notes = []
    parts = np.concatenate(split)
    if splits.validation > 0 and not (parts == 1).any():
        # No validation windows: every epoch's validation loss would be NaN, and a run that
        # looks finished would have been checked against nothing.
        raise DataError(
            f"{label}: the validation part of each series is shorter than a window of "
            f"{window} steps, so there are no validation windows. Use a shorter window "
            "(data: window) or a larger validation fraction (splits: validation)."
        )
    if splits.test > 0 and not (parts == 2).any():
        notes.append(
            f"{label}: the test part of each series is shorter than a window; there are "
            "no test windows (use a shorter window or a larger test fraction)."
        )
    target = np.concatenate(outputs)
    task: Task = "regression" if forecast else "classification"
    encoder = SeriesEncoder(
        np.concatenate(inputs).astype(np.float32, copy=False),
        channels,
        [(one.name, one.inputs) for one in series],
    )
    return RawData(
        label,
        "sequence",
        task,
        encoder,
        target.astype(np.int64) if task == "classification" else target.astype(np.float32),
        class_names,
        fixed_split=parts,
        notes=notes,
        stratify=False,
    )


def _check_window_memory(label: str, count: int, window: int, channels: list[str]) -> None:
    """Windows overlap in the file but not in memory: each is a copy of `window` steps."""
    check_memory(
        label,
        count * window * len(channels) * np.dtype(np.float32).itemsize,
        f"{count:,} windows of {window:,} steps × {len(channels)} channels",
        "use a shorter window (window) or a larger stride (stride)",
    )


def _complete_numbers(columns: CsvColumns, name: str) -> np.ndarray:
    values = columns.numbers(name)
    missing = np.isnan(values)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"{columns.where(row, name)}: the value is missing; a series cannot have gaps "
            "(fill them in the file, e.g. with the previous value)"
        )
    return values


def _series_rows(columns: CsvColumns, source: SeriesSource) -> list[tuple[str, np.ndarray]]:
    """(series name, row indices in time order) for every series in the file."""
    order = np.arange(columns.rows)
    if source.time_column is not None:
        time = columns.values[source.time_column]
        key = time if columns.numeric[source.time_column] else np.asarray(time, dtype=str)
        order = np.argsort(key, kind="stable")
    if source.series_id_column is None:
        return [("series", order)]
    ids = np.asarray([str(v) for v in columns.values[source.series_id_column]])
    names, first, codes = np.unique(ids, return_index=True, return_inverse=True)
    # One stable sort by series groups the time-ordered rows in a single pass; a comparison
    # per series would be quadratic in a file of many short series.
    by_series = np.argsort(codes[order], kind="stable")
    grouped = order[by_series]
    bounds = np.searchsorted(codes[grouped], np.arange(len(names) + 1))
    return [
        (str(names[code]), grouped[bounds[code] : bounds[code + 1]])
        for code in np.argsort(first, kind="stable")
    ]


def _time_bounds(length: int, fractions: tuple[float, float]) -> list[int]:
    train = round(length * fractions[0])
    validation = round(length * (fractions[0] + fractions[1]))
    return [0, train, validation, length]


class SeriesEncoder(ArrayEncoder):
    """Windows (n, window, channels), normalised per channel; previews show whole series."""

    def __init__(
        self, windows: np.ndarray, channels: list[str], series: list[tuple[str, np.ndarray]]
    ) -> None:
        super().__init__([("window", windows, FeatureAxis(1))], channel_names=channels)
        self.series = series

    def statistics(self) -> list[ColumnStats]:
        assert self.channel_names is not None
        every = np.concatenate([values for _, values in self.series])
        return [
            numeric_stats(name, "channel", every[:, i]) for i, name in enumerate(self.channel_names)
        ]

    def preview(self, rows: np.ndarray, labels: list[str]) -> Preview:
        assert self.channel_names is not None
        shown = self.series[: max(1, min(len(rows), 8))]
        return SeriesPreview(
            list(self.channel_names), [values[:5000] for _, values in shown], [n for n, _ in shown]
        )
