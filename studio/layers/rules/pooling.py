"""Rules for pooling layers, which shrink spatial dims and keep the channels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import (
    check_window,
    expect_at_least,
    expect_float,
    expect_layout,
    only_input,
    sliding_size,
    times,
)

_LAYOUTS = {1: "C, L", 2: "C, H, W", 3: "C, D, H, W"}
_PER_SAMPLE_LAYOUTS = {1: "L", 2: "H, W"}

# torch pools integers with these (the average rounds down); the others refuse them.
_INTEGER_POOLS = {"MaxPool2d", "AvgPool1d", "AvgPool2d"}


def max_pool1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pool("MaxPool1d", 1, params, inputs)]


def max_pool2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pool("MaxPool2d", 2, params, inputs)]


def avg_pool1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pool("AvgPool1d", 1, params, inputs)]


def avg_pool2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pool("AvgPool2d", 2, params, inputs)]


def max_pool3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pool("MaxPool3d", 3, params, inputs)]


def avg_pool3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pool("AvgPool3d", 3, params, inputs)]


def _pool(
    layer: str, spatial_dims: int, params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> TensorShape:
    shape = only_input(layer, inputs)
    if layer not in _INTEGER_POOLS:
        expect_float(layer, shape)
    layouts = [_LAYOUTS[spatial_dims]]
    if spatial_dims in _PER_SAMPLE_LAYOUTS:
        # torch reads (N, L) or (N, H, W) as one unbatched (C, ...) input whose channels are
        # the samples, which pools each sample on its own: the same as a channel of one.
        layouts.append(_PER_SAMPLE_LAYOUTS[spatial_dims])
    expect_layout(layer, shape, *layouts)
    kernel, padding = params["kernel_size"], params["padding"]
    if 2 * padding > kernel:
        raise ShapeError(
            f"{layer}'s padding ({padding}) must be at most half its kernel_size ({kernel}). "
            "Lower padding or raise kernel_size."
        )
    kept = shape.dims[: len(shape.dims) - spatial_dims]
    spatial = list(shape.dims[len(kept) :])
    check_window(layer, spatial, kernel, padding)
    if layer == "AvgPool3d" and min(spatial) < kernel:
        # torch's 3-d average pooling alone refuses an input smaller than its kernel, padding
        # or not.
        raise ShapeError(
            f"AvgPool3d's kernel ({times([kernel] * 3)}) is larger than its input "
            f"({times(spatial)}); padding does not count here. Use a smaller kernel_size, or "
            "remove a pooling layer before it."
        )
    stride = params["stride"] or kernel  # 0 means "same as the kernel"
    ceil_mode = params.get("ceil_mode", False)
    sizes = (pooled_size(s, kernel, stride, padding, ceil_mode) for s in spatial)
    return TensorShape((*kept, *sizes), shape.dtype)


def pooled_size(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """torch's pooling output size: with ceil_mode a last, partial window counts, as long as it
    starts inside the input or its left padding."""
    if not ceil_mode:
        return sliding_size(size, kernel, stride, padding)
    out = -(-(size + 2 * padding - kernel) // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def adaptive_avg_pool2d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """(N, ..., H, W) → (N, ..., *output_size), whatever H and W are: torch pools the last two
    dims of any input, reading (N, H, W) as one unbatched image whose channels are the samples."""
    shape = only_input("AdaptiveAvgPool2d", inputs)
    expect_float("AdaptiveAvgPool2d", shape)
    expect_at_least("AdaptiveAvgPool2d", shape, 2, "..., H, W")
    return [TensorShape((*shape.dims[:-2], *params["output_size"]))]


def adaptive_avg_pool1d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    return [_adaptive("AdaptiveAvgPool1d", 1, params, inputs)]


def adaptive_max_pool1d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    return [_adaptive("AdaptiveMaxPool1d", 1, params, inputs)]


def adaptive_max_pool2d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    return [_adaptive("AdaptiveMaxPool2d", 2, params, inputs)]


def _adaptive(
    layer: str, spatial_dims: int, params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> TensorShape:
    """(N, C, *spatial) → (N, C, *output_size), whatever the spatial sizes are."""
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, _LAYOUTS[spatial_dims])
    size = params["output_size"]
    sizes = (size,) if isinstance(size, int) else tuple(size)
    return TensorShape((shape.dims[0], *sizes))


def global_avg_pool(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """(N, C, L), (N, C, H, W) or (N, C, D, H, W) → (N, C)."""
    shape = only_input("GlobalAvgPool", inputs)
    expect_float("GlobalAvgPool", shape)
    expect_layout("GlobalAvgPool", shape, "C, L", "C, H, W", "C, D, H, W")
    return [TensorShape(shape.dims[:1])]
