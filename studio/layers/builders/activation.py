"""Builders for element-wise activations and Softmax/LogSoftmax."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.construct import construct
from studio.layers.rules import activation as rules


def build_relu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.relu(params, inputs)
    return construct(nn.ReLU)


def build_leaky_relu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.leaky_relu(params, inputs)
    return construct_concise(nn.LeakyReLU, negative_slope=params["negative_slope"])


def build_gelu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.gelu(params, inputs)
    return construct(nn.GELU)


def build_silu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.silu(params, inputs)
    return construct(nn.SiLU)


def build_elu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.elu(params, inputs)
    return construct_concise(nn.ELU, alpha=params["alpha"])


def build_sigmoid(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.sigmoid(params, inputs)
    return construct(nn.Sigmoid)


def build_tanh(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.tanh(params, inputs)
    return construct(nn.Tanh)


def build_softmax(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Softmax along the user's dim (1 = first after the batch, -1 = last)."""
    rules.softmax(params, inputs)
    return construct(nn.Softmax, dim=params["dim"])


def build_log_softmax(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """LogSoftmax along the user's dim (1 = first after the batch, -1 = last)."""
    rules.log_softmax(params, inputs)
    return construct(nn.LogSoftmax, dim=params["dim"])
