"""Rule for Unflatten: one sample dimension split into `sizes`, one of which may be -1."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import expect_at_least, only_input, sample_dim


def unflatten(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Unflatten", inputs)
    expect_at_least("Unflatten", shape, 1, "F, ...")
    dim = sample_dim("Unflatten", shape, params["dim"])
    sizes = tuple(params["sizes"])
    size = shape.dims[dim - 1]
    if 0 in sizes or sizes.count(-1) > 1:
        raise ShapeError(
            f"Unflatten's sizes {_plain(sizes)} may not contain 0 and may contain -1 only once."
        )
    known = math.prod(s for s in sizes if s != -1)
    fits = size % known == 0 if -1 in sizes else size == known
    if not fits:
        raise ShapeError(
            f"Unflatten cannot split dimension {params['dim']} of {shape} (size {size}) into "
            f"sizes {_plain(sizes)}, whose product must be {size}. Change sizes, or put -1 in "
            "one place to have that size worked out."
        )
    split = tuple(size // known if s == -1 else s for s in sizes)
    return [TensorShape(shape.dims[: dim - 1] + split + shape.dims[dim:], shape.dtype)]


def _plain(sizes: tuple[int, ...]) -> str:
    return ", ".join(map(str, sizes))
