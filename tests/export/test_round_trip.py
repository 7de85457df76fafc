"""Every template in every format: written, reloaded with its own runtime, same outputs."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from studio.export.exporters import FORMATS
from studio.export.project_export import ExportReport, export_project
from studio.export.subject import TOLERANCE
from tests.export.conftest import ROUND_TRIP_TEMPLATES, load_template, template_inputs


@pytest.fixture(scope="module", params=ROUND_TRIP_TEMPLATES)
def exported(request, tmp_path_factory) -> tuple[str, ExportReport]:
    project = load_template(request.param)
    inputs, samples = template_inputs(project)
    out = tmp_path_factory.mktemp(request.param)
    report = export_project(
        project,
        next(iter(project.graphs)),
        FORMATS,
        out,
        inputs=inputs,
        samples=samples,
        metrics={"accuracy": 0.5},
    )
    return request.param, report


def test_every_format_verifies_within_tolerance(exported):
    stem, report = exported
    for result in report.results:
        assert result.ok, f"{stem}: {result.describe()}"
        assert result.max_abs_diff is not None and result.max_abs_diff <= TOLERANCE
        assert result.path is not None and result.path.exists() and result.size_bytes > 0
    assert [r.format for r in report.results] == list(FORMATS)


def test_onnx_is_one_file_with_a_symbolic_batch(exported):
    _, report = exported
    path = report.result("onnx").path
    assert path is not None
    model = onnx.load(str(path))
    # Samples (batch 5) differ from the traced batch (3): onnxruntime ran them, and the
    # graph declares the batch as a name, not a number.
    for graph_input in model.graph.input:
        assert graph_input.type.tensor_type.shape.dim[0].dim_param
    assert not any(p.name != path.name for p in path.parent.glob(f"{path.name}*"))


def test_no_temporary_files_are_left(exported):
    _, report = exported
    assert report.model_card is not None
    leftovers = [p.name for p in report.model_card.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_model_card_mentions_every_format_and_how_to_load_it(exported):
    _, report = exported
    assert report.model_card is not None
    card = report.model_card.read_text(encoding="utf-8")
    for result in report.results:
        assert f"`{result.format}`" in card
        assert isinstance(result.path, Path) and result.path.name in card
    for heading in ("## Architecture", "## Data", "## Preprocessing", "## Training", "## Metrics"):
        assert heading in card
    assert "| accuracy | 0.5 |" in card
    assert "torch.jit.load" in card and "onnxruntime.InferenceSession" in card
    assert "Total parameters" in card
