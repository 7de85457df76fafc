"""Rules for Linear and Embedding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import (
    expect_at_least,
    expect_float,
    expect_input_count,
    expect_layout,
    only_input,
)


def linear(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """(N, F) or (N, L, F) → the same with F replaced by out_features."""
    shape = only_input("Linear", inputs)
    expect_float("Linear", shape)
    expect_layout("Linear", shape, "F", "L, F")
    return [TensorShape((*shape.dims[:-1], params["out_features"]))]


def embedding(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Integer ids of any shape gain a last dim of embedding_dim and become floats."""
    shape = only_input("Embedding", inputs)
    if shape.dtype != "long":
        raise ShapeError(
            "Embedding expects integer token ids; it receives float values. "
            "Set the Input's dtype to long."
        )
    return [TensorShape((*shape.dims, params["embedding_dim"]))]


def bilinear(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """(N, ..., F1) and (N, ..., F2) with the same leading dims → (N, ..., out_features)."""
    expect_input_count("Bilinear", inputs, 2)
    first, second = inputs
    for shape in inputs:
        expect_float("Bilinear", shape)
        expect_at_least("Bilinear", shape, 1, "..., F")
    if first.dims[:-1] != second.dims[:-1]:
        raise ShapeError(
            f"Bilinear expects inputs that differ only in their last dimension; it receives "
            f"{first} and {second}. Insert Reshape or SelectLast on a branch so they match."
        )
    return [TensorShape((*first.dims[:-1], params["out_features"]))]
