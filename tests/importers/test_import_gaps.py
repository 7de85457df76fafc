"""Gaps the import corpus found, closed: each model here stopped an import route before.

A score per sample (a discriminator's `.view(-1, 1).squeeze(1)`, shape (N)), a causal mask
applied with `masked_fill` (ONNX `Where` on a constant mask), and a class token expanded to
the batch (`expand(x.shape[0], -1, -1)`, ONNX `Expand` on `Shape(x)[0]`) each import from
Python (torch.export) and from torch's ONNX exporters, and reproduce the source.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from studio.compile.codegen import generate_code
from studio.compile.compiler import compile_graph
from studio.compile.summary import summarize
from studio.core.graph import Graph
from studio.core.registry import LayerRegistry
from studio.core.shapes import TensorShape
from studio.importers.command import check_outputs
from studio.importers.export_import import import_module_export
from studio.importers.mapping import ImportedModel, UnsupportedModelError
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
