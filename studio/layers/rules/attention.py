"""Rules for attention layers on sequences (N, L, E); none of them changes the shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import check_divides, expect_float, expect_layout, only_input

_FIX = "Insert Embedding, Linear or Reshape before it to make (N, L, E)."


def _sequence(layer: str, inputs: Sequence[TensorShape]) -> TensorShape:
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, "L, E", fix=_FIX)
    return shape


def multihead_attention(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    shape = _sequence("MultiheadAttention", inputs)
    check_divides(
        "MultiheadAttention",
        "num_heads",
        params["num_heads"],
        "the embedding size E",
        shape.dims[1],
    )
    return [shape]


def transformer_encoder_layer(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    shape = _sequence("TransformerEncoderLayer", inputs)
    check_divides(
        "TransformerEncoderLayer", "nhead", params["nhead"], "the embedding size E", shape.dims[1]
    )
    return [shape]


def positional_encoding(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    shape = _sequence("PositionalEncoding", inputs)
    length, max_len = shape.dims[0], params["max_len"]
    if length > max_len:
        raise ShapeError(
            f"PositionalEncoding's max_len ({max_len}) is shorter than its input's sequence "
            f"length ({length}). Raise max_len to at least {length}."
        )
    return [shape]
