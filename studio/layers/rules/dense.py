"""Rules for Linear and Embedding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape, warn
from studio.layers.rules.checks import (
    expect_at_least,
    expect_float,
    expect_input_count,
    only_input,
)


def linear(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """(N, ..., F) → the same with F replaced by out_features, as torch does at any rank.

    On an image (three or more dims after the batch) torch mixes only the last dim, at every
    row and channel: right for channels-last features (ConvNeXt, MLP-Mixer), but a beginner
    feeding a conv's output there almost always wanted Flatten first. So it runs, and warns.
    """
    shape = only_input("Linear", inputs)
    expect_float("Linear", shape)
    expect_at_least("Linear", shape, 1, "..., F")
    if len(shape.dims) >= 3:
        warn(
            f"Linear mixes only the last dimension of its input {shape}, separately at every "
            "other position. Insert Flatten before it to classify the whole image (for "
            "channels-last features, this is already right)."
        )
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
