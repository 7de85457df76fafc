"""Builders for layers that rearrange or reduce dimensions without learning anything."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.construct import construct
from studio.layers.modules import Mean, Permute, Reshape, SelectLast, Sum
from studio.layers.modules_ops import Max, Min
from studio.layers.rules import reshape as rules


def build_flatten(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Flatten every sample into one vector (N, F)."""
    rules.flatten(params, inputs)
    return construct(nn.Flatten)


def build_reshape(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Reshape each sample, keeping the user's -1 so the generated code reads as they set it."""
    rules.reshape(params, inputs)
    return construct(Reshape, tuple(params["shape"]))


def build_permute(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Reorder the sample dims, numbered from 1; the batch stays first."""
    rules.permute(params, inputs)
    return construct(Permute, tuple(params["dims"]))


def build_select_last(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """The last step of a sequence (N, L, F) → (N, F)."""
    rules.select_last(params, inputs)
    return construct(SelectLast)


def build_mean(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Mean over the user's dim or dims (1 = first after the batch)."""
    rules.mean_over(params, inputs)
    return construct(Mean, dim=_dims(params), keepdim=params["keepdim"])


def build_sum(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Sum over the user's dim or dims (1 = first after the batch)."""
    rules.sum_over(params, inputs)
    return construct(Sum, dim=_dims(params), keepdim=params["keepdim"])


def build_max(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Largest value over the user's dim or dims (values only, no indices)."""
    rules.max_over(params, inputs)
    return construct(Max, dim=_dims(params), keepdim=params["keepdim"])


def build_min(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Smallest value over the user's dim or dims (values only, no indices)."""
    rules.min_over(params, inputs)
    return construct(Min, dim=_dims(params), keepdim=params["keepdim"])


def _dims(params: Mapping[str, Any]) -> int | tuple[int, ...]:
    """`dims` when set (several at once), otherwise the single `dim` old projects saved."""
    dims = params.get("dims")
    return params["dim"] if not dims else tuple(dims)
