"""Builders for attention layers on sequences (N, L, E); E comes from the input shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.modules import PositionalEncoding, SelfAttention
from studio.layers.rules import attention as rules


def build_multihead_attention(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """Self-attention returning only the attended sequence (N, L, E)."""
    rules.multihead_attention(params, inputs)
    embed = inputs[0].dims[-1]
    return construct_concise(SelfAttention, embed, params["num_heads"], dropout=params["dropout"])


def build_transformer_encoder_layer(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """One batch-first transformer encoder block; d_model is the input's E."""
    rules.transformer_encoder_layer(params, inputs)
    return construct_concise(
        nn.TransformerEncoderLayer,
        inputs[0].dims[-1],
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
