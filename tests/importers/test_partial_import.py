"""`studio import --partial`: a model with constructs the catalog cannot express still gives
the user what mapped, as a project that opens, says what is missing and holds no weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from studio.cli import main
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.training.runs import runs_folder
from tests.importers.onnx_models import export_onnx

MODELS = Path(__file__).with_name("export_models.py")


def test_a_partial_python_import_keeps_what_mapped(
    tmp_path: Path, registry: LayerRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "noise.strata"
    args = ["import", f"{MODELS}:OtherNoise", "--out", str(out), "--input", "2,3"]
    assert main(args) == 1
    assert not out.exists()  # without --partial, nothing is written
    assert main([*args, "--partial"]) == 1
    printed = capsys.readouterr().err
    assert "written in part" in printed and "partial project" in printed
    project = Project.load(out, registry)
    names = {node.name: node.type_id for node in project.main_graph.nodes}
    assert names["randn_like_stand_in"] == "studio.Input"
    assert "studio.Add" in names.values() and "studio.Output" in names.values()
    assert "randn_like" in project.description and "No weights" in project.description
    assert not runs_folder(out).exists()


class Flipped(nn.Module):
    example_input_shape = (2, 4, 6)

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(x).flip(1))


def test_a_partial_onnx_import_keeps_what_mapped(
    tmp_path: Path, registry: LayerRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export_onnx(Flipped(), tmp_path / "flipped.onnx")
    out = tmp_path / "flipped.strata"
    assert main(["import", str(path), "--out", str(out), "--partial"]) == 1
    assert "step -1" in capsys.readouterr().err
    project = Project.load(out, registry)
    types = [node.type_id for node in project.main_graph.nodes]
    assert "studio.ReLU" in types and "studio.Linear" in types
    assert any(node.name.endswith("_stand_in") for node in project.main_graph.nodes)
