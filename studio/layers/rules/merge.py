"""Rules for layers that combine several inputs (ports in1..inN).

Elementwise layers broadcast as torch does, counting the batch: a per-model tensor (a Parameter
or a Constant, printed with 1 where the batch goes) spreads over the batch, and sizes of 1
spread over the other's size. A batched input with fewer dimensions than another would line
its batch up with a sample dimension, which is never what a drawing means: that is a problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import DType, ShapeError, TensorShape
from studio.layers.rules.checks import (
    expect_input_count,
    listing,
    sample_dim,
)

BATCH = "N"
Size = int | str


def add(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    expect_input_count("Add", inputs, params["inputs"])
    return [broadcast("Add", inputs)]


def multiply(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    expect_input_count("Multiply", inputs, params["inputs"])
    return [broadcast("Multiply", inputs)]


def concat(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Sizes along `dim` add up; every other dim must match. Per-model inputs (a class token)
    are repeated over the batch of the batched ones."""
    expect_input_count("Concat", inputs, params["inputs"])
    dim = params["dim"]
    if len({len(shape.dims) for shape in inputs}) == 1:
        index = sample_dim("Concat", inputs[0], dim) - 1
        others = {shape.dims[:index] + shape.dims[index + 1 :] for shape in inputs}
        if len(others) == 1:
            dims = list(inputs[0].dims)
            dims[index] = sum(shape.dims[index] for shape in inputs)
            return [TensorShape(tuple(dims), promoted(inputs), any_batched(inputs))]
    raise ShapeError(
        f"Concat along dim {dim} expects every other dimension to match; it receives "
        f"{listing(inputs)}. Insert Reshape, pooling or Linear on a branch so they match."
    )


def broadcast(layer: str, inputs: Sequence[TensorShape], dtype: DType | None = None) -> TensorShape:
    """The shape of an elementwise result under torch's broadcasting, batch included."""
    rank = max(len(shape.dims) for shape in inputs)
    if any(shape.batched and len(shape.dims) < rank for shape in inputs):
        _misaligned_batch(layer, inputs)
    full = broadcast_sizes(layer, [full_sizes(shape) for shape in inputs], inputs)
    return from_full(layer, full, dtype or promoted(inputs), inputs)


def full_sizes(shape: TensorShape) -> tuple[Size, ...]:
    """The sizes torch sees: the batch as ``"N"``, or 1 for a per-model tensor."""
    return (BATCH if shape.batched else 1, *shape.dims)


def broadcast_sizes(
    layer: str, sizes: Sequence[tuple[Size, ...]], inputs: Sequence[TensorShape]
) -> tuple[Size, ...]:
    """Line sizes up from the right; each column must agree or be 1."""
    rank = max(len(s) for s in sizes)
    result: list[Size] = []
    for column in range(rank):
        found: Size = 1
        for each in sizes:
            size = each[column - rank + len(each)] if column >= rank - len(each) else 1
            if size == 1 or size == found:
                continue
            if found != 1:
                raise ShapeError(
                    f"{layer} cannot broadcast {listing(inputs)}: lined up from the right, each "
                    "size must match or be 1. Insert Reshape, Unsqueeze or Linear on a branch "
                    "so they match."
                )
            found = size
        result.append(found)
    return tuple(result)


def from_full(
    layer: str, full: tuple[Size, ...], dtype: DType, inputs: Sequence[TensorShape]
) -> TensorShape:
    """A full result back to a sample shape; the batch may only be the first dimension."""
    if BATCH in full[1:]:
        _misaligned_batch(layer, inputs)
    return TensorShape(tuple(int(s) for s in full[1:]), dtype, full[0] == BATCH)


def _misaligned_batch(layer: str, inputs: Sequence[TensorShape]) -> None:
    raise ShapeError(
        f"{layer} cannot combine {listing(inputs)}: the input with fewer dimensions would line "
        "its batch up with another's sample dimension. Insert Unsqueeze or Reshape on that "
        "branch so both have as many dimensions."
    )


def any_batched(inputs: Sequence[TensorShape]) -> bool:
    """A result is per-model only when every input is."""
    return any(shape.batched for shape in inputs) or not inputs


def promoted(inputs: Sequence[TensorShape]) -> DType:
    """torch's type promotion between our two dtypes: any float makes the result float."""
    return "float" if any(shape.dtype == "float" for shape in inputs) else "long"
