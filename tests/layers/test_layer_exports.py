"""Every catalog layer survives every way out of the app and back in, as a one-layer graph.

For each example in `layer_examples.EXAMPLES` (so a layer added there is covered without
touching this file), Input(s) → layer → Output(s) is compiled and checked:

(a) `generate_code`'s source, run in a fresh namespace with the compiled weights loaded,
    computes what the compiled GraphModule computes;
(b) `torch.jit.script` of the compiled module (saved and loaded back) does too;
(c) the legacy ONNX exporter's file runs in onnxruntime with the same outputs, and
    `onnx_import` reads it back to a graph holding the same layer type;
(d) the generated code, as a file, imports back through `fx_import` to the same layer type.

The default run checks each layer's first example; `-m slow` checks the other examples and
adds `torch.export` and the dynamo ONNX exporter for every one. Exceptions are explicit,
each with its reason: `SKIPS` (a check that cannot apply), `TORCH_LIMITS` (what torch's own
exporters cannot do) and `NOT_YET_IMPORTED` (an import mapping still to be written). The last
two are strict xfails: a fix that lands makes its entry fail until it is removed.
"""

from __future__ import annotations

import functools
import io
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from studio.compile.codegen import generate_code
from studio.compile.compiler import compile_graph
from studio.core.graph import Graph
from studio.plugins import default_registry

from .layer_examples import EXAMPLES, Example

BATCH = 3
CLASS_NAME = "OneLayer"
REGISTRY = default_registry()
RTOL, ATOL = 1e-4, 1e-5

CHECKS = ("code", "torchscript", "onnx", "onnx_import", "fx_import", "torch_export", "onnx_dynamo")

# Each list is keyed by (check, type_id), for every example of the layer, or by
# (check, type_id, index) for one example (the slow run checks all of them).
Key = tuple[str, str] | tuple[str, str, int]

#: Why the check cannot apply to the layer: skipped, with this reason.
_DROPOUT = "in eval mode dropout is the identity, exported as no operation at all"
SKIPS: dict[Key, str] = {
    ("onnx_import", "studio.Identity"): "an identity is exported as no operation at all",
    ("fx_import", "studio.Identity"): "fx traces an identity away: no operation is left",
    ("onnx_import", "studio.GaussianSample"): "in eval mode it returns the mean: no operation",
    ("fx_import", "studio.GaussianSample"): "in eval mode it returns the mean: no operation",
    ("onnx_import", "studio.Dropout"): _DROPOUT,
    ("onnx_import", "studio.Dropout1d"): _DROPOUT,
    ("onnx_import", "studio.Dropout2d"): _DROPOUT,
    ("onnx_import", "studio.AlphaDropout"): _DROPOUT,
}

#: (layer types that are the same model, why): ONNX (or the importer) cannot tell them
#: apart, so importing back to one of these counts as the layer itself.
EQUIVALENTS: dict[Key, tuple[set[str], str]] = {
    ("onnx_import", "studio.Reshape"): (
        {"studio.Flatten"},
        "the first example reshapes to one dimension, which ONNX cannot tell from a Flatten",
    ),
    ("onnx_import", "studio.Unflatten"): ({"studio.Reshape"}, "ONNX writes Unflatten as Reshape"),
    ("onnx_import", "studio.Transpose"): (
        {"studio.Permute"},
        "ONNX's Transpose is a permutation of every dimension",
    ),
    ("onnx_import", "studio.AdaptiveMaxPool1d"): (
        {"studio.MaxPool1d"},
        "an output size that divides the input is exported as a plain MaxPool",
    ),
    ("onnx_import", "studio.AdaptiveAvgPool1d"): (
        {"studio.AvgPool1d"},
        "an output size that divides the input is exported as a plain AveragePool",
    ),
    ("onnx_import", "studio.ConstantPad2d"): ({"studio.ZeroPad2d"}, "padding with 0 is ZeroPad"),
    ("fx_import", "studio.ConstantPad2d"): ({"studio.ZeroPad2d"}, "padding with 0 is ZeroPad"),
    ("onnx_import", "studio.Clamp", 1): ({"studio.Hardtanh"}, "a clamp to [-1, 1] is Hardtanh"),
    ("onnx_import", "studio.Select", 2): (
        {"studio.SelectLast"},
        "selecting the last position of a sequence is SelectLast",
    ),
}

