"""Gaps the import corpus found, closed: each model here stopped an import route before.

A score per sample (a discriminator's `.view(-1, 1).squeeze(1)`, shape (N)), a causal mask
applied with `masked_fill` (ONNX `Where` on a constant mask), and a class token expanded to
the batch (`expand(x.shape[0], -1, -1)`, ONNX `Expand` on `Shape(x)[0]`) each import from
Python (torch.export) and from torch's ONNX exporters, and reproduce the source.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from studio.compile.codegen import generate_code
from studio.compile.compiler import compile_graph
from studio.compile.summary import summarize
from studio.core.graph import Graph
from studio.core.registry import LayerRegistry
from studio.core.shapes import TensorShape
from studio.importers.command import check_outputs
from studio.importers.export_import import import_module_export
from studio.importers.mapping import ImportedModel, ImportFailure, UnsupportedModelError
from studio.importers.onnx_import import import_onnx_file
from studio.training.losses import make_loss, match_target
from tests.importers.onnx_models import export_onnx

pytestmark = pytest.mark.timeout(120)


def _types(imported: ImportedModel) -> list[str]:
    return [node.type_id for node in imported.project.main_graph.nodes]


def _imports(
    module: nn.Module, route: str, registry: LayerRegistry, tmp_path: Path
) -> ImportedModel:
    """`module` imported by one route, checked to reproduce its source's outputs."""
    if route == "python":
        imported = import_module_export(module, registry)
    else:
        imported = import_onnx_file(_export(module, tmp_path, route == "onnx-dynamo"), registry)
    assert check_outputs(imported) <= 1e-5
    return imported


def _export(module: nn.Module, folder: Path, dynamo: bool) -> Path:
    """torch's export as most files in the wild are written: the example's batch fixed."""
    path = folder / ("dynamo.onnx" if dynamo else "model.onnx")
    example = torch.randn(*module.example_input_shape)  # type: ignore[arg-type]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), str(path), dynamo=dynamo)
    return path


# --- one value per sample ----------------------------------------------------------------------


class Scorer(nn.Module):
    """A DCGAN discriminator's ending: a 1x1 map of one channel, one score per sample."""

    example_input_shape = (2, 3, 8, 8)

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(3, 1, 8), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


@pytest.mark.parametrize("route", ["python", "onnx-torchscript", "onnx-dynamo"])
def test_a_score_per_sample_imports(route: str, registry: LayerRegistry, tmp_path: Path) -> None:
    imported = _imports(Scorer(), route, registry, tmp_path)
    assert "studio.Squeeze" in _types(imported)
    assert imported.expected[0].shape == (2,)


class FlatScorer(nn.Module):
    """A regression head's ending: (N, 1) viewed as (N)."""

    example_input_shape = (2, 5)

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x).view(-1)


@pytest.mark.parametrize("route", ["python", "onnx-torchscript"])
def test_a_view_to_one_value_per_sample_imports(
    route: str, registry: LayerRegistry, tmp_path: Path
) -> None:
    imported = _imports(FlatScorer(), route, registry, tmp_path)
    assert _types(imported) == ["studio.Input", "studio.Linear", "studio.Squeeze", "studio.Output"]


def test_an_if_on_a_shape_test_is_refused_not_read_as_a_constant(
    registry: LayerRegistry, tmp_path: Path
) -> None:
    """With a dynamic batch, the legacy exporter writes `.squeeze(1)` as an If on the size of
    dim 1, whose branches read the activation without listing it as an input. Taken for a
    constant, the output became the example's values (a Constant layer) and reproduced them."""
    path = export_onnx(Scorer(), tmp_path / "dynamic.onnx")
    with pytest.raises(UnsupportedModelError, match="operator If"):
        import_onnx_file(path, registry)


