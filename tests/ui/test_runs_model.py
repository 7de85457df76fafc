"""The window's one runs model: run folders are read in a worker, never on the Qt thread, and
every run picker (Evaluation, Explain, Export, Resume, File ▸ Export) lists what it read."""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from studio.core.resources import examples_dir
from studio.training import run_index, trained
from studio.ui.main_window import MainWindow
from studio.ui.runs_view import STATUS_TEXT

TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 120_000
FIFO_RUN = "20260101-120000.000-aaaaaa"
ZERO_RUN = "20260101-130000.000-bbbbbb"


def project_with_hostile_runs(folder: Path) -> Path:
    """A project whose runs hold a FIFO as metrics.jsonl and a link to /dev/zero as
    config.json; both have a checkpoint file, so the run pickers list them too."""
    path = folder / "hostile.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", path)
    runs = folder / "hostile.runs"
    fifo_run, zero_run = runs / FIFO_RUN, runs / ZERO_RUN
    fifo_run.mkdir(parents=True)
    zero_run.mkdir()
    (fifo_run / "config.json").write_text("{}", encoding="utf-8")
    os.mkfifo(fifo_run / "metrics.jsonl")
    (fifo_run / "last.pt").write_bytes(b"not a checkpoint")
    os.symlink("/dev/zero", zero_run / "config.json")
    (zero_run / "last.pt").write_bytes(b"not a checkpoint")
    return path


def open_in(qtbot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.project_opened, timeout=TIMEOUT_MS):
        window.open_project(path)


def picker_ids(combo) -> list[str]:
    return [combo.itemData(i) for i in range(combo.count())]


@pytest.mark.timeout(120)
def test_hostile_run_files_leave_the_window_responsive(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    path = project_with_hostile_runs(tmp_path)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    try:
        open_in(qtbot, main_window, path)
        model = main_window.runs_model
        qtbot.waitUntil(lambda: len(model.snapshot.runs) == 2, timeout=TIMEOUT_MS)
        main_window.show_runs_tab()
        view = main_window.runs_view
        qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=TIMEOUT_MS)
        main_window.show_evaluation_tab()
        qtbot.waitUntil(
            lambda: main_window.evaluation_tab.run_combo.count() == 2, timeout=TIMEOUT_MS
        )
        started = len(ticks)
        qtbot.wait(200)
        assert len(ticks) > started, "the Qt thread's timer stopped firing"
    finally:
        timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    # A read blocked on the FIFO or running on through /dev/zero would stop the timer for
    # good; a loaded machine only slows it.
    assert ticks and max(gaps, default=0.0) < 5.0, max(gaps)

    by_id = {run.run_id: run for run in model.snapshot.runs}
    assert by_id[FIFO_RUN].status == run_index.BROKEN
    assert "named pipe (FIFO)" in (by_id[FIFO_RUN].message or "")
    assert by_id[ZERO_RUN].status == run_index.BROKEN
    assert "config.json" in (by_id[ZERO_RUN].message or "")
    # The Runs tab lists each broken run with its sentence.
    shown = {}
    for row in range(view.table.rowCount()):
        status = view.table.item(row, 0)
        shown[status.data(Qt.ItemDataRole.UserRole)] = (status.text(), status.toolTip())
    assert shown[FIFO_RUN][0] == STATUS_TEXT.get(run_index.BROKEN, run_index.BROKEN)
    assert by_id[FIFO_RUN].message in shown[FIFO_RUN][1]
    assert by_id[ZERO_RUN].message in shown[ZERO_RUN][1]


@pytest.fixture
def reading_threads(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """Every thread that reads a run folder: the index's and the run chooser's reading
    functions are wrapped (they still do their work) to record who calls them."""
    callers: list[threading.Thread] = []

    def spy(module: object, name: str) -> None:
        original: Callable[..., object] = getattr(module, name)

        def recording(*args: object, **kwargs: object) -> object:
            callers.append(threading.current_thread())
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, recording)

    spy(run_index, "read_run")
    spy(trained, "_has_weights")
    spy(trained, "last_metrics_record")
    return callers


@pytest.mark.timeout(180)
def test_run_folders_are_read_off_the_qt_thread(
    qtbot, main_window: MainWindow, tmp_path: Path, reading_threads: list[threading.Thread]
) -> None:
    path = project_with_hostile_runs(tmp_path)
    open_in(qtbot, main_window, path)
    main_window.show_training_tab()  # the dashboard's Resume button asks too
    main_window.show_evaluation_tab()
    evaluation = main_window.evaluation_tab
    qtbot.waitUntil(lambda: evaluation.run_combo.count() == 2, timeout=TIMEOUT_MS)
    main_window.show_explain_tab()
    explain = main_window.explain_tab
    qtbot.waitUntil(lambda: explain.run_combo.count() == 2, timeout=TIMEOUT_MS)
    qtbot.waitUntil(main_window.export_action.isEnabled, timeout=TIMEOUT_MS)
    dialog = main_window.show_export_dialog()
    assert dialog is not None
    assert picker_ids(dialog.run_combo) == [ZERO_RUN, FIFO_RUN]  # newest first
    qtbot.waitUntil(lambda: not main_window.runs_model.reading, timeout=TIMEOUT_MS)
    dialog.close()

    assert reading_threads, "the spied reading functions were never called"
    main = threading.main_thread()
    on_qt_thread = sum(thread is main for thread in reading_threads)
    assert on_qt_thread == 0, f"{on_qt_thread} of {len(reading_threads)} reads on the Qt thread"


@pytest.mark.timeout(240)
def test_a_finished_training_run_reaches_every_picker(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    from tests.ui.test_dashboard import copy_example

    path = copy_example(tmp_path, "mlp_classifier", epochs=1)
    open_in(qtbot, main_window, path)
    qtbot.waitUntil(lambda: main_window.runs_model.snapshot.complete, timeout=TIMEOUT_MS)
    assert not main_window.export_action.isEnabled()
    assert main_window.evaluation_tab.run_combo.count() == 0
    main_window.show_training_tab()
    dashboard = main_window.training_tab.dashboard
    with qtbot.waitSignal(dashboard.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        assert dashboard.train()
    assert ended.args[0].status == "completed", dashboard.log_text()
    run_id = ended.args[0].run or dashboard.progress.run
    assert run_id

    # The end of the run alone brings it to every picker: no tab is shown, nothing refreshed.
    explain, evaluation = main_window.explain_tab, main_window.evaluation_tab
    qtbot.waitUntil(lambda: picker_ids(evaluation.run_combo) == [run_id], timeout=TIMEOUT_MS)
    assert picker_ids(explain.run_combo) == [run_id]
    assert main_window.export_action.isEnabled()
    assert [run.run_id for run in main_window.runs_model.snapshot.runs] == [run_id]
    assert main_window.training_form.initial_combo.findData(run_id) >= 0  # "Start from"
    assert not dashboard.resume_button.isEnabled()  # completed: nothing to continue
    dialog = main_window.show_export_dialog()
    assert dialog is not None and picker_ids(dialog.run_combo) == [run_id]
    dialog.close()
