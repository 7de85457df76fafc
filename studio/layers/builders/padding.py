"""Builders for the padding layers: torch's own modules, with torch's `padding` argument."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.construct import construct
from studio.layers.rules import padding as rules


def _torch_padding(params: Mapping[str, Any]) -> int | tuple[int, ...]:
    """One number stays one number, so the generated code reads ``nn.ZeroPad2d(1)``."""
    padding = tuple(params["padding"])
    return padding[0] if len(padding) == 1 else padding


def build_zero_pad1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ZeroPad1d on sequences (N, C, L)."""
    rules.zero_pad1d(params, inputs)
    return construct(nn.ZeroPad1d, _torch_padding(params))


def build_zero_pad2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ZeroPad2d on images (N, C, H, W)."""
    rules.zero_pad2d(params, inputs)
    return construct(nn.ZeroPad2d, _torch_padding(params))


def build_constant_pad1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ConstantPad1d on sequences (N, C, L)."""
    rules.constant_pad1d(params, inputs)
    return construct(nn.ConstantPad1d, _torch_padding(params), float(params["value"]))


def build_constant_pad2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ConstantPad2d on images (N, C, H, W)."""
    rules.constant_pad2d(params, inputs)
    return construct(nn.ConstantPad2d, _torch_padding(params), float(params["value"]))


def build_reflection_pad1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ReflectionPad1d on sequences (N, C, L); each side's padding is below the length."""
    rules.reflection_pad1d(params, inputs)
    return construct(nn.ReflectionPad1d, _torch_padding(params))


def build_reflection_pad2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ReflectionPad2d on images (N, C, H, W); each side's padding is below its side."""
    rules.reflection_pad2d(params, inputs)
    return construct(nn.ReflectionPad2d, _torch_padding(params))


def build_replication_pad1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ReplicationPad1d on sequences (N, C, L)."""
    rules.replication_pad1d(params, inputs)
    return construct(nn.ReplicationPad1d, _torch_padding(params))


def build_replication_pad2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """ReplicationPad2d on images (N, C, H, W)."""
    rules.replication_pad2d(params, inputs)
    return construct(nn.ReplicationPad2d, _torch_padding(params))
