"""The Data tab: bundled datasets and the user's files, previews, statistics, undoable edits,
errors in red, and the data's problems on the graph's Input node."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QImage

from studio.core.commands import SetParamCommand
from studio.core.project import Project
from studio.core.resources import find_template
from studio.ui.data_tab import DataTab
from studio.ui.main_window import MainWindow

READ_TIMEOUT_MS = 30_000


def open_template(qtbot, window: MainWindow, name: str) -> Project:
    template = find_template(name)
    assert template is not None
    with qtbot.waitSignal(window.project_opened, timeout=30_000) as blocker:
        window.open_project(template.path, as_template=True)
    project = blocker.args[0]
    assert isinstance(project, Project)
    return project


def wait_for_read(qtbot, tab: DataTab) -> None:
    """Until the tab has read what the project's data section names now."""
    qtbot.waitUntil(
        lambda: not tab.reading and (tab.overview is not None or tab.error is not None),
        timeout=READ_TIMEOUT_MS,
    )


def show_data(qtbot, window: MainWindow) -> DataTab:
    window.show_data_tab()
    tab = window.data_tab
    assert tab.isVisible()
    wait_for_read(qtbot, tab)
    return tab


def choose_in_combo(tab: DataTab, name: str) -> None:
    """Pick a bundled dataset the way a person does (`activated`, not a programmatic set)."""
    combo = tab.dataset_combo
    index = combo.findData(name)
    assert index >= 0, name
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def bad_csv(tmp_path: Path) -> Path:
    """A table whose column 'b' has one word among its numbers, in the file's row 8."""
    rows = ["a,b,c,label"] + [f"{i},{i * 2}.5,{i % 3},{'x' if i % 2 else 'y'}" for i in range(40)]
    rows[7] = "6,oops,0,x"  # the header is row 1, so this is row 8
    return write_csv(tmp_path / "bad.csv", rows)


def test_the_data_tab_sits_beside_the_canvas(main_window: MainWindow) -> None:
    tabs = main_window.central_tabs
    assert [tabs.tabText(i) for i in range(2)] == ["Graph", "Data"]
    assert tabs.currentWidget() is main_window.view
    assert main_window.palette_dock.isVisible() and main_window.inspector_dock.isVisible()
    main_window.show_data_tab()
    # The layer docks edit graphs; the Data tab gets their room, and they come back.
    assert not main_window.palette_dock.isVisible()
    assert not main_window.inspector_dock.isVisible()
    main_window.show_graph_tab()
    assert main_window.palette_dock.isVisible() and main_window.inspector_dock.isVisible()


def test_the_cnn_template_shows_the_digits_as_a_crisp_image_grid(
    qtbot, main_window: MainWindow
) -> None:
    open_template(qtbot, main_window, "cnn_classifier")
    tab = show_data(qtbot, main_window)
    assert tab.error is None
    assert tab.overview is not None and tab.overview.name == "digits"
    assert tab.dataset_combo.currentData() == "digits"
    assert "1,797 images" in tab.shape_label.text()
    assert "(1, 8, 8)" in tab.shape_label.text()
    assert "10 classes" in tab.shape_label.text()

    assert tab.preview_stack.currentWidget() is tab.image_scroll
    grid = tab.image_grid
    assert len(grid.tiles) == 40
    assert {t.label for t in grid.tiles} == {str(d) for d in range(10)}
    assert all((t.image.width(), t.image.height()) == (8, 8) for t in grid.tiles)
    assert grid.columns(grid.width()) % 10 == 0, "a row holds whole rounds of the 10 digits"

    # The split sizes add up to the whole set; the class balance has the 10 digits.
    sizes = tab.split_bar.sizes
    assert sum(sizes.values()) == 1797
    assert set(sizes) == {"train", "validation", "test"}
    balance = tab.balance_chart.balance
    assert [c.name for c in balance] == [str(d) for d in range(10)]
    assert sum(c.total for c in balance) == 1797
    assert all(c.train + c.validation + c.test == c.total for c in balance)
    assert tab.balance_box.isVisible()
    assert tab.statistics_table.model().rowCount() == 1  # one channel: ink
    assert tab.statistics_table.cell_text(0, 0) == "ink"

    # Nearest-neighbour enlargement: every source pixel is a block of one colour.
    assert grid.side % 8 == 0 and grid.side >= 64
    shot = grid.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    cell = grid._cell(0)
    source = grid.tiles[0].image
    scale = grid.side // 8
    for row in range(1, 7):
        for column in range(1, 7):
            expected = source.pixelColor(column, row).red()
            block = {
                shot.pixelColor(cell.x() + column * scale + dx, cell.y() + row * scale + dy).red()
                for dx in range(scale)
                for dy in range(scale)
            }
            assert block == {expected}, (row, column, block, expected)


