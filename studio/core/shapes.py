"""Tensor shapes as the user sees them: the batch dimension is implicit and printed as N."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from studio.core.errors import StudioError

DType = Literal["float", "long"]


@dataclass(frozen=True)
class TensorShape:
    """The shape of one sample (`dims`, without the batch) and its element type.

    `batched` is False for a tensor that is the same for every sample: a learned parameter or
    a constant (a class token, a position table) has a leading dimension of 1 where a batch
    would be, and broadcasting spreads it over the batch. It prints with 1 in place of N.
    """

    dims: tuple[int, ...]
    dtype: DType = "float"
    batched: bool = True

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
        return "(" + ", ".join(["N" if self.batched else "1", *(str(d) for d in self.dims)]) + ")"


class ShapeError(StudioError):
    """A layer cannot accept the shapes it receives; the message says what to do."""


def describe(shapes: list[TensorShape] | tuple[TensorShape, ...]) -> str:
    return " and ".join(str(s) for s in shapes)


_WARNINGS: ContextVar[list[str] | None] = ContextVar("shape_warnings", default=None)


def warn(message: str) -> None:
    """Note something torch accepts but that is likely a mistake (a shape rule's warning).

    Where torch runs a layer and only warns (Dropout2d on (N, C), say), a shape rule returns
    the shape and calls this; shape inference shows the sentence on the node as a warning.
    Outside `collect_warnings` it is ignored.
    """
    found = _WARNINGS.get()
    if found is not None and message not in found:
        found.append(message)


@contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """The warnings shape rules give while this block runs."""
    found: list[str] = []
    token = _WARNINGS.set(found)
    try:
        yield found
    finally:
        _WARNINGS.reset(token)
