"""File ▸ Export…: a trained iris run exported as ONNX and model.py, verified, off the Qt thread."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.ui.export_dialog import ExportDialog, folder_problem
from studio.ui.main_window import MainWindow

EXPORT_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def iris_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MLP template on iris, trained for one epoch (a real run beside the project)."""
    from studio.plugins import default_registry
    from studio.training.session import run_training

    folder = tmp_path_factory.mktemp("iris")
    path = folder / "iris.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", path)
    project = Project.load(path, default_registry())
    project.training = project.training.model_copy(update={"device": "cpu"})
    project.save(path)
    with open(folder / "progress.txt", "w") as progress:
        run_training(project, epochs=1, progress=progress)
    return path


def cell(dialog: ExportDialog, row: int, column: int) -> str:
    item = dialog.table.item(row, column)
    assert item is not None
    return item.text()


def open_dialog(qtbot, window: MainWindow, path: Path) -> ExportDialog:
    with qtbot.waitSignal(window.project_opened, timeout=30_000):
        window.open_project(path)
    # The runs are read in a worker: the action follows when they arrive.
    qtbot.waitUntil(window.export_action.isEnabled, timeout=30_000)
    dialog = window.show_export_dialog()
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: bool(dialog.format_boxes), timeout=60_000)
    return dialog


def test_export_is_disabled_without_a_trained_run(main_window: MainWindow) -> None:
    assert not main_window.export_action.isEnabled()
    assert main_window.show_export_dialog() is None


def test_onnx_and_python_are_exported_and_verified_in_a_worker(
    qtbot, main_window: MainWindow, iris_project: Path, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, main_window, iris_project)
    assert dialog.run_combo.count() == 1
    assert {"state_dict", "safetensors", "torchscript", "pt2", "onnx", "python"} <= set(
        dialog.format_boxes
    )
    dialog.set_formats(["onnx", "python"])
    out = tmp_path / "exported"
    dialog.folder_edit.setText(str(out))
    dialog.opset_spin.setValue(18)

    task = dialog.start_export()
    assert task is not None
    assert dialog.busy and not dialog.export_button.isEnabled()  # returned at once
    qtbot.waitUntil(lambda: not dialog.busy, timeout=EXPORT_TIMEOUT_MS)

    assert dialog.report is not None, dialog.message_label.text()
    assert dialog.table.rowCount() == 2
    for row, format_id in enumerate(("onnx", "python")):
        result = dialog.report.result(format_id)
        assert result.ok, result.reason
        assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-4
        assert result.path is not None and result.path.exists()
        assert cell(dialog, row, 4).startswith("✓ verified")
        assert float(cell(dialog, row, 3)) <= 1e-4
        assert cell(dialog, row, 1).rstrip("/") == result.path.name
    assert (out / "MLP_classifier.onnx").is_file()
    assert (out / "MLP_classifier_python" / "model.py").is_file()
    assert (out / "MLP_classifier_python" / "preprocessing.json").is_file()
    assert (out / "preprocessing.json").is_file()
    assert dialog.open_button.isEnabled()
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum()
    dialog.close()


def test_quantised_export_reports_the_accuracy_change_and_what_cannot_carry_it(
    qtbot, main_window: MainWindow, iris_project: Path, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, main_window, iris_project)
    dialog.set_formats(["torchscript", "onnx"])
    dialog.quantize_box.setChecked(True)
    dialog.folder_edit.setText(str(tmp_path / "int8"))
    assert dialog.start_export() is not None
    qtbot.waitUntil(lambda: not dialog.busy, timeout=EXPORT_TIMEOUT_MS)
    report = dialog.report
    assert report is not None and report.quantization is not None
    assert report.result("torchscript").ok
    assert "accuracy" in dialog.quantization_label.text()
    onnx = report.result("onnx")
    assert not onnx.ok and onnx.stage == "check"
    assert "cannot carry dynamically quantised layers" in cell(dialog, 1, 4)
    dialog.close()


def test_an_unusable_folder_is_refused_with_a_clear_message(
    qtbot, main_window: MainWindow, iris_project: Path, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, main_window, iris_project)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    dialog.folder_edit.setText(str(a_file))
    assert dialog.start_export() is None
    assert "is a file" in dialog.message_label.text()
    dialog.folder_edit.setText(str(a_file / "inside"))
    assert dialog.start_export() is None
    assert "cannot be created" in dialog.message_label.text()
    dialog.folder_edit.setText("")
    assert dialog.start_export() is None
    assert "Choose an output folder" in dialog.message_label.text()
    assert dialog.table.rowCount() == 0 and not dialog.busy
    dialog.close()


def test_folder_problem_probes_for_write_access() -> None:
    assert "not writable" in folder_problem("/proc/strata_export")
    assert folder_problem("/tmp/strata_export_check/sub") == ""
