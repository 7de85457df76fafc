"""The training dashboard: Train / Stop / Resume, a status line, live plots and messages.

It runs training as a child process (`TrainingProcess`) and turns the events it reads into
points on `LivePlot`s. Events arrive in batches; a batch is sorted into per-curve arrays and
appended at once, the status line is updated once per batch, and the plots redraw on their
own timer, so the Qt thread does a little work per batch and none per point.
"""

from __future__ import annotations

import html
import io
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QImage, QPainter, QPaintEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.safe_files import read_bytes_bounded
from studio.training.runs import SAMPLE_GRID_LIMIT
from studio.ui import theme
from studio.ui.live_plot import LivePlot
from studio.ui.runs_model import RunsModel, RunsSnapshot
from studio.ui.training_process import (
    COMPLETED,
    CRASHED,
    FAILED,
    STOPPED,
    Outcome,
    TrainingProcess,
)

LOG_LINES = 5000
# Keys of a step event that are not losses.
STEP_FIELDS = ("event", "time", "epoch", "step", "batch", "batches", "lr", "samples_per_s")
EPOCH_FIELDS = ("event", "time", "epoch", "step", "lr", "epoch_time")
# The curves every run has, by plot title.
STANDARD_CURVES = {
    "Loss": ("step loss", "epoch train_loss", "epoch val_loss"),
    "Learning rate": ("lr",),
    "Throughput": ("samples/s",),
}


def format_duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class RunProgress:
    """What the status line shows, gathered from the events of one run."""

    def __init__(self) -> None:
        self.run: str | None = None
        self.device = ""
        self.device_reason = ""
        self.epochs = 0
        self.start_epoch = 0
        self.steps_per_epoch = 0
        self.epoch = 0
        self.step = 0
        self.samples_per_s: float | None = None
        self.gpu_utilization: float | None = None
        self.epoch_time: float | None = None
        self.last_checkpoint: int | None = None
        self.started_at: float | None = None
        self.first_step: int | None = None
        self.first_step_at: float | None = None

    def on_started(self, event: Mapping[str, Any]) -> None:
        self.run = str(event.get("run") or "") or None
        self.device = str(event.get("device") or "")
        self.device_reason = str(event.get("device_reason") or "")
        self.epochs = int(event.get("epochs") or 0)
        self.start_epoch = int(event.get("start_epoch") or 0)
        self.steps_per_epoch = int(event.get("steps_per_epoch") or 0)
        self.epoch = self.start_epoch
        self.step = self.start_epoch * self.steps_per_epoch
        self.started_at = time.monotonic()

    def on_step(self, event: Mapping[str, Any]) -> None:
        self.step = int(event.get("step") or self.step)
        self.epoch = int(event.get("epoch") or self.epoch)
        speed = event.get("samples_per_s")
        if is_number(speed):
            self.samples_per_s = float(speed)
        busy = event.get("gpu_utilization")
        if is_number(busy):
            self.gpu_utilization = float(busy)
        if self.first_step is None:
            self.first_step, self.first_step_at = self.step, time.monotonic()

    def on_epoch(self, event: Mapping[str, Any]) -> None:
        self.step = int(event.get("step") or self.step)
        self.epoch = int(event.get("epoch") or self.epoch)
        seconds = event.get("epoch_time")
        if is_number(seconds):
            self.epoch_time = float(seconds)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def fraction(self) -> float:
        total = self.total_steps
        return min(1.0, self.step / total) if total else 0.0

    def eta(self) -> float | None:
        """Seconds left, from the pace since the first step (start-up time excluded)."""
        if self.first_step is None or self.first_step_at is None:
            return None
        done = self.step - self.first_step
        left = self.total_steps - self.step
        elapsed = time.monotonic() - self.first_step_at
        if done <= 0 or elapsed <= 0 or left < 0:
            return None
        return elapsed / done * left

    def describe_run(self) -> str:
        if self.run is None:
            return "Starting the training process…"
        device = self.device or "?"
        reason = f" — {self.device_reason}" if self.device_reason else ""
        return f"Run {self.run} · {device}{reason}"

    def describe_progress(self) -> str:
        parts = [f"epoch {self.epoch}/{self.epochs}", f"step {self.step:,}"]
        if self.steps_per_epoch:
            parts[-1] += f"/{self.total_steps:,}"
        if self.samples_per_s is not None:
            parts.append(f"{format_number(self.samples_per_s)} samples/s")
        if self.gpu_utilization is not None:
            parts.append(f"GPU {self.gpu_utilization:.0f} % busy")
        if self.epoch_time is not None:
            parts.append(f"epoch {self.epoch_time:.2f} s")
        eta = self.eta()
        if eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        if self.last_checkpoint is not None:
            parts.append(f"checkpoint: epoch {self.last_checkpoint}")
        return " · ".join(parts)