def test_the_mlp_template_shows_iris_as_a_table_with_column_statistics(
    qtbot, main_window: MainWindow
) -> None:
    open_template(qtbot, main_window, "mlp_classifier")
    tab = show_data(qtbot, main_window)
    assert tab.overview is not None and tab.overview.samples == 150
    assert sum(tab.split_bar.sizes.values()) == 150
    assert tab.preview_stack.currentWidget() is tab.table_preview
    table = tab.table_preview
    headers = table.header_texts()
    assert headers == ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    assert table.model().rowCount() == 40
    assert [table.cell_text(0, c) for c in range(5)] == ["5.1", "3.5", "1.4", "0.2", "setosa"]
    assert tab.preview_note.text() == "40 of 150 rows, in file order"

    stats = tab.statistics_table
    rows = {stats.cell_text(r, 0): r for r in range(stats.model().rowCount())}
    assert list(rows) == headers
    header = stats.header_texts()
    for name in ("Missing", "Mean", "Std", "Min", "Max"):
        assert name in header

    def cell(column: str, name: str) -> str:
        return stats.cell_text(rows[column], header.index(name))

    assert cell("sepal_length", "Mean") == "5.843"
    assert cell("sepal_length", "Min") == "4.3"
    assert cell("sepal_length", "Max") == "7.9"
    assert cell("sepal_length", "Missing") == "0"
    assert cell("species", "Role") == "target"
    assert cell("species", "Values") == "setosa (50), versicolor (50), virginica (50)"
    assert [(c.name, c.total) for c in tab.balance_chart.balance] == [
        ("setosa", 50),
        ("versicolor", 50),
        ("virginica", 50),
    ]


def test_choosing_another_dataset_is_one_undoable_edit(qtbot, main_window: MainWindow) -> None:
    project = open_template(qtbot, main_window, "mlp_classifier")
    tab = show_data(qtbot, main_window)
    before = project.data
    assert not main_window.modified

    choose_in_combo(tab, "diabetes")
    assert project.data.dataset == "diabetes"
    assert project.data.splits == before.splits  # the split settings carry over
    assert project.training.task == "regression", "the training task follows the data"
    assert main_window.modified
    assert main_window.undo_stack.count() == 1
    assert main_window.undo_action.text() == "&Undo Use the Diabetes progression dataset"
    wait_for_read(qtbot, tab)
    assert tab.overview is not None and tab.overview.name == "diabetes"
    assert tab.overview.task == "regression"
    assert not tab.balance_box.isVisible(), "regression has no classes to balance"
    assert tab.editors["preprocessing.normalize_target"].isVisible()

    main_window.undo_stack.undo()
    assert project.data == before
    assert project.training.task == "classification"
    assert tab.dataset_combo.currentData() == "iris"
    assert not main_window.modified
    wait_for_read(qtbot, tab)
    assert tab.overview is not None and tab.overview.name == "iris"

    main_window.undo_stack.redo()
    assert project.data.dataset == "diabetes"
    assert tab.dataset_combo.currentData() == "diabetes"


