"""What a dataset gives the model, described without loading it (no numpy, no torch).

A `DataSignature` is what the graph's Input and Output nodes are checked against, what the
data tab shows as "shape", and what the registry lists for each bundled dataset; it is the
same whether it was read from the registry or measured on loaded data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from studio.core.shapes import DType

DataKind = Literal["table", "image", "sequence", "text"]
Task = Literal["classification", "regression", "none"]


def format_dims(dims: tuple[int, ...]) -> str:
    """``(1, 8, 8)``: one sample's shape as the data tab and the messages print it."""
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


@dataclass(frozen=True)
class InputSpec:
    """One tensor the model receives per sample."""

    name: str
    shape: tuple[int, ...]
    dtype: DType = "float"
    # Integer inputs: the number of distinct ids (token ids, category indices) an Embedding
    # must cover; for text from the registry, an upper bound (the whole corpus' vocabulary).
    cardinality: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "cardinality": self.cardinality,
        }


@dataclass(frozen=True)
class TargetSpec:
    """What the model is asked to predict per sample."""

    task: Task
    # () for a class index; (k,) for k regression values; the input's shape for "none".
    shape: tuple[int, ...] = ()
    class_names: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.task == "classification" else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "shape": list(self.shape),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
        }


@dataclass(frozen=True)
class DataSignature:
    """The inputs and target of a dataset: enough to check a graph against it."""

    kind: DataKind
    inputs: tuple[InputSpec, ...]
    target: TargetSpec
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def task(self) -> Task:
        return self.target.task

    def describe_inputs(self) -> str:
        """``features (4,) float``, joined with "and" for several inputs."""
        return " and ".join(f"{i.name} {format_dims(i.shape)} {i.dtype}" for i in self.inputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "inputs": [i.to_dict() for i in self.inputs],
            "target": self.target.to_dict(),
        }
