"""Builders for Linear and Embedding, the layers that map features or token ids to vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.rules import dense as rules


def build_linear(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Linear on the last dim of (N, F) or of every step of (N, L, F)."""
    rules.linear(params, inputs)
    in_features = inputs[0].dims[-1]
    return construct_concise(nn.Linear, in_features, params["out_features"], bias=params["bias"])


def build_embedding(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Embedding of integer ids of any shape; each id gains a last dim of embedding_dim."""
    rules.embedding(params, inputs)
    return construct_concise(nn.Embedding, params["num_embeddings"], params["embedding_dim"])


def build_bilinear(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Bilinear map of two inputs that share every dim but the last (F1 and F2)."""
    rules.bilinear(params, inputs)
    first, second = inputs[0].dims[-1], inputs[1].dims[-1]
    return construct_concise(
        nn.Bilinear, first, second, params["out_features"], bias=params["bias"]
    )