def test_form_edits_are_validated_and_a_burst_of_steps_is_one_undo_step(
    qtbot, main_window: MainWindow
) -> None:
    project = open_template(qtbot, main_window, "cnn_classifier")
    tab = show_data(qtbot, main_window)
    seed = tab.editors["splits.seed"]
    seed.spin.stepUp()
    seed.spin.stepUp()
    assert project.data.splits.seed == 2
    assert main_window.undo_stack.count() == 1, "two steps in one field are one undo step"
    seed.spin.editingFinished.emit()  # leaving the field ends the burst
    seed.spin.stepUp()
    assert main_window.undo_stack.count() == 2
    wait_for_read(qtbot, tab)
    main_window.undo_stack.undo()
    main_window.undo_stack.undo()
    assert project.data.splits.seed == 0
    assert seed.spin.value() == 0

    # Validation 85% plus test 15% leaves nothing to train on: refused, and said so.
    validation = tab.editors["splits.validation"]
    validation.spin.setValue(85)
    assert project.data.splits.validation == 0.15
    assert tab.form_error.isVisible()
    assert "at least 10% for training" in tab.form_error.text()
    assert validation.spin.value() == 15, "the field shows the project's value again"
    validation.spin.setValue(20)
    assert project.data.splits.validation == 0.2
    assert not tab.form_error.isVisible()
    wait_for_read(qtbot, tab)
    assert tab.split_bar.sizes["validation"] == pytest.approx(0.2 * 1797, abs=2)

    # Augmentation applies to images, so the digits offer it; iris does not.
    assert tab.editors["augmentation.rotation"].isVisible()
    choose_in_combo(tab, "iris")
    wait_for_read(qtbot, tab)
    assert not tab.editors["augmentation.rotation"].isVisible()


def test_a_csv_with_a_word_in_a_number_column_names_file_row_and_column(
    qtbot, main_window: MainWindow, bad_csv: Path
) -> None:
    project = open_template(qtbot, main_window, "mlp_classifier")
    tab = show_data(qtbot, main_window)
    tab.use_path(bad_csv)
    qtbot.waitUntil(lambda: project.data.source is not None, timeout=READ_TIMEOUT_MS)
    assert project.data.source.kind == "table"
    assert project.data.dataset is None
    assert tab.dataset_combo.currentText() == "Your file: bad.csv"
    wait_for_read(qtbot, tab)

    message = tab.error_text()
    assert message is not None
    assert "bad.csv" in message and "row 8" in message and "column 'b'" in message
    assert "Traceback" not in message
    assert tab.error_label.isVisible()
    assert "color: #" in tab.styleSheet() and "data_error_banner" in tab.styleSheet()
    assert not tab.overview_splitter.isVisible()
    # The header was read on its own, so the column fields offer the file's columns.
    target = tab.editors["source.target"]
    assert [target.combo.itemText(i) for i in range(target.combo.count())] == [
        "the last column",
        "a",
        "b",
        "c",
        "label",
    ]
    # The graph's problems say it too, about the data rather than a node.
    qtbot.waitUntil(
        lambda: any(
            line.startswith("data: ") and "row 8" in line
            for line in main_window.problems_panel.lines()
        ),
        timeout=READ_TIMEOUT_MS,
    )

    # Marking the column as categorical (as the message suggests) fixes it.
    assert tab.set_field("source.categorical", ["b"])
    wait_for_read(qtbot, tab)
    assert tab.error_text() is None
    assert tab.preview_stack.currentWidget() is tab.table_preview
    assert tab.overview is not None and tab.overview.samples == 40


