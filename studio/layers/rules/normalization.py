"""Rules for normalization layers; none of them changes the shape."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape, warn
from studio.layers.rules.checks import (
    check_divides,
    expect_at_least,
    expect_float,
    expect_layout,
    only_input,
)


def batch_norm1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("BatchNorm1d", inputs)
    expect_float("BatchNorm1d", shape)
    expect_layout("BatchNorm1d", shape, "C", "C, L", fix="Use BatchNorm2d for images.")
    return [shape]


def batch_norm2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("BatchNorm2d", inputs)
    expect_float("BatchNorm2d", shape)
    expect_layout("BatchNorm2d", shape, "C, H, W", fix="Use BatchNorm1d for features or sequences.")
    return [shape]


def batch_norm3d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("BatchNorm3d", inputs)
    expect_float("BatchNorm3d", shape)
    expect_layout(
        "BatchNorm3d", shape, "C, D, H, W", fix="Use BatchNorm1d or BatchNorm2d for fewer dims."
    )
    return [shape]


def layer_norm(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("LayerNorm", inputs)
    expect_float("LayerNorm", shape)
    expect_at_least("LayerNorm", shape, 1, "..., F")
    return [shape]


def group_norm(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("GroupNorm", inputs)
    expect_float("GroupNorm", shape)
    expect_at_least("GroupNorm", shape, 1, "C, ...")
    check_divides(
        "GroupNorm", "num_groups", params["num_groups"], "its input channels", shape.dims[0]
    )
    return [shape]


def instance_norm1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_instance_norm("InstanceNorm1d", "C, L", params, inputs)]


def instance_norm2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_instance_norm("InstanceNorm2d", "C, H, W", params, inputs)]


def _instance_norm(
    layer: str, layout: str, params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> TensorShape:
    """(N, C, ...) as the layout says; one dim fewer is what torch reads as an unbatched sample.

    With one dim fewer torch takes the batch for the channels: it still normalizes each sample
    over its own values (and warns), unless per-channel weights or running statistics have to
    match the channel count, which then is the batch size, and it fails.
    """
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    rank = len(layout.split(","))
    if len(shape.dims) not in (rank - 1, rank):
        raise ShapeError(
            f"{layer} expects (N, {layout}); it receives {shape}. Insert Reshape before it."
        )
    if len(shape.dims) == rank - 1:
        if params["affine"] or params["track_running_stats"]:
            raise ShapeError(
                f"{layer} expects (N, {layout}); it receives {shape}, which torch reads as one "
                "sample whose channels are the batch, and its affine weights or running "
                "statistics then do not fit. Insert Reshape before it, or turn affine and "
                "track_running_stats off."
            )
        warn(
            f"{layer} receives {shape} without a channel dimension, so torch takes the batch for "
            f"the channels and normalizes each sample over its {shape.numel()} values."
        )
    spatial = shape.dims[1:] if len(shape.dims) == rank else shape.dims
    if math.prod(spatial) == 1:
        raise ShapeError(
            f"{layer} normalizes each channel over its {layout.split(', ', 1)[1]} values, but "
            f"its input {shape} has only one per channel, and torch refuses to train on that. "
            "Remove a pooling layer before it, or use BatchNorm or LayerNorm."
        )
    return shape


def rms_norm(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("RMSNorm", inputs)
    expect_float("RMSNorm", shape)
    expect_at_least("RMSNorm", shape, 1, "..., F")
    return [shape]


def local_response_norm(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """Integers come out as floats (torch divides them)."""
    shape = only_input("LocalResponseNorm", inputs)
    expect_at_least("LocalResponseNorm", shape, 2, "C, L, ...")
    return [TensorShape(shape.dims, "float", shape.batched)]
