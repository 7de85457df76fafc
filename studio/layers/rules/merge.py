"""Rules for layers that combine several inputs (ports in1..inN)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import DType, ShapeError, TensorShape
from studio.layers.rules.checks import (
    expect_input_count,
    expect_same_shape,
    listing,
    sample_dim,
)


def add(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Shapes must match exactly: silent broadcasting would hide wiring mistakes."""
    expect_same_shape("Add", inputs, params["inputs"])
    return [TensorShape(inputs[0].dims, _promoted(inputs))]


def multiply(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    expect_same_shape("Multiply", inputs, params["inputs"])
    return [TensorShape(inputs[0].dims, _promoted(inputs))]


def concat(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Sizes along `dim` add up; every other dim must match."""
    expect_input_count("Concat", inputs, params["inputs"])
    dim = params["dim"]
    if len({len(shape.dims) for shape in inputs}) == 1:
        index = sample_dim("Concat", inputs[0], dim) - 1
        others = {shape.dims[:index] + shape.dims[index + 1 :] for shape in inputs}
        if len(others) == 1:
            dims = list(inputs[0].dims)
            dims[index] = sum(shape.dims[index] for shape in inputs)
            return [TensorShape(tuple(dims), _promoted(inputs))]
    raise ShapeError(
        f"Concat along dim {dim} expects every other dimension to match; it receives "
        f"{listing(inputs)}. Insert Reshape, pooling or Linear on a branch so they match."
    )


def _promoted(inputs: Sequence[TensorShape]) -> DType:
    """torch's type promotion between our two dtypes: any float makes the result float."""
    return "float" if any(shape.dtype == "float" for shape in inputs) else "long"
