"""Rules for layers that rearrange or reduce dimensions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import (
    expect_at_least,
    expect_float,
    only_input,
)
from studio.layers.rules.ops import reduced


def flatten(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Flatten", inputs)
    expect_at_least("Flatten", shape, 1, "...")
    return [TensorShape((shape.numel(),), shape.dtype)]


def reshape(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """One -1 in the target takes whatever size is left."""
    shape = only_input("Reshape", inputs)
    expect_at_least("Reshape", shape, 1, "...")
    target = tuple(params["shape"])
    if 0 in target or target.count(-1) > 1:
        raise ShapeError(
            f"Reshape's shape {_plain(target)} may not contain 0 and may contain -1 only once."
        )
    known = math.prod(size for size in target if size != -1)
    values = shape.numel()
    fits = values % known == 0 if -1 in target else values == known
    if not fits:
        raise ShapeError(
            f"Reshape cannot turn {shape} ({values} values per sample) into "
            f"(N, {', '.join(map(str, target))}) ({known} values). The new shape must hold the "
            "same number of values; put -1 in one place to have that size worked out."
        )
    dims = tuple(values // known if size == -1 else size for size in target)
    return [TensorShape(dims, shape.dtype)]


def permute(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Sample dims are numbered from 1; the batch stays first."""
    shape = only_input("Permute", inputs)
    dims = tuple(params["dims"])
    size = len(shape.dims)
    if sorted(dims) != list(range(1, size + 1)):
        raise ShapeError(
            f"Permute's dims {_plain(dims)} must list each of 1 to {size} exactly once for its "
            f"input {shape}, e.g. {_plain(tuple(range(size, 0, -1)))} to reverse them."
        )
    return [TensorShape(tuple(shape.dims[d - 1] for d in dims), shape.dtype)]


def select_last(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """``x[:, -1]``: the last position of the first dim after the batch, at any rank; on (N, L)
    it leaves one value per sample, (N)."""
    shape = only_input("SelectLast", inputs)
    expect_at_least("SelectLast", shape, 1, "L, ...")
    return [TensorShape(shape.dims[1:], shape.dtype)]


def mean_over(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Mean", inputs)
    expect_float("Mean", shape)
    return [_reduced("Mean", shape, params)]


def sum_over(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Sum", inputs)
    return [_reduced("Sum", shape, params)]


def max_over(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Max", inputs)
    return [_reduced("Max", shape, params)]


def min_over(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Min", inputs)
    return [_reduced("Min", shape, params)]


def _reduced(layer: str, shape: TensorShape, params: Mapping[str, Any]) -> TensorShape:
    return reduced(layer, shape, params)


def _plain(values: tuple[int, ...]) -> str:
    """A tuple as a user types it: ``(2, 1)``."""
    return "(" + ", ".join(map(str, values)) + ")"
