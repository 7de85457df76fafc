"""Builders for pooling layers, which shrink spatial dims and keep the channels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.construct import construct
from studio.layers.modules import GlobalAvgPool
from studio.layers.rules import pooling as rules

_PoolClass = (
    type[nn.MaxPool1d]
    | type[nn.MaxPool2d]
    | type[nn.MaxPool3d]
    | type[nn.AvgPool1d]
    | type[nn.AvgPool2d]
    | type[nn.AvgPool3d]
)


def build_max_pool1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """MaxPool1d on sequences (N, C, L)."""
    rules.max_pool1d(params, inputs)
    return _pool(nn.MaxPool1d, params)


def build_max_pool2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """MaxPool2d on images (N, C, H, W)."""
    rules.max_pool2d(params, inputs)
    return _pool(nn.MaxPool2d, params)


def build_avg_pool1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """AvgPool1d on sequences (N, C, L)."""
    rules.avg_pool1d(params, inputs)
    return _pool(nn.AvgPool1d, params)


def build_avg_pool2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """AvgPool2d on images (N, C, H, W)."""
    rules.avg_pool2d(params, inputs)
    return _pool(nn.AvgPool2d, params)


def build_max_pool3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """MaxPool3d on volumes (N, C, D, H, W)."""
    rules.max_pool3d(params, inputs)
    return _pool(nn.MaxPool3d, params)


def build_avg_pool3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """AvgPool3d on volumes (N, C, D, H, W)."""
    rules.avg_pool3d(params, inputs)
    return _pool(nn.AvgPool3d, params)


def _pool(cls: _PoolClass, params: Mapping[str, Any]) -> nn.Module:
    # Stride 0 means "same as the kernel", which torch spells stride=None (its default).
    return construct_concise(
        cls,
        kernel_size=params["kernel_size"],
        stride=params["stride"] or None,
        padding=params["padding"],
        ceil_mode=bool(params.get("ceil_mode", False)),
    )


def build_adaptive_avg_pool2d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """AdaptiveAvgPool2d to a fixed (H, W), whatever size comes in."""
    rules.adaptive_avg_pool2d(params, inputs)
    return construct(nn.AdaptiveAvgPool2d, tuple(params["output_size"]))


def build_adaptive_avg_pool1d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """AdaptiveAvgPool1d to a fixed length, whatever length comes in."""
    rules.adaptive_avg_pool1d(params, inputs)
    return construct(nn.AdaptiveAvgPool1d, params["output_size"])


def build_adaptive_max_pool1d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """AdaptiveMaxPool1d to a fixed length, whatever length comes in."""
    rules.adaptive_max_pool1d(params, inputs)
    return construct(nn.AdaptiveMaxPool1d, params["output_size"])


def build_adaptive_max_pool2d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> nn.Module:
    """AdaptiveMaxPool2d to a fixed (H, W), whatever size comes in."""
    rules.adaptive_max_pool2d(params, inputs)
    return construct(nn.AdaptiveMaxPool2d, tuple(params["output_size"]))


def build_global_avg_pool(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Average over every spatial position → (N, C)."""
    rules.global_avg_pool(params, inputs)
    return construct(GlobalAvgPool)
