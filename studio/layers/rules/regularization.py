"""Rules for dropout layers; they keep the shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape, warn
from studio.layers.rules.checks import expect_float, only_input


def dropout(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Dropout", inputs)
    expect_float("Dropout", shape)
    return [shape]


def alpha_dropout(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("AlphaDropout", inputs)
    expect_float("AlphaDropout", shape)
    return [shape]


def dropout1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """(N, C, L); torch also takes (N, C) as one unbatched sample and then drops whole samples."""
    shape = only_input("Dropout1d", inputs)
    expect_float("Dropout1d", shape)
    if len(shape.dims) not in (1, 2):
        raise ShapeError(
            f"Dropout1d expects (N, C, L); it receives {shape}. "
            "Use Dropout2d for images, or Dropout for other shapes."
        )
    if len(shape.dims) == 1:
        # torch runs it silently, but the samples are then the channels it drops.
        warn(
            f"Dropout1d on {shape} zeroes whole samples: torch reads it as one unbatched "
            "sequence whose channels are the batch. Use Dropout for features."
        )
    return [shape]


def dropout2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """(N, C, H, W); torch runs other ranks with a deprecation warning, and so do we."""
    shape = only_input("Dropout2d", inputs)
    expect_float("Dropout2d", shape)
    if not shape.dims:
        raise ShapeError(
            f"Dropout2d expects (N, C, H, W); it receives {shape}, which has no channels to "
            "zero. Use Dropout."
        )
    if len(shape.dims) == 2:
        warn(
            f"Dropout2d expects (N, C, H, W); on {shape} torch zeroes whole channels of "
            "sequences, as Dropout1d does. Use Dropout1d to say so."
        )
    elif len(shape.dims) != 3:
        warn(
            f"Dropout2d expects (N, C, H, W); on {shape} torch still runs it but warns that "
            "this will become an error. Use Dropout, or Dropout1d for (N, C, L)."
        )
    return [shape]
