"""Builders for element-wise activations, GLU and Softmax/LogSoftmax."""

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
    return construct_concise(nn.GELU, approximate=params["approximate"])


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


def build_relu6(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.relu6(params, inputs)
    return construct(nn.ReLU6)


def build_hardswish(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.hardswish(params, inputs)
    return construct(nn.Hardswish)


def build_hardsigmoid(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.hardsigmoid(params, inputs)
    return construct(nn.Hardsigmoid)


def build_hardtanh(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.hardtanh(params, inputs)
    return construct_concise(nn.Hardtanh, min_val=params["min_val"], max_val=params["max_val"])


def build_prelu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """One learned slope, or one per channel (the first dimension after the batch)."""
    rules.prelu(params, inputs)
    count = inputs[0].dims[0] if params["per_channel"] else 1
    return construct_concise(nn.PReLU, num_parameters=count, init=params["init"])


def build_selu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.selu(params, inputs)
    return construct(nn.SELU)


def build_celu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.celu(params, inputs)
    return construct_concise(nn.CELU, alpha=params["alpha"])


def build_mish(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.mish(params, inputs)
    return construct(nn.Mish)


def build_softplus(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.softplus(params, inputs)
    return construct_concise(nn.Softplus, beta=params["beta"], threshold=params["threshold"])


def build_softsign(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.softsign(params, inputs)
    return construct(nn.Softsign)


def build_glu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """GLU along the user's dim (1 = first after the batch, -1 = last)."""
    rules.glu(params, inputs)
    return construct_concise(nn.GLU, dim=params["dim"])


def build_threshold(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.threshold(params, inputs)
    return construct(nn.Threshold, params["threshold"], params["value"])


def build_log_sigmoid(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    rules.log_sigmoid(params, inputs)
    return construct(nn.LogSigmoid)
