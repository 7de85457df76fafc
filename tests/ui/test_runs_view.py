"""The Runs tab on real runs of the iris MLP: listed, compared, used and deleted."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import examples_dir
from studio.training.run_index import INTERRUPTED
from studio.training.runs import runs_folder
from studio.ui.main_window import MainWindow
from studio.ui.runs_view import RunsView

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The iris MLP trained twice: 2 epochs at lr 0.001, then 1 epoch at 0.01 with hidden1
    of 16 units. Returns the project file and the two run ids, oldest first."""
    from studio.layers import register
    from studio.training.session import run_training

    registry = LayerRegistry()
    register(registry)
    path = tmp_path_factory.mktemp("trained") / "iris.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", path)
    project = Project.load(path, registry)
    ids = []
    for epochs, lr, units in ((2, 1e-3, 32), (1, 1e-2, 16)):
        project.training = project.training.model_copy(
            update={"epochs": epochs, "learning_rate": lr}
        )
        hidden = project.main_graph.node_by_name("hidden1")
        assert hidden is not None
        project.main_graph.set_param(hidden.id, "out_features", units)
        ids.append(run_training(project, progress=io.StringIO()).run.run_id)
    return path, ids[0], ids[1]


def copy_project(trained: tuple[Path, str, str], folder: Path) -> Path:
    """A copy of the trained project and its runs (for tests that change the runs)."""
    source = trained[0]
    target = folder / source.name
    shutil.copy(source, target)
    shutil.copytree(runs_folder(source), runs_folder(target))
    return target


def open_and_show(qtbot, window: MainWindow, path: Path, *, runs: int) -> RunsView:
    with qtbot.waitSignal(window.project_opened, timeout=WAIT_MS):
        window.open_project(path)
    window.show_runs_tab()
    view = window.runs_view
    assert view.isVisible()
    qtbot.waitUntil(lambda: not view.busy and len(view.runs) == runs, timeout=WAIT_MS)
    return view


def test_runs_are_listed_and_two_compared(qtbot, main_window: MainWindow, trained) -> None:
    path, first, second = trained
    tabs = main_window.central_tabs
    assert "Runs" in [tabs.tabText(i) for i in range(tabs.count())]
    view = open_and_show(qtbot, main_window, path, runs=2)
    # The graph docks give the runs their room, and come back with the Graph tab.
    assert not main_window.palette_dock.isVisible()
    table = view.table
    assert table.rowCount() == 2
    assert [table.item(r, 1).text() for r in range(2)] == [second, first]  # newest first
    statuses = {table.item(r, 0).text() for r in range(2)}
    assert statuses <= {"completed", "finished?"}
    assert table.item(1, 3).text() == "2 / 2"
    assert table.item(0, 5).text() == "cpu"
    assert "loss" in table.item(1, 4).text()

    with qtbot.waitSignal(view.comparison_shown, timeout=WAIT_MS):
        view.select_runs([first, second])
    comparison = view.comparison
    assert comparison is not None
    assert [r.run_id for r in comparison.runs] == [first, second]  # oldest is the baseline
    assert view.curves.metric_combo.currentText() == "val_loss"
    assert len(view.curves.curve_names) == 2
    assert "learning_rate=0.001" in view.curves.curve_names[0]
    # Only the settings that differ are shown, until "show all" is ticked.
    settings = view.settings_table
    shown = [settings.item(r, 0).text() for r in range(settings.rowCount())]
    assert "training.learning_rate" in shown and "training.batch_size" not in shown
    row = shown.index("training.learning_rate")
    assert [settings.item(row, c).text() for c in (1, 2)] == ["0.001", "0.01"]
    view.show_all_check.setChecked(True)
    assert settings.rowCount() > len(shown)
    view.show_all_check.setChecked(False)
    changes = view.graph_table
    assert changes.rowCount() == 1
    assert [changes.item(0, c).text() for c in range(4)] == ["hidden1", "out_features", "32", "16"]
    metrics = view.metrics_table
    names = [metrics.item(r, 0).text() for r in range(metrics.rowCount())]
    assert "best val_loss" in names and "final train_loss" in names
    # Another metric on the plot.
    view.curves.metric_combo.setCurrentText("val_accuracy")
    assert len(view.curves.curve_names) == 2
    main_window.show_graph_tab()
    assert main_window.palette_dock.isVisible()


def test_a_run_as_initial_weights_is_an_undoable_edit(
    qtbot, main_window: MainWindow, trained
) -> None:
    path, first, _second = trained
    view = open_and_show(qtbot, main_window, path, runs=2)
    with qtbot.waitSignal(view.comparison_shown, timeout=WAIT_MS):
        view.select_runs([first])
    assert view.weights_button.isEnabled()
    view.weights_button.click()
    project = main_window.project
    assert project is not None and project.training.initial_weights == first
    form = main_window.training_form
    assert form.initial_combo.currentData() == first
    main_window.undo_stack.undo()
    assert project.training.initial_weights is None
    assert form.initial_combo.currentData() is None


def test_new_killed_and_deleted_runs(qtbot, main_window: MainWindow, trained, tmp_path) -> None:
    path = copy_project(trained, tmp_path)
    view = open_and_show(qtbot, main_window, path, runs=2)
    # A run appearing in the folder (here a killed one) shows up without asking.
    killed = runs_folder(path) / "20990101-000000-killed"
    killed.mkdir()
    (killed / "config.json").write_text(json.dumps({"resolved": {"epochs": 5}}))
    (killed / "status.json").write_text(json.dumps({"status": "running", "pid": 2**22 + 7}))
    qtbot.waitUntil(lambda: len(view.runs) == 3 and not view.busy, timeout=WAIT_MS)
    newest = view.runs[0]
    assert newest.run_id == killed.name and newest.status == INTERRUPTED
    assert view.table.item(0, 0).text() == "interrupted"
    # Deleting removes the folder, and the list follows.
    task = view.delete_runs([killed.name, view.runs[1].run_id], confirm=False)
    assert task is not None
    qtbot.waitUntil(lambda: len(view.runs) == 1 and not view.busy, timeout=WAIT_MS)
    assert not killed.exists()
    assert len(list(runs_folder(path).iterdir())) == 1


def test_empty_states(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    view = main_window.runs_view
    main_window.show_runs_tab()
    assert view.stack.currentWidget() is view.empty_label
    assert "Open a project" in view.empty_label.text()
    path = tmp_path / "fresh.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", path)
    main_window.show_graph_tab()
    view = open_and_show(qtbot, main_window, path, runs=0)
    assert "No runs yet" in view.empty_label.text()
    assert view.stack.currentWidget() is view.empty_label
    with qtbot.waitSignal(main_window.project_opened, timeout=WAIT_MS):
        main_window.open_project(path, as_template=True)
    qtbot.waitUntil(lambda: not view.busy, timeout=WAIT_MS)
    assert "Save the project" in view.empty_label.text()
