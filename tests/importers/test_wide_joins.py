"""A concatenation of more tensors than one Concat node takes (a DenseNet block joins up to 25)
imports, from Python and from both ONNX exporters, as a tree of Concats computing the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs
from studio.importers.fx_import import import_module
from studio.importers.onnx_import import import_onnx_file
from tests.importers.onnx_models import export_onnx


class DenseBlock(nn.Module):
    """Eleven layers, each reading the concatenation of everything before it (growth 2)."""

    example_input_shape = (2, 3, 6, 6)

    def __init__(self, layers: int = 11) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Conv2d(3 + 2 * i, 2, 3, padding=1) for i in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(torch.relu(layer(torch.cat(features, 1))))
        return torch.cat(features, 1)  # twelve tensors


def _check(imported, registry: LayerRegistry) -> None:
    assert check_outputs(imported) <= 1e-5
    graph = imported.project.main_graph
    concats = [n for n in graph.nodes if n.type_id == "studio.Concat"]
    assert max(n.params["inputs"] for n in concats) <= 8
    assert len(concats) > 11  # the wide joins became trees, not refusals
    names = {n.name for n in graph.nodes}
    assert any(name.endswith("_part1") for name in names)


def test_a_wide_concatenation_imports_from_python(registry: LayerRegistry) -> None:
    _check(import_module(DenseBlock().eval(), registry), registry)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_a_wide_concatenation_imports_from_onnx(
    registry: LayerRegistry, tmp_path: Path, dynamo: bool
) -> None:
    path = export_onnx(DenseBlock(), tmp_path / "dense.onnx", dynamo=dynamo)
    _check(import_onnx_file(path, registry), registry)
