"""Import of the elementwise family: each layer, as a module, a functional call and an ONNX export
(or the ONNX operator itself), comes back as the same catalog layer computing the same values."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs, compiled_model
from studio.importers.export_import import import_module_export
from studio.importers.fx_import import import_module
from studio.importers.mapping import ImportedModel
from studio.importers.onnx_import import import_onnx_file
from tests.importers.onnx_models import export_onnx


class One(nn.Module):
    """A model of one layer (or one function) on inputs of `shape` (batch first)."""

    def __init__(self, layer: nn.Module | Callable[..., torch.Tensor], shape: tuple[int, ...]):
        super().__init__()
        self.example_input_shape = shape
        if isinstance(layer, nn.Module):
            self.layer = layer
        else:
            self.function = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "layer"):
            return self.layer(x)
        return self.function(x)


def _randomized(module: nn.Module) -> nn.Module:
    """Weights and statistics away from their initial ones, so carrying them over shows."""
    generator = torch.Generator().manual_seed(1)
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point():
            low = 0.5 if "var" in name else -0.5
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + low)
    return module


SEQ = (2, 4, 6)
MODULES = {
    "ReLU6": (nn.ReLU6(), SEQ, {}),
    "Hardswish": (nn.Hardswish(), SEQ, {}),
    "Hardsigmoid": (nn.Hardsigmoid(), SEQ, {}),
    "Hardtanh": (nn.Hardtanh(-2.0, 0.5), SEQ, {"min_val": -2.0, "max_val": 0.5}),
    "PReLU": (nn.PReLU(), SEQ, {"per_channel": False}),
    "PReLU-per-channel": (nn.PReLU(4), SEQ, {"per_channel": True}),
    "SELU": (nn.SELU(), SEQ, {}),
    "CELU": (nn.CELU(0.5), SEQ, {"alpha": 0.5}),
    "Mish": (nn.Mish(), SEQ, {}),
    "Softplus": (nn.Softplus(2.0, 5.0), SEQ, {"beta": 2.0, "threshold": 5.0}),
    "Softplus-beta": (nn.Softplus(2.0), SEQ, {"beta": 2.0}),  # ONNX has no threshold
    "Softsign": (nn.Softsign(), SEQ, {}),
    "GLU": (nn.GLU(1), SEQ, {"dim": 1}),
    "Threshold": (nn.Threshold(0.1, 2.0), SEQ, {"threshold": 0.1, "value": 2.0}),
    "LogSigmoid": (nn.LogSigmoid(), SEQ, {}),
    "GELU": (nn.GELU(approximate="tanh"), SEQ, {"approximate": "tanh"}),
    "BatchNorm3d": (nn.BatchNorm3d(2), (2, 2, 3, 4, 4), {}),
    "InstanceNorm1d": (nn.InstanceNorm1d(4), SEQ, {"affine": False}),
    "InstanceNorm2d": (
        nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
        (2, 3, 5, 5),
        {"affine": True, "track_running_stats": True},
    ),
    "RMSNorm": (nn.RMSNorm(6, eps=1e-6), SEQ, {"eps": 1e-6, "elementwise_affine": True}),
    "LocalResponseNorm": (nn.LocalResponseNorm(3, k=2.0), (2, 6, 5, 5), {"size": 3, "k": 2.0}),
    "LocalResponseNorm-sequence": (
        nn.LocalResponseNorm(4, alpha=0.01, beta=0.5),
        SEQ,
        {"size": 4, "alpha": 0.01, "beta": 0.5},
    ),
    "Dropout1d": (nn.Dropout1d(0.3), SEQ, {"p": 0.3}),
    "AlphaDropout": (nn.AlphaDropout(0.2), SEQ, {"p": 0.2}),
}


def _layers(imported: ImportedModel) -> list[tuple[str, dict[str, object]]]:
    nodes = imported.project.main_graph.nodes
    return [(n.type_id.removeprefix("studio."), dict(n.params)) for n in nodes[1:-1]]


def _same_outputs(imported: ImportedModel, source: nn.Module) -> None:
    assert check_outputs(imported) <= 1e-5
    x = torch.randn(3, *source.example_input_shape[1:])
    with torch.no_grad():
        want = source.eval()(x)
        got = compiled_model(imported)(x)
    scale = max(1.0, float(want.abs().max()))
    assert float((got - want).abs().max()) <= 1e-5 * scale


@pytest.mark.parametrize("case", list(MODULES))
def test_module_imports_as_its_layer(case: str, registry: LayerRegistry, seed: int) -> None:
    layer, shape, params = MODULES[case]
    source = One(_randomized(layer), shape).eval()
    imported = import_module(source, registry)
    [(type_id, found)] = _layers(imported)
    assert type_id == case.split("-")[0]
    assert params.items() <= found.items()
    _same_outputs(imported, source)


FUNCTIONS = {
    "ReLU6": lambda x: F.relu6(x),
    "Hardswish": lambda x: F.hardswish(x),
    "Hardsigmoid": lambda x: F.hardsigmoid(x),
    "Hardtanh": lambda x: F.hardtanh(x, -0.5, 2.0),
    "SELU": lambda x: torch.selu(x),
    "CELU": lambda x: F.celu(x, alpha=2.0),
    "Mish": lambda x: F.mish(x),
    "Softplus": lambda x: F.softplus(x, beta=0.5),
    "Softsign": lambda x: F.softsign(x),
    "GLU": lambda x: F.glu(x, -1),
    "Threshold": lambda x: F.threshold(x, 0.2, -1.0),
    "LogSigmoid": lambda x: F.logsigmoid(x),
    "GELU": lambda x: F.gelu(x, approximate="tanh"),
    "Dropout1d": lambda x: F.dropout1d(x, 0.2, training=False),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_function_imports_as_its_layer(name: str, registry: LayerRegistry, seed: int) -> None:
    source = One(FUNCTIONS[name], SEQ).eval()
    imported = import_module(source, registry)
    assert [type_id for type_id, _ in _layers(imported)] == [name]
    _same_outputs(imported, source)


# The TorchScript exporter writes these as one operator, or spells them out: Mish and tanh-GELU
# as x · g(x), Softplus(beta) as softplus(beta · x) / beta, Softsign as x / (1 + |x|),
# LogSigmoid as log(sigmoid(x)), GLU as a Split, a Sigmoid and a Mul, LocalResponseNorm as
# x / (k + alpha · avg_pool(x²))^beta; the patterns of
# `onnx_patterns` take those back as one layer.
EXPORTED = [
    "Softplus-beta",
    "Softsign",
    "LogSigmoid",
    "GLU",
    "ReLU6",
    "Hardswish",
    "Hardsigmoid",
    "Hardtanh",
    "PReLU",
    "PReLU-per-channel",
    "SELU",
    "CELU",
    "Mish",
    "GELU",
    "BatchNorm3d",
    "InstanceNorm1d",
    "LocalResponseNorm",
    "LocalResponseNorm-sequence",
]


@pytest.mark.parametrize("case", EXPORTED)
def test_onnx_export_imports_as_its_layer(
    case: str, registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    layer, shape, params = MODULES[case]
    source = One(_randomized(layer), shape).eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "model.onnx"), registry)
    [(type_id, found)] = _layers(imported)
    assert type_id == case.split("-")[0]
    assert params.items() <= found.items()
    _same_outputs(imported, source)


def test_onnx_instance_norm_with_affine_keeps_its_scale(
    registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    source = One(_randomized(nn.InstanceNorm2d(3, affine=True)), (2, 3, 5, 5)).eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "model.onnx"), registry)
    assert _layers(imported) == [
        (
            "InstanceNorm2d",
            {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": False},
        )
    ]
    _same_outputs(imported, source)


def _one_op(
    path: Path,
    op: str,
    shape: tuple[int, ...],
    weights: dict[str, np.ndarray] | None = None,
    opset: int = 20,
    **attrs: object,
) -> Path:
    """A graph of the single operator `op` on x (batch first), its other inputs constants."""
    weights = weights or {}
    node = helper.make_node(op, ["x", *weights], ["y"], **attrs)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *shape[1:]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", *shape[1:]])
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    graph = helper.make_graph([node], "one", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize(
    ("op", "shape", "weights", "attrs", "layer"),
    [
        ("Softsign", SEQ, {}, {}, ("Softsign", {})),
        ("Softplus", SEQ, {}, {}, ("Softplus", {"beta": 1.0, "threshold": 20.0})),
        ("Mish", SEQ, {}, {}, ("Mish", {})),
        ("ThresholdedRelu", SEQ, {}, {"alpha": 0.5},
         ("Threshold", {"threshold": 0.5, "value": 0.0})),
        ("LRN", (2, 6, 5, 5), {}, {"size": 3, "alpha": 0.01, "beta": 0.5, "bias": 2.0},
         ("LocalResponseNorm", {"size": 3, "alpha": 0.01, "beta": 0.5, "k": 2.0})),
        ("Clip", SEQ, {"lo": np.array(-0.25), "hi": np.array(0.75)}, {},
         ("Hardtanh", {"min_val": -0.25, "max_val": 0.75})),
    ],
)  # fmt: skip
def test_onnx_operator_imports_as_its_layer(
    op: str,
    shape: tuple[int, ...],
    weights: dict[str, np.ndarray],
    attrs: dict[str, object],
    layer: tuple[str, dict[str, object]],
    registry: LayerRegistry,
    tmp_path: Path,
    seed: int,
) -> None:
    imported = import_onnx_file(
        _one_op(tmp_path / "op.onnx", op, shape, weights, **attrs), registry
    )
    [(type_id, found)] = _layers(imported)
    assert (type_id, layer[1].items() <= found.items()) == (layer[0], True)
    assert check_outputs(imported) <= 1e-5


def test_onnx_rms_normalization_imports_as_rmsnorm(
    registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    scale = np.linspace(0.5, 1.5, 6)
    path = _one_op(
        tmp_path / "rms.onnx", "RMSNormalization", SEQ, {"s": scale}, opset=23, epsilon=1e-6
    )
    imported = import_onnx_file(path, registry)
    assert [t for t, _ in _layers(imported)] == ["RMSNorm"]
    assert check_outputs(imported) <= 1e-5


@pytest.mark.parametrize("case", ["InstanceNorm1d", "InstanceNorm2d"])
def test_onnx_instance_norm_with_running_statistics(
    case: str, registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    """The legacy exporter folds the batch into the channels around a BatchNormalization with
    the statistics tiled (and can do so only for a fixed batch size): one layer comes back."""
    channels, shape = (4, (3, 4, 6)) if case == "InstanceNorm1d" else (3, (3, 3, 5, 5))
    layer = getattr(nn, case)(channels, affine=True, track_running_stats=True)
    source = One(_randomized(layer), shape).eval()
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(source, (torch.randn(*shape),), str(path), dynamo=False)
    imported = import_onnx_file(path, registry)
    [(type_id, found)] = _layers(imported)
    assert type_id == case
    assert found["affine"] and found["track_running_stats"]
    assert check_outputs(imported) <= 1e-5
    x = torch.randn(*shape)
    with torch.no_grad():
        torch.testing.assert_close(compiled_model(imported)(x), source(x), atol=1e-5, rtol=1e-5)


CHAINS = {
    # The dynamo exporter (studio's own) writes Softplus and Threshold as a Where on a
    # comparison, RMSNorm as x · 1 / sqrt(mean(x²) + eps) · weight.
    "dynamo": [
        nn.Softplus(2.0, 5.0),
        nn.Threshold(0.1, 2.0),
        nn.RMSNorm(6),
        nn.Softsign(),
        nn.LogSigmoid(),
        nn.GLU(-1),
    ],
    "legacy": [
        nn.Mish(),
        nn.Softsign(),
        nn.LogSigmoid(),
        nn.Softplus(2.0),
        nn.GLU(1),
        nn.LocalResponseNorm(2),
    ],
}


@pytest.mark.parametrize("exporter", list(CHAINS))
def test_spelled_out_layers_in_a_row_each_come_back(
    exporter: str, registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    """One spelled-out activation after another: each claims its own operators only."""
    layers = CHAINS[exporter]
    source = One(_randomized(nn.Sequential(*layers)), SEQ).eval()
    path = export_onnx(source, tmp_path / "model.onnx", dynamo=exporter == "dynamo")
    imported = import_onnx_file(path, registry)
    assert [t for t, _ in _layers(imported)] == [type(layer).__name__ for layer in layers]
    _same_outputs(imported, source)


class _Functional(nn.Module):
    example_input_shape = SEQ

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.hardtanh(F.relu6(x * 3.0), -0.5, 2.0)
        x = F.softplus(F.mish(F.hardswish(F.hardsigmoid(x))), beta=2.0)
        x = F.logsigmoid(F.threshold(F.celu(F.selu(x), 0.5), 0.1, 2.0))
        return F.glu(F.gelu(x, approximate="tanh"), 1)


def test_torch_export_maps_the_functional_forms(registry: LayerRegistry, seed: int) -> None:
    """The torch.export front end sees F.relu6 and the others as ATen ops of their own."""
    source = _Functional().eval()
    imported = import_module_export(source, registry)
    assert [t for t, _ in _layers(imported)] == [
        "Scale", "ReLU6", "Hardtanh", "Hardsigmoid", "Hardswish", "Mish", "Softplus", "SELU",
        "CELU", "Threshold", "LogSigmoid", "GELU", "GLU",
    ]  # fmt: skip
    _same_outputs(imported, source)
