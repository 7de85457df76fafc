"""CSV tables: feature columns and a target column, numbers and categories, missing values.

Which columns are numeric and which are categories is decided from the values (or the user's
list); the task (classification or regression) from the target column unless the user chose
it. Category lists come from every row, so the input width never changes with the split;
everything else learned (fill values) comes from the training rows only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.core.data_settings import TableSource
from studio.data.budget import check_memory
from studio.data.csv_reader import CsvColumns, check_file, read_csv_columns, read_header
from studio.data.errors import DataError, where
from studio.data.paths import resolve_path
from studio.data.previews import (
    ColumnStats,
    Preview,
    TablePreview,
    categorical_stats,
    numeric_stats,
)
from studio.data.raw import FeatureAxis, FeatureEncoder, RawData
from studio.data.signature import InputSpec, Task

# An integer target with at most this many distinct values is taken for class labels.
MAX_AUTO_CLASSES = 20


def read_table(source: TableSource, base_dir: Path | None) -> RawData:
    """Read a CSV table as the settings say; every problem is a `DataError` naming the place."""
    label = source.path
    path = resolve_path(source.path, base_dir)
    check_file(path, label)
    names = read_header(path, label, source.delimiter, source.encoding, source.fallback_encoding)
    target = source.target or names[-1]
    if target not in names:
        raise DataError(f"{label}: no column named {target!r}; choose the target column")
    features = list(source.features) if source.features else [n for n in names if n != target]
    _check_features(label, features, target, names)
    declared = set(source.categorical or ())
    columns = read_csv_columns(
        path,
        label,
        delimiter=source.delimiter,
        encoding=source.encoding,
        fallback_encoding=source.fallback_encoding,
        usecols=[*features, target] if source.features else None,
        text_columns=declared,
        # Numeric features become float32 inputs anyway; the target keeps full precision.
        float32_columns=[n for n in features if n not in declared],
    )
    categorical = _categorical_columns(columns, features, source.categorical)

    notes = list(columns.notes)
    keep = ~columns.missing(target)
    if not keep.all():
        notes.append(
            f"{where(label, column=target)}: {int((~keep).sum())} rows without a target "
            "value were left out."
        )
    missing_counts = {name: int(columns.missing(name)[keep].sum()) for name in features}
    total_missing = sum(missing_counts.values())
    if total_missing:
        detail = ", ".join(f"{n!r}: {c}" for n, c in missing_counts.items() if c)
        notes.append(f"{label}: {total_missing} missing values ({detail}).")
        if source.missing == "drop":
            rows_missing = np.zeros(columns.rows, dtype=bool)
            for name in features:
                rows_missing |= columns.missing(name)
            dropped = int((rows_missing & keep).sum())
            keep &= ~rows_missing
            notes.append(f"{label}: {dropped} rows with missing values were dropped.")
        else:
            notes.append(f"{label}: missing values are filled ({source.missing}).")
    if not keep.all():
        columns = columns.select(keep)
    if columns.rows == 0:
        raise DataError(f"{label}: no rows are left to learn from (every row misses a value)")

    task, targets, class_names = _target(columns, target, source.task)
    encoder = TableEncoder(
        columns,
        features=features,
        categorical=categorical,
        target=target,
        encoding=source.categorical_encoding,
        missing=source.missing,
        fill_value=source.fill_value,
    )
    return RawData(label, "table", task, encoder, targets, class_names, notes=notes)


def _check_features(label: str, features: list[str], target: str, names: list[str]) -> None:
    if not features:
        raise DataError(f"{label}: no feature columns; the table needs at least two columns")
    if target in features:
        raise DataError(
            f"{where(label, column=target)}: the target cannot also be a feature; remove it "
            "from the feature columns"
        )
    seen: set[str] = set()
    known = set(names)
    for name in features:
        if name not in known:
            raise DataError(f"{label}: no column named {name!r}")
        if name in seen:
            raise DataError(f"{where(label, column=name)}: listed twice as a feature")
        seen.add(name)


def _categorical_columns(
    columns: CsvColumns, features: list[str], chosen: list[str] | None
) -> list[str]:
    if chosen is not None:
        feature_set, chosen_set = set(features), set(chosen)
        for name in chosen:
            if name not in feature_set:
                raise DataError(
                    f"{where(columns.label, column=name)}: marked categorical but not a feature"
                )
        return [n for n in features if n in chosen_set]
    categorical = []
    for name in features:
        if columns.numeric[name]:
            continue
        if columns.mostly_numbers(name):
            columns.numbers(name)  # raises, naming the first value that is not a number
        categorical.append(name)
    return categorical


def _target(columns: CsvColumns, name: str, task: str) -> tuple[Task, np.ndarray, list[str]]:
    """(task, targets, class names): class indices (n,) int64 or values (n, 1) float32."""
    label = columns.label
    numeric = columns.numeric[name] or (task == "regression" or columns.mostly_numbers(name))
    if task == "regression" or (
        task == "auto" and numeric and not _looks_like_classes(columns, name)
    ):
        values = columns.numbers(name)
        return "regression", values.astype(np.float32).reshape(-1, 1), []
    raw = columns.values[name]
    if columns.numeric[name]:
        uniques, codes = np.unique(raw, return_inverse=True)
        names = [_number_name(v) for v in uniques]
    else:
        text = np.asarray([str(v).strip() for v in raw], dtype=object)
        uniques, codes = np.unique(text.astype(str), return_inverse=True)
        names = [str(u) for u in uniques]
    if len(names) < 2:
        only = names[0] if names else "none"
        raise DataError(
            f"{where(label, column=name)}: the target has only one class ({only!r}); a "
            "classifier needs at least two. Choose another target column, or set the task to "
            "regression."
        )
    return "classification", codes.astype(np.int64).reshape(-1), names


def _looks_like_classes(columns: CsvColumns, name: str) -> bool:
    if not columns.numeric[name]:
        return False
    values = columns.values[name]
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        return False
    return int(np.unique(values).size) <= MAX_AUTO_CLASSES


def _number_name(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class TableEncoder(FeatureEncoder):
    """Numeric columns as they are, categories one-hot or as embedding indices.

    One-hot: a single ``features`` input (numeric and one-hot columns in file order); an
    unknown or missing category is all zeros. Index: ``features`` (numeric columns) and
    ``categories`` (one id per categorical column); column j's ids start where column j-1's
    end, so one Embedding serves them all, and each column's first id means unknown/missing.
    """

    def __init__(
        self,
        columns: CsvColumns,
        *,
        features: list[str],
        categorical: list[str],
        target: str,
        encoding: str,
        missing: str,
        fill_value: float,
    ) -> None:
        self.columns = columns
        self.features = features
        self.categorical = categorical
        # Membership is asked once per column: a set keeps a wide table linear.
        self._categorical_set = frozenset(categorical)
        self.numeric = [n for n in features if n not in self._categorical_set]
        self.target = target
        self.encoding = encoding
        self.missing = missing
        self.fill_value = fill_value
        self.categories = {name: self._categories_of(name) for name in categorical}
        self.fill: dict[str, float | str | None] = {}

    def __len__(self) -> int:
        return self.columns.rows

    def _categories_of(self, name: str) -> list[str]:
        present = ~self.columns.missing(name)
        return sorted({str(v).strip() for v in self.columns.values[name][present]})

    def _numbers(self, name: str) -> np.ndarray:
        return self.columns.numbers(name)

    def feature_names(self) -> list[str]:
        """The columns of the ``features`` input (one per category when one-hot)."""
        names = []
        for name in self.features:
            if name not in self._categorical_set:
                names.append(name)
            elif self.encoding == "onehot":
                names.extend(f"{name}={c}" for c in self.categories[name])
        return names

    def input_specs(self) -> tuple[InputSpec, ...]:
        specs = []
        width = len(self.feature_names())
        if width:
            specs.append(InputSpec("features", (width,), "float"))
        if self.encoding == "index" and self.categorical:
            total = sum(len(c) + 1 for c in self.categories.values())
            specs.append(InputSpec("categories", (len(self.categorical),), "long", total))
        return tuple(specs)

    def fit(self, train: np.ndarray) -> None:
        self.fill = {}
        if self.missing == "drop":
            return
        for name in self.numeric:
            values = self._numbers(name)[train]
            values = values[~np.isnan(values)]
            if self.missing == "constant" or values.size == 0:
                self.fill[name] = self.fill_value
            elif self.missing == "mean":
                self.fill[name] = float(values.mean())
            elif self.missing == "median":
                self.fill[name] = float(np.median(values))
            else:
                uniques, counts = np.unique(values, return_counts=True)
                self.fill[name] = float(uniques[np.argmax(counts)])
        for name in self.categorical:
            # "constant" leaves a missing category unknown; the others take the commonest one.
            if self.missing == "constant":
                self.fill[name] = None
                continue
            values = self.columns.values[name][train]
            present = values[~self.columns.missing(name)[train]]
            if present.size == 0:
                self.fill[name] = None
                continue
            uniques, counts = np.unique(
                np.asarray([str(v).strip() for v in present]), return_counts=True
            )
            self.fill[name] = str(uniques[np.argmax(counts)])

    def encode(self) -> list[np.ndarray]:
        n = self.columns.rows
        width = len(self.feature_names())
        check_memory(
            self.columns.label,
            n * width * np.dtype(np.float32).itemsize,
            f"{n:,} rows of {width:,} features (one per category when one-hot)",
            "mark columns with many distinct values as index-encoded (categorical_encoding: "
            "index), or leave them out of the features (features)",
        )
        features = np.empty((n, width), dtype=np.float32)
        ids: list[np.ndarray] = []
        column = offset = 0
        for name in self.features:
            if name not in self._categorical_set:
                values = self._numbers(name)
                fill = self.fill.get(name)
                if isinstance(fill, float):
                    values = np.where(np.isnan(values), fill, values)
                features[:, column] = values  # float64 to float32 on assignment, no extra copy
                column += 1
                continue
            codes = self._codes(name)
            count = len(self.categories[name])
            if self.encoding == "onehot":
                block = features[:, column : column + count]
                block[:] = 0.0
                known = np.flatnonzero(codes >= 0)
                block[known, codes[known]] = 1.0
                column += count
            else:
                ids.append(codes + 1 + offset)
                offset += count + 1
        out: list[np.ndarray] = []
        if width:
            out.append(features)
        if ids:
            out.append(np.stack(ids, axis=1))
        return out

    def _codes(self, name: str) -> np.ndarray:
        import pandas as pd

        values = np.asarray(
            [str(v).strip() if isinstance(v, str) else v for v in self.columns.values[name]],
            dtype=object,
        )
        missing = self.columns.missing(name)
        fill = self.fill.get(name)
        values[missing] = fill
        codes: np.ndarray = pd.Categorical(values, categories=self.categories[name]).codes
        return codes.astype(np.int64)

    def feature_axes(self) -> list[FeatureAxis | None]:
        axes: list[FeatureAxis | None] = []
        names = self.feature_names()
        if names:
            numeric_set = set(self.numeric)
            numeric = tuple(n in numeric_set for n in names)
            axes.append(FeatureAxis(0, None if all(numeric) else numeric))
        if self.encoding == "index" and self.categorical:
            axes.append(None)
        return axes

    def state(self) -> dict[str, Any]:
        return {
            "type": "table",
            "features": self.features,
            "numeric": self.numeric,
            "categories": self.categories,
            "categorical_encoding": self.encoding,
            "missing": self.missing,
            "fill": self.fill,
            "feature_names": self.feature_names(),
            "target": self.target,
        }

    def statistics(self) -> list[ColumnStats]:
        stats = []
        numeric_set = set(self.numeric)
        for name in [*self.features, self.target]:
            role: Any = "target" if name == self.target else "feature"
            missing = self.columns.missing(name)
            if self.columns.numeric[name] or (name != self.target and name in numeric_set):
                stats.append(numeric_stats(name, role, self._numbers(name)))
            else:
                stats.append(categorical_stats(name, role, self.columns.values[name], missing))
        return stats

    def preview(self, rows: np.ndarray, labels: list[str]) -> Preview:
        names = [*self.features, self.target]
        return TablePreview(
            names,
            [[_cell(self.columns.values[name][r]) for name in names] for r in rows],
        )


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
