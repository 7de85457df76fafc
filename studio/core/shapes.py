"""Tensor shapes as the user sees them: the batch dimension is implicit and printed as N."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from studio.core.errors import StudioError

DType = Literal["float", "long"]


@dataclass(frozen=True)
class TensorShape:
    """The shape of one sample (`dims`, without the batch) and its element type."""

    dims: tuple[int, ...]
    dtype: DType = "float"

    @property
    def rank(self) -> int:
        """Rank including the batch dimension, as torch counts it."""
        return len(self.dims) + 1

    def numel(self) -> int:
        count = 1
        for d in self.dims:
            count *= d
        return count

    def __str__(self) -> str:
        return "(" + ", ".join(["N", *(str(d) for d in self.dims)]) + ")"


class ShapeError(StudioError):
    """A layer cannot accept the shapes it receives; the message says what to do."""


def describe(shapes: list[TensorShape] | tuple[TensorShape, ...]) -> str:
    return " and ".join(str(s) for s in shapes)
