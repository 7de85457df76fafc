"""Normalisation fitted on the training split, and the preprocessing state as plain JSON.

A run saves `PreprocessingState.to_json()` next to its weights; evaluation and export load
it with `from_json` and apply exactly the same shifts and scales, category lists and
vocabulary. Statistics are computed in float64 over chunks, so a large image set is never
converted to floating point all at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from studio.data.errors import DataError
from studio.data.raw import FeatureAxis
from studio.data.signature import DataKind, InputSpec, Task

STATE_VERSION = 1
Method = Literal["standardize", "minmax"]
_CHUNK = 4096


@dataclass(frozen=True)
class Normalization:
    """``(x - shift) / scale`` with one shift and scale per entry along `axis` of a sample."""

    method: Method
    axis: int
    shift: tuple[float, ...]
    scale: tuple[float, ...]

    def broadcast_shape(self, sample_ndim: int) -> tuple[int, ...]:
        """The shape `shift` and `scale` take to broadcast over a batch (N, *sample)."""
        shape = [1] * (sample_ndim + 1)
        shape[self.axis + 1] = len(self.shift)
        return tuple(shape)

    def apply(self, batch: np.ndarray) -> np.ndarray:
        shape = self.broadcast_shape(batch.ndim - 1)
        shift = np.asarray(self.shift, dtype=np.float32).reshape(shape)
        scale = np.asarray(self.scale, dtype=np.float32).reshape(shape)
        return (batch.astype(np.float32) - shift) / scale

    def invert(self, batch: np.ndarray) -> np.ndarray:
        shape = self.broadcast_shape(batch.ndim - 1)
        shift = np.asarray(self.shift, dtype=np.float32).reshape(shape)
        scale = np.asarray(self.scale, dtype=np.float32).reshape(shape)
        return batch.astype(np.float32) * scale + shift

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "axis": self.axis,
            "shift": list(self.shift),
            "scale": list(self.scale),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Normalization:
        return cls(
            data["method"],
            int(data["axis"]),
            tuple(float(v) for v in data["shift"]),
            tuple(float(v) for v in data["scale"]),
        )


def fit_normalization(
    array: np.ndarray, rows: np.ndarray, feature_axis: FeatureAxis, method: Method
) -> Normalization:
    """Statistics of `array[rows]` per entry along the feature axis.

    A constant entry gets scale 1 (it becomes 0 instead of NaN); entries the feature axis
    leaves out (one-hot columns) get shift 0 and scale 1.
    """
    axis = feature_axis.axis
    width = array.shape[axis + 1]
    count = 0
    mean = np.zeros(width)
    m2 = np.zeros(width)
    low = np.full(width, np.inf)
    high = np.full(width, -np.inf)
    for start in range(0, len(rows), _CHUNK):
        chunk = np.moveaxis(array[rows[start : start + _CHUNK]], axis + 1, -1)
        values = chunk.reshape(-1, width).astype(np.float64)
        n = len(values)
        if n == 0:
            continue
        chunk_mean = values.mean(axis=0)
        chunk_m2 = ((values - chunk_mean) ** 2).sum(axis=0)
        # Chan et al.'s pairwise update: exact, and stable when the mean dwarfs the spread.
        delta = chunk_mean - mean
        total = count + n
        mean = mean + delta * n / total
        m2 = m2 + chunk_m2 + delta**2 * count * n / total
        count = total
        low = np.minimum(low, values.min(axis=0))
        high = np.maximum(high, values.max(axis=0))
    if count == 0:
        raise DataError("the training split is empty; there is nothing to fit normalisation on")
    if method == "standardize":
        shift, scale = mean, np.sqrt(m2 / count)
    else:
        shift, scale = low, high - low
    scale = np.where(scale > 1e-12, scale, 1.0)
    if feature_axis.columns is not None:
        used = np.asarray(feature_axis.columns, dtype=bool)
        shift = np.where(used, shift, 0.0)
        scale = np.where(used, scale, 1.0)
    return Normalization(
        method, axis, tuple(float(v) for v in shift), tuple(float(v) for v in scale)
    )


def choose_method(setting: str, kind: DataKind) -> Method | None:
    """The normalisation `auto` means for each kind of data; None for none."""
    if setting == "none":
        return None
    if setting in ("standardize", "minmax"):
        return setting  # type: ignore[return-value]
    return "minmax" if kind == "image" else "standardize"


@dataclass
class InputState:
    """One model input: its shape and dtype, and the normalisation applied to it."""

    spec: InputSpec
    normalization: Normalization | None = None


@dataclass
class PreprocessingState:
    """Everything needed to prepare new data exactly as the training data was prepared."""

    name: str
    kind: DataKind
    task: Task
    inputs: list[InputState]
    class_names: list[str] = field(default_factory=list)
    target: Normalization | None = None
    encoder: dict[str, Any] = field(default_factory=dict)

    @property
    def vocabulary(self) -> list[str] | None:
        vocabulary = self.encoder.get("vocabulary")
        return list(vocabulary) if vocabulary is not None else None

    def normalize_inputs(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Batches of encoded inputs, normalised (integer ids pass through)."""
        return [
            a if s.normalization is None else s.normalization.apply(a)
            for a, s in zip(arrays, self.inputs, strict=True)
        ]

    def denormalize_target(self, values: np.ndarray) -> np.ndarray:
        """Regression outputs back in the target's own units."""
        return values if self.target is None else self.target.invert(values)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "name": self.name,
            "kind": self.kind,
            "task": self.task,
            "inputs": [
                {
                    **s.spec.to_dict(),
                    "normalization": s.normalization.to_json() if s.normalization else None,
                }
                for s in self.inputs
            ],
            "class_names": self.class_names,
            "target": self.target.to_json() if self.target else None,
            "encoder": self.encoder,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PreprocessingState:
        if data.get("version") != STATE_VERSION:
            raise DataError(
                f"preprocessing state version {data.get('version')!r} is not one this version "
                f"of Strata Studio reads ({STATE_VERSION})"
            )
        inputs = [
            InputState(
                InputSpec(i["name"], tuple(i["shape"]), i["dtype"], i.get("cardinality")),
                Normalization.from_json(i["normalization"]) if i.get("normalization") else None,
            )
            for i in data["inputs"]
        ]
        return cls(
            data["name"],
            data["kind"],
            data["task"],
            inputs,
            list(data.get("class_names", [])),
            Normalization.from_json(data["target"]) if data.get("target") else None,
            dict(data.get("encoder", {})),
        )
