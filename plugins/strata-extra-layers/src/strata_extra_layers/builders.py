"""Builders: validated params and input shapes in, an `nn.Module` out (imports torch).

A builder runs its shape rule first, so a bad input fails with the same sentence on the
canvas and at compile time, and creates its module through `construct`, which records the
call so the Python export can write ``SeparableConv2d(1, 16, kernel_size=3, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from strata_extra_layers import rules
from strata_extra_layers.modules import SeparableConv2d, SqueezeExcite
from studio.core.shapes import TensorShape
from studio.layers.construct import construct


def build_squeeze_excite(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.squeeze_excite(params, inputs)
    channels = inputs[0].dims[0]
    return construct(SqueezeExcite, channels, max(1, channels // params["reduction"]))


def build_separable_conv2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.separable_conv2d(params, inputs)
    return construct(
        SeparableConv2d,
        inputs[0].dims[0],
        params["out_channels"],
        kernel_size=params["kernel_size"],
        stride=params["stride"],
        padding=params["padding"],
        bias=params["bias"],
    )


def build_mish(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.mish(params, inputs)
    return construct(nn.Mish)
