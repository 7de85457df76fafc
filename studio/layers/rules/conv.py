"""Rules for convolutions and upsampling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import (
    check_window,
    expect_float,
    expect_layout,
    only_input,
    sliding_size,
    times,
)

_LAYOUTS = {1: "C, L", 2: "C, H, W"}


def conv1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_conv("Conv1d", 1, params, inputs)]


def conv2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_conv("Conv2d", 2, params, inputs)]


def _conv(
    layer: str, spatial_dims: int, params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> TensorShape:
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, _LAYOUTS[spatial_dims])
    channels, *spatial = shape.dims
    out_channels, groups = params["out_channels"], params["groups"]
    if channels % groups or out_channels % groups:
        raise ShapeError(
            f"{layer}'s groups ({groups}) must divide both its input channels ({channels}) "
            f"and its out_channels ({out_channels}). Set groups to 1 or to a common divisor."
        )
    kernel, stride = params["kernel_size"], params["stride"]
    padding, dilation = params["padding"], params["dilation"]
    check_window(layer, spatial, kernel, padding, dilation)
    sizes = [sliding_size(size, kernel, stride, padding, dilation) for size in spatial]
    return TensorShape((out_channels, *sizes))


def conv_transpose2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Each side becomes (size - 1) * stride - 2 * padding + kernel_size + output_padding."""
    layer = "ConvTranspose2d"
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, "C, H, W")
    _, *spatial = shape.dims
    kernel, stride = params["kernel_size"], params["stride"]
    padding, output_padding = params["padding"], params["output_padding"]
    if output_padding >= stride:
        raise ShapeError(
            f"{layer}'s output_padding ({output_padding}) must be smaller than its stride "
            f"({stride}). Lower output_padding or raise stride."
        )
    sizes = [(size - 1) * stride - 2 * padding + kernel + output_padding for size in spatial]
    if min(sizes) < 1:
        raise ShapeError(
            f"{layer}'s padding ({padding}) is too large for its input ({times(spatial)}) "
            "and kernel_size: the output would be empty. Lower padding or raise kernel_size."
        )
    return [TensorShape((params["out_channels"], *sizes))]


def upsample(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Every spatial side times scale_factor; nearest takes 1 to 3 spatial dims, bilinear 2."""
    shape = only_input("Upsample", inputs)
    expect_float("Upsample", shape)
    if params["mode"] == "bilinear":
        expect_layout("Upsample in bilinear mode", shape, "C, H, W")
    else:
        expect_layout("Upsample", shape, "C, L", "C, H, W", "C, D, H, W")
    channels, *spatial = shape.dims
    return [TensorShape((channels, *(size * params["scale_factor"] for size in spatial)))]
