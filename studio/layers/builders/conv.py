"""Builders for convolutions, upsampling and the channel/space shuffles; channel counts come
from the input shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.construct import construct
from studio.layers.rules import conv as rules


def build_conv1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Conv1d on sequences (N, C, L)."""
    rules.conv1d(params, inputs)
    return _conv(nn.Conv1d, params, inputs[0])


def build_conv2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Conv2d on images (N, C, H, W)."""
    rules.conv2d(params, inputs)
    return _conv(nn.Conv2d, params, inputs[0])


def build_conv3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Conv3d on volumes (N, C, D, H, W)."""
    rules.conv3d(params, inputs)
    return _conv(nn.Conv3d, params, inputs[0])


def build_conv2d_rect(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """torch's Conv2d with (height, width) pairs for kernel, stride and padding."""
    rules.conv2d_rect(params, inputs)
    return construct_concise(
        nn.Conv2d,
        inputs[0].dims[0],
        params["out_channels"],
        kernel_size=(params["kernel_h"], params["kernel_w"]),
        stride=(params["stride_h"], params["stride_w"]),
        padding=(params["padding_h"], params["padding_w"]),
        dilation=params["dilation"],
        groups=params["groups"],
        bias=params["bias"],
    )


def _conv(
    cls: type[nn.Conv1d] | type[nn.Conv2d] | type[nn.Conv3d],
    params: Mapping[str, Any],
    shape: TensorShape,
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


def build_conv_transpose1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ConvTranspose1d on sequences (N, C, L); stride 2 and kernel 2 double the length."""
    rules.conv_transpose1d(params, inputs)
    return _conv_transpose(nn.ConvTranspose1d, params, inputs[0])


def build_conv_transpose2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ConvTranspose2d on images (N, C, H, W); stride 2 and kernel 2 double the size."""
    rules.conv_transpose2d(params, inputs)
    return _conv_transpose(nn.ConvTranspose2d, params, inputs[0])


def build_conv_transpose3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ConvTranspose3d on volumes (N, C, D, H, W); stride 2 and kernel 2 double each side."""
    rules.conv_transpose3d(params, inputs)
    return _conv_transpose(nn.ConvTranspose3d, params, inputs[0])


def _conv_transpose(
    cls: type[nn.ConvTranspose1d] | type[nn.ConvTranspose2d] | type[nn.ConvTranspose3d],
    params: Mapping[str, Any],
    shape: TensorShape,
) -> nn.Module:
    # Projects saved before dilation, groups and bias existed validate to their defaults.
    return construct_concise(
        cls,
        shape.dims[0],
        params["out_channels"],
        kernel_size=params["kernel_size"],
        stride=params["stride"],
        padding=params["padding"],
        output_padding=params["output_padding"],
        groups=params["groups"],
        bias=params["bias"],
        dilation=params["dilation"],
    )


def build_upsample(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Upsample by an integer factor; align_corners is passed only where torch takes it."""
    rules.upsample(params, inputs)
    scale = float(params["scale_factor"])
    if params["mode"] == "nearest":
        return construct_concise(nn.Upsample, scale_factor=scale, mode="nearest")
    return construct_concise(
        nn.Upsample,
        scale_factor=scale,
        mode=params["mode"],
        align_corners=bool(params["align_corners"]),
    )


def build_pixel_shuffle(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """PixelShuffle: (N, C·r², H, W) → (N, C, H·r, W·r)."""
    rules.pixel_shuffle(params, inputs)
    return construct(nn.PixelShuffle, params["upscale_factor"])


def build_pixel_unshuffle(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """PixelUnshuffle: (N, C, H·r, W·r) → (N, C·r², H, W)."""
    rules.pixel_unshuffle(params, inputs)
    return construct(nn.PixelUnshuffle, params["downscale_factor"])


def build_channel_shuffle(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ChannelShuffle: interleaves the channels of `groups` groups; the shape stays."""
    rules.channel_shuffle(params, inputs)
    return construct(nn.ChannelShuffle, params["groups"])