_LEGACY = "the legacy ONNX exporter has no symbolic for "
#: What torch itself cannot do: strict xfail, so that a fix shows up.
TORCH_LIMITS: dict[Key, str] = {
    **{
        (check, f"studio.{name}"): f"{_LEGACY}{op} (the dynamo exporter, studio's, has one)"
        for check in ("onnx", "onnx_import")
        for name, op in (
            ("Bilinear", "aten::bilinear"),
            ("RMSNorm", "aten::rms_norm"),
            ("ChannelShuffle", "aten::channel_shuffle"),
            ("Threshold", "a non-zero threshold"),
        )
    },
    # Example 3 ("values") keeps its numbers in the state dict: an initializer, which exports.
    **{
        ("onnx", "studio.Constant", i): "the legacy exporter's tracer refuses an output no "
        "input feeds"
        for i in (0, 1, 2, 4)
    },
    ("onnx_import", "studio.Constant"): "a graph whose only output is a constant has no Input",
    ("onnx", "studio.Clamp", 2): "the legacy exporter clips integers at int(2.5); torch "
    "promotes them to float",
    ("onnx", "studio.PairwiseDistance", 1): "the legacy exporter's p=1 distance gives NaN",
}

#: How the import falls short while its mapping is still to be written. Strict xfail: a
#: mapping that lands turns the entry into an XPASS failure; remove it then.
NOT_YET_IMPORTED: dict[Key, str] = {
    ("onnx_import", "studio.Parameter"): "an initializer as a graph output: no Input layer",
    ("fx_import", "studio.GlobalAvgPool"): "its copied module is traced into Mean + Reshape",
    ("fx_import", "studio.PositionalEncoding"): "its copied module is untraceable Python",
    ("onnx_import", "studio.ScaledDotProductAttention"): (
        "exported as MatMul, Mul, Softmax, MatMul on computed tensors, which import as those "
        "operation nodes (the same values; the pattern folds only attention with projections)"
    ),
    ("onnx_import", "studio.GlobalAvgPool", 1): "over a sequence it imports as Mean",
    ("onnx_import", "studio.Divide", 1): "integer inputs: ONNX Cast has no mapping",
    ("onnx_import", "studio.Scale", 1): "integer inputs: ONNX Cast has no mapping",
    ("onnx_import", "studio.Pow", 1): "integer inputs: ONNX Cast has no mapping",
    ("fx_import", "studio.LSTM", 1): "a bidirectional last output indexes several dimensions",
    ("fx_import", "studio.RNN", 1): "a bidirectional last output indexes several dimensions",
}


@dataclass
class Case:
    """One example as a one-layer graph, compiled, with a batch and the module's outputs."""

    type_id: str
    example: Example
    graph: Graph
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    expected: list[torch.Tensor]


def _layer_examples(every: bool) -> list[tuple[str, int]]:
    cases = []
    for type_id, examples in EXAMPLES.items():
        if type_id in REGISTRY and REGISTRY.get(type_id).role == "layer":
            cases += [(type_id, i) for i in range(len(examples) if every else 1)]
    return cases


def _params(check: str, *, every: bool = False) -> list[Any]:
    """The cases of one check: each layer's first example, and with `every` (a slow run)
    its others too; the listed exceptions are marked as such."""
    params = []
    for type_id, index in _layer_examples(every=True):
        marks: list[Any] = [] if index == 0 and not every else [pytest.mark.slow]
        if (skip := listed(SKIPS, check, type_id, index)) is not None:
            marks.append(pytest.mark.skip(reason=skip))
        elif (limit := listed(TORCH_LIMITS, check, type_id, index)) is not None:
            marks.append(pytest.mark.xfail(strict=True, reason=f"TORCH_LIMITS: {limit}"))
        elif (gap := listed(NOT_YET_IMPORTED, check, type_id, index)) is not None:
            marks.append(pytest.mark.xfail(strict=True, reason=f"NOT_YET_IMPORTED: {gap}"))
        case_id = f"{type_id.removeprefix('studio.')}-{index}"
        params.append(pytest.param(type_id, index, id=case_id, marks=marks))
    return params


def listed(table: dict[Key, Any], check: str, type_id: str, index: int) -> Any:
    """The entry for this one example, else for every example of the layer, else None."""
    return table.get((check, type_id, index), table.get((check, type_id)))


