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


def build_batch_norm3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """BatchNorm3d over the channels of volumes (N, C, D, H, W)."""
    rules.batch_norm3d(params, inputs)
    channels = inputs[0].dims[0]
    return construct_concise(
        nn.BatchNorm3d, channels, eps=params["eps"], momentum=params["momentum"]
    )


def build_instance_norm1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """InstanceNorm1d over each channel of each sequence (N, C, L)."""
    rules.instance_norm1d(params, inputs)
    return _instance_norm(nn.InstanceNorm1d, params, inputs[0])


def build_instance_norm2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """InstanceNorm2d over each channel of each image (N, C, H, W)."""
    rules.instance_norm2d(params, inputs)
    return _instance_norm(nn.InstanceNorm2d, params, inputs[0])


def _instance_norm(
    cls: type[nn.InstanceNorm1d] | type[nn.InstanceNorm2d],
    params: Mapping[str, Any],
    shape: TensorShape,
) -> nn.Module:
    return construct_concise(
        cls,
        shape.dims[0],
        eps=params["eps"],
        momentum=params["momentum"],
        affine=params["affine"],
        track_running_stats=params["track_running_stats"],
    )


def build_rms_norm(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """RMSNorm over the last dim; eps 0 leaves torch's default (the dtype's epsilon)."""
    rules.rms_norm(params, inputs)
    eps = params["eps"] or None
    return construct_concise(
        nn.RMSNorm,
        inputs[0].dims[-1],
        eps=eps,
        elementwise_affine=params["elementwise_affine"],
    )


def build_local_response_norm(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """LocalResponseNorm across the channels (dim 1) of (N, C, ...)."""
    rules.local_response_norm(params, inputs)
    return construct_concise(
        nn.LocalResponseNorm,
        params["size"],
        alpha=params["alpha"],
        beta=params["beta"],
        k=params["k"],
    )
