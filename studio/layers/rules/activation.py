"""Rules for activations: float in, same shape out (GLU halves one dimension)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import expect_float, only_input, sample_dim


def _elementwise(layer: str, inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input(layer, inputs)
    expect_float(layer, shape)
    return [shape]


def _any_number(layer: str, inputs: Sequence[TensorShape], *, to_float: bool) -> list[TensorShape]:
    """An activation torch also computes on integers: it keeps them (ReLU) or returns floats."""
    shape = only_input(layer, inputs)
    dtype = "float" if to_float else shape.dtype
    return [TensorShape(shape.dims, dtype, shape.batched)]


def relu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _any_number("ReLU", inputs, to_float=False)


def leaky_relu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("LeakyReLU", inputs)


def gelu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("GELU", inputs)


def silu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("SiLU", inputs)


def elu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("ELU", inputs)


def sigmoid(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _any_number("Sigmoid", inputs, to_float=True)


def tanh(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _any_number("Tanh", inputs, to_float=True)


def softmax(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shapes = _elementwise("Softmax", inputs)
    sample_dim("Softmax", shapes[0], params["dim"])
    return shapes


def log_softmax(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shapes = _elementwise("LogSoftmax", inputs)
    sample_dim("LogSoftmax", shapes[0], params["dim"])
    return shapes


def relu6(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _any_number("ReLU6", inputs, to_float=False)


def hardswish(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("Hardswish", inputs)


def hardsigmoid(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("Hardsigmoid", inputs)


def hardtanh(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """torch refuses a range that lets nothing through (max_val at or below min_val)."""
    shapes = _any_number("Hardtanh", inputs, to_float=False)
    low, high = params["min_val"], params["max_val"]
    if high <= low:
        raise ShapeError(
            f"Hardtanh's max_val ({high:g}) must be larger than its min_val ({low:g}). "
            "Raise max_val or lower min_val."
        )
    return shapes


def prelu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """One slope, or one per channel: the first dimension after the batch."""
    shapes = _elementwise("PReLU", inputs)
    if params["per_channel"] and not shapes[0].dims:
        raise ShapeError(
            f"PReLU with per_channel learns one slope per channel (the first dimension after "
            f"the batch); its input {shapes[0]} has none. Turn per_channel off."
        )
    return shapes


def selu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("SELU", inputs)


def celu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("CELU", inputs)


def mish(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("Mish", inputs)


def softplus(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("Softplus", inputs)


def softsign(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _any_number("Softsign", inputs, to_float=True)


def glu(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """The dim is split into a value half and a gate half, so its size must be even."""
    (shape,) = _elementwise("GLU", inputs)
    index = sample_dim("GLU", shape, params["dim"]) - 1
    size = shape.dims[index]
    if size % 2:
        raise ShapeError(
            f"GLU splits dim {params['dim']} of its input {shape} into two halves, but its size "
            f"({size}) is odd. Choose a dim of even size, or insert Linear to make it even."
        )
    dims = list(shape.dims)
    dims[index] = size // 2
    return [TensorShape(tuple(dims), shape.dtype, shape.batched)]


def threshold(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _any_number("Threshold", inputs, to_float=False)


def log_sigmoid(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _elementwise("LogSigmoid", inputs)
