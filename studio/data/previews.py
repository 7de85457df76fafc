"""Plain data the data tab draws: sample previews and per-column statistics (numpy, no torch).

Each preview is a small dataclass of Python lists and uint8/float arrays, ready for a table
model, a `QImage` or a plot, and convertible to JSON with `to_dict()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

ColumnRole = Literal["feature", "target", "ignored", "channel", "text"]
ColumnType = Literal["numeric", "categorical", "text"]


@dataclass
class ColumnStats:
    """Statistics of one column (tables, series), one channel (images) or the text lengths."""

    name: str
    role: ColumnRole
    type: ColumnType
    count: int
    missing: int = 0
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    unique: int | None = None
    # The most frequent values of a categorical column, with their counts.
    top: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "top"} | {
            "top": [list(t) for t in self.top]
        }


def numeric_stats(name: str, role: ColumnRole, values: np.ndarray) -> ColumnStats:
    """Count, missing, mean, std, min and max of a numeric column (NaN counts as missing)."""
    # float32 columns show 4.3, not 4.300000190734863: as many digits as float32 holds.
    digits = 7 if np.asarray(values).dtype == np.float32 else 15

    def tidy(value: float) -> float:
        return float(f"{value:.{digits}g}")

    values = np.asarray(values, dtype=np.float64).ravel()
    missing = np.isnan(values)
    present = values[~missing]
    if present.size == 0:
        return ColumnStats(name, role, "numeric", values.size, int(missing.sum()))
    return ColumnStats(
        name,
        role,
        "numeric",
        values.size,
        int(missing.sum()),
        mean=tidy(present.mean()),
        std=tidy(present.std()),
        min=tidy(present.min()),
        max=tidy(present.max()),
        unique=int(np.unique(present).size) if present.size <= 100_000 else None,
    )


def categorical_stats(
    name: str, role: ColumnRole, values: np.ndarray, missing: np.ndarray, top: int = 10
) -> ColumnStats:
    """Count, missing, distinct values and the most frequent ones of a text column."""
    present = np.asarray(values[~missing], dtype=str)
    uniques, counts = np.unique(present, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:top]
    return ColumnStats(
        name,
        role,
        "categorical",
        len(values),
        int(missing.sum()),
        unique=int(uniques.size),
        top=[(str(uniques[i]), int(counts[i])) for i in order],
    )


@dataclass
class TablePreview:
    """The first rows of a table, as text, in file order."""

    columns: list[str]
    rows: list[list[str]]
    kind: Literal["table"] = "table"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "columns": self.columns, "rows": self.rows}


@dataclass
class ImagePreview:
    """A few images (H, W) or (H, W, 3) as uint8, with their labels (and masks if any)."""

    images: list[np.ndarray]
    labels: list[str]
    masks: list[np.ndarray] | None = None
    kind: Literal["image"] = "image"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "images": [i.tolist() for i in self.images],
            "labels": self.labels,
        }
        if self.masks is not None:
            out["masks"] = [m.astype(np.uint8).tolist() for m in self.masks]
        return out


@dataclass
class SeriesPreview:
    """A few series as (steps, channels) float arrays, with the channel names."""

    channels: list[str]
    series: list[np.ndarray]
    names: list[str]
    kind: Literal["sequence"] = "sequence"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "channels": self.channels,
            "series": [s.tolist() for s in self.series],
            "names": self.names,
        }


@dataclass
class TextPreview:
    """A few texts with their labels and the tokens the model sees."""

    texts: list[str]
    labels: list[str]
    tokens: list[list[str]]
    kind: Literal["text"] = "text"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "texts": self.texts,
            "labels": self.labels,
            "tokens": self.tokens,
        }


Preview = TablePreview | ImagePreview | SeriesPreview | TextPreview


def images_for_display(images: np.ndarray, low: float, high: float) -> list[np.ndarray]:
    """(n, C, H, W) images of any range as uint8 (H, W) or (H, W, 3) arrays for a QImage."""
    scale = 255.0 / (high - low) if high > low else 1.0
    shown = np.clip((images.astype(np.float32) - low) * scale, 0, 255).astype(np.uint8)
    if shown.shape[1] == 1:
        return [np.ascontiguousarray(i[0]) for i in shown]
    return [np.ascontiguousarray(i[:3].transpose(1, 2, 0)) for i in shown]
