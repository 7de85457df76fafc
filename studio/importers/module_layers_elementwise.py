"""Module rules (see `studio.importers.module_layers`) for the elementwise family of layers.

Each torch module here is the catalog layer's own class, so its settings carry over attribute
by attribute and its state dict is the layer's weights as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from studio.importers.module_layers import LayerOf, Unmappable, maps, only_inputs, weights_of

Shapes = Sequence[tuple[int, ...]]


def _one_input(module: nn.Module, shapes: Shapes) -> None:
    only_inputs(1, shapes, type(module).__name__)


@maps(nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SELU, nn.Mish, nn.Softsign, nn.LogSigmoid)
def _plain(module: nn.Module, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    return LayerOf(f"studio.{type(module).__name__}")


@maps(nn.Hardtanh)
def _hardtanh(module: nn.Hardtanh, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    return LayerOf("studio.Hardtanh", {"min_val": module.min_val, "max_val": module.max_val})


@maps(nn.CELU)
def _celu(module: nn.CELU, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    return LayerOf("studio.CELU", {"alpha": module.alpha})


@maps(nn.Softplus)
def _softplus(module: nn.Softplus, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    return LayerOf("studio.Softplus", {"beta": module.beta, "threshold": module.threshold})


@maps(nn.Threshold)
def _threshold(module: nn.Threshold, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    return LayerOf("studio.Threshold", {"threshold": module.threshold, "value": module.value})


@maps(nn.GLU)
def _glu(module: nn.GLU, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    return LayerOf("studio.GLU", {"dim": sample_dim(module.dim, len(shapes[0]))})


@maps(nn.PReLU)
def _prelu(module: nn.PReLU, shapes: Shapes) -> LayerOf:
    """One slope, or one per channel (dim 1) as the catalog's per_channel learns them."""
    _one_input(module, shapes)
    count = module.num_parameters
    channels = shapes[0][1] if len(shapes[0]) > 1 else None
    if count != 1 and count != channels:
        raise Unmappable(
            f"{count} slopes for {channels} channels; the catalog learns 1 or one each"
        )
    return LayerOf("studio.PReLU", {"per_channel": count != 1}, weights_of(module))


@maps(nn.Dropout1d, nn.AlphaDropout)
def _dropout(module: nn.Dropout1d | nn.AlphaDropout, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    return LayerOf(f"studio.{type(module).__name__}", {"p": module.p})


@maps(nn.BatchNorm3d)
def _batch_norm3d(module: nn.BatchNorm3d, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    if not module.track_running_stats:
        raise Unmappable("track_running_stats=False: the catalog's BatchNorm keeps running stats")
    if module.momentum is None:
        raise Unmappable("momentum=None (a cumulative average) has no catalog setting")
    weights = weights_of(module)
    if not module.affine:  # ones and zeros stand in for the missing scale and shift
        weights["weight"] = torch.ones(module.num_features)
        weights["bias"] = torch.zeros(module.num_features)
    return LayerOf("studio.BatchNorm3d", {"eps": module.eps, "momentum": module.momentum}, weights)


@maps(nn.InstanceNorm1d, nn.InstanceNorm2d)
def _instance_norm(module: nn.InstanceNorm1d | nn.InstanceNorm2d, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    if module.momentum is None:
        raise Unmappable("momentum=None (a cumulative average) has no catalog setting")
    params = {
        "eps": module.eps,
        "momentum": module.momentum,
        "affine": module.affine,
        "track_running_stats": module.track_running_stats,
    }
    return LayerOf(f"studio.{type(module).__name__}", params, weights_of(module))


@maps(nn.RMSNorm)
def _rms_norm(module: nn.RMSNorm, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    if len(module.normalized_shape) != 1:
        raise Unmappable("RMSNorm over several dimensions; the catalog's normalizes the last")
    if module.eps is not None and module.eps <= 0:
        raise Unmappable(f"eps={module.eps}; the catalog's eps 0 means the float type's epsilon")
    params = {
        "eps": module.eps or 0.0,
        "elementwise_affine": module.elementwise_affine,
    }
    return LayerOf("studio.RMSNorm", params, weights_of(module))


@maps(nn.LocalResponseNorm)
def _local_response_norm(module: nn.LocalResponseNorm, shapes: Shapes) -> LayerOf:
    _one_input(module, shapes)
    params: dict[str, Any] = {
        "size": module.size,
        "alpha": module.alpha,
        "beta": module.beta,
        "k": module.k,
    }
    return LayerOf("studio.LocalResponseNorm", params)


def sample_dim(dim: int, rank: int) -> int:
    """A torch dim of a tensor of `rank` dims (batch included) as the catalog's dim param."""
    if not -rank <= dim < rank:
        raise Unmappable(f"dim {dim} is out of range for a tensor of {rank} dimensions")
    if dim == 0 or dim == -rank:
        raise Unmappable("works along the batch dimension; the catalog's layers never do")
    return dim
