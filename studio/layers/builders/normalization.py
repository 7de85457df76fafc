"""Builders for normalization layers; the normalized size comes from the input shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.rules import normalization as rules


def build_batch_norm1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """BatchNorm1d over the features of (N, C) or the channels of (N, C, L)."""
    rules.batch_norm1d(params, inputs)
    channels = inputs[0].dims[0]
    return construct_concise(
        nn.BatchNorm1d, channels, eps=params["eps"], momentum=params["momentum"]
    )


def build_batch_norm2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """BatchNorm2d over the channels of images (N, C, H, W)."""
    rules.batch_norm2d(params, inputs)
    channels = inputs[0].dims[0]
    return construct_concise(
        nn.BatchNorm2d, channels, eps=params["eps"], momentum=params["momentum"]
    )


def build_layer_norm(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """LayerNorm over the last dim, whatever the rank."""
    rules.layer_norm(params, inputs)
    return construct_concise(nn.LayerNorm, inputs[0].dims[-1], eps=params["eps"])


def build_group_norm(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """GroupNorm over channel groups of (N, C, ...)."""
    rules.group_norm(params, inputs)
    channels = inputs[0].dims[0]
    return construct_concise(nn.GroupNorm, params["num_groups"], channels, eps=params["eps"])
