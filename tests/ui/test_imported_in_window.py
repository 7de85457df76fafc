"""An imported model (no dataset) in the window: Explain on a .npy input or a random one,
Evaluation says what to set, the Export dialog exports and verifies it.

The model is imported as `studio import` does it (`import_source`, `check_outputs`,
`write_import`): a project naming no data beside a run holding the imported weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from studio.ui.evaluation_tab import NO_DATA
from studio.ui.explain_tab import GIVEN_INPUT, NO_DATA_MEAN, ExplainTab
from studio.ui.export_dialog import ExportDialog
from studio.ui.main_window import MainWindow
from tests.importers.conftest import SOURCE_MODELS

TIMEOUT_MS = 60_000
LENET_INPUT = (1, 28, 28)


@pytest.fixture(scope="module")
def imported_lenet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LeNet imported from its Python class, no `--dataset`: the project names no data."""
    from studio.importers.command import check_outputs, import_source, write_import
    from studio.plugins import default_registry

    out = tmp_path_factory.mktemp("imported_lenet") / "lenet.strata"
    imported = import_source(f"{SOURCE_MODELS}:LeNet", default_registry())
    assert not imported.project.data.names_data
    write_import(imported, out, check_outputs(imported))
    return out


def open_project(qtbot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.project_opened, timeout=TIMEOUT_MS):
        window.open_project(path)


def open_explain(qtbot, window: MainWindow, path: Path) -> ExplainTab:
    open_project(qtbot, window, path)
    window.show_explain_tab()
    tab = window.explain_tab
    qtbot.waitUntil(lambda: tab.loaded is not None or tab.error is not None, timeout=TIMEOUT_MS)
    assert tab.error is None, tab.error
    return tab


def explain_with(qtbot, tab: ExplainTab, method: str) -> np.ndarray:
    """Click Explain with one method checked; the heatmap's values for the one input."""
    tab.set_methods([method])
    qtbot.mouseClick(tab.explain_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy and len(tab.results) == 1, timeout=TIMEOUT_MS)
    (panel,) = tab.results
    assert panel.result.error is None, panel.result.error
    assert len(panel.heatmaps) == 1  # an image's view, as for a dataset sample
    values = panel.result.attribution.values
    assert values.shape == (1, *LENET_INPUT)
    assert np.isfinite(values).all() and np.abs(values).sum() > 0
    assert np.isfinite(panel.heatmaps[0].heat).all()
    return values


@pytest.mark.timeout(120)
def test_explain_tab_explains_a_npy_input_and_a_random_input_without_data(
    qtbot, main_window: MainWindow, imported_lenet: Path, tmp_path: Path
) -> None:
    tab = open_explain(qtbot, main_window, imported_lenet)
    assert tab.loaded is not None and tab.loaded.data is None and tab.loaded.kind == "image"
    assert tab.open_input_button.isVisible() and tab.random_input_button.isVisible()
    assert not tab.open_file_button.isVisible()
    assert "names no data" in tab.samples_label.text()
    assert "one input of shape (1, 28, 28) (float32)" in tab.open_input_button.toolTip()
    mean = tab.baseline_combo.model().item(2)  # type: ignore[attr-defined]
    assert not mean.isEnabled() and mean.toolTip() == NO_DATA_MEAN
    assert not tab.global_button.isVisible()

    # A file of the wrong shape: the CLI's sentence, in red, nothing selected to explain.
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((3, 28, 28), dtype=np.float32))
    task = tab.load_input(wrong)  # what "Open input…" calls once the file dialog answers
    assert task is not None
    qtbot.waitUntil(lambda: task.done, timeout=TIMEOUT_MS)
    assert tab.file_error.isVisible()
    assert "takes one sample of shape (1, 28, 28)" in tab.file_error.text()

    sample = tmp_path / "digit.npy"
    given = np.random.default_rng(3).standard_normal(LENET_INPUT).astype(np.float32)
    np.save(sample, given)
    task = tab.load_input(sample)
    assert task is not None
    qtbot.waitUntil(lambda: task.done, timeout=TIMEOUT_MS)
    assert not tab.file_error.isVisible()
    assert tab.selected_indices() == [GIVEN_INPUT]
    explain_with(qtbot, tab, "IntegratedGradients")
    np.testing.assert_array_equal(tab.results[0].result.attribution.inputs[0], given)
    assert "Convergence δ" in tab.results[0].checks.text()

    qtbot.mouseClick(tab.random_input_button, Qt.MouseButton.LeftButton)
    assert tab.selected_indices() == [GIVEN_INPUT]
    assert "random input" in tab.sample_list.selectedItems()[0].text()
    explain_with(qtbot, tab, "Saliency")


def test_evaluation_tab_says_to_choose_data(
    qtbot, main_window: MainWindow, imported_lenet: Path
) -> None:
    open_project(qtbot, main_window, imported_lenet)
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    qtbot.waitUntil(lambda: tab.run_combo.count() == 1, timeout=TIMEOUT_MS)
    assert tab.pages.currentWidget() is tab.message_label
    assert tab.message_label.text() == NO_DATA
    assert "Data tab" in NO_DATA
    assert not tab.evaluate_button.isEnabled()
    assert "Data tab" in tab.evaluate_button.toolTip()
    assert tab.evaluate() is None and tab.error is None  # no worker, no traceback


