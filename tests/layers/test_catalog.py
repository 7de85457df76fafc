"""The built-in catalog: complete, documented, valid, registered, and free of torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.errors import DuplicateLayerError
from studio.core.registry import LayerRegistry
from studio.core.specs import LayerSpec, PortSpec
from studio.layers import CATALOG, BuilderLoadError, load_builder, load_shape_rule, register

REPO_ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = {
    "Input/Output",
    "Dense",
    "Convolution",
    "Pooling",
    "Normalization",
    "Regularization",
    "Recurrent",
    "Attention",
    "Activation",
    "Merge",
    "Reshape",
    "Padding",
    "Sampling",
    "Arithmetic",
    "Tensor",
}
REQUIRED = [
    "Input",
    "Output",
    "Linear",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "GlobalAvgPool",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "Dropout",
    "Dropout2d",
    "Flatten",
    "Reshape",
    "Permute",
    "Upsample",
    "Embedding",
    "RNN",
    "LSTM",
    "GRU",
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "PositionalEncoding",
    "ReLU",
    "LeakyReLU",
    "GELU",
    "SiLU",
    "ELU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "Identity",
    "Add",
    "Multiply",
    "Concat",
    "Mean",
    "Sum",
    "SelectLast",
    # spatial family (issue 16)
    "Conv3d",
    "Conv2dRect",
    "ConvTranspose1d",
    "ConvTranspose3d",
    "MaxPool3d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "PixelShuffle",
    "PixelUnshuffle",
    "ChannelShuffle",
    # elementwise family: activations, normalization, regularization
    "ReLU6",
    "Hardswish",
    "Hardsigmoid",
    "Hardtanh",
    "PReLU",
    "SELU",
    "CELU",
    "Mish",
    "Softplus",
    "Softsign",
    "GLU",
    "Threshold",
    "LogSigmoid",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "RMSNorm",
    "LocalResponseNorm",
    "Dropout1d",
    "AlphaDropout",
    # attention family and two-input layers
    "TransformerDecoderLayer",
    "Unflatten",
    "Bilinear",
    "CosineSimilarity",
    "PairwiseDistance",
    "GaussianSample",
    # tensor operations
    "Subtract",
    "Divide",
    "Scale",
    "Shift",
    "Pow",
    "Exp",
    "Log",
    "Sqrt",
    "Abs",
    "Clamp",
    "MatMul",
    "ScaledDotProductAttention",
    "Einsum",
    "Split",
    "Chunk",
    "Slice",
    "Index",
    "Select",
    "Stack",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Expand",
    "Max",
    "Min",
    "Parameter",
    "Constant",
]
SPEC_IDS = [spec.type_id for spec in CATALOG]


def _spec(type_id: str) -> LayerSpec:
    return next(spec for spec in CATALOG if spec.type_id == type_id)


def test_catalog_has_every_required_layer_once() -> None:
    assert len(set(SPEC_IDS)) == len(SPEC_IDS)
    assert {f"studio.{name}" for name in REQUIRED} <= set(SPEC_IDS)


def test_palette_lists_the_beginners_layers_first() -> None:
    registry = LayerRegistry()
    register(registry)
    categories = list(registry.categories())
    assert categories[:3] == ["Input/Output", "Dense", "Convolution"]
    assert categories[-2:] == ["Arithmetic", "Tensor"]
    assert registry.categories()["Dense"][0].title == "Linear"


@pytest.mark.parametrize("spec", CATALOG, ids=SPEC_IDS)
def test_spec_is_complete(spec: LayerSpec) -> None:
    assert spec.category in CATEGORIES
    assert spec.title == spec.type_id.removeprefix("studio.")
    assert spec.help
    assert spec.builder.startswith("studio.layers.builders.")
    if spec.role == "layer":
        assert spec.shape_rule is not None
        assert spec.shape_rule.startswith("studio.layers.rules.")
    assert set(spec.key_params) <= {param.name for param in spec.params}
    assert (1 <= len(spec.key_params) <= 3) if spec.params else not spec.key_params


@pytest.mark.parametrize("spec", CATALOG, ids=SPEC_IDS)
def test_every_param_is_bounded_and_documented(spec: LayerSpec) -> None:
    for param in spec.params:
        assert param.help and "\n" not in param.help, param.name
        if param.kind in ("int", "float", "int_tuple"):
            assert param.minimum is not None and param.maximum is not None, param.name
        if param.kind == "choice":
            assert param.default in param.choices, param.name


@pytest.mark.parametrize("spec", CATALOG, ids=SPEC_IDS)
def test_defaults_validate(spec: LayerSpec) -> None:
    assert spec.validate_params({}) == spec.defaults()
    assert spec.validate_params(spec.defaults()) == spec.defaults()


@pytest.mark.parametrize("spec", CATALOG, ids=SPEC_IDS)
def test_builder_and_rule_paths_import(spec: LayerSpec) -> None:
    assert callable(load_builder(spec))
    assert (load_shape_rule(spec) is None) == (spec.role != "layer")


def test_input_and_output_roles() -> None:
    source, sink = _spec("studio.Input"), _spec("studio.Output")
    assert (source.role, source.inputs, source.outputs) == ("input", (), (PortSpec("out"),))
    assert (sink.role, sink.inputs, sink.outputs) == ("output", (PortSpec("in"),), ())
    assert {spec.role for spec in CATALOG if spec not in (source, sink)} == {"layer"}


@pytest.mark.parametrize("type_id", ["studio.Add", "studio.Multiply", "studio.Concat"])
def test_merge_layers_have_one_port_per_input(type_id: str) -> None:
    spec = _spec(type_id)
    assert spec.variadic_inputs == "inputs"
    assert [port.name for port in spec.input_ports({})] == ["in1", "in2"]
    assert [port.name for port in spec.input_ports({"inputs": 3})] == ["in1", "in2", "in3"]


def test_register_adds_every_spec_with_studio_origin() -> None:
    registry = LayerRegistry()
    register(registry)
    assert [spec.type_id for spec in registry] == SPEC_IDS
    assert {registry.origin(type_id) for type_id in SPEC_IDS} == {"studio"}
    with pytest.raises(DuplicateLayerError):
        register(registry)


def test_load_builder_caches_the_import() -> None:
    assert load_builder(_spec("studio.Linear")) is load_builder(_spec("studio.Linear"))


@pytest.mark.parametrize(
    "path", ["studio.layers.builders.dense:no_such_builder", "studio.no_such_module:build"]
)
def test_load_builder_reports_a_broken_path(path: str) -> None:
    spec = LayerSpec("plugin.Broken", "Broken", "Dense", "A layer whose builder is missing.", path)
    with pytest.raises(BuilderLoadError, match=r"plugin\.Broken"):
        load_builder(spec)


TORCH_FREE_CHECK = """
import importlib.util, sys
from studio.core.registry import LayerRegistry
import studio.layers
from studio.layers import CATALOG, load_shape_rule

studio.layers.register(LayerRegistry())
spec = importlib.util.spec_from_file_location("layer_examples", sys.argv[1])
examples = importlib.util.module_from_spec(spec)
sys.modules["layer_examples"] = examples
spec.loader.exec_module(examples)
for layer in CATALOG:
    rule = load_shape_rule(layer)
    for example in examples.EXAMPLES[layer.type_id] if rule else ():
        assert rule(layer.validate_params(example.params), example.shapes()) == example.outputs()
print(sorted(name for name in sys.modules if name.split(".")[0] == "torch"))
"""


def test_listing_layers_and_inferring_shapes_do_not_import_torch() -> None:
    """The palette and the canvas's shapes come up before torch has loaded."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            TORCH_FREE_CHECK,
            str(Path(__file__).with_name("layer_examples.py")),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