def _graph(type_id: str, example: Example) -> Graph:
    """Input per example input → the layer → Output per output port."""
    spec = REGISTRY.get(type_id)
    params = spec.validate_params(example.params)
    graph = Graph(REGISTRY)
    layer = graph.add_node(type_id, name="layer", params=example.params)
    ports = spec.input_ports(params)
    for i, dims in enumerate(example.inputs):
        source = graph.add_node(
            "studio.Input", name=f"x{i + 1}", params={"shape": dims, "dtype": example.dtype}
        )
        graph.connect(source.id, "out", layer.id, ports[i].name)
    if not example.inputs:
        # A layer without inputs (a learned parameter, a constant) still needs a graph input:
        # one the model takes and ignores, as a user's graph would hold elsewhere.
        graph.add_node("studio.Input", name="x1", params={"shape": (1,)})
    for j, port in enumerate(spec.output_ports(params)):
        sink = graph.add_node("studio.Output", name=f"y{j + 1}")
        graph.connect(layer.id, port.name, sink.id, "in")
    return graph


def _batch(example: Example, params: dict[str, Any]) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(1)
    batch = BATCH if example.batched else 1
    if example.dtype == "long":
        vocabulary = min(int(params.get("num_embeddings", 10)), 10)
        return tuple(
            torch.randint(0, vocabulary, (batch, *dims), generator=generator)
            for dims in example.inputs
        )
    if not example.inputs:
        return (torch.randn(BATCH, 1, generator=generator),)
    return tuple(torch.randn(batch, *dims, generator=generator) for dims in example.inputs)


def _outputs(result: object) -> list[torch.Tensor]:
    if isinstance(result, torch.Tensor):
        return [result]
    assert isinstance(result, tuple | list), type(result)
    return [t for item in result for t in _outputs(item)]