@pytest.mark.timeout(120)
def test_export_dialog_exports_an_imported_project_to_onnx(
    qtbot, main_window: MainWindow, imported_lenet: Path, tmp_path: Path
) -> None:
    open_project(qtbot, main_window, imported_lenet)
    qtbot.waitUntil(main_window.export_action.isEnabled, timeout=TIMEOUT_MS)
    dialog = main_window.show_export_dialog()
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: bool(dialog.format_boxes), timeout=TIMEOUT_MS)
    try:
        for format_id, box in dialog.format_boxes.items():
            if box.isChecked() != (format_id == "onnx"):
                # On the tick box itself: the box's centre may lie past its label's end.
                qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
        assert dialog.chosen_formats() == ("onnx",)
        out = tmp_path / "exported"
        dialog.folder_edit.clear()
        qtbot.keyClicks(dialog.folder_edit, str(out))
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.busy and dialog.report is not None, timeout=TIMEOUT_MS)
        report = dialog.report
        assert report is not None
        result = report.result("onnx")
        # Verified on a random input of the Input node's recorded shape: there is no data.
        assert result.ok, result.reason
        assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-4
        assert dialog.table.item(0, 4).text().startswith("✓ verified")
        assert result.path is not None and result.path.is_file()
    finally:
        dialog.close()


IRIS_MODEL = """
import torch
from torch import nn


class IrisNet(nn.Module):
    example_input_shape = (2, 4)

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)
"""


TOKEN_MODEL = """
import torch
from torch import nn


class TokenClassifier(nn.Module):
    example_input_shape = (2, 6)

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids).mean(dim=1))
"""


def import_class(folder: Path, source: str, class_name: str) -> Path:
    """`studio import FILE.py:CLASS` without `--dataset`, as the command does it."""
    from studio.importers.command import check_outputs, import_source, write_import
    from studio.plugins import default_registry

    module = folder / f"{class_name.lower()}.py"
    module.write_text(source)
    imported = import_source(f"{module}:{class_name}", default_registry())
    project_path = folder / f"{class_name.lower()}.strata"
    write_import(imported, project_path, check_outputs(imported))
    return project_path


@pytest.fixture(scope="module")
def imported_iris_net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return import_class(tmp_path_factory.mktemp("iris_net"), IRIS_MODEL, "IrisNet")


@pytest.fixture(scope="module")
def imported_tokens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return import_class(tmp_path_factory.mktemp("tokens"), TOKEN_MODEL, "TokenClassifier")


@pytest.mark.timeout(120)
def test_evaluation_runs_on_the_data_chosen_after_importing(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    """ "Evaluate (when data is set)": the imported run is evaluated on the Data tab's choice."""
    from studio.importers.command import check_outputs, import_source, write_import
    from studio.plugins import default_registry

    source = tmp_path / "iris_net.py"
    source.write_text(IRIS_MODEL)
    imported = import_source(f"{source}:IrisNet", default_registry())
    project_path = tmp_path / "iris_net.strata"
    write_import(imported, project_path, check_outputs(imported))
    open_project(qtbot, main_window, project_path)
    main_window.show_data_tab()
    main_window.data_tab.choose_dataset("iris")
    assert main_window.project is not None and main_window.project.data.dataset == "iris"
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    qtbot.waitUntil(tab.evaluate_button.isEnabled, timeout=TIMEOUT_MS)
    assert tab.message_label.text() != NO_DATA
    with qtbot.waitSignal(tab.evaluation_shown, timeout=TIMEOUT_MS):
        qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
    assert tab.error is None, tab.error
    assert tab.evaluation is not None and tab.evaluation.samples > 0
    assert tab.evaluation.classification is not None  # iris's three classes, the run's weights


@pytest.mark.timeout(120)
def test_random_inputs_of_a_table_and_of_token_ids_show_bars_and_tokens(
    qtbot, main_window: MainWindow, imported_iris_net: Path, imported_tokens: Path
) -> None:
    tab = open_explain(qtbot, main_window, imported_iris_net)
    assert tab.loaded is not None and tab.loaded.kind == "table"
    qtbot.mouseClick(tab.random_input_button, Qt.MouseButton.LeftButton)
    tab.set_methods(["IntegratedGradients"])
    qtbot.mouseClick(tab.explain_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy and len(tab.results) == 1, timeout=TIMEOUT_MS)
    (panel,) = tab.results
    assert panel.result.error is None, panel.result.error
    assert len(panel.bars) == 1 and panel.bars[0].bar_count == 4  # one bar per feature
    assert np.isfinite(panel.bars[0].values).all()

    tab = open_explain(qtbot, main_window, imported_tokens)
    assert tab.loaded is not None and tab.loaded.kind == "text"
    qtbot.mouseClick(tab.random_input_button, Qt.MouseButton.LeftButton)
    tab.set_methods(["IntegratedGradients"])
    qtbot.mouseClick(tab.explain_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy and len(tab.results) == 1, timeout=TIMEOUT_MS)
    (panel,) = tab.results
    assert panel.result.error is None, panel.result.error
    ids = np.asarray(panel.result.attribution.inputs)
    assert ids.shape == (1, 6) and ids.dtype.kind in "iu"
    assert ids.min() >= 0 and ids.max() < 20  # below the Embedding's vocabulary
    assert len(panel.tokens) == 1
    assert panel.tokens[0].text().count("<span") == 6  # one highlighted token per id
