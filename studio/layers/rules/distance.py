"""Rules for CosineSimilarity and PairwiseDistance: two inputs of one shape, one dim consumed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import TensorShape
from studio.layers.rules.checks import expect_at_least, expect_float, expect_same_shape, sample_dim


def _pair(layer: str, inputs: Sequence[TensorShape], floats: bool = True) -> TensorShape:
    expect_same_shape(layer, inputs, 2)
    if floats:
        for shape in inputs:
            expect_float(layer, shape)
    expect_at_least(layer, inputs[0], 1, "F, ...")
    return inputs[0]


def cosine_similarity(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """The compared dimension disappears: dim 1 of (N, F) gives (N,)."""
    shape = _pair("CosineSimilarity", inputs)
    dim = sample_dim("CosineSimilarity", shape, params["dim"])
    return [TensorShape(shape.dims[: dim - 1] + shape.dims[dim:])]


def pairwise_distance(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """The last dimension disappears, or stays with size 1 with keepdim; integers give a
    float distance, as in torch."""
    shape = _pair("PairwiseDistance", inputs, floats=False)
    kept = (1,) if params["keepdim"] else ()
    return [TensorShape((*shape.dims[:-1], *kept))]
