"""Atomic writes, file naming across graphs, and the output comparison itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from studio.export.atomic import atomic_file, atomic_folder
from studio.export.project_export import export_project
from studio.export.verification import compare_outputs
from tests.export.conftest import load_template


def test_atomic_file_keeps_the_old_file_when_writing_fails(tmp_path: Path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_bytes(b"new but incomplete")
        raise RuntimeError("exporter crashed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_atomic_folder_replaces_a_previous_export(tmp_path: Path):
    target = tmp_path / "model_python"
    target.mkdir()
    (target / "stale.txt").write_text("from an older export")
    with atomic_folder(target) as tmp:
        (tmp / "model.py").write_text("x = 1\n")
    assert [p.name for p in target.iterdir()] == ["model.py"]
    assert [p.name for p in tmp_path.iterdir()] == ["model_python"]


def test_each_graph_of_a_gan_gets_its_own_files(tmp_path: Path):
    project = load_template("gan")
    names = []
    for graph_name in project.graphs:
        report = export_project(project, graph_name, ["onnx", "python"], tmp_path)
        assert report.ok, report.describe()
        names += [r.path.name for r in report.results if r.path is not None]
        assert report.model_card is not None and graph_name in report.model_card.name
    assert len(set(names)) == len(names) == 4


def test_compare_outputs_reports_the_largest_difference():
    want = [torch.zeros(2, 3)]
    got = [np.full((2, 3), 2e-5, dtype=np.float32)]
    result = compare_outputs(want, got)
    assert result.ok and result.max_abs_diff == pytest.approx(2e-5)


@pytest.mark.parametrize(
    ("got", "reason"),
    [
        ([torch.zeros(2, 4)], "output 0 has shape (2, 4); the model gives (2, 3)"),
        ([torch.zeros(2, 3), torch.zeros(1)], "the export returns 2 outputs; the model returns 1"),
        ([torch.full((2, 3), float("nan"))], "NaN values"),
        ([torch.full((2, 3), 1e-3)], "differ from the model by up to 0.001"),
    ],
)
def test_compare_outputs_fails_with_a_reason(got, reason):
    result = compare_outputs([torch.zeros(2, 3)], got)
    assert not result.ok
    assert reason in result.reason


def test_verification_is_relative_to_large_outputs() -> None:
    """float32 keeps about 7 digits: logits near 1e8 (a randomly initialised Inception) differ
    by tens after any reordering of sums, which is agreement; near 1, 1e-3 is not."""
    large = torch.tensor([[1.0e8, -3.0e7]])
    assert compare_outputs([large], [large + 50.0]).ok
    assert not compare_outputs([large], [large + 5.0e4]).ok
    small = torch.tensor([[0.5, -0.25]])
    result = compare_outputs([small], [small + 1e-3])
    assert not result.ok and "more than 0.0001" in result.reason


def test_a_small_output_is_not_excused_by_a_large_one() -> None:
    large, small = torch.tensor([1.0e8]), torch.tensor([0.5])
    result = compare_outputs([large, small], [large, small + 1e-2])
    assert not result.ok and "more than 0.0001" in result.reason
