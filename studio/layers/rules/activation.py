"""Rules for activations: float in, same shape out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import TensorShape
from studio.layers.rules.checks import expect_float, only_input, sample_dim


def _elementwise(layer: str, inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    return [shape]


def relu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("ReLU", inputs)


def leaky_relu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("LeakyReLU", inputs)


def gelu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("GELU", inputs)


def silu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("SiLU", inputs)


def elu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("ELU", inputs)


def sigmoid(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("Sigmoid", inputs)


def tanh(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("Tanh", inputs)


def softmax(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shapes = _elementwise("Softmax", inputs)
    sample_dim("Softmax", shapes[0], params["dim"])
    return shapes


def log_softmax(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shapes = _elementwise("LogSoftmax", inputs)
    sample_dim("LogSoftmax", shapes[0], params["dim"])
    return shapes
