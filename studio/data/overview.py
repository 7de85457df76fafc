"""Everything the data tab shows, as plain data: previews, statistics, class balance, splits.

`inspect_data` reads the data the way training will (same split, same encoders) but needs
no torch, so the tab can run it on a worker thread while torch is still loading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.project import DataSection
from studio.data.prepare import PreparedData, prepare_data
from studio.data.previews import ColumnStats, Preview
from studio.data.signature import DataKind, DataSignature, Task
from studio.data.splits import SPLIT_NAMES

PREVIEW_COUNT = 16


@dataclass
class ClassBalance:
    """How many samples of one class each split holds."""

    name: str
    total: int
    train: int
    validation: int
    test: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DataOverview:
    """A dataset at a glance."""

    name: str
    kind: DataKind
    task: Task
    signature: DataSignature
    samples: int
    split_sizes: dict[str, int]
    class_balance: list[ClassBalance]
    statistics: list[ColumnStats]
    preview: Preview
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "task": self.task,
            "signature": self.signature.to_dict(),
            "samples": self.samples,
            "split_sizes": self.split_sizes,
            "class_balance": [c.to_dict() for c in self.class_balance],
            "statistics": [s.to_dict() for s in self.statistics],
            "preview": self.preview.to_dict(),
            "notes": self.notes,
        }


def inspect_data(
    section: DataSection, base_dir: Path | None = None, *, preview_count: int = PREVIEW_COUNT
) -> DataOverview:
    """Read the project's data and describe it; raises `DataError` as loading would."""
    return overview_of(prepare_data(section, base_dir), preview_count=preview_count)


def overview_of(prepared: PreparedData, *, preview_count: int = PREVIEW_COUNT) -> DataOverview:
    """The overview of data already prepared (e.g. by `load_data`)."""
    raw = prepared.raw
    rows = preview_rows(prepared, preview_count)
    return DataOverview(
        raw.name,
        raw.kind,
        raw.task,
        prepared.signature,
        len(raw),
        prepared.split.sizes(),
        class_balance(prepared),
        raw.encoder.statistics(),
        raw.encoder.preview(rows, raw.labels_of(rows)),
        # The data tab shows notes where it shows data problems; the warnings come first.
        [*raw.warnings, *raw.notes],
    )


def class_balance(prepared: PreparedData) -> list[ClassBalance]:
    """Samples per class in each split (empty for regression)."""
    raw = prepared.raw
    if raw.task != "classification" or raw.target is None:
        return []
    classes = len(raw.class_names)
    counts = {
        name: np.bincount(raw.target[prepared.split.part(name)], minlength=classes)
        for name in SPLIT_NAMES
    }
    total = np.bincount(raw.target, minlength=classes)
    return [
        ClassBalance(
            raw.class_names[c],
            int(total[c]),
            int(counts["train"][c]),
            int(counts["validation"][c]),
            int(counts["test"][c]),
        )
        for c in range(classes)
    ]


def preview_rows(prepared: PreparedData, count: int) -> np.ndarray:
    """Which samples to show: a table's first rows; otherwise a few of each class in turn."""
    raw = prepared.raw
    total = len(raw)
    if raw.kind == "table" or raw.task != "classification" or raw.target is None:
        return np.arange(min(count, total))
    per_class = [np.flatnonzero(raw.target == c)[:count] for c in range(len(raw.class_names))]
    picked: list[int] = []
    for i in range(count):
        for rows in per_class:
            if i < len(rows) and len(picked) < count:
                picked.append(int(rows[i]))
    return np.asarray(picked, dtype=np.int64)
