"""The Training tab with a real `studio train --events` child and real (tiny) training.

Every test here also checks that no training child outlives it: the window's shutdown must
stop, and if need be kill, the process it started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.training.runs import read_metrics
from studio.ui.dashboard import TrainingDashboard
from studio.ui.main_window import MainWindow
from studio.ui.runs_model import find_resumable_run
from studio.ui.training_process import CRASHED, FAILED, STOPPED, parse_line
from studio.ui.training_tab import TrainingTab

RUN_TIMEOUT_MS = 120_000


def training_children() -> list[int]:
    """Ids of this process's live children that run `studio train`."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, parent = fields[0], int(fields[1])
        if parent == me and state != "Z" and b"train" in cmdline and b"studio" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_training_child_left() -> Iterator[None]:
    """Runs around the `main_window` fixture: after the window has closed, no child lives."""
    assert not training_children(), "a training child was alive before the test"
    yield
    left = training_children()
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"training children outlived the window: {left}"


def copy_example(folder: Path, name: str, **training: object) -> Path:
    """A copy of a bundled example, with some training settings changed in the file."""
    source = examples_dir() / f"{name}.strata"
    target = folder / f"{name}.strata"
    if training:
        document = json.loads(source.read_text(encoding="utf-8"))
        document["training"].update(training)
        target.write_text(json.dumps(document), encoding="utf-8")
    else:
        shutil.copy(source, target)
    return target


def open_path(qtbot, window: MainWindow, path: Path) -> Project:
    with qtbot.waitSignal(window.project_opened, timeout=30_000) as blocker:
        window.open_project(path)
    project = blocker.args[0]
    assert isinstance(project, Project)
    return project


def show_dashboard(window: MainWindow) -> TrainingDashboard:
    window.show_training_tab()
    assert window.training_tab.isVisible()
    return window.training_tab.dashboard


def step_points(dashboard: TrainingDashboard) -> int:
    curve = dashboard.loss_plot.curves.get("step loss")
    return 0 if curve is None else len(curve.buffer)


def assert_window_usable(qtbot, window: MainWindow) -> None:
    """An edit still works and undoes, and the other tabs still show."""
    page = window.current
    assert page is not None
    before = len(page.graph.nodes)
    assert window.add_layer_at_centre("studio.ReLU")
    assert len(page.graph.nodes) == before + 1
    window.undo_stack.undo()
    assert len(page.graph.nodes) == before
    window.show_graph_tab()
    assert window.view.isVisible()
    window.show_training_tab()


def test_the_training_tab_follows_data(main_window: MainWindow) -> None:
    tabs = main_window.central_tabs
    names = [tabs.tabText(i) for i in range(tabs.count())]
    assert names.index("Training") == names.index("Data") + 1
    dashboard = show_dashboard(main_window)
    assert not dashboard.train_button.isEnabled()  # no project yet
    assert not main_window.palette_dock.isVisible()
    main_window.show_graph_tab()
    assert main_window.palette_dock.isVisible() and main_window.inspector_dock.isVisible()


def test_the_summary_shows_the_training_settings(qtbot, registry, tmp_path: Path) -> None:
    project = Project.load(copy_example(tmp_path, "cnn_classifier"), registry)
    tab = TrainingTab(lambda: None, lambda: None)
    qtbot.addWidget(tab)
    tab.set_project(project)
    values = {name: label.text() for name, label in tab.summary.values.items()}
    assert values["Optimizer"] == project.training.optimizer.name
    assert values["Epochs"] == str(project.training.epochs)
    assert values["Batch size"] == str(project.training.batch_size)
    form = QLabel("a settings form")
    tab.set_settings_widget(form)
    assert tab.settings_area.widget() is form


def test_all_gpus_runs_the_child_under_torchrun() -> None:
    from studio.ui.training_process import train_command

    plain = train_command(Path("p.strata"))
    assert plain[:4] == ["-m", "studio", "train", "p.strata"] and "--stop-on-eof" in plain
    assert "--nproc-per-node" not in plain and "--low-priority" in plain
    assert "--nproc-per-node" not in train_command(Path("p.strata"), nproc_per_node=1)
    many = train_command(Path("p.strata"), resume="r1", nproc_per_node=4)
    assert many[-2:] == ["--nproc-per-node", "4"] and many[7:9] == ["--resume", "r1"]


