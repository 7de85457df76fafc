"""Torch-free shape rules: the canvas shows shapes (and beginner-friendly errors) from these.

A rule takes the validated params and the input shapes (one `TensorShape` per input, batch
left out) and returns the output shapes, or raises `ShapeError` with a sentence that says what
to do. The plugin's tests hold each rule equal to what its builder's module really produces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import TensorShape
from studio.layers.rules.checks import (
    check_window,
    expect_float,
    expect_layout,
    only_input,
    sliding_size,
)


def squeeze_excite(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    layer = "SqueezeExcite"
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, "C, H, W")
    # The bottleneck has max(1, C // reduction) channels, so any reduction fits any input.
    return [shape]


def separable_conv2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    layer = "SeparableConv2d"
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, "C, H, W")
    _, *spatial = shape.dims
    kernel, stride, padding = params["kernel_size"], params["stride"], params["padding"]
    check_window(layer, spatial, kernel, padding)
    sizes = [sliding_size(size, kernel, stride, padding) for size in spatial]
    return [TensorShape((params["out_channels"], *sizes))]


def mish(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Mish", inputs)
    expect_float("Mish", shape)
    return [shape]
