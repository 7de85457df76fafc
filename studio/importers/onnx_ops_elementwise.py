"""ONNX op rules for the elementwise family of layers, merged by
`studio.importers.onnx_import.op_rules`.

torch's TorchScript exporter (opset 20) writes most of these layers as one operator each:
ReLU6 and Hardtanh as Clip with constant bounds, PReLU as PRelu with a broadcastable slope,
InstanceNorm as InstanceNormalization with constant ones and zeros when it learns no affine.
Mish becomes Softplus · Tanh · Mul, which `studio.importers.onnx_patterns` claims as a whole.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.importers.mapping import Unmappable
from studio.importers.onnx_nodes import attributes

if TYPE_CHECKING:
    from studio.importers.mapping import Value

# torch's SELU constants; ONNX's Selu defaults are the same numbers in float32.
_SELU_ALPHA = 1.6732632423543772
_SELU_GAMMA = 1.0507009873554805


def _number(value: object) -> float:
    """An ONNX float32 attribute as the number it was written as (1e-05, not 9.99999974e-06)."""
    return float(f"{float(value):.7g}")  # type: ignore[arg-type]


def _scalar(m: Any, node: Any, index: int, what: str) -> float | None:
    array = m.constant(node, index, what)
    if array is None:
        return None
    if np.size(array) != 1:
        raise Unmappable(f"its {what} is not one number")
    return _number(np.asarray(array).reshape(()))


def _plain(type_id: str) -> Any:
    def rule(m: Any, node: Any) -> Value:
        return m.layer(node, type_id, {})

    return rule


def _clip(m: Any, node: Any) -> Value:
    """Clip(x, 0, 6) is ReLU6; other finite bounds are Hardtanh."""
    a = attributes(node)
    if m.opset < 11:
        low, high = a.get("min"), a.get("max")
        low = None if low is None else _number(low)
        high = None if high is None else _number(high)
    else:
        low, high = _scalar(m, node, 1, "minimum"), _scalar(m, node, 2, "maximum")
    if low is None or high is None or math.isinf(low) or math.isinf(high):
        raise Unmappable("a Clip open on one side has no catalog layer (Hardtanh needs both)")
    if (low, high) == (0.0, 6.0):
        return m.layer(node, "studio.ReLU6", {})
    return m.layer(node, "studio.Hardtanh", {"min_val": low, "max_val": high})


def _hard_sigmoid(m: Any, node: Any) -> Value:
    a = attributes(node)
    alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
        raise Unmappable(f"alpha={alpha:g}, beta={beta:g}; the catalog's has torch's 1/6 and 0.5")
    return m.layer(node, "studio.Hardsigmoid", {})


def _prelu(m: Any, node: Any) -> Value:
    """The slope broadcasts from the right: (1,), or (C, 1, ...) for one per channel."""
    slope = m.constant(node, 1, "slope")
    assert slope is not None
    shape = m.shape(node.input[0])
    values = np.asarray(slope, dtype=np.float32).reshape(-1)
    per_channel = values.size > 1
    if per_channel:
        expected = (shape[1],) + (1,) * (len(shape) - 2)
        trimmed = tuple(np.shape(slope))
        while len(trimmed) > len(expected) and trimmed[0] == 1:
            trimmed = trimmed[1:]
        if len(shape) < 2 or expected[-len(trimmed) :] != trimmed:
            raise Unmappable("its slopes are not one per channel (dim 1)")
    return m.layer(node, "studio.PReLU", {"per_channel": per_channel}, weights={"weight": values})


def _selu(m: Any, node: Any) -> Value:
    a = attributes(node)
    alpha, gamma = float(a.get("alpha", _SELU_ALPHA)), float(a.get("gamma", _SELU_GAMMA))
    if abs(alpha - _SELU_ALPHA) > 1e-6 or abs(gamma - _SELU_GAMMA) > 1e-6:
        raise Unmappable(f"alpha={alpha:g}, gamma={gamma:g}; the catalog's SELU has torch's")
    return m.layer(node, "studio.SELU", {})


def _celu(m: Any, node: Any) -> Value:
    return m.layer(node, "studio.CELU", {"alpha": _number(attributes(node).get("alpha", 1.0))})


def _thresholded_relu(m: Any, node: Any) -> Value:
    """x where x > alpha, else 0: Threshold with value 0."""
    alpha = _number(attributes(node).get("alpha", 1.0))
    return m.layer(node, "studio.Threshold", {"threshold": alpha, "value": 0.0})


def _gelu(m: Any, node: Any) -> Value:
    approximate = attributes(node).get("approximate", "none")
    if isinstance(approximate, bytes):
        approximate = approximate.decode()
    if approximate not in ("none", "tanh"):
        raise Unmappable(f"approximate={approximate!r} has no catalog setting")
    return m.layer(node, "studio.GELU", {"approximate": approximate})


def _batch_norm(m: Any, node: Any) -> Value:
    """BatchNorm1d, 2d or 3d by the input's rank; statistics and scale come as constants."""
    a = attributes(node)
    if a.get("training_mode", 0):
        raise Unmappable("training_mode=1 has no catalog setting")
    scale, bias, mean, var = (m.constant(node, i, "statistics") for i in range(1, 5))
    rank = len(m.shape(node.input[0]))
    kinds = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}
    if rank not in kinds:
        raise Unmappable(f"BatchNormalization of rank {rank}; the catalog has 1-d, 2-d and 3-d")
    momentum = min(max(round(1.0 - _number(a.get("momentum", 0.9)), 7), 0.0), 1.0)
    params = {"eps": _number(a.get("epsilon", 1e-5)), "momentum": momentum}
    weights = {
        "weight": scale,
        "bias": bias,
        "running_mean": mean,
        "running_var": var,
        "num_batches_tracked": np.array(0),
    }
    return m.layer(node, f"studio.{kinds[rank]}", params, weights=weights)


