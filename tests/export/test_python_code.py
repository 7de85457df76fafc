"""The Python export runs in a fresh interpreter that has torch but not the studio package."""

from __future__ import annotations

from pathlib import Path

import torch

from studio.export.project_export import export_project
from tests.export.conftest import load_template, template_inputs
from tests.export.fresh_interpreter import outputs_in_a_fresh_interpreter


def test_generated_model_runs_without_studio(tmp_path: Path):
    project = load_template("cnn_classifier")
    inputs, samples = template_inputs(project)
    report = export_project(project, "model", ["python"], tmp_path, inputs=inputs, samples=samples)
    folder = report.result("python").path
    assert folder is not None and (folder / "model.py").exists()
    outputs = outputs_in_a_fresh_interpreter(folder, samples, tmp_path)
    with torch.no_grad():
        expected = report_module_outputs(project, samples, folder)
    assert torch.allclose(outputs, expected, atol=1e-5)


def report_module_outputs(project, samples, folder: Path) -> torch.Tensor:
    """The compiled graph with the exported weights: what the app itself would predict."""
    from studio.compile.compiler import compile_graph

    module = compile_graph(project.main_graph).eval()
    module.load_state_dict(torch.load(folder / "weights.pt", weights_only=True))
    return module(*samples)


def test_generated_file_defines_a_readable_class_and_loader(tmp_path: Path):
    project = load_template("mlp_classifier")
    report = export_project(project, "model", ["python"], tmp_path)
    folder = report.result("python").path
    assert folder is not None
    source = (folder / "model.py").read_text(encoding="utf-8")
    assert "class MLPClassifier(nn.Module):" in source
    assert "def load_model(path=None):" in source
    assert "studio" not in source.replace("Strata Studio", "")
