"""Builders for layers that combine several inputs (ports in1..inN)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.construct import construct
from studio.layers.modules import Add, Concat, Multiply
from studio.layers.rules import merge as rules


def build_add(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Element-wise sum of inputs of exactly the same shape."""
    rules.add(params, inputs)
    return construct(Add)


def build_multiply(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Element-wise product of inputs of exactly the same shape."""
    rules.multiply(params, inputs)
    return construct(Multiply)


def build_concat(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Concatenation along the user's dim, counted from 1 after the batch (a torch dim)."""
    rules.concat(params, inputs)
    return construct(Concat, dim=params["dim"])
