"""Specs of the spatial family of layers (see `studio.layers.catalog`, which gathers them).

Volumes (3-d convolutions and pooling), the transposed convolutions of sequences and volumes,
adaptive pooling, the padding layers and the layers that move values between channels and
space (PixelShuffle, PixelUnshuffle, ChannelShuffle).
"""

from __future__ import annotations

from studio.core.specs import LayerSpec, ParamSpec
from studio.layers.spec_kit import (
    BIG,
    CONV_TAIL,
    OUT_CHANNELS,
    conv,
    conv_transpose,
    float_param,
    int_param,
    layer,
    pool,
    tuple_param,
)

_PAD_SIDES = {1: "left, right", 2: "left, right, top, bottom"}


def _padding(spatial_dims: int, what: str) -> ParamSpec:
    """torch's padding: one number for every side, or one per side in torch's order."""
    sides = _PAD_SIDES[spatial_dims]
    return tuple_param(
        "padding",
        (1,),
        f"{what} added: one number for every side, or {2 * spatial_dims} ({sides}).",
        low=0,
        high=BIG,
        max_length=2 * spatial_dims,
    )


def _pad(name: str, spatial_dims: int, help: str, what: str, *more: ParamSpec) -> LayerSpec:
    layout = "(N, C, L)" if spatial_dims == 1 else "(N, C, H, W)"
    return layer(
        name,
        "Padding",
        f"{help} Expects {layout}.",
        f"padding:build_{_snake(name)}",
        _padding(spatial_dims, what),
        *more,
        key=("padding",),
    )


def _snake(name: str) -> str:
    """``ReflectionPad2d`` → ``reflection_pad2d``."""
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    return out.lstrip("_")


_VALUE = float_param("value", 0.0, "The number the added border holds.", -1e9, 1e9)


def _adaptive_size(spatial_dims: int) -> ParamSpec:
    if spatial_dims == 1:
        return int_param("output_size", 1, "Length of the result.", high=4096)
    return tuple_param(
        "output_size", (1, 1), "Height and width of the result.", high=4096, length=2
    )


SPECS: tuple[LayerSpec, ...] = (
    # Convolution
    conv("Conv3d", "Slides learned filters through volumes (N, C, D, H, W).", "conv:build_conv3d"),
    layer(
        "Conv2dRect",
        "Convolution",
        "Conv2d whose kernel, stride and padding have their own height and width, e.g. a 1×7 "
        "kernel (Inception's factorised convolutions).",
        "conv:build_conv2d_rect",
        OUT_CHANNELS,
        int_param("kernel_h", 1, "Height of the sliding window.", high=64),
        int_param("kernel_w", 7, "Width of the sliding window.", high=64),
        int_param("stride_h", 1, "Vertical step between window positions.", high=64),
        int_param("stride_w", 1, "Horizontal step between window positions.", high=64),
        int_param("padding_h", 0, "Rows of zeros added above and below.", low=0, high=64),
        int_param("padding_w", 3, "Columns of zeros added left and right.", low=0, high=64),
        *CONV_TAIL,
        key=("out_channels", "kernel_h", "kernel_w"),
    ),
    conv_transpose(
        "ConvTranspose1d",
        "Learned upsampling of sequences (N, C, L); the decoder's counterpart of Conv1d.",
        "conv:build_conv_transpose1d",
    ),
    conv_transpose(
        "ConvTranspose3d",
        "Learned upsampling of volumes (N, C, D, H, W); the decoder's counterpart of Conv3d.",
        "conv:build_conv_transpose3d",
    ),
    # Pooling
    pool(
        "MaxPool3d",
        "Keeps the largest value of each window of a volume (N, C, D, H, W).",
        "pooling:build_max_pool3d",
    ),
    pool(
        "AvgPool3d",
        "Averages each window of a volume (N, C, D, H, W).",
        "pooling:build_avg_pool3d",
    ),
    layer(
        "AdaptiveAvgPool1d",
        "Pooling",
        "Averages a sequence (N, C, L) down to a fixed length, whatever length comes in.",
        "pooling:build_adaptive_avg_pool1d",
        _adaptive_size(1),
        key=("output_size",),
    ),
    layer(
        "AdaptiveMaxPool1d",
        "Pooling",
        "Keeps the largest values of a sequence (N, C, L) in a fixed number of windows.",
        "pooling:build_adaptive_max_pool1d",
        _adaptive_size(1),
        key=("output_size",),
    ),
    layer(
        "AdaptiveMaxPool2d",
        "Pooling",
        "Keeps the largest values of an image (N, C, H, W) in a fixed grid of windows.",
        "pooling:build_adaptive_max_pool2d",
        _adaptive_size(2),
        key=("output_size",),
    ),
    # Padding
    _pad("ZeroPad1d", 1, "Adds zeros at both ends of a sequence.", "Zeros"),
    _pad("ZeroPad2d", 2, "Adds a border of zeros around an image.", "Zeros"),
    _pad("ConstantPad1d", 1, "Adds a constant at both ends of a sequence.", "Values", _VALUE),
    _pad("ConstantPad2d", 2, "Adds a border of one constant around an image.", "Values", _VALUE),
    _pad(
        "ReflectionPad1d",
        1,
        "Mirrors a sequence at its ends (without repeating the edge value).",
        "Mirrored values",
    ),
    _pad(
        "ReflectionPad2d",
        2,
        "Mirrors an image at its borders (without repeating the edge pixels).",
        "Mirrored values",
    ),
    _pad("ReplicationPad1d", 1, "Repeats a sequence's end values outwards.", "Repeated values"),
    _pad("ReplicationPad2d", 2, "Repeats an image's edge pixels outwards.", "Repeated values"),
    # Moving values between channels and space
    layer(
        "PixelShuffle",
        "Reshape",
        "Turns channels into resolution: (N, C·r², H, W) becomes (N, C, H·r, W·r).",
        "conv:build_pixel_shuffle",
        int_param("upscale_factor", 2, "r: how many times larger each side becomes.", high=64),
        key=("upscale_factor",),
    ),
    layer(
        "PixelUnshuffle",
        "Reshape",
        "Turns resolution into channels: (N, C, H·r, W·r) becomes (N, C·r², H, W).",
        "conv:build_pixel_unshuffle",
        int_param("downscale_factor", 2, "r: how many times smaller each side becomes.", high=64),
        key=("downscale_factor",),
    ),
    layer(
        "ChannelShuffle",
        "Reshape",
        "Interleaves the channels of groups (as in ShuffleNet): (N, C, ...) keeps its shape.",
        "conv:build_channel_shuffle",
        int_param("groups", 2, "Number of channel groups; must divide the channel count."),
        key=("groups",),
    ),
)
