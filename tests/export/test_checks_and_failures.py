"""What a format cannot carry is reported before writing; failures are recorded with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from studio.export.errors import ExportError
from studio.export.exporters import get_exporter
from studio.export.project_export import export_formats, export_project
from studio.export.subject import ExportOptions, ExportSubject


class VariadicForward(nn.Module):
    """TorchScript cannot script ``*args``, but tracing works: the fallback case."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, x, *extra):
        return self.linear(x)


class Histogram(nn.Module):
    """`torch.histc` has no ONNX translation for the default range: a real unsupported op."""

    def forward(self, x):
        return torch.histc(x, bins=4)


def subject_for(module: nn.Module, shape: tuple[int, ...]) -> ExportSubject:
    module.eval()
    inputs = (torch.randn(3, *shape),)
    return ExportSubject(module, inputs, (torch.randn(5, *shape),), rebuild=type(module))


def test_torchscript_falls_back_to_trace_with_a_note(out_dir: Path):
    subject = subject_for(VariadicForward(), (4,))
    plan = get_exporter("torchscript").check(subject, ExportOptions())
    assert not plan.blockers
    assert any("traced instead" in note for note in plan.notes)
    [result] = export_formats(subject, ["torchscript"], out_dir)
    assert result.ok, result.describe()
    assert any("traced instead" in note for note in result.notes)


def test_an_op_onnx_cannot_carry_is_reported_before_writing(out_dir: Path):
    subject = subject_for(Histogram(), (4, 4))
    stages: list[str] = []
    [result] = export_formats(
        subject, ["onnx"], out_dir, progress=lambda _f, stage, _p: stages.append(stage)
    )
    assert not result.ok and result.stage == "check" and result.path is None
    assert "aten.histc" in result.reason
    assert stages == ["check"]
    assert list(out_dir.iterdir()) == []


def test_one_failed_format_does_not_stop_the_others(out_dir: Path):
    subject = subject_for(Histogram(), (4, 4))
    onnx_result, script_result = export_formats(subject, ["onnx", "torchscript"], out_dir)
    assert not onnx_result.ok
    assert script_result.ok, script_result.describe()


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))


@pytest.mark.parametrize("format_id", ["onnx", "torchscript", "state_dict"])
def test_a_file_corrupted_before_verification_fails_with_its_reason(
    mlp_project, out_dir, format_id
):
    def corrupt_before_verify(_format: str, stage: str, path: Path | None) -> None:
        if stage == "verify" and path is not None:
            _corrupt(path)

    report = export_project(
        mlp_project, "model", [format_id], out_dir, progress=corrupt_before_verify
    )
    result = report.result(format_id)
    assert not result.ok and result.stage == "verify"
    assert result.max_abs_diff == float("inf")
    assert "cannot" in result.reason
    assert report.model_card is not None
    card = report.model_card.read_text(encoding="utf-8")
    assert "**failed**" in card


def test_weights_that_change_outputs_fail_verification_with_the_difference(mlp_project, out_dir):
    def tamper(_format: str, stage: str, path: Path | None) -> None:
        if stage == "verify" and path is not None:
            state = torch.load(path, weights_only=True)
            state = {k: v + 0.5 if v.is_floating_point() else v for k, v in state.items()}
            torch.save(state, path)

    report = export_project(mlp_project, "model", ["state_dict"], out_dir, progress=tamper)
    result = report.result("state_dict")
    assert not result.ok
    assert result.max_abs_diff is not None and result.max_abs_diff > 1e-4
    assert "differ from the model by up to" in result.reason


def test_a_write_failure_is_recorded_and_leaves_no_temporary_file(
    mlp_project, out_dir, monkeypatch
):
    exporter = get_exporter("safetensors")

    def broken_write(plan, path):
        from studio.export.atomic import atomic_file

        with atomic_file(path) as tmp:
            tmp.write_bytes(b"half")
            raise OSError("disk full")

    monkeypatch.setattr(exporter, "write", broken_write)
    report = export_project(mlp_project, "model", ["safetensors", "state_dict"], out_dir)
    failed, written = report.results
    assert not failed.ok and failed.stage == "write" and "disk full" in failed.reason
    assert written.ok
    assert not any(p.name.startswith(".") for p in out_dir.iterdir())


def test_unknown_format_is_a_clear_error(mlp_project, out_dir):
    with pytest.raises(ExportError, match="'tflite' is not an export format; choose one of"):
        export_project(mlp_project, "model", ["onnx", "tflite"], out_dir)
    assert not out_dir.exists()


def test_an_output_path_that_is_a_file_is_a_clear_error(mlp_project, tmp_path):
    target = tmp_path / "taken.txt"
    target.write_text("x")
    with pytest.raises(ExportError, match="is a file; choose a folder"):
        export_project(mlp_project, "model", ["onnx"], target)


def test_unknown_graph_and_mismatched_weights_are_clear_errors(mlp_project, out_dir):
    with pytest.raises(ExportError, match="has no graph 'generator'"):
        export_project(mlp_project, "generator", ["onnx"], out_dir)
    with pytest.raises(ExportError, match="the weights do not fit the graph"):
        export_project(mlp_project, "model", ["onnx"], out_dir, state_dict={"nope": torch.zeros(1)})


def test_trained_weights_are_the_ones_exported(mlp_project, out_dir):
    from studio.compile.compiler import compile_graph

    trained = compile_graph(mlp_project.main_graph).state_dict()
    trained = {
        k: torch.full_like(v, 0.01) if v.is_floating_point() else v for k, v in trained.items()
    }
    report = export_project(mlp_project, "model", ["safetensors"], out_dir, state_dict=trained)
    from safetensors.torch import load_file

    written = load_file(str(report.result("safetensors").path))
    assert all(torch.equal(written[k], v) for k, v in trained.items())


class FixedBatch(nn.Module):
    """Reshapes to a constant batch of 3: no symbolic batch is possible."""

    def forward(self, x):
        return x.reshape(3, -1) * 2


def test_a_batch_that_cannot_be_dynamic_is_noted_and_caught_by_verification(out_dir: Path):
    subject = subject_for(FixedBatch(), (4,))
    pt2, onnx = export_formats(subject, ["pt2", "onnx"], out_dir)
    for result in (pt2, onnx):
        assert any("batch size is fixed at 3" in note for note in result.notes)
        # The samples have a batch of 5: the fixed-batch file cannot run them.
        assert not result.ok and result.stage == "verify" and result.reason