def test_a_missing_file_is_an_error_in_the_tab_and_nothing_changes(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    project = open_template(qtbot, main_window, "mlp_classifier")
    tab = show_data(qtbot, main_window)
    before = project.data
    task = tab.use_path(tmp_path / "nowhere.csv")
    assert task is not None
    qtbot.waitUntil(lambda: task.done, timeout=READ_TIMEOUT_MS)
    assert project.data == before
    message = tab.error_text()
    assert message is not None and "nowhere.csv" in message and "no such file" in message
    assert main_window.undo_stack.count() == 0


def test_a_time_series_file_is_plotted_and_the_training_task_follows(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    project = open_template(qtbot, main_window, "mlp_classifier")
    tab = show_data(qtbot, main_window)
    rows = [f"{t},{(t % 17) / 17:.4f},{(t % 11) / 11:.4f}" for t in range(400)]
    series = write_csv(tmp_path / "sensors.csv", ["time,a,b", *rows])
    tab.use_path(series)
    qtbot.waitUntil(lambda: project.data.source is not None, timeout=READ_TIMEOUT_MS)
    assert project.data.source.kind == "series"
    assert project.training.task == "regression", "a forecast is a regression"
    wait_for_read(qtbot, tab)
    assert tab.error is None
    assert tab.preview_stack.currentWidget() is tab.series_plot
    assert tab.series_plot.curve_names == ["a", "b"]
    assert tab.editors["source.window"].isVisible()
    assert tab.editors["source.time_column"].value() == "time"
    assert tab.split_bar.unit == "windows"

    main_window.undo_stack.undo()
    assert project.data.dataset == "iris" and project.data.source is None
    assert project.training.task == "classification"
    assert "source.window" not in tab.editors


def test_an_input_that_does_not_fit_the_data_is_a_problem_on_the_input_node(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    project = open_template(qtbot, main_window, "cnn_classifier")
    wait_for_analysis(main_window, summary=False)
    page = main_window.current
    assert page is not None and page.shapes is not None
    assert page.shapes.error_count == 0
    graph = project.main_graph
    image = graph.node_by_name("image")
    assert image is not None

    assert main_window.push(SetParamCommand(graph, image.id, "shape", (1, 28, 28)))

    def input_problem() -> Any:
        shapes = main_window.current.shapes if main_window.current else None
        return shapes.problem_for(image.id) if shapes is not None else None

    qtbot.waitUntil(lambda: input_problem() is not None, timeout=60_000)
    problem = input_problem()
    assert "(1, 28, 28)" in problem.message and "(1, 8, 8)" in problem.message
    assert "digits" in problem.message
    item = main_window.current.scene.nodes[image.id]
    assert item.problem is not None and item.problem.node_id == image.id
    assert item.badge.isVisible()
    lines = main_window.problems_panel.lines()
    assert any(line.startswith("image: this Input takes (1, 28, 28)") for line in lines), lines
    # The graph itself is fine: its summary is still made.
    wait_for_analysis(main_window)
    assert main_window.current.summary is not None
    assert main_window.current.summary.unavailable is None

    main_window.undo_stack.undo()
    qtbot.waitUntil(lambda: input_problem() is None, timeout=60_000)
    assert not item.badge.isVisible()


def test_changing_the_data_checks_the_graph_again(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    open_template(qtbot, main_window, "cnn_classifier")
    wait_for_analysis(main_window, summary=False)
    tab = show_data(qtbot, main_window)
    choose_in_combo(tab, "shapes")  # images of (1, 32, 32) and 3 classes
    qtbot.waitUntil(
        lambda: any("shapes" in line for line in main_window.problems_panel.lines()),
        timeout=60_000,
    )
    lines = main_window.problems_panel.lines()
    assert any(line.startswith("image: ") and "(1, 32, 32)" in line for line in lines), lines
    assert any("3 classes" in line for line in lines), lines
    main_window.undo_stack.undo()
    qtbot.waitUntil(lambda: main_window.problems_status.text().startswith("valid"), timeout=60_000)


@pytest.fixture
def thread_log(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[bool]]:
    """Records, for each slow data call, whether it ran on the Qt (main) thread."""
    import studio.data.compatibility as compatibility
    import studio.data.detect as detect
    import studio.data.overview as overview

    calls: dict[str, list[bool]] = {"inspect": [], "suggest": [], "check": []}

    def spy(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name].append(threading.current_thread() is threading.main_thread())
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(overview, "inspect_data", spy("inspect", overview.inspect_data))
    monkeypatch.setattr(detect, "suggest_source", spy("suggest", detect.suggest_source))
    monkeypatch.setattr(
        compatibility, "check_project_data", spy("check", compatibility.check_project_data)
    )
    return calls


def test_reading_guessing_and_checking_data_run_in_workers(
    qtbot, main_window: MainWindow, wait_for_analysis, tmp_path: Path, thread_log
) -> None:
    open_template(qtbot, main_window, "mlp_classifier")
    wait_for_analysis(main_window, summary=False)
    assert thread_log["inspect"] == [], "a hidden Data tab reads nothing"
    tab = show_data(qtbot, main_window)
    rows = [f"{i},{i * 3 % 7},{'ab'[i % 2]}" for i in range(40)]
    good = write_csv(tmp_path / "good.csv", ["x,y,label", *rows])
    tab.use_path(good)
    wait_for_read(qtbot, tab)
    qtbot.waitUntil(lambda: len(thread_log["inspect"]) >= 2, timeout=READ_TIMEOUT_MS)
    qtbot.waitUntil(lambda: len(thread_log["check"]) >= 2, timeout=60_000)
    assert thread_log["suggest"] == [False]
    assert thread_log["inspect"] and not any(thread_log["inspect"])
    assert thread_log["check"] and not any(thread_log["check"])
