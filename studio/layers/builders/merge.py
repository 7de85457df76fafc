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
    """Element-wise sum, broadcast as torch does."""
    rules.add(params, inputs)
    return construct(Add)


def build_multiply(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Element-wise product, broadcast as torch does."""
    rules.multiply(params, inputs)
    return construct(Multiply)


def build_concat(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Concatenation along the user's dim, counted from 1 after the batch (a torch dim)."""
    rules.concat(params, inputs)
    return construct(Concat, dim=params["dim"], **per_model_expansion(inputs))


def per_model_expansion(inputs: Sequence[TensorShape]) -> dict[str, Any]:
    """Which per-model inputs to repeat over the batch, and which input gives the batch.

    Nothing when every input is batched, or none is (then the result is per-model too).
    """
    batched = [i for i, shape in enumerate(inputs) if shape.batched]
    if not batched or len(batched) == len(inputs):
        return {}
    expand = tuple(i for i, shape in enumerate(inputs) if not shape.batched)
    return {"expand": expand, "batch_from": batched[0]}
