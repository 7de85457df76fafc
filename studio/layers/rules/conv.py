"""Rules for convolutions, upsampling, and the shuffles between channels and space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import (
    check_divides,
    check_window,
    expect_float,
    expect_layout,
    only_input,
    sliding_size,
    times,
)

_LAYOUTS = {1: "C, L", 2: "C, H, W", 3: "C, D, H, W"}


def conv1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_conv("Conv1d", 1, params, inputs)]


def conv2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_conv("Conv2d", 2, params, inputs)]


def conv3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_conv("Conv3d", 3, params, inputs)]


def _conv(
    layer: str, spatial_dims: int, params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> TensorShape:
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, _LAYOUTS[spatial_dims])
    channels, *spatial = shape.dims
    _check_groups(layer, channels, params)
    kernel, stride = params["kernel_size"], params["stride"]
    padding, dilation = params["padding"], params["dilation"]
    check_window(layer, spatial, kernel, padding, dilation)
    sizes = [sliding_size(size, kernel, stride, padding, dilation) for size in spatial]
    return TensorShape((params["out_channels"], *sizes))


def conv2d_rect(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Conv2d with a height and a width of its own for kernel, stride and padding."""
    layer = "Conv2dRect"
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, _LAYOUTS[2])
    channels, height, width = shape.dims
    _check_groups(layer, channels, params)
    dilation = params["dilation"]
    sizes = []
    for side, size in (("h", height), ("w", width)):
        kernel, padding = params[f"kernel_{side}"], params[f"padding_{side}"]
        span = dilation * (kernel - 1) + 1
        if size + 2 * padding < span:
            direction = "height" if side == "h" else "width"
            raise ShapeError(
                f"{layer}'s kernel {direction} ({kernel}"
                + (f", spanning {span} with dilation {dilation}" if dilation > 1 else "")
                + f") is larger than its input's {direction} ({size})"
                + (" even with its padding" if padding else "")
                + f". Use a smaller kernel_{side}, add padding_{side}, or remove a pooling "
                "layer before it."
            )
        sizes.append(sliding_size(size, kernel, params[f"stride_{side}"], padding, dilation))
    return [TensorShape((params["out_channels"], *sizes))]


def _check_groups(layer: str, channels: int, params: Mapping[str, Any]) -> None:
    out_channels, groups = params["out_channels"], params["groups"]
    if channels % groups or out_channels % groups:
        raise ShapeError(
            f"{layer}'s groups ({groups}) must divide both its input channels ({channels}) "
            f"and its out_channels ({out_channels}). Set groups to 1 or to a common divisor."
        )


def conv_transpose1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_conv_transpose("ConvTranspose1d", 1, params, inputs)]


def conv_transpose2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_conv_transpose("ConvTranspose2d", 2, params, inputs)]


def conv_transpose3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_conv_transpose("ConvTranspose3d", 3, params, inputs)]


def _conv_transpose(
    layer: str, spatial_dims: int, params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> TensorShape:
    """Each side becomes (size - 1)·stride - 2·padding + dilation·(kernel_size - 1)
    + output_padding + 1."""
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, _LAYOUTS[spatial_dims])
    channels, *spatial = shape.dims
    _check_groups(layer, channels, params)
    kernel, stride, dilation = params["kernel_size"], params["stride"], params["dilation"]
    padding, output_padding = params["padding"], params["output_padding"]
    if output_padding >= max(stride, dilation):
        raise ShapeError(
            f"{layer}'s output_padding ({output_padding}) must be smaller than its stride "
            f"({stride}) or its dilation ({dilation}). Lower output_padding or raise stride."
        )
    span = dilation * (kernel - 1) + 1
    sizes = [(size - 1) * stride - 2 * padding + span + output_padding for size in spatial]
    if min(sizes) < 1:
        raise ShapeError(
            f"{layer}'s padding ({padding}) is too large for its input ({times(spatial)}) "
            "and kernel_size: the output would be empty. Lower padding or raise kernel_size."
        )
    return TensorShape((params["out_channels"], *sizes))


_UPSAMPLE_LAYOUTS = {
    "nearest": ("C, L", "C, H, W", "C, D, H, W"),
    "linear": ("C, L",),
    "bilinear": ("C, H, W",),
    "bicubic": ("C, H, W",),
    "trilinear": ("C, D, H, W",),
}


def upsample(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Every spatial side times scale_factor; each mode takes the layouts torch allows it."""
    shape = only_input("Upsample", inputs)
    expect_float("Upsample", shape)
    mode = params["mode"]
    if mode == "nearest":
        expect_layout("Upsample", shape, *_UPSAMPLE_LAYOUTS[mode])
        if params["align_corners"]:
            raise ShapeError(
                "Upsample's align_corners works only with the interpolating modes (linear, "
                "bilinear, bicubic, trilinear). Turn align_corners off or choose one of them."
            )
    else:
        expect_layout(f"Upsample in {mode} mode", shape, *_UPSAMPLE_LAYOUTS[mode])
    channels, *spatial = shape.dims
    return [TensorShape((channels, *(size * params["scale_factor"] for size in spatial)))]


def pixel_shuffle(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """(N, C·r², H, W) → (N, C, H·r, W·r)."""
    shape = only_input("PixelShuffle", inputs)
    expect_layout("PixelShuffle", shape, "C, H, W")
    channels, height, width = shape.dims
    factor = params["upscale_factor"]
    if channels % (factor * factor):
        raise ShapeError(
            f"PixelShuffle's upscale_factor ({factor}) needs input channels divisible by "
            f"{factor}² = {factor * factor}; it receives {shape}. Change upscale_factor, or "
            f"make the layer before it produce a multiple of {factor * factor} channels."
        )
    out = (channels // (factor * factor), height * factor, width * factor)
    return [TensorShape(out, shape.dtype)]


def pixel_unshuffle(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """(N, C, H·r, W·r) → (N, C·r², H, W)."""
    shape = only_input("PixelUnshuffle", inputs)
    expect_layout("PixelUnshuffle", shape, "C, H, W")
    channels, height, width = shape.dims
    factor = params["downscale_factor"]
    if height % factor or width % factor:
        raise ShapeError(
            f"PixelUnshuffle's downscale_factor ({factor}) must divide the height and width of "
            f"its input; it receives {shape}. Change downscale_factor, or pad or crop the "
            "image to a multiple of it."
        )
    out = (channels * factor * factor, height // factor, width // factor)
    return [TensorShape(out, shape.dtype)]


def channel_shuffle(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """(N, C, ...) keeps its shape; groups must divide C."""
    shape = only_input("ChannelShuffle", inputs)
    expect_layout("ChannelShuffle", shape, "C, L", "C, H, W", "C, D, H, W")
    check_divides("ChannelShuffle", "groups", params["groups"], "its channels", shape.dims[0])
    return [shape]
