"""Rules for Linear and Embedding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import expect_float, expect_layout, only_input


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