def _run(module: Any, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    with torch.no_grad():
        return [t.detach() for t in _outputs(module(*inputs))]


@functools.cache
def case(type_id: str, index: int) -> Case:
    example = EXAMPLES[type_id][index]
    graph = _graph(type_id, example)
    torch.manual_seed(0)
    module = compile_graph(graph, class_name=CLASS_NAME).eval()
    params = REGISTRY.get(type_id).validate_params(example.params)
    inputs = _batch(example, params)
    return Case(type_id, example, graph, module, inputs, _run(module, inputs))


def assert_same(got: list[Any], case: Case, what: str) -> None:
    assert len(got) == len(case.expected), f"{what}: {len(got)} outputs, not {len(case.expected)}"
    for i, (have, want) in enumerate(zip(got, case.expected, strict=True)):
        have = torch.as_tensor(np.asarray(have)) if not isinstance(have, torch.Tensor) else have
        assert tuple(have.shape) == tuple(want.shape), f"{what}: output {i + 1} shape"
        torch.testing.assert_close(
            have.to(want.dtype),
            want,
            rtol=RTOL,
            atol=ATOL,
            equal_nan=True,
            msg=lambda message: f"{what}: {message}",
        )


def assert_imported_as(type_id: str, index: int, imported: Any, check: str) -> None:
    """The imported graph holds the layer (or one `EQUIVALENTS` lists for it)."""
    found = {node.type_id for node in imported.project.main_graph.nodes}
    wanted = {type_id} | (listed(EQUIVALENTS, check, type_id, index) or (set(), ""))[0]
    assert found & wanted, f"{check}: {type_id} came back as {sorted(found)}"


# ---- (a) generated code
@pytest.mark.parametrize(("type_id", "index"), _params("code"))
def test_generated_code_computes_what_the_graph_does(type_id: str, index: int) -> None:
    c = case(type_id, index)
    source = generate_code(c.graph, class_name=CLASS_NAME)
    namespace: dict[str, Any] = {"__name__": "one_layer"}
    exec(compile(source, "one_layer.py", "exec"), namespace)
    written = namespace["build_model"]().eval()
    written.load_state_dict(c.module.state_dict())
    assert_same(_run(written, c.inputs), c, "generated code")


# ---- (b) TorchScript
@pytest.mark.parametrize(("type_id", "index"), _params("torchscript"))
def test_torchscript_computes_what_the_graph_does(type_id: str, index: int) -> None:
    c = case(type_id, index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's own deprecation notice
        scripted = torch.jit.script(c.module)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        loaded = torch.jit.load(buffer)
    assert_same(_run(loaded, c.inputs), c, "TorchScript")


# ---- (c) ONNX, legacy exporter, and back
@functools.cache
def onnx_file(type_id: str, index: int) -> bytes:
    """The legacy (TorchScript-based) exporter's file; written once for both checks."""
    c = case(type_id, index)
    names = [f"x{i + 1}" for i in range(len(c.inputs))]
    outputs = [f"y{j + 1}" for j in range(len(c.expected))]
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(folder) / "one_layer.onnx"
        torch.onnx.export(
            c.module,
            c.inputs,
            str(path),
            dynamo=False,
            input_names=names,
            output_names=outputs,
            opset_version=18,
        )
        return path.read_bytes()


def _onnx_outputs(model: bytes | Path, c: Case) -> list[np.ndarray]:
    source = str(model) if isinstance(model, Path) else model
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    # An input the model ignores is no input of the ONNX graph; the dynamo exporter renames
    # an input that is also an output (x1 → x1_orig), but keeps them all, in order.
    given = {f"x{i + 1}": t.numpy() for i, t in enumerate(c.inputs)}
    names = [i.name for i in session.get_inputs()]
    if set(names) <= set(given):
        feeds = {name: given[name] for name in names}
    else:
        feeds = {name: t.numpy() for name, t in zip(names, c.inputs, strict=True)}
    return list(session.run(None, feeds))


@pytest.mark.parametrize(("type_id", "index"), _params("onnx"))
def test_onnx_export_runs_in_onnxruntime(type_id: str, index: int) -> None:
    c = case(type_id, index)
    assert_same(_onnx_outputs(onnx_file(type_id, index), c), c, "onnxruntime")


@pytest.mark.parametrize(("type_id", "index"), _params("onnx_import"))
def test_onnx_file_imports_back_to_the_layer(type_id: str, index: int, tmp_path: Path) -> None:
    from studio.importers.onnx_import import import_onnx_file

    path = tmp_path / "one_layer.onnx"
    path.write_bytes(onnx_file(type_id, index))
    imported = import_onnx_file(path, REGISTRY)
    assert_imported_as(type_id, index, imported, "onnx_import")


# ---- (d) the generated code, imported as a user's file
@pytest.mark.parametrize(("type_id", "index"), _params("fx_import"))
def test_generated_code_imports_back_to_the_layer(type_id: str, index: int, tmp_path: Path) -> None:
    from studio.importers.fx_import import import_module_file

    c = case(type_id, index)
    path = tmp_path / "one_layer.py"
    path.write_text(generate_code(c.graph, class_name=CLASS_NAME))
    shapes = [tuple(t.shape) for t in c.inputs]
    imported = import_module_file(f"{path}:{CLASS_NAME}", REGISTRY, input_shapes=shapes)
    assert_imported_as(type_id, index, imported, "fx_import")


# ---- torch.export and the dynamo ONNX exporter: every example, in the slow run
@pytest.mark.parametrize(("type_id", "index"), _params("torch_export", every=True))
def test_torch_export_computes_what_the_graph_does(type_id: str, index: int) -> None:
    c = case(type_id, index)
    program = torch.export.export(c.module, c.inputs)
    assert_same(_run(program.module(), c.inputs), c, "torch.export")


@pytest.mark.parametrize(("type_id", "index"), _params("onnx_dynamo", every=True))
def test_dynamo_onnx_export_runs_in_onnxruntime(type_id: str, index: int, tmp_path: Path) -> None:
    c = case(type_id, index)
    path = tmp_path / "one_layer.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(c.module, c.inputs, dynamo=True, opset_version=18)
        assert program is not None
        program.save(str(path), external_data=False)
    assert_same(_onnx_outputs(path, c), c, "onnxruntime (dynamo export)")


def test_every_listed_exception_names_a_layer_and_a_check() -> None:
    """The lists stay true to the catalog; `-s` prints them, for the report."""
    equivalents = {key: f"{sorted(types)}: {why}" for key, (types, why) in EQUIVALENTS.items()}
    for name, entries in (
        ("SKIPS", SKIPS),
        ("EQUIVALENTS", equivalents),
        ("TORCH_LIMITS", TORCH_LIMITS),
        ("NOT_YET_IMPORTED", NOT_YET_IMPORTED),
    ):
        print(f"{name} ({len(entries)}):")
        for key, reason in sorted(entries.items(), key=str):
            check, type_id, *index = key
            assert check in CHECKS and type_id in EXAMPLES, key
            assert not index or int(index[0]) < len(EXAMPLES[str(type_id)]), key
            where = f"{type_id}" + (f"-{index[0]}" if index else "")
            print(f"  {check!s:12} {where:34} {reason}")
    assert not set(SKIPS) & set(NOT_YET_IMPORTED) and not set(SKIPS) & set(TORCH_LIMITS)
