"""What a source hands over: numpy arrays and an encoder, before any split or normalisation.

Every source (CSV table, image folder, IDX, NumPy, text, series, bundled generators) reads
its files into a `RawData`. What must be learned from the training split only (fill values of
a table, a text vocabulary) is left to the `FeatureEncoder`, which `prepare_data` fits once
the split is known, so that no statistic of validation or test samples leaks into training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.core.shapes import DType
from studio.data.previews import ColumnRole, ColumnStats, Preview
from studio.data.signature import DataKind, InputSpec, Task


@dataclass(frozen=True)
class FeatureAxis:
    """How an input is normalised: separate statistics for each entry along `axis`.

    `axis` counts the dimensions of one sample (no batch): 0 for a table's features or an
    image's channels, 1 for a (steps, channels) window. `columns`, when given, says which
    entries are normalised at all (one-hot columns are left as they are).
    """

    axis: int
    columns: tuple[bool, ...] | None = None


class FeatureEncoder(ABC):
    """Turns what a source read into the model's input arrays."""

    @abstractmethod
    def __len__(self) -> int:
        """The number of samples."""

    @abstractmethod
    def input_specs(self) -> tuple[InputSpec, ...]:
        """The inputs `encode` returns (valid before `fit`: shapes do not depend on the split)."""

    def fit(self, train: np.ndarray) -> None:  # noqa: B027 - most encoders learn nothing
        """Learn what encoding needs (fill values, a vocabulary) from the training rows only."""

    @abstractmethod
    def encode(self) -> list[np.ndarray]:
        """Every sample's inputs, one array (n, *shape) per input, in `input_specs` order."""

    @abstractmethod
    def feature_axes(self) -> list[FeatureAxis | None]:
        """Per input, how it may be normalised; None for integer ids."""

    def state(self) -> dict[str, Any]:
        """What evaluation and export need to encode new raw data the same way (plain JSON)."""
        return {}

    @abstractmethod
    def statistics(self) -> list[ColumnStats]:
        """Per-column (or per-channel) statistics over every sample, for the data tab."""

    @abstractmethod
    def preview(self, rows: np.ndarray, labels: list[str]) -> Preview:
        """The given samples, ready to show, with their labels."""


@dataclass
class RawData:
    """A dataset as read: an encoder holding the features, targets, and what happened."""

    name: str
    kind: DataKind
    task: Task
    encoder: FeatureEncoder
    # (n,) int64 class indices, or (n, k) float32 regression values; None: no target.
    target: np.ndarray | None
    class_names: list[str] = field(default_factory=list)
    # Per sample 0 (train), 1 (validation), 2 (test) or -1 (split at random): a published
    # test set, or the chronological split of a series.
    fixed_split: np.ndarray | None = None
    # Per-sample extras that are never fed to the model (e.g. each shape image's object mask).
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    # What was done that the user should know: rows dropped, images skipped, fallbacks used.
    notes: list[str] = field(default_factory=list)
    # Classification splits keep class proportions, unless the source orders samples in time.
    stratify: bool = True
    # What every command warns about before using the data (files outside the project).
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.encoder)

    def labels_of(self, rows: np.ndarray) -> list[str]:
        """Each sample's label as text: its class name, or its value(s)."""
        if self.target is None:
            return ["" for _ in rows]
        if self.task == "classification":
            return [self.class_names[int(i)] for i in self.target[rows]]
        return [", ".join(f"{v:.4g}" for v in np.atleast_1d(t)) for t in self.target[rows]]


class ArrayEncoder(FeatureEncoder):
    """Inputs that are already numeric arrays (images, windows, token ids): nothing to learn."""

    def __init__(
        self,
        arrays: list[tuple[str, np.ndarray, FeatureAxis | None]],
        *,
        cardinalities: dict[str, int] | None = None,
        channel_names: list[str] | None = None,
    ) -> None:
        self.arrays = arrays
        self.cardinalities = cardinalities or {}
        self.channel_names = channel_names

    def __len__(self) -> int:
        return len(self.arrays[0][1])

    def input_specs(self) -> tuple[InputSpec, ...]:
        specs = []
        for name, array, axis in self.arrays:
            dtype: DType = "long" if axis is None else "float"
            specs.append(
                InputSpec(name, tuple(array.shape[1:]), dtype, self.cardinalities.get(name))
            )
        return tuple(specs)

    def encode(self) -> list[np.ndarray]:
        return [array for _, array, _ in self.arrays]

    def feature_axes(self) -> list[FeatureAxis | None]:
        return [axis for _, _, axis in self.arrays]

    def statistics(self) -> list[ColumnStats]:
        from studio.data.previews import numeric_stats

        stats: list[ColumnStats] = []
        for name, array, axis in self.arrays:
            if axis is None:
                stats.append(numeric_stats(name, "feature", _sampled(array)))
                continue
            moved = np.moveaxis(_sampled(array), axis.axis + 1, -1)
            count = moved.shape[-1]
            names = (
                self.channel_names
                if self.channel_names and count == len(self.channel_names)
                else [f"{name}[{i}]" if count > 1 else name for i in range(count)]
            )
            role: ColumnRole = "channel" if array.ndim > 2 else "feature"
            stats.extend(
                numeric_stats(names[i], role, moved[..., i]) for i in range(min(count, 64))
            )
        return stats

    def preview(self, rows: np.ndarray, labels: list[str]) -> Preview:
        from studio.data.previews import (
            ImagePreview,
            SeriesPreview,
            TablePreview,
            images_for_display,
        )

        name, array, _axis = self.arrays[0]
        if array.ndim == 4:
            sample = _sampled(array)
            low, high = float(sample.min()), float(sample.max())
            return ImagePreview(images_for_display(array[rows], low, high), labels)
        if array.ndim == 3:
            channels = self.channel_names or [f"{name}[{i}]" for i in range(array.shape[2])]
            return SeriesPreview(
                channels, [array[r].astype(np.float32) for r in rows], [str(r) for r in labels]
            )
        columns = [f"{name}[{i}]" for i in range(array.shape[1])] + ["label"]
        values = [
            [f"{v:.6g}" for v in array[r]] + [lab] for r, lab in zip(rows, labels, strict=True)
        ]
        return TablePreview(columns, values)


def _sampled(array: np.ndarray, limit: int = 20_000) -> np.ndarray:
    """At most `limit` samples, evenly spaced: statistics of a huge array stay quick."""
    if len(array) <= limit:
        return array
    return array[:: len(array) // limit + 1]
