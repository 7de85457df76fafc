"""Rules for dropout layers; they keep the shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import TensorShape
from studio.layers.rules.checks import expect_float, expect_layout, only_input


def dropout(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Dropout", inputs)
    expect_float("Dropout", shape)
    return [shape]


def dropout2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Dropout2d", inputs)
    expect_float("Dropout2d", shape)
    expect_layout("Dropout2d", shape, "C, H, W", fix="Use Dropout for other shapes.")
    return [shape]
