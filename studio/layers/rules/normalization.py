"""Rules for normalization layers; none of them changes the shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import TensorShape
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