def test_a_score_per_sample_compiles_summarises_trains_and_writes_code(
    registry: LayerRegistry,
) -> None:
    """(N) flows on: the Output takes it, BCE on (N) targets, the summary and the code."""
    graph = Graph(registry)
    ids = []
    for type_id, params in (
        ("studio.Input", {"shape": [4]}),
        ("studio.Linear", {"out_features": 1}),
        ("studio.Squeeze", {"dim": 1}),
        ("studio.Output", {}),
    ):
        node = graph.add_node(type_id, params=params)
        if ids:
            graph.connect(ids[-1], "out", node.id, graph.input_ports(node.id)[0])
        ids.append(node.id)
    summary = summarize(graph)
    squeeze = next(row for row in summary.rows if row.layer == "Squeeze")
    assert squeeze.output_shape == "(N)"
    assert "(N)" in summary.format_table()
    model = compile_graph(graph)
    output = model(torch.randn(5, 4))
    assert output.shape == (5,)
    loss = make_loss("bce")
    target = match_target("bce", output, torch.tensor([0, 1, 1, 0, 1]))
    loss(output, target).backward()
    code = generate_code(graph, class_name="Scorer")
    namespace: dict[str, object] = {}
    exec(compile(code, "scorer.py", "exec"), namespace)  # our own generated code
    rebuilt = namespace["Scorer"]()
    assert rebuilt(torch.randn(3, 4)).shape == (3,)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("type_id", "params", "dims"),
    [
        ("studio.Squeeze", {"dim": 1}, (1,)),
        ("studio.Squeeze", {"dim": -1}, (1,)),
        ("studio.Select", {"dim": 1, "index": 0}, (3,)),
        ("studio.SelectLast", {}, (3,)),
    ],
)
def test_rules_give_one_value_per_sample_where_torch_does(
    registry: LayerRegistry, type_id: str, params: dict[str, int], dims: tuple[int, ...]
) -> None:
    from studio.layers import load_shape_rule

    spec = registry.get(type_id)
    rule = load_shape_rule(spec)
    assert rule is not None
    (shape,) = rule(spec.validate_params(params), [TensorShape(dims)])
    assert shape == TensorShape(())
    assert str(shape) == "(N)"


# --- a class token expanded to the batch -------------------------------------------------------


class ClassToken(nn.Module):
    """A vision transformer's start: `cls_token.expand(x.shape[0], -1, -1)` joined to tokens."""

    example_input_shape = (2, 4, 8)

    def __init__(self) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, 8))
        self.pos_embed = nn.Parameter(torch.randn(1, 5, 8))
        self.proj = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat((cls, x), dim=1) + self.pos_embed


@pytest.mark.parametrize("dynamic_batch", [False, True], ids=["fixed-batch", "dynamic-batch"])
def test_a_class_token_expanded_to_the_batch_imports_from_the_legacy_exporter(
    dynamic_batch: bool, registry: LayerRegistry, tmp_path: Path
) -> None:
    """The exporter writes the sizes as Where(Equal(sizes, -1), 1, sizes) with the batch from
    Shape(x)[0] (or the example's 2): the check folds them, the token is a per-model tensor."""
    module = ClassToken().eval()
    if dynamic_batch:
        path = export_onnx(module, tmp_path / "model.onnx")
    else:
        path = _export(module, tmp_path, dynamo=False)
    imported = import_onnx_file(path, registry)
    assert check_outputs(imported) <= 1e-5
    graph = imported.project.main_graph
    token = next(n for n in graph.nodes if n.type_id == "studio.Constant")
    assert token.params["shape"] == (1, 8)
    assert "studio.Concat" in _types(imported)


