"""Rules for the padding layers, which add a border along the last one or two dims.

Their `padding` is torch's: one number for every side, or one per side in torch's order, the
last dim first (left, right, then top, bottom).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import expect_float, expect_layout, only_input

_LAYOUTS = {1: "C, L", 2: "C, H, W"}
_SIDES = {1: ("left", "right"), 2: ("left", "right", "top", "bottom")}
_DIM_NAMES = {1: ("length",), 2: ("height", "width")}


def sides(layer: str, spatial_dims: int, padding: Sequence[int]) -> tuple[int, ...]:
    """The padding of every side in torch's order, from one number or one per side."""
    count = 2 * spatial_dims
    if len(padding) == 1:
        return tuple(padding) * count
    if len(padding) != count:
        names = ", ".join(_SIDES[spatial_dims])
        raise ShapeError(
            f"{layer}'s padding takes one number (every side) or {count} ({names}); it has "
            f"{len(padding)}. Set padding to one number or to {count}."
        )
    return tuple(padding)


def zero_pad1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pad("ZeroPad1d", 1, params, inputs)]


def zero_pad2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pad("ZeroPad2d", 2, params, inputs)]


def constant_pad1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pad("ConstantPad1d", 1, params, inputs)]


def constant_pad2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pad("ConstantPad2d", 2, params, inputs)]


def reflection_pad1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pad("ReflectionPad1d", 1, params, inputs, reflects=True)]


def reflection_pad2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_pad("ReflectionPad2d", 2, params, inputs, reflects=True)]


def replication_pad1d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    return [_pad("ReplicationPad1d", 1, params, inputs)]


def replication_pad2d(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    return [_pad("ReplicationPad2d", 2, params, inputs)]


def _pad(
    layer: str,
    spatial_dims: int,
    params: Mapping[str, Any],
    inputs: Sequence[TensorShape],
    *,
    reflects: bool = False,
) -> TensorShape:
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(layer, shape, _LAYOUTS[spatial_dims])
    padding = sides(layer, spatial_dims, params["padding"])
    channels, *spatial = shape.dims
    # torch's order starts at the last dim: (left, right) pads W, (top, bottom) pads H.
    pairs = [padding[i : i + 2] for i in range(0, len(padding), 2)][::-1]
    if reflects:
        _check_reflection(layer, shape, spatial, pairs, spatial_dims)
    sizes = [size + before + after for size, (before, after) in zip(spatial, pairs, strict=True)]
    return TensorShape((channels, *sizes))


def _check_reflection(
    layer: str,
    shape: TensorShape,
    spatial: Sequence[int],
    pairs: Sequence[Sequence[int]],
    spatial_dims: int,
) -> None:
    """A mirror reaches at most size - 1 values beyond the edge, as torch requires."""
    for size, pair, name in zip(spatial, pairs, _DIM_NAMES[spatial_dims], strict=True):
        widest = max(pair)
        if widest >= size:
            other = layer.replace("Reflection", "Replication")
            raise ShapeError(
                f"{layer}'s padding ({widest}) must be smaller than the {name} of its input "
                f"({size}); it receives {shape}. Lower padding to at most {size - 1}, or use "
                f"{other}, which repeats the edge instead of mirroring."
            )
