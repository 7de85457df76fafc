"""Builders for attention layers on sequences (N, L, E); E comes from the input shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.modules import PositionalEncoding, SelfAttention
from studio.layers.modules_attention import (
    CausalTransformerDecoderLayer,
    CausalTransformerEncoderLayer,
)
from studio.layers.rules import attention as rules

M = TypeVar("M", bound=nn.Module)


def build_multihead_attention(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """Attention returning only the attended sequence (N, L, E).

    Which optional inputs are connected is read from their shapes (see
    `rules.attention_inputs`) and told to the module, which receives only those.
    """
    rules.multihead_attention(params, inputs)
    embed = inputs[0].dims[-1]
    memory, mask = rules.attention_inputs(inputs)
    return construct_concise(
        SelfAttention,
        embed,
        params["num_heads"],
        dropout=params["dropout"],
        causal=params["causal"],
        cross=memory is not None,
        masked=mask is not None,
    )


def build_transformer_encoder_layer(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """One batch-first transformer encoder block; d_model is the input's E."""
    rules.transformer_encoder_layer(params, inputs)
    cls = CausalTransformerEncoderLayer if params["causal"] else nn.TransformerEncoderLayer
    return _block(cls, params, inputs[0].dims[-1])


def build_transformer_decoder_layer(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """One batch-first transformer decoder block called as (tgt, memory); d_model is E."""
    rules.transformer_decoder_layer(params, inputs)
    cls = CausalTransformerDecoderLayer if params["causal"] else nn.TransformerDecoderLayer
    return _block(cls, params, inputs[0].dims[-1])


def _block(cls: type[M], params: Mapping[str, Any], d_model: int) -> M:
    return construct_concise(
        cls,
        d_model,
        params["nhead"],
        dim_feedforward=params["dim_feedforward"],
        dropout=params["dropout"],
        activation=params["activation"],
        batch_first=True,
        norm_first=params["norm_first"],
    )


def build_positional_encoding(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """Sinusoidal or learned position vectors added to (N, L, E), for L up to max_len."""
    rules.positional_encoding(params, inputs)
    embed = inputs[0].dims[-1]
    return construct_concise(
        PositionalEncoding, embed, max_len=params["max_len"], kind=params["kind"]
    )
