"""Builders for dropout layers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.rules import regularization as rules


def build_dropout(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Dropout of single values, any shape."""
    rules.dropout(params, inputs)
    return construct_concise(nn.Dropout, p=params["p"])


def build_dropout2d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Dropout of whole channels of images (N, C, H, W); other ranks as torch treats them."""
    rules.dropout2d(params, inputs)
    return construct_concise(nn.Dropout2d, p=params["p"])


def build_dropout1d(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Dropout of whole channels of sequences (N, C, L)."""
    rules.dropout1d(params, inputs)
    return construct_concise(nn.Dropout1d, p=params["p"])


def build_alpha_dropout(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Dropout that keeps a SELU network's mean and variance, any shape."""
    rules.alpha_dropout(params, inputs)
    return construct_concise(nn.AlphaDropout, p=params["p"])