def test_gpu_figures_reach_the_plot_and_the_status_line(qtbot) -> None:
    """A CUDA child's steps carry memory and utilisation (no GPU here: the events are
    written as the trainer writes them)."""
    dashboard = TrainingDashboard()
    qtbot.addWidget(dashboard)
    dashboard.show()
    started = {"event": "started", "run": "r", "epochs": 2, "steps_per_epoch": 10}
    step = {
        "event": "step",
        "epoch": 1,
        "step": 3,
        "batch": 3,
        "batches": 10,
        "loss": 0.5,
        "lr": 0.001,
        "samples_per_s": 900.0,
        "gpu_memory_mb": {"allocated": 512.0, "reserved": 1024.0, "peak": 700.0},
        "gpu_utilization": 87.0,
    }
    dashboard.handle_events([started, step])
    assert dashboard.gpu_plot.isVisible()
    assert set(dashboard.gpu_plot.curves) == {"allocated", "reserved", "peak"}
    assert "GPU 87 % busy" in dashboard.progress_label.text()


def test_non_json_lines_become_log_events() -> None:
    assert parse_line(b'{"event": "step", "step": 3, "loss": null}')["loss"] is None
    assert parse_line(b"Warning: something\r") == {
        "event": "log",
        "level": "output",
        "message": "Warning: something",
    }
    assert parse_line(b'{"event": "nonsense"}')["event"] == "log"


