"""Builders for tensor operations: elementwise math, products, shape and index ops, sources.

Each checks its input with the shape rule first, so a bad setting is the rule's sentence, and
passes the user's dims on unchanged: counted from 1 after the batch, they are torch dims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers import modules_ops as ops
from studio.layers.builders.concise import construct_concise
from studio.layers.builders.merge import per_model_expansion
from studio.layers.construct import construct
from studio.layers.rules import ops as rules

Params = Mapping[str, Any]
Shapes = Sequence[TensorShape]


def build_subtract(params: Params, inputs: Shapes) -> nn.Module:
    rules.subtract(params, inputs)
    return construct(ops.Subtract)


def build_divide(params: Params, inputs: Shapes) -> nn.Module:
    rules.divide(params, inputs)
    return construct(ops.Divide)


def build_scale(params: Params, inputs: Shapes) -> nn.Module:
    rules.scale(params, inputs)
    return construct(ops.Scale, params["factor"])


def build_shift(params: Params, inputs: Shapes) -> nn.Module:
    rules.shift(params, inputs)
    return construct(ops.Shift, params["offset"])


def build_pow(params: Params, inputs: Shapes) -> nn.Module:
    rules.pow(params, inputs)
    return construct(ops.Pow, params["exponent"])


def build_exp(params: Params, inputs: Shapes) -> nn.Module:
    rules.exp(params, inputs)
    return construct(ops.Exp)


def build_log(params: Params, inputs: Shapes) -> nn.Module:
    rules.log(params, inputs)
    return construct(ops.Log)


def build_sqrt(params: Params, inputs: Shapes) -> nn.Module:
    rules.sqrt(params, inputs)
    return construct(ops.Sqrt)


def build_abs(params: Params, inputs: Shapes) -> nn.Module:
    rules.abs(params, inputs)
    return construct(ops.Abs)


def build_clamp(params: Params, inputs: Shapes) -> nn.Module:
    rules.clamp(params, inputs)
    return construct_concise(ops.Clamp, min=params["min"], max=params["max"])


def build_matmul(params: Params, inputs: Shapes) -> nn.Module:
    rules.matmul(params, inputs)
    return construct(ops.MatMul)


def build_scaled_dot_product_attention(params: Params, inputs: Shapes) -> nn.Module:
    rules.scaled_dot_product_attention(params, inputs)
    return construct(
        ops.ScaledDotProductAttention,
        params["causal"],
        params["dropout"],
        params["scale"],
    )


def build_einsum(params: Params, inputs: Shapes) -> nn.Module:
    rules.einsum(params, inputs)
    return construct(ops.Einsum, params["equation"])


def build_split(params: Params, inputs: Shapes) -> nn.Module:
    rules.split(params, inputs)
    return construct(ops.Split, tuple(params["sizes"]), params["dim"])


def build_chunk(params: Params, inputs: Shapes) -> nn.Module:
    rules.chunk(params, inputs)
    return construct(ops.Chunk, params["chunks"], params["dim"])


def build_stack(params: Params, inputs: Shapes) -> nn.Module:
    rules.stack(params, inputs)
    return construct(ops.Stack, dim=params["dim"], **per_model_expansion(inputs))


def build_slice(params: Params, inputs: Shapes) -> nn.Module:
    rules.slice(params, inputs)
    return construct_concise(
        ops.Slice, params["dim"], start=params["start"], end=params["end"], step=params["step"]
    )


def build_index(params: Params, inputs: Shapes) -> nn.Module:
    rules.index(params, inputs)
    return construct(ops.Index, params["dim"], tuple(params["indices"]))


def build_select(params: Params, inputs: Shapes) -> nn.Module:
    rules.select(params, inputs)
    return construct(ops.Select, params["dim"], params["index"])


def build_transpose(params: Params, inputs: Shapes) -> nn.Module:
    rules.transpose(params, inputs)
    return construct(ops.Transpose, params["dim0"], params["dim1"])


def build_squeeze(params: Params, inputs: Shapes) -> nn.Module:
    rules.squeeze(params, inputs)
    return construct(ops.Squeeze, params["dim"])


def build_unsqueeze(params: Params, inputs: Shapes) -> nn.Module:
    rules.unsqueeze(params, inputs)
    return construct(ops.Unsqueeze, params["dim"])


def build_expand(params: Params, inputs: Shapes) -> nn.Module:
    rules.expand(params, inputs)
    return construct(ops.Expand, tuple(params["sizes"]))


def build_parameter(params: Params, inputs: Shapes) -> nn.Module:
    rules.parameter(params, inputs)
    return construct_concise(
        ops.LearnedTensor, tuple(params["shape"]), init=params["init"], scale=params["scale"]
    )


def build_constant(params: Params, inputs: Shapes) -> nn.Module:
    rules.constant(params, inputs)
    return construct_concise(
        ops.ConstantTensor,
        tuple(params["shape"]),
        kind=params["kind"],
        value=params["value"],
        dim=params["dim"],
    )
