"""The Evaluation tab in a real window: evaluate a trained run, click a confusion-matrix cell,
see exactly that cell's samples."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import examples_dir
from studio.training.session import run_training
from studio.ui.evaluation_tab import CHOOSE_CELL, NO_PROJECT, NO_RUNS, EvaluationTab
from studio.ui.main_window import MainWindow

TIMEOUT_MS = 60_000


def copy_example(folder: Path, name: str, registry: LayerRegistry) -> Project:
    path = folder / f"{name}.strata"
    shutil.copy(examples_dir() / f"{name}.strata", path)
    return Project.load(path, registry)


def trained(folder: Path, name: str, registry: LayerRegistry, epochs: int) -> Path:
    project = copy_example(folder, name, registry)
    run_training(project, epochs=epochs, device="cpu", progress=io.StringIO())
    assert project.path is not None
    return project.path


def open_in(qtbot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.project_opened, timeout=TIMEOUT_MS):
        window.open_project(path)


def evaluate(qtbot, tab: EvaluationTab) -> None:
    # The runs are read in a worker: the button is enabled once they have arrived.
    qtbot.waitUntil(tab.evaluate_button.isEnabled, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(tab.evaluation_shown, timeout=TIMEOUT_MS):
        qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
    assert tab.evaluation is not None and not tab.busy


def click_cell(qtbot, tab: EvaluationTab, actual: int, predicted: int) -> None:
    centre = tab.matrix.cell_rect(actual, predicted).center()
    with qtbot.waitSignal(tab.cell_shown, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(tab.matrix, Qt.MouseButton.LeftButton, pos=centre)
    assert blocker.args == [actual, predicted]


def test_the_tab_says_what_to_do_before_there_is_a_run(
    qtbot, main_window: MainWindow, registry: LayerRegistry, tmp_path: Path
) -> None:
    tabs = main_window.central_tabs
    assert "Evaluation" in [tabs.tabText(i) for i in range(tabs.count())]
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    assert tab.isVisible() and tab.message_label.text() == NO_PROJECT
    assert not tab.evaluate_button.isEnabled()
    project = copy_example(tmp_path, "mlp_classifier", registry)
    assert project.path is not None
    open_in(qtbot, main_window, project.path)
    qtbot.waitUntil(lambda: tab.message_label.text() == NO_RUNS, timeout=TIMEOUT_MS)
    assert "Train the model first (Training tab)" in NO_RUNS
    assert tab.run_combo.count() == 0 and not tab.evaluate_button.isEnabled()
    # a run made while the window is open shows up when the tab is shown again
    run_training(project, epochs=1, device="cpu", progress=io.StringIO())
    main_window.show_graph_tab()
    main_window.show_evaluation_tab()
    qtbot.waitUntil(lambda: tab.run_combo.count() == 1, timeout=TIMEOUT_MS)
    assert tab.evaluate_button.isEnabled()


def test_clicking_a_cell_shows_exactly_its_table_rows(
    qtbot, main_window: MainWindow, registry: LayerRegistry, tmp_path: Path
) -> None:
    path = trained(tmp_path, "mlp_classifier", registry, epochs=2)
    open_in(qtbot, main_window, path)
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    assert not main_window.palette_dock.isVisible()  # the tab has the layer docks' room
    evaluate(qtbot, tab)
    assert tab.pages.currentWidget() is tab.result_page
    assert tab.views.currentWidget() is tab.classification_view
    assert tab.gallery_message.text() == CHOOSE_CELL
    result = tab.evaluation.classification
    assert result is not None
    names = result.class_names
    assert tab.per_class_table.table.rowCount() == len(names)
    assert [tab.per_class_table.cell_text(i, 0) for i in range(len(names))] == names
    assert [tab.per_class_table.cell_text(i, 4) for i in range(len(names))] == [
        str(int(s)) for s in result.support
    ]
    actual, predicted = (int(v) for v in np.unravel_index(np.argmax(result.confusion), (3, 3)))
    click_cell(qtbot, tab, actual, predicted)
    count = int(result.confusion[actual, predicted])
    assert tab.gallery_stack.currentWidget() is tab.gallery_table
    assert tab.gallery_table.table.rowCount() == count
    headers = tab.gallery_table.header_texts()
    assert headers[-2:] == ["predicted", "confidence"]
    for row in range(count):
        assert tab.gallery_table.cell_text(row, len(headers) - 2) == names[predicted]
        assert names[actual] in [tab.gallery_table.cell_text(row, c) for c in range(len(headers))]
    assert f"{count:,}" in tab.gallery_title.text()
    # "Explain these": the Explain tab opens on exactly this cell's test samples.
    positions = [int(i) for i in tab.evaluation.samples_in_cell(actual, predicted)][:16]
    assert tab.explain_button.isEnabled()
    qtbot.mouseClick(tab.explain_button, Qt.MouseButton.LeftButton)
    explain = main_window.explain_tab
    assert main_window.central_tabs.currentWidget() is explain
    qtbot.waitUntil(lambda: not explain.busy and bool(explain.results), timeout=TIMEOUT_MS)
    assert explain.selected_indices() == positions
    main_window.show_graph_tab()
    assert main_window.palette_dock.isVisible()


def test_clicking_a_mistake_shows_its_images_with_labels(
    qtbot, main_window: MainWindow, registry: LayerRegistry, tmp_path: Path
) -> None:
    path = trained(tmp_path, "cnn_classifier", registry, epochs=1)
    open_in(qtbot, main_window, path)
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    evaluate(qtbot, tab)
    result = tab.evaluation.classification
    assert result is not None and result.confusion.shape == (10, 10)
    mistakes = result.confusion.copy()
    np.fill_diagonal(mistakes, 0)
    actual, predicted = (int(v) for v in np.unravel_index(np.argmax(mistakes), mistakes.shape))
    assert mistakes[actual, predicted] > 0
    click_cell(qtbot, tab, actual, predicted)
    assert tab.gallery_stack.currentWidget() is tab.gallery_scroll
    labels = tab.gallery_labels()
    assert len(labels) == len(tab.gallery_grid.tiles) == result.confusion[actual, predicted]
    positions = tab.evaluation.samples_in_cell(actual, predicted)
    expected = [f"{actual} → {predicted} · {result.confidence[p]:.0%}" for p in positions]
    assert labels == expected
    # a correct cell, then an empty one
    click_cell(qtbot, tab, actual, actual)
    assert len(tab.gallery_grid.tiles) == result.confusion[actual, actual]
    empty = np.argwhere(result.confusion == 0)
    if len(empty):
        a, p = (int(v) for v in empty[0])
        click_cell(qtbot, tab, a, p)
        assert tab.gallery_labels() == [] and tab.gallery_stack.currentWidget() is (
            tab.gallery_message
        )


@pytest.mark.parametrize("name", ["mlp_regressor"])
def test_a_regression_shows_predicted_against_actual(
    qtbot, main_window: MainWindow, registry: LayerRegistry, tmp_path: Path, name: str
) -> None:
    path = trained(tmp_path, name, registry, epochs=1)
    open_in(qtbot, main_window, path)
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    evaluate(qtbot, tab)
    assert tab.views.currentWidget() is tab.regression_view
    result = tab.evaluation.regression
    assert result is not None
    x, y = tab.scatter_item.getData()
    np.testing.assert_allclose(x, result.actual.reshape(-1))
    np.testing.assert_allclose(y, result.predicted.reshape(-1))
    assert "RMSE" in tab.residuals_label.text()


def test_an_autoencoder_shows_inputs_beside_reconstructions(
    qtbot, main_window: MainWindow, registry: LayerRegistry, tmp_path: Path
) -> None:
    path = trained(tmp_path, "conv_autoencoder", registry, epochs=1)
    open_in(qtbot, main_window, path)
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    evaluate(qtbot, tab)
    assert tab.views.currentWidget() is tab.pictures_view
    result = tab.evaluation.reconstruction
    assert result is not None and len(result.inputs) > 0
    assert result.reconstructions.shape == result.inputs.shape
    assert tab.pictures_title.text() == "INPUTS BESIDE THEIR RECONSTRUCTIONS"
    # Input, reconstruction, input, ...: two tiles per sample, each with its error.
    tiles = tab.pictures_grid.tiles
    assert len(tiles) == 2 * len(result.inputs)
    assert tab.pictures_grid.isVisibleTo(tab)
    assert "mean error" in tab.pictures_note.text()


def test_a_gan_shows_the_saved_grid_and_fresh_samples(
    qtbot, main_window: MainWindow, registry: LayerRegistry, tmp_path: Path
) -> None:
    path = trained(tmp_path, "gan", registry, epochs=1)
    open_in(qtbot, main_window, path)
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    evaluate(qtbot, tab)
    assert tab.views.currentWidget() is tab.pictures_view
    generation = tab.evaluation.generation
    assert generation is not None and generation.grid_epoch == 1
    assert tab.pictures_title.text() == "SAMPLES SAVED DURING TRAINING (EPOCH 1)"
    assert tab.pictures_grid.tiles and tab.second_grid.tiles
    assert tab.second_grid.isVisibleTo(tab)
    assert "generator" in tab.pictures_note.text()


def test_a_new_project_drops_the_result(
    qtbot, main_window: MainWindow, registry: LayerRegistry, tmp_path: Path
) -> None:
    path = trained(tmp_path, "mlp_classifier", registry, epochs=1)
    open_in(qtbot, main_window, path)
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    evaluate(qtbot, tab)
    other = copy_example(tmp_path, "cnn_classifier", registry)
    assert other.path is not None
    open_in(qtbot, main_window, other.path)
    assert tab.evaluation is None
    qtbot.waitUntil(lambda: tab.message_label.text() == NO_RUNS, timeout=TIMEOUT_MS)


def test_an_evaluation_under_way_is_cancelled_by_a_new_project(
    qtbot, main_window: MainWindow, registry: LayerRegistry, tmp_path: Path
) -> None:
    path = trained(tmp_path, "mlp_classifier", registry, epochs=1)
    open_in(qtbot, main_window, path)
    main_window.show_evaluation_tab()
    tab = main_window.evaluation_tab
    qtbot.waitUntil(tab.evaluate_button.isEnabled, timeout=TIMEOUT_MS)
    task = tab.evaluate()
    assert task is not None and tab.busy and not tab.evaluate_button.isEnabled()
    main_window.set_project(Project.load(path, registry))
    assert task.is_cancelled() and not tab.busy and tab.evaluation is None
    qtbot.waitUntil(lambda: main_window.tasks.pending == 0, timeout=TIMEOUT_MS)
    assert tab.evaluation is None  # the cancelled result never arrives
