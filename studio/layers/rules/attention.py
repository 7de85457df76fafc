"""Rules for attention layers on sequences (N, L, E); none of them changes the shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import (
    check_divides,
    expect_at_least,
    expect_float,
    expect_layout,
    only_input,
)

_FIX = "Insert Embedding, Linear or Reshape before it to make (N, L, E)."


def _sequence(layer: str, inputs: Sequence[TensorShape]) -> TensorShape:
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, "L, E", fix=_FIX)
    return shape


def multihead_attention(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """(N, L, E), with keys from a memory (N, S, E) and a padding mask (N, S) when connected."""
    if not 1 <= len(inputs) <= 3:
        raise ShapeError(
            f"MultiheadAttention expects one to three inputs; it receives {len(inputs)}."
        )
    shape = _sequence("MultiheadAttention", inputs[:1])
    check_divides(
        "MultiheadAttention",
        "num_heads",
        params["num_heads"],
        "the embedding size E",
        shape.dims[1],
    )
    memory, mask = attention_inputs(inputs)
    keys = shape
    if memory is not None:
        keys = _memory("MultiheadAttention", shape, memory)
    if mask is not None:
        _padding_mask(mask, keys.dims[0])
    return [shape]


def attention_inputs(
    inputs: Sequence[TensorShape],
) -> tuple[TensorShape | None, TensorShape | None]:
    """(memory, padding mask) among MultiheadAttention's inputs after the query.

    The compiler passes only connected inputs, so a lone second input is told apart by its
    type: a padding mask holds integers (long), a memory floats.
    """
    rest = list(inputs[1:])
    if len(rest) == 2:
        return rest[0], rest[1]
    if len(rest) == 1:
        return (None, rest[0]) if rest[0].dtype == "long" else (rest[0], None)
    return None, None


def _memory(layer: str, query: TensorShape, memory: TensorShape) -> TensorShape:
    if memory.dtype != "float" or len(memory.dims) != 2 or memory.dims[1] != query.dims[1]:
        raise ShapeError(
            f"{layer}'s memory input expects (N, S, {query.dims[1]}) floats, the query's "
            f"embedding size; it receives {memory}{_dtype_note(memory)}. Insert Linear before "
            "the memory to change its size."
        )
    return memory


def _padding_mask(mask: TensorShape, length: int) -> None:
    if mask.dtype != "long" or mask.dims != (length,):
        raise ShapeError(
            f"MultiheadAttention's padding_mask expects (N, {length}) integers (dtype long), "
            f"one 0/1 per key step; it receives {mask}{_dtype_note(mask)}. Feed it from an "
            "Input of dtype long whose shape is the key sequence's length."
        )


def _dtype_note(shape: TensorShape) -> str:
    return " of integers" if shape.dtype == "long" else ""


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
    """(N, L, E) gains the (L, E) table; torch adds it to any (N, L, ..., E) by broadcasting
    against the last two dims, and to integer ids as well (the sum is float)."""
    shape = only_input("PositionalEncoding", inputs)
    expect_at_least("PositionalEncoding", shape, 2, "L, ..., E")
    length, max_len = shape.dims[0], params["max_len"]
    if length > max_len:
        raise ShapeError(
            f"PositionalEncoding's max_len ({max_len}) is shorter than its input's sequence "
            f"length ({length}). Raise max_len to at least {length}."
        )
    rows = shape.dims[-2]
    if rows not in (1, length) and length != 1:
        raise ShapeError(
            f"PositionalEncoding adds its ({length}, {shape.dims[-1]}) table to the last two "
            f"dimensions of {shape}, and {rows} does not match {length}. Insert Permute so the "
            "sequence comes second to last."
        )
    dims = (*shape.dims[:-2], max(rows, length), shape.dims[-1])
    return [TensorShape(dims)]


def transformer_decoder_layer(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """The target (N, L, E) attends to the memory (N, S, E); the result has the target's shape."""
    if len(inputs) != 2:
        raise ShapeError(
            f"TransformerDecoderLayer expects two inputs, tgt and memory; it receives "
            f"{len(inputs)}. Connect both."
        )
    shape = _sequence("TransformerDecoderLayer", inputs[:1])
    check_divides(
        "TransformerDecoderLayer", "nhead", params["nhead"], "the embedding size E", shape.dims[1]
    )
    _memory("TransformerDecoderLayer", shape, inputs[1])
    return [shape]
