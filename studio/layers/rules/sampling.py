"""Rule for GaussianSample: a mean and a log-variance of one shape give a sample of that shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import TensorShape
from studio.layers.rules.checks import expect_float, expect_same_shape


def gaussian_sample(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    expect_same_shape("GaussianSample", inputs, 2)
    for shape in inputs:
        expect_float("GaussianSample", shape)
    return [inputs[0]]