class ProgressStrip(QWidget):
    """A thin bar of the run's progress, 0-1000.

    Not a QProgressBar: its `setValue` repaints synchronously, which flushes every pending
    repaint of the window (the plots too) from inside the event handler that set it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._value = 0
        self.setFixedHeight(4)

    def value(self) -> int:
        return self._value

    def set_value(self, value: int) -> None:
        value = max(0, min(1000, int(value)))
        if value != self._value:
            self._value = value
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), theme.colour("separator"))
        done = self.rect()
        done.setWidth(int(self.width() * self._value / 1000))
        painter.fillRect(done, theme.colour("accent"))


def sample_grid(samples: np.ndarray, rows: int) -> np.ndarray:
    """(n, C, H, W) images as one uint8 picture of `rows` rows, 1-pixel gaps, min-max scaled."""
    count, channels, height, width = samples.shape
    columns = -(-count // rows)
    low, high = float(np.nanmin(samples)), float(np.nanmax(samples))
    scaled = (samples - low) / (high - low) if high > low else np.zeros_like(samples)
    scaled = np.nan_to_num(scaled)
    grid = np.zeros(((height + 1) * rows - 1, (width + 1) * columns - 1, channels), np.uint8)
    for i in range(count):
        r, c = divmod(i, columns)
        tile = (scaled[i].transpose(1, 2, 0) * 255).round().astype(np.uint8)
        grid[
            r * (height + 1) : r * (height + 1) + height, c * (width + 1) : c * (width + 1) + width
        ] = tile
    return grid[..., 0] if channels == 1 else grid


class SamplesView(QLabel):
    """The newest generated samples (GAN) or reconstructions (autoencoder), scaled by whole
    pixels so small images stay crisp; the epoch and what the rows are, in the title."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 140)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image: QImage | None = None
        self.caption = ""
        self.shown_path: str | None = None

    def show_file(self, kind: str, path: str) -> bool:
        """Show a `samples/epoch-NNNN.npy`; False (and nothing changes) if it is unreadable."""
        run_folder = Path(path).parent.parent  # RUN/samples/epoch-NNNN.npy
        try:
            # A regular file inside the run, of bounded size: never a FIFO or /dev/zero.
            data = read_bytes_bounded(path, SAMPLE_GRID_LIMIT, within=run_folder)
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except (StudioError, OSError, ValueError, EOFError):
            return False
        if kind == "reconstructions" and array.ndim == 5 and array.shape[0] == 2:
            samples, rows = array.reshape(-1, *array.shape[2:]), 2
            what = "top: validation images · bottom: reconstructions"
        elif array.ndim == 4:
            samples, rows = array, max(1, int(np.sqrt(len(array))))
            what = "generated from fixed noise"
        else:
            return False
        if samples.shape[1] not in (1, 3) or not len(samples):
            return False
        picture = np.ascontiguousarray(sample_grid(samples, rows))
        height, width = picture.shape[:2]
        grey = picture.ndim == 2
        fmt = QImage.Format.Format_Grayscale8 if grey else QImage.Format.Format_RGB888
        line = width if grey else width * 3
        self.image = QImage(picture.data, width, height, line, fmt).copy()
        self.caption = f"{Path(path).stem.replace('-', ' ')}: {what}"
        self.shown_path = path
        self.setToolTip(self.caption)
        self._rescale()
        return True

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self.image is None:
            return
        factor = max(
            1, min(self.width() // self.image.width(), self.height() // self.image.height())
        )
        self.setPixmap(
            QPixmap.fromImage(self.image).scaled(
                self.image.width() * factor,
                self.image.height() * factor,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )
        )


class TrainingDashboard(QWidget):
    """Buttons, status, plots and messages of one training run at a time.

    `prepare` returns the project file to train (saving it first when needed) or None when
    the person declined; `project_path` returns the open project's file, or None;
    `has_project` says whether a project (perhaps untitled) is open.
    """

    run_started = Signal()
    run_ended = Signal(object)  # Outcome

    def __init__(
        self,
        prepare: Callable[[], Path | None] | None = None,
        project_path: Callable[[], Path | None] | None = None,
        has_project: Callable[[], bool] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._prepare = prepare or (lambda: None)
        self._project_path = project_path or (lambda: None)
        self._has_project = has_project or (lambda: self._project_path() is not None)
        self.process: TrainingProcess | None = None
        self.outcome: Outcome | None = None
        # How many training processes per machine (None: one); the Training tab asks its form.
        self.processes_per_node: Callable[[], int | None] = lambda: None
        self.progress = RunProgress()
        self.runs_model: RunsModel | None = None
        self.run_dir: Path | None = None
        self.trained_path: Path | None = None
        self.events_seen = 0
        self.epoch_events = 0
        self.metric_keys: list[str] = []

        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("train_button")
        self.train_button.setToolTip("Save the project and train it in a new run")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step, keeping a checkpoint")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the latest stopped or interrupted run")
        self.train_button.clicked.connect(self.train)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(lambda: self.resume())
        self.run_label = QLabel("Not trained yet: press Train.")
        self.run_label.setObjectName("run_label")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("progress_label")
        self.progress_bar = ProgressStrip()
        for label in (self.run_label, self.progress_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.resume_button)
        status = QVBoxLayout()
        status.setSpacing(1)
        status.addWidget(self.run_label)
        status.addWidget(self.progress_label)
        buttons.addSpacing(10)
        buttons.addLayout(status, 1)

        self.loss_plot = LivePlot("Loss", x_label="step", y_label="loss")
        self.metrics_plot = LivePlot("Validation metrics", x_label="epoch", legend_at_bottom=True)
        self.lr_plot = LivePlot("Learning rate", x_label="step", y_from_zero=True)
        self.speed_plot = LivePlot(
            "Throughput", x_label="step", y_label="samples/s", y_from_zero=True
        )
        self.gpu_plot = LivePlot("GPU memory", x_label="step", y_label="MB", y_from_zero=True)
        self.plots = [
            self.loss_plot,
            self.metrics_plot,
            self.lr_plot,
            self.speed_plot,
            self.gpu_plot,
        ]
        grid_widget = QWidget()
        grid = QGridLayout(grid_widget)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.metrics_plot, 0, 1)
        grid.addWidget(self.lr_plot, 1, 0)
        grid.addWidget(self.speed_plot, 1, 1)
        grid.addWidget(self.gpu_plot, 2, 0, 1, 2)
        self.samples_title = QLabel("Samples")
        self.samples_title.setObjectName("samples_title")
        self.samples_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples_view = SamplesView()
        samples_box = QWidget()
        samples_column = QVBoxLayout(samples_box)
        samples_column.setContentsMargins(0, 4, 0, 0)
        samples_column.addWidget(self.samples_title)
        samples_column.addWidget(self.samples_view, 1)
        self.samples_box = samples_box
        grid.addWidget(samples_box, 0, 2, 2, 1)
        samples_box.hide()
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        self.plot_grid = grid
        self.gpu_plot.hide()
        self._declare_curves()

        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("training_log")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        self.log_view.setPlaceholderText("Messages from training appear here.")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(max(8.0, QFont().pointSizeF() - 1))
        self.log_view.setFont(mono)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(grid_widget)
        self.splitter.addWidget(self.log_view)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([600, 120])
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.splitter, 1)
        self.update_buttons()

    # ---------------------------------------------------------------- state
    @property
    def running(self) -> bool:
        return self.process is not None and self.process.outcome is None

    def set_runs_model(self, model: RunsModel) -> None:
        """Read which run Resume continues from the window's runs model (never the disk).

        A run that starts or ends changes the runs, so the model reads them again then.
        """
        self.runs_model = model
        model.runs_changed.connect(self._on_runs_changed)
        self.run_started.connect(model.refresh)
        self.run_ended.connect(self._read_runs_again)
        self.update_buttons()

    def _read_runs_again(self, _outcome: Outcome) -> None:
        if self.runs_model is not None:
            self.runs_model.refresh()

    def _on_runs_changed(self, _snapshot: RunsSnapshot) -> None:
        self.update_buttons()

    @property
    def resumable_run(self) -> str | None:
        """The newest stopped or interrupted run with a checkpoint, as last read."""
        path = self._project_path()
        model = self.runs_model
        if path is None or self.running or model is None:
            return None
        snapshot = model.snapshot
        return snapshot.resumable if snapshot.project_path == Path(path) else None

    def update_buttons(self) -> None:
        running = self.running
        has_project = self._has_project()
        self.train_button.setEnabled(not running and has_project)
        self.stop_button.setEnabled(running)
        if not running:
            self.stop_button.setText("Stop")
            self.stop_button.setToolTip("Stop after the current step, keeping a checkpoint")
        resumable = None if running else self.resumable_run
        self.resume_button.setEnabled(resumable is not None)
        self.resume_button.setToolTip(
            f"Continue run {resumable} from its last checkpoint"
            if resumable
            else "No stopped or interrupted run to continue"
        )

    # ---------------------------------------------------------------- actions
    def train(self) -> bool:
        """Train the open project in a new run (saved first; untitled asks for a path)."""
        if self.running:
            return False
        path = self._prepare()
        if path is None:
            return False
        return self.start_run(path)

    def resume(self, run_id: str | None = None, epochs: int | None = None) -> bool:
        """Continue `run_id` (default: the latest stopped or interrupted run)."""
        if self.running:
            return False
        path = self._project_path()
        if path is None:
            return False
        run_id = run_id or self.resumable_run
        if run_id is None:
            self.log("Nothing to resume: no stopped or interrupted run with a checkpoint.", "muted")
            return False
        return self.start_run(path, resume=run_id, epochs=epochs)

    def start_run(
        self,
        project_path: Path,
        *,
        resume: str | None = None,
        epochs: int | None = None,
        device: str | None = None,
    ) -> bool:
        """Start a training child for `project_path` and plot what it reports."""
        if self.running:
            return False
        self._discard_process()
        self.reset_plots()
        self.outcome = None
        self.progress = RunProgress()
        self.trained_path = Path(project_path)
        process = TrainingProcess(self)
        process.events_received.connect(self.handle_events)
        process.ended.connect(self._on_ended)
        self.process = process
        verb = f"Resuming run {resume}" if resume else "Training"
        self.log(f"{verb}: {Path(project_path).name}", "muted")
        self.run_label.setText("Starting the training process…")
        self.progress_label.setText("loading the data and building the model")
        process.start(
            Path(project_path),
            resume=resume,
            epochs=epochs,
            device=device,
            nproc_per_node=self.processes_per_node(),
        )
        self.run_started.emit()
        self.update_buttons()
        return True

    def stop(self) -> str:
        """First press: a graceful stop (the child checkpoints); the second kills it."""
        if self.process is None or not self.running:
            return ""
        result = self.process.stop()
        if result == "stopping":
            self.stop_button.setText("Kill")
            self.stop_button.setToolTip("End the training process now (no further checkpoint)")
            self.log("Stopping after the current step…", "muted")
        elif result == "killed":
            self.stop_button.setEnabled(False)
            self.log("Killing the training process…", "warning")
        return result

    def shutdown(self) -> None:
        """The window is closing: no training child may outlive it (bounded wait)."""
        if self.process is not None:
            self.process.shutdown()
            self._discard_process()
        for plot in self.plots:
            plot.dirty = False

    def _discard_process(self) -> None:
        if self.process is not None and not self.process.running:
            self.process.events_received.disconnect(self.handle_events)
            self.process.ended.disconnect(self._on_ended)
            self.process.deleteLater()
            self.process = None

    def show_samples(self, kind: str, path: str) -> None:
        """A GAN's grid or an autoencoder's reconstructions of the epoch just ended (a small
        .npy: reading it is quick)."""
        if self.samples_view.show_file(kind, path):
            self.samples_title.setText(
                "Generated samples" if kind == "samples" else "Reconstructions"
            )
            if self.samples_box.isHidden():
                self.samples_box.show()
                self.plot_grid.setColumnStretch(0, 3)
                self.plot_grid.setColumnStretch(1, 3)
                self.plot_grid.setColumnStretch(2, 2)

    def reset_plots(self) -> None:
        self.samples_box.hide()
        self.samples_view.image = None
        self.samples_view.clear()
        for plot in self.plots:
            plot.clear_curves(keep=STANDARD_CURVES.get(plot.title, ()))
        self._declare_curves()
        self.gpu_plot.hide()
        self.plot_grid.setRowStretch(2, 0)
        self.metric_keys = []
        self.events_seen = 0
        self.epoch_events = 0
        self.progress_bar.set_value(0)

    def _declare_curves(self) -> None:
        """Every run has these: made now, not while the first events are handled (a curve
        and its legend entry take a few milliseconds to build)."""
        for plot in self.plots:
            for key in STANDARD_CURVES.get(plot.title, ()):
                plot.curve(key, _curve_name(key), symbols=self._per_epoch(plot, key))

    def _per_epoch(self, plot: LivePlot, key: str) -> bool:
        """Curves with a point per epoch get markers: after the first epoch a lone point is
        all there is, and without a marker it would not show at all."""
        return key.startswith("epoch ") or plot is self.metrics_plot

    # ---------------------------------------------------------------- events
    def handle_events(self, batch: list[dict[str, Any]]) -> None:
        """One batch of events: points sorted into per-curve arrays, then appended at once."""
        series: dict[tuple[LivePlot, str], tuple[list[float], list[float]]] = {}

        def add(plot: LivePlot, key: str, x: float, y: object) -> None:
            xs, ys = series.setdefault((plot, key), ([], []))
            xs.append(x)
            ys.append(float(y) if is_number(y) else math.nan)

        progress = self.progress
        newest_samples: tuple[str, str] | None = None
        for event in batch:
            kind = event.get("event")
            if kind == "step":
                progress.on_step(event)
                step = float(progress.step)
                for key, value in event.items():
                    if key not in STEP_FIELDS and (key == "loss" or key.endswith("_loss")):
                        add(self.loss_plot, f"step {key}", step, value)
                add(self.lr_plot, "lr", step, event.get("lr"))
                add(self.speed_plot, "samples/s", step, event.get("samples_per_s"))
                memory = event.get("gpu_memory_mb")
                if isinstance(memory, dict):
                    for key in ("allocated", "reserved", "peak"):
                        if key in memory:
                            add(self.gpu_plot, key, step, memory[key])
            elif kind == "epoch":
                progress.on_epoch(event)
                self.epoch_events += 1
                self._add_epoch(event, add)
            elif kind == "started":
                progress.on_started(event)
                run_dir = event.get("run_dir")
                self.run_dir = Path(str(run_dir)) if run_dir else None
                self.log(self.progress.describe_run(), "muted")
            elif kind == "checkpoint":
                saved = str(event.get("kind") or "")
                if saved in ("samples", "reconstructions"):
                    newest_samples = (saved, str(event.get("path") or ""))
                else:
                    progress.last_checkpoint = int(event.get("epoch") or 0)
            elif kind == "log":
                level = str(event.get("level") or "info")
                self.log(str(event.get("message", "")), "error" if level == "error" else "")
            elif kind == "error":
                self.log(f"Error: {event.get('message', '')}", "error")
        self.events_seen += len(batch)
        for (plot, key), (xs, ys) in series.items():
            curve = plot.curve(key, _curve_name(key), symbols=self._per_epoch(plot, key))
            curve.buffer.extend(xs, ys)
            plot.mark_dirty()
        if newest_samples is not None:
            self.show_samples(*newest_samples)
        if series and self.gpu_plot.isHidden() and self.gpu_plot.curves:
            self.gpu_plot.show()
            self.plot_grid.setRowStretch(2, 2)
        self._show_progress()

    def _add_epoch(
        self, event: Mapping[str, Any], add: Callable[[LivePlot, str, float, object], None]
    ) -> None:
        step = float(event.get("step") or self.progress.step)
        epoch = float(event.get("epoch") or 0)
        for key, value in event.items():
            if key in EPOCH_FIELDS:
                continue
            if key.endswith("loss"):
                add(self.loss_plot, f"epoch {key}", step, value)
            elif key.startswith(("val_", "train_")):
                if key not in self.metric_keys:
                    self.metric_keys.append(key)
                add(self.metrics_plot, key, epoch, value)

    def _show_progress(self) -> None:
        progress = self.progress
        if progress.run is None:
            return
        self.run_label.setText(progress.describe_run())
        self.run_label.setToolTip(progress.device_reason)
        self.progress_label.setText(progress.describe_progress())
        self.progress_bar.set_value(int(progress.fraction * 1000))

    def _on_ended(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self._show_progress()
        run = f"Run {outcome.run}" if outcome.run else "Training"
        if outcome.status == COMPLETED:
            self.log(f"{run} completed after epoch {self.progress.epoch}.", "ok")
            self.progress_bar.set_value(1000)
        elif outcome.status == STOPPED:
            how = f" ({outcome.message})" if outcome.message else ""
            self.log(
                f"{run} stopped at epoch {self.progress.epoch}{how}. Resume continues it.",
                "warning",
            )
        elif outcome.status == FAILED:
            self.log(f"{run} failed: {outcome.message}", "error")
        elif outcome.status == CRASHED:
            self.log(f"{run} crashed: {outcome.message}.", "error")
            if outcome.stderr:
                self.log("Its last messages:", "error")
                for line in outcome.stderr:
                    self.log("    " + line, "error")
        headline = {
            COMPLETED: "completed",
            STOPPED: "stopped",
            FAILED: "failed",
            CRASHED: "crashed",
        }[outcome.status]
        colour = {COMPLETED: "ok", STOPPED: "warning"}.get(outcome.status, "error")
        self.progress_label.setText(
            f"<span style='color:{theme.colour(colour).name()}'>{headline}</span> · "
            + html.escape(
                self.progress.describe_progress() if self.progress.run else outcome.message
            )
        )
        self.update_buttons()
        self.run_ended.emit(outcome)

    # ---------------------------------------------------------------- messages
    def log(self, message: str, role: str = "") -> None:
        """A line in the messages box; `role` "error", "warning", "ok" or "muted" colours it."""
        colours = {"error": "error", "warning": "warning", "ok": "ok", "muted": "text_muted"}
        text = html.escape(message).replace("  ", "&nbsp;&nbsp;")
        stamp = time.strftime("%H:%M:%S")
        if role in colours:
            colour = theme.colour(colours[role]).name()
            text = f"<span style='color:{colour}'>{text}</span>"
        self.log_view.appendHtml(
            f"<span style='color:{theme.colour('text_muted').name()}'>{stamp}</span> {text}"
        )

    def log_text(self) -> str:
        return self.log_view.toPlainText()


def _curve_name(key: str) -> str:
    names = {
        "step loss": "train loss (step)",
        "epoch train_loss": "train loss (epoch)",
        "epoch val_loss": "validation loss",
        "lr": "learning rate",
    }
    if key in names:
        return names[key]
    if key.startswith("step "):
        return key.removeprefix("step ").replace("_", " ") + " (step)"
    if key.startswith("epoch "):
        return key.removeprefix("epoch ").replace("_", " ")
    return (
        key.removeprefix("val_").replace("_", " ")
        if key.startswith("val_")
        else key.replace("_", " ")
    )