def test_train_plot_live_then_stop(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    path = copy_example(tmp_path, "mlp_classifier")
    project = open_path(qtbot, main_window, path)
    dashboard = show_dashboard(main_window)
    tab = main_window.training_tab
    assert tab.settings_area.widget() is tab.settings_widget
    # A change not yet saved: Train saves it first, so the child trains what is shown.
    project.training.epochs = 100_000
    main_window.set_modified(True)
    qtbot.mouseClick(dashboard.train_button, Qt.MouseButton.LeftButton)
    assert not main_window.modified
    assert json.loads(path.read_text(encoding="utf-8"))["training"]["epochs"] == 100_000
    assert dashboard.running and not dashboard.train_button.isEnabled()

    qtbot.waitUntil(
        lambda: step_points(dashboard) >= 3 and dashboard.epoch_events >= 1,
        timeout=RUN_TIMEOUT_MS,
    )
    assert dashboard.progress.device == "cpu" and dashboard.progress.device_reason
    if hasattr(os, "getpriority"):
        # The child trains below the window's priority, so the window draws first.
        child = dashboard.process.process.processId()
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, child) == min(ours + 10, 19)
    assert "epoch" in dashboard.progress_label.text()
    assert "val_accuracy" in dashboard.metrics_plot.curves
    qtbot.waitUntil(lambda: dashboard.loss_plot.redraws > 0, timeout=RUN_TIMEOUT_MS)

    with qtbot.waitSignal(dashboard.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(dashboard.stop_button, Qt.MouseButton.LeftButton)
        assert dashboard.stop_button.text() == "Kill"
    outcome = ended.args[0]
    assert outcome.status == STOPPED and not outcome.killed_by_us
    assert "stopped" in dashboard.progress_label.text()
    assert "stopped" in dashboard.log_text()
    assert dashboard.run_dir is not None and (dashboard.run_dir / "last.pt").is_file()
    assert dashboard.train_button.isEnabled() and not dashboard.stop_button.isEnabled()
    assert dashboard.stop_button.text() == "Stop"
    # The runs are read again in a worker once the run has ended.
    qtbot.waitUntil(dashboard.resume_button.isEnabled, timeout=RUN_TIMEOUT_MS)
    assert find_resumable_run(path) == dashboard.run_dir.name
    assert_window_usable(qtbot, main_window)


def test_a_second_stop_kills(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    path = copy_example(tmp_path, "mlp_classifier", epochs=100_000)
    open_path(qtbot, main_window, path)
    dashboard = show_dashboard(main_window)
    dashboard.train()
    qtbot.waitUntil(lambda: step_points(dashboard) >= 1, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(dashboard.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        assert dashboard.stop() == "stopping"
        assert dashboard.stop() == "killed"
    outcome = ended.args[0]
    assert outcome.status == STOPPED and outcome.killed_by_us
    assert "killed" in dashboard.log_text()


def test_a_killed_child_is_reported_and_resumed(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    path = copy_example(tmp_path, "mlp_classifier", epochs=2000)
    open_path(qtbot, main_window, path)
    dashboard = show_dashboard(main_window)
    dashboard.train()
    qtbot.waitUntil(
        lambda: dashboard.progress.last_checkpoint is not None and dashboard.epoch_events >= 2,
        timeout=RUN_TIMEOUT_MS,
    )
    assert dashboard.process is not None
    with qtbot.waitSignal(dashboard.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        os.kill(dashboard.process.pid, signal.SIGKILL)
    outcome = ended.args[0]
    assert outcome.status == CRASHED
    assert outcome.signal_name == "SIGKILL"
    assert "SIGKILL" in dashboard.log_text() and "crashed" in dashboard.log_text()
    assert "crashed" in dashboard.progress_label.text()
    assert dashboard.run_dir is not None
    run_id = dashboard.run_dir.name
    records = read_metrics(dashboard.run_dir / "metrics.jsonl")
    assert records and all(isinstance(r.get("epoch"), int) for r in records)
    assert_window_usable(qtbot, main_window)

    qtbot.waitUntil(dashboard.resume_button.isEnabled, timeout=RUN_TIMEOUT_MS)
    assert find_resumable_run(path) == run_id
    target = int(records[-1]["epoch"]) + 3
    with qtbot.waitSignal(dashboard.run_ended, timeout=RUN_TIMEOUT_MS) as resumed:
        assert dashboard.resume(epochs=target)
    assert resumed.args[0].status == "completed", dashboard.log_text()
    assert dashboard.progress.run == run_id
    assert dashboard.progress.start_epoch >= 1  # from the checkpoint, not from scratch
    final = read_metrics(dashboard.run_dir / "metrics.jsonl")
    assert [r["epoch"] for r in final] == list(range(1, target + 1))
    assert (dashboard.run_dir / "last.pt").is_file()


def test_a_failing_run_shows_its_error(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    # A learning rate far too large for plain SGD: the regression loss overflows at once.
    path = copy_example(
        tmp_path,
        "mlp_regressor",
        learning_rate=10.0,
        optimizer={"name": "sgd", "momentum": 0.9},
        epochs=5,
    )
    open_path(qtbot, main_window, path)
    dashboard = show_dashboard(main_window)
    with qtbot.waitSignal(dashboard.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(dashboard.train_button, Qt.MouseButton.LeftButton)
    outcome = ended.args[0]
    assert outcome.status == FAILED, (outcome, dashboard.log_text())
    assert "the loss became" in outcome.message
    assert "the loss became" in dashboard.log_text()
    assert "failed" in dashboard.progress_label.text()
    assert not dashboard.resume_button.isEnabled() or find_resumable_run(path) is not None
    assert_window_usable(qtbot, main_window)


def test_a_project_training_refuses_shows_the_sentence(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    """What `studio validate` reports stops the child before training; the window shows that
    sentence as the run's failure, not "exited with code 1"."""
    path = copy_example(tmp_path, "mlp_classifier", frozen=["nope"])
    open_path(qtbot, main_window, path)
    dashboard = show_dashboard(main_window)
    with qtbot.waitSignal(dashboard.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(dashboard.train_button, Qt.MouseButton.LeftButton)
    outcome = ended.args[0]
    assert outcome.status == FAILED, (outcome, dashboard.log_text())
    assert "nope" in outcome.message and "validate" in outcome.message
    assert not (tmp_path / "mlp_classifier.runs").exists() or not any(
        (tmp_path / "mlp_classifier.runs").iterdir()
    )
    assert_window_usable(qtbot, main_window)


CRASHING_CHILD = """
import os, sys, threading, time

def _crash():
    time.sleep(2.0)
    sys.stderr.write("native kernel: illegal instruction (simulated)\\n")
    sys.stderr.write("the last words of the training process\\n")
    sys.stderr.flush()
    os._exit(134)

threading.Thread(target=_crash, daemon=True).start()
"""


def test_a_crashed_child_shows_its_last_stderr_lines(
    qtbot, main_window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child that dies on its own (a native crash, say) is reported with what it said last."""
    # The child imports this sitecustomize at start-up: after 2 s it writes to stderr and
    # exits as an abort would, in the middle of the run.
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    (crash_dir / "sitecustomize.py").write_text(CRASHING_CHILD, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(crash_dir))
    path = copy_example(tmp_path, "mlp_classifier", epochs=100_000)
    open_path(qtbot, main_window, path)
    dashboard = show_dashboard(main_window)
    with qtbot.waitSignal(dashboard.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        dashboard.train()
    outcome = ended.args[0]
    assert outcome.status == CRASHED, (outcome, dashboard.log_text())
    assert "exited with code 134" in outcome.message
    assert outcome.stderr[-1] == "the last words of the training process"
    log = dashboard.log_text()
    assert "Its last messages:" in log
    assert "illegal instruction (simulated)" in log
    assert "crashed" in dashboard.progress_label.text()
    assert_window_usable(qtbot, main_window)


def test_closing_the_window_ends_the_training_child(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    path = copy_example(tmp_path, "mlp_classifier", epochs=100_000)
    open_path(qtbot, main_window, path)
    dashboard = show_dashboard(main_window)
    dashboard.train()
    qtbot.waitUntil(lambda: step_points(dashboard) >= 1, timeout=RUN_TIMEOUT_MS)
    assert dashboard.process is not None
    assert dashboard.process.pid in training_children()
    # The fixture closes the window while the child trains; `no_training_child_left` then
    # checks that the window's shutdown stopped it.


def test_samples_and_reconstructions_are_shown_as_they_arrive(qtbot, tmp_path: Path) -> None:
    """The engine saves a GAN's grid or an autoencoder's reconstructions each epoch (see
    tests/training); the dashboard shows the newest beside the plots, a pixel per value."""
    import numpy as np

    dashboard = TrainingDashboard()
    qtbot.addWidget(dashboard)
    dashboard.resize(1300, 800)
    dashboard.show()
    qtbot.waitExposed(dashboard)
    assert dashboard.samples_box.isHidden()
    rng = np.random.default_rng(0)
    pair = rng.random((2, 8, 1, 12, 12)).astype(np.float32)
    first, second = tmp_path / "epoch-0001.npy", tmp_path / "epoch-0002.npy"
    np.save(first, pair)
    np.save(second, pair * 0.5)

    def saved(path: Path, kind: str, epoch: int) -> dict[str, object]:
        return {"event": "checkpoint", "kind": kind, "path": str(path), "epoch": epoch}

    dashboard.handle_events(
        [saved(first, "reconstructions", 1), saved(second, "reconstructions", 2)]
    )
    assert dashboard.samples_box.isVisible()
    assert dashboard.samples_title.text() == "Reconstructions"
    view = dashboard.samples_view
    assert view.shown_path == str(second)  # the newest of a batch, once
    assert view.image is not None
    # 2 rows of 8 tiles of 12 px with 1-pixel gaps, scaled by a whole factor.
    assert (view.image.width(), view.image.height()) == (8 * 13 - 1, 2 * 13 - 1)
    assert view.pixmap().width() % view.image.width() == 0
    assert "reconstructions" in view.caption and "epoch 0002" in view.caption
    # Sample files are not the run's checkpoints.
    assert dashboard.progress.last_checkpoint is None
    # A GAN grid (a square of samples); then a broken file changes nothing.
    grid = tmp_path / "epoch-0003.npy"
    np.save(grid, rng.random((16, 3, 8, 8)))
    dashboard.handle_events([saved(grid, "samples", 3)])
    assert dashboard.samples_title.text() == "Generated samples"
    assert (view.image.width(), view.image.height()) == (4 * 9 - 1, 4 * 9 - 1)
    broken = tmp_path / "epoch-0004.npy"
    broken.write_bytes(b"not numpy")
    dashboard.handle_events([saved(broken, "samples", 4)])
    assert view.shown_path == str(grid)
    dashboard.reset_plots()
    assert dashboard.samples_box.isHidden()


@pytest.mark.timeout(20)
def test_a_samples_file_that_is_a_fifo_or_links_out_is_not_read(
    qtbot: object, tmp_path: Path
) -> None:
    """The samples view reads a regular file inside the run only: a FIFO would block the
    window forever, and a link out of the run could show any file as an image."""
    import numpy as np

    from studio.ui.dashboard import SamplesView

    view = SamplesView()
    qtbot.addWidget(view)  # type: ignore[attr-defined]
    samples = tmp_path / "run" / "samples"
    samples.mkdir(parents=True)
    grid = np.zeros((4, 1, 8, 8), dtype=np.uint8)
    np.save(samples / "epoch-0001.npy", grid)
    assert view.show_file("generated", str(samples / "epoch-0001.npy"))
    os.mkfifo(samples / "epoch-0002.npy")
    assert not view.show_file("generated", str(samples / "epoch-0002.npy"))
    np.save(tmp_path / "elsewhere.npy", grid)
    (samples / "epoch-0003.npy").symlink_to(tmp_path / "elsewhere.npy")
    assert not view.show_file("generated", str(samples / "epoch-0003.npy"))
    assert view.shown_path == str(samples / "epoch-0001.npy")