def test_a_size_built_from_the_batch_is_still_bounded(
    registry: LayerRegistry, tmp_path: Path
) -> None:
    """Folding Shape(x)[0] makes an Expand's size known before running, so a huge one is
    refused by its size, nothing run (it used to be refused as unknown)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Mul", ["batch", "million"], ["side"]),
        helper.make_node("Concat", ["side", "side"], ["dims"], axis=0),
        helper.make_node("Expand", ["one", "dims"], ["wide"], name="expand"),
        helper.make_node("ReduceSum", ["wide"], ["total"], keepdims=1),
        helper.make_node("Add", ["x", "total"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [
            numpy_helper.from_array(np.array([0], np.int64), "zero"),
            numpy_helper.from_array(np.array([1_000_000], np.int64), "million"),
            numpy_helper.from_array(np.ones((1, 1), np.float32), "one"),
        ],
    )
    path = tmp_path / "hostile.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(ImportFailure, match="nothing was run") as refused:
        import_onnx_file(path, registry)
    assert "node 'expand' (Expand) making 'wide' (2000000×2000000)" in str(refused.value)


# --- a causal mask applied with masked_fill ----------------------------------------------------


class CausalAttention(nn.Module):
    """minGPT's attention: a (1, 1, B, B) lower-triangular buffer, masked_fill with -inf."""

    example_input_shape = (2, 6, 8)

    def __init__(self, embed: int = 8, heads: int = 2, block: int = 8) -> None:
        super().__init__()
        self.c_attn = nn.Linear(embed, 3 * embed)
        self.c_proj = nn.Linear(embed, embed)
        self.heads, self.embed = heads, embed
        self.register_buffer("bias", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(self.embed, dim=2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
        y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)


@pytest.mark.parametrize("route", ["onnx-torchscript", "onnx-dynamo"])
def test_a_masked_fill_causal_mask_is_the_attention_causal_flag(
    route: str, registry: LayerRegistry, tmp_path: Path
) -> None:
    """ONNX Where(mask == 0, -inf, scores) is the additive causal mask the pattern knew."""
    imported = _imports(CausalAttention(), route, registry, tmp_path)
    (attention,) = [
        n for n in imported.project.main_graph.nodes if n.type_id == "studio.MultiheadAttention"
    ]
    assert attention.params["causal"] is True


class MaskedSoftmax(nn.Module):
    """A masked_fill outside any attention: the Where becomes the addition of a constant."""

    example_input_shape = (2, 4, 4)

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("keep", torch.tril(torch.ones(6, 6)).view(1, 6, 6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.size(1)
        return x.masked_fill(self.keep[:, :t, :t] == 0, float("-inf")).softmax(-1)


def test_a_masked_fill_on_a_constant_mask_is_an_added_constant(
    registry: LayerRegistry, tmp_path: Path
) -> None:
    imported = _imports(MaskedSoftmax(), "onnx-torchscript", registry, tmp_path)
    assert _types(imported) == [
        "studio.Input",
        "studio.Constant",
        "studio.Add",
        "studio.Softmax",
        "studio.Output",
    ]
    mask = next(n for n in imported.project.main_graph.nodes if n.type_id == "studio.Constant")
    values = imported.state_dict[f"{mask.name}.value"]
    assert torch.isinf(values).sum() == 6 and values.max() == 0  # above the diagonal of 4x4


# --- layers the legacy exporter spells out -----------------------------------------------------


def test_group_norm_with_its_learned_scale_and_shift_imports_as_one_layer(
    registry: LayerRegistry, tmp_path: Path
) -> None:
    """Reshape to (N, G, rest), InstanceNormalization, Reshape back, Mul and Add: GroupNorm."""
    module = nn.GroupNorm(2, 4, eps=1e-3)
    with torch.no_grad():
        module.weight.uniform_(0.5, 1.5)
        module.bias.uniform_(-1.0, 1.0)
    module.example_input_shape = (2, 4, 3, 3)  # type: ignore[assignment]
    imported = _imports(module, "onnx-torchscript", registry, tmp_path)
    norm = next(n for n in imported.project.main_graph.nodes if n.type_id == "studio.GroupNorm")
    assert _types(imported) == ["studio.Input", "studio.GroupNorm", "studio.Output"]
    assert norm.params["num_groups"] == 2 and norm.params["eps"] == 1e-3
    assert torch.equal(imported.state_dict[f"{norm.name}.weight"], module.weight.detach())


class ThreeStacked(nn.Module):
    example_input_shape = (2, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack((x, x.exp(), x.abs()), dim=-1)


def test_three_tensors_stacked_import_as_one_stack(registry: LayerRegistry, tmp_path: Path) -> None:
    imported = _imports(ThreeStacked(), "onnx-torchscript", registry, tmp_path)
    (stack,) = [n for n in imported.project.main_graph.nodes if n.type_id == "studio.Stack"]
    assert stack.params["inputs"] == 3 and "studio.Unsqueeze" not in _types(imported)