def _instance_norm(m: Any, node: Any) -> Value:
    """InstanceNorm1d or 2d by rank; a scale of ones and a bias of zeros mean no affine."""
    rank = len(m.shape(node.input[0]))
    kinds = {3: "InstanceNorm1d", 4: "InstanceNorm2d"}
    if rank not in kinds:
        raise Unmappable(f"InstanceNormalization of rank {rank}; the catalog has 1-d and 2-d")
    scale, bias = m.constant(node, 1, "scale"), m.constant(node, 2, "bias")
    assert scale is not None and bias is not None
    affine = not (np.all(scale == 1) and np.all(bias == 0))
    params = {"eps": _number(attributes(node).get("epsilon", 1e-5)), "affine": affine}
    weights = {"weight": scale, "bias": bias} if affine else {}
    return m.layer(node, f"studio.{kinds[rank]}", params, weights=weights)


def _lrn(m: Any, node: Any) -> Value:
    """ONNX's LRN is torch's LocalResponseNorm: the same sum, alpha / size and exponent."""
    a = attributes(node)
    params = {
        "size": int(a["size"]),
        "alpha": _number(a.get("alpha", 1e-4)),
        "beta": _number(a.get("beta", 0.75)),
        "k": _number(a.get("bias", 1.0)),
    }
    return m.layer(node, "studio.LocalResponseNorm", params)


def _rms_normalization(m: Any, node: Any) -> Value:
    """Opset 23's RMSNormalization over the last axis, with its scale as the learned weight."""
    a = attributes(node)
    rank = len(m.shape(node.input[0]))
    if int(a.get("axis", -1)) % rank != rank - 1:
        raise Unmappable("normalizes over several dimensions; the catalog's RMSNorm the last")
    scale = m.constant(node, 1, "scale")
    assert scale is not None
    size = m.shape(node.input[0])[-1]
    params = {"eps": _number(a.get("epsilon", 1e-5)), "elementwise_affine": True}
    weights = {"weight": np.broadcast_to(scale, (size,))}
    return m.layer(node, "studio.RMSNorm", params, weights=weights)


RULES: dict[str, Any] = {
    "Clip": _clip,
    "HardSwish": _plain("studio.Hardswish"),
    "HardSigmoid": _hard_sigmoid,
    "PRelu": _prelu,
    "Selu": _selu,
    "Celu": _celu,
    "Mish": _plain("studio.Mish"),
    "Softplus": _plain("studio.Softplus"),
    "Softsign": _plain("studio.Softsign"),
    "ThresholdedRelu": _thresholded_relu,
    "Gelu": _gelu,
    "BatchNormalization": _batch_norm,
    "InstanceNormalization": _instance_norm,
    "LRN": _lrn,
    "RMSNormalization": _rms_normalization,
}
