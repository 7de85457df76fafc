"""Builders for convolutions and upsampling; channel counts come from the input shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.rules import conv as rules


def build_conv1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Conv1d on sequences (N, C, L)."""
    rules.conv1d(params, inputs)
    return _conv(nn.Conv1d, params, inputs[0])


def build_conv2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Conv2d on images (N, C, H, W)."""
    rules.conv2d(params, inputs)
    return _conv(nn.Conv2d, params, inputs[0])


def _conv(
    cls: type[nn.Conv1d] | type[nn.Conv2d], params: Mapping[str, Any], shape: TensorShape
) -> nn.Module:
    return construct_concise(
        cls,
        shape.dims[0],
        params["out_channels"],
        kernel_size=params["kernel_size"],
        stride=params["stride"],
        padding=params["padding"],
        dilation=params["dilation"],
        groups=params["groups"],
        bias=params["bias"],
    )


def build_conv_transpose2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ConvTranspose2d on images (N, C, H, W); stride 2 and kernel 2 double the size."""
    rules.conv_transpose2d(params, inputs)
    return construct_concise(
        nn.ConvTranspose2d,
        inputs[0].dims[0],
        params["out_channels"],
        kernel_size=params["kernel_size"],
        stride=params["stride"],
        padding=params["padding"],
        output_padding=params["output_padding"],
    )


def build_upsample(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Upsample by an integer factor (nearest or bilinear)."""
    rules.upsample(params, inputs)
    scale = float(params["scale_factor"])
    return construct_concise(nn.Upsample, scale_factor=scale, mode=params["mode"])
