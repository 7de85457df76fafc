"""The training settings form: every field of the project's training section, each edit one
undoable step.

The form never changes the project itself: it asks for a new, validated `TrainingSection`
(`edit_requested`), the window pushes a `TrainingEditCommand` that swaps it in, and undo or
redo swaps it back and calls `section_changed`. Spin-box steps in one field merge into one
step until the field is left. Limits come from the pydantic model, so what the form lets a
person enter is what the project file accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent, QUndoCommand, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.project import Project, TrainingSection, describe_validation_error
from studio.ui import theme

if TYPE_CHECKING:
    from studio.compile.summary import ModelSummary
    from studio.core.graph import Graph
    from studio.ui.runs_model import RunsModel
    from studio.ui.tasks import Task, TaskRunner

MODES = (("supervised", "Supervised"), ("autoencoder", "Autoencoder"), ("gan", "GAN"))
TASKS = (
    ("classification", "Classification"),
    ("regression", "Regression"),
    ("reconstruction", "Reconstruction"),
    ("generation", "Generation"),
)
OPTIMIZERS = (("adam", "Adam"), ("adamw", "AdamW"), ("sgd", "SGD"), ("rmsprop", "RMSprop"))
SCHEDULERS = (
    ("none", "Constant"),
    ("step", "Step decay"),
    ("cosine", "Cosine annealing"),
    ("onecycle", "One cycle"),
    ("plateau", "Reduce on plateau"),
)
LOSS_TITLES = {
    "auto": "Automatic",
    "cross_entropy": "Cross-entropy",
    "bce": "Binary cross-entropy",
    "mse": "Mean squared error",
    "l1": "Mean absolute error (L1)",
    "huber": "Huber",
}
# The losses that make sense for each task ("auto" follows the task: cross-entropy for
# classification, mean squared error otherwise).
TASK_LOSSES: dict[str, tuple[str, ...]] = {
    "classification": ("auto", "cross_entropy", "bce"),
    "regression": ("auto", "mse", "l1", "huber"),
    "reconstruction": ("auto", "mse", "l1", "huber", "bce"),
    "generation": ("auto", "bce", "mse"),
}
# As studio.training.metrics (which imports torch, so it is not imported here).
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "precision", "recall"),
    "regression": ("mae", "r2"),
}
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1"),
    "regression": ("mae", "r2"),
}
METRIC_TITLES = {
    "accuracy": "Accuracy",
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "mae": "MAE",
    "r2": "R²",
}
DEVICES = (("auto", "Automatic"), ("cpu", "CPU"), ("cuda", "CUDA GPU"), ("mps", "Apple GPU (MPS)"))
PRECISIONS = (
    ("fp32", "32-bit float"),
    ("mixed", "Mixed (bf16 where supported, else fp16)"),
    ("bf16", "bfloat16 (mixed)"),
    ("fp16", "16-bit float (mixed)"),
)
AUTO_DEVICE_NOTE = "Automatic picks a CUDA GPU, then an Apple GPU (MPS), then the CPU."
# Nodes without weights of their own, never offered for freezing.
UNFREEZABLE = ("studio.Input", "studio.Output")
SEED_MAX = 2**31 - 1  # QSpinBox holds a C int; the file allows up to 2**32 - 1


@dataclass(frozen=True)
class TrainingEdit:
    """An edit the form asks for: the new section, the undo text, and a merge key (steps in
    one field in one burst share a key and undo as one step)."""

    section: TrainingSection
    text: str
    key: tuple[object, ...] | None = None


class TrainingEditCommand(QUndoCommand):
    """Swaps the project's training section between before and after."""

    ID = 1011

    def __init__(
        self,
        apply: Callable[[TrainingSection], None],
        before: TrainingSection,
        after: TrainingSection,
        text: str,
        key: tuple[object, ...] | None = None,
    ) -> None:
        super().__init__(text)
        self.apply = apply
        self.before = before
        self.after = after
        self.key = key

    def redo(self) -> None:
        self.apply(self.after)

    def undo(self) -> None:
        self.apply(self.before)

    def id(self) -> int:
        return self.ID if self.key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, TrainingEditCommand) or other.key != self.key or self.key is None:
            return False
        self.after = other.after
        self.setObsolete(self.after == self.before)
        return True


class RateSpinBox(QDoubleSpinBox):
    """A spin box for rates and decays: steps along 1, 2, 5, 10…, shows 0.001 or 1e-05."""

    LADDER = (1.0, 2.0, 5.0)

    def __init__(self, minimum: float, maximum: float, *, zero: bool = False) -> None:
        super().__init__()
        self.floor = minimum
        self.zero = zero
        self.setDecimals(12)
        self.setRange(0.0 if zero else minimum, maximum)
        self.setKeyboardTracking(False)
        if zero:
            self.setSpecialValueText("none")

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        stripped = text.strip()
        if self.zero and stripped == self.specialValueText():
            return QValidator.State.Acceptable, text, pos
        try:
            value = float(stripped)
        except ValueError:
            partial = stripped in ("", ".", "-") or stripped.lower().endswith(("e", "e-", "e+"))
            state = QValidator.State.Intermediate if partial else QValidator.State.Invalid
            return state, text, pos
        if not math.isfinite(value):
            return QValidator.State.Invalid, text, pos
        inside = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if inside else QValidator.State.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            value = self._next(value, up=steps > 0)
        self.setValue(value)

    def _next(self, value: float, *, up: bool) -> float:
        if value <= 0:
            return self.floor if up else 0.0
        exponent = math.floor(math.log10(value))
        ladder = [m * 10.0**e for e in range(exponent - 1, exponent + 2) for m in self.LADDER]
        ladder = [float(f"{v:.6g}") for v in ladder]
        if up:
            bigger = [v for v in ladder if v > value * (1 + 1e-9)]
            return min(min(bigger), self.maximum())
        smaller = [v for v in ladder if v < value * (1 - 1e-9)]
        result = max(smaller)
        if result < self.floor:
            return 0.0 if self.zero else self.floor
        return result


def _combo(choices: tuple[tuple[str, str], ...], tooltip: str) -> QComboBox:
    combo = QComboBox()
    for value, title in choices:
        combo.addItem(title, value)
    combo.setToolTip(tooltip)
    return combo


def _spin(minimum: int, maximum: int, tooltip: str, special: str | None = None) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setKeyboardTracking(False)
    spin.setToolTip(tooltip)
    spin.setAccelerated(True)
    if special:
        spin.setSpecialValueText(special)
    return spin


def _set_combo(combo: QComboBox, value: object) -> None:
    index = combo.findData(value)
    if index < 0:  # a value of a later version, or of another task: shown, not lost
        combo.addItem(f"{value} (not offered here)", value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


class TrainingForm(QScrollArea):
    """The project's training settings, compact enough for a column about 320 px wide."""

    edit_requested = Signal(object)  # TrainingEdit
    # The first forecast asks the window for each device's memory (the device doctor).
    devices_wanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("training_form")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMinimumWidth(280)
        self.project: Project | None = None
        self.error: str | None = None
        self._syncing = False
        self._burst = 0
        self._connected_graph: Any = None
        self._graph_timer = QTimer(self)
        self._graph_timer.setSingleShot(True)
        self._graph_timer.setInterval(0)
        self._graph_timer.timeout.connect(self._sync_frozen)
        self._headings: list[QLabel] = []
        # The window's runs model: the "Start from" choice lists the runs it last read.
        self.runs_model: RunsModel | None = None
        # What the slower lists show now, so an edit elsewhere does not rebuild them.
        self._frozen_shown: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        self._forms: list[QFormLayout] = []
        self.auto_device: str | None = None
        # The memory forecast runs in a worker (it compiles the graph on the meta device);
        # the window gives the task runner and each device's memory once it knows them.
        self._tasks: TaskRunner | None = None
        self._forecast_task: Task | None = None
        self._forecast_generation = 0
        self.device_memory: dict[str, int] = {}
        self.gpu_count = 0
        self._devices_asked = False
        self.forecast_text = ""
        # The main graph and its summary, from the window's analysis.
        self._summary: tuple[Graph, ModelSummary] | None = None
        self._forecast_timer = QTimer(self)
        self._forecast_timer.setSingleShot(True)
        self._forecast_timer.setInterval(150)
        self._forecast_timer.timeout.connect(self._start_forecast)

        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(8, 6, 8, 8)
        self._layout.setSpacing(4)
        self.error_label = QLabel()
        self.error_label.setObjectName("training_form_error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.placeholder = QLabel("Open a project to edit how it trains.")
        self.placeholder.setWordWrap(True)
        self._layout.addWidget(self.placeholder)
        self._layout.addWidget(self.error_label)
        self._make_task_fields()
        self._make_optimization_fields()
        self._make_schedule_fields()
        self._make_stopping_fields()
        self._make_hardware_fields()
        self._make_transfer_fields()
        self._layout.addStretch(1)
        self.setWidget(body)
        self._align_labels()
        self._restyle()
        theme.notifier().theme_changed.connect(self._restyle)
        self._sync()

    # ----------------------------------------------------------------- building
    def _group(self, title: str) -> QFormLayout:
        heading = QLabel(title.upper())
        self._headings.append(heading)
        self._layout.addSpacing(6)
        self._layout.addWidget(heading)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._layout.addLayout(form)
        self._forms.append(form)
        return form

    def _make_task_fields(self) -> None:
        form = self._group("Task")
        self.mode_combo = _combo(
            MODES, "How the model learns: from labels, by rebuilding its input, or as a GAN"
        )
        self.task_combo = _combo(
            TASKS, "What the model predicts; decides the loss and metrics offered"
        )
        form.addRow("Mode", self.mode_combo)
        form.addRow("Task", self.task_combo)
        self.mode_combo.currentIndexChanged.connect(
            lambda: self._edit(("mode",), self.mode_combo.currentData(), "Set training mode")
        )
        self.task_combo.currentIndexChanged.connect(
            lambda: self._edit(("task",), self.task_combo.currentData(), "Set task")
        )
        self.task_form = form

    def _make_optimization_fields(self) -> None:
        form = self._group("Optimization")
        self.epochs_spin = _spin(1, 100_000, "How many times training goes through the data")
        self.batch_spin = _spin(1, 1_000_000, "Samples per step; larger uses more memory")
        self.lr_spin = RateSpinBox(1e-7, 10.0)
        self.lr_spin.setToolTip("Learning rate: the step size of each update (e.g. 0.001)")
        self.optimizer_combo = _combo(OPTIMIZERS, "The rule that updates the weights")
        self.weight_decay_spin = RateSpinBox(1e-6, 10.0, zero=True)
        self.weight_decay_spin.setToolTip("Weight decay (L2 regularization); none is 0")
        self.momentum_spin = QDoubleSpinBox()
        self.momentum_spin.setRange(0.0, 0.999)
        self.momentum_spin.setDecimals(3)
        self.momentum_spin.setSingleStep(0.01)
        self.momentum_spin.setKeyboardTracking(False)
        self.momentum_spin.setToolTip("SGD momentum (0 to below 1)")
        self.nesterov_check = QCheckBox("Nesterov momentum")
        self.loss_combo = QComboBox()
        self.loss_combo.setToolTip("What training minimises; only losses that suit the task")
        self.grad_clip_spin = QDoubleSpinBox()
        self.grad_clip_spin.setRange(0.0, 1e6)
        self.grad_clip_spin.setDecimals(3)
        self.grad_clip_spin.setSingleStep(0.5)
        self.grad_clip_spin.setSpecialValueText("off")
        self.grad_clip_spin.setKeyboardTracking(False)
        self.grad_clip_spin.setToolTip("Clip the gradient norm to this value; off is 0")
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Optimizer", self.optimizer_combo)
        form.addRow("Weight decay", self.weight_decay_spin)
        form.addRow("Momentum", self.momentum_spin)
        form.addRow("", self.nesterov_check)
        form.addRow("Loss", self.loss_combo)
        self.metrics_box = QWidget()
        self.metrics_layout = QGridLayout(self.metrics_box)
        self.metrics_layout.setContentsMargins(0, 0, 0, 0)
        self.metrics_layout.setHorizontalSpacing(8)
        self.metric_checks: dict[str, QCheckBox] = {}
        every = [m for names in TASK_METRICS.values() for m in names]
        for index, name in enumerate(every):
            check = QCheckBox(METRIC_TITLES[name])
            check.toggled.connect(self._on_metric_toggled)
            self.metric_checks[name] = check
            # Only one task's metrics show at a time, so regression's share classification's cells.
            place = index if index < 4 else index - 4
            self.metrics_layout.addWidget(check, place // 2, place % 2)
        self.metrics_note = QLabel("None for this task")
        self.metrics_layout.addWidget(self.metrics_note, 2, 0, 1, 2)
        form.addRow("Metrics", self.metrics_box)
        form.addRow("Gradient clip", self.grad_clip_spin)
        self.optimization_form = form
        self._connect_spin(self.epochs_spin, ("epochs",), "Set epochs")
        self._connect_spin(self.batch_spin, ("batch_size",), "Set batch size")
        self._connect_spin(self.lr_spin, ("learning_rate",), "Set learning rate")
        self._connect_spin(
            self.weight_decay_spin, ("optimizer", "weight_decay"), "Set weight decay"
        )
        self._connect_spin(self.momentum_spin, ("optimizer", "momentum"), "Set momentum")
        self._connect_spin(self.grad_clip_spin, ("grad_clip",), "Set gradient clipping")
        self.optimizer_combo.currentIndexChanged.connect(
            lambda: self._edit(
                ("optimizer", "name"), self.optimizer_combo.currentData(), "Set optimizer"
            )
        )
        self.nesterov_check.toggled.connect(
            lambda on: self._edit(("optimizer", "nesterov"), on, "Set Nesterov momentum")
        )
        self.loss_combo.currentIndexChanged.connect(
            lambda: self._edit(("loss",), self.loss_combo.currentData(), "Set loss")
        )

    def _make_schedule_fields(self) -> None:
        form = self._group("Learning-rate schedule")
        self.scheduler_combo = _combo(SCHEDULERS, "How the learning rate changes during the run")
        self.step_size_spin = _spin(1, 100_000, "Epochs between two decays")
        self.gamma_spin = QDoubleSpinBox()
        self.gamma_spin.setRange(0.001, 0.999)
        self.gamma_spin.setDecimals(3)
        self.gamma_spin.setSingleStep(0.05)
        self.gamma_spin.setKeyboardTracking(False)
        self.gamma_spin.setToolTip("The factor the learning rate is multiplied by")
        self.scheduler_patience_spin = _spin(
            0, 100_000, "Epochs without improvement before a decay"
        )
        form.addRow("Schedule", self.scheduler_combo)
        form.addRow("Step size", self.step_size_spin)
        form.addRow("Factor", self.gamma_spin)
        form.addRow("Patience", self.scheduler_patience_spin)
        self.schedule_form = form
        self.scheduler_combo.currentIndexChanged.connect(
            lambda: self._edit(
                ("scheduler", "name"), self.scheduler_combo.currentData(), "Set schedule"
            )
        )
        self._connect_spin(self.step_size_spin, ("scheduler", "step_size"), "Set step size")
        self._connect_spin(self.gamma_spin, ("scheduler", "gamma"), "Set schedule factor")
        self._connect_spin(
            self.scheduler_patience_spin, ("scheduler", "patience"), "Set schedule patience"
        )

    def _make_stopping_fields(self) -> None:
        form = self._group("Early stopping and best checkpoint")
        self.stop_metric_combo = QComboBox()
        self.stop_metric_combo.setToolTip(
            "The validation figure that decides best.pt and early stopping"
        )
        self.stop_patience_spin = _spin(
            0, 100_000, "Stop after this many epochs without improvement; never is 0", "never"
        )
        form.addRow("Watch", self.stop_metric_combo)
        form.addRow("Patience", self.stop_patience_spin)
        self.stop_metric_combo.currentIndexChanged.connect(
            lambda: self._edit(
                ("early_stopping", "metric"),
                self.stop_metric_combo.currentData(),
                "Set early-stopping metric",
            )
        )
        self._connect_spin(
            self.stop_patience_spin, ("early_stopping", "patience"), "Set early-stopping patience"
        )

    def _make_hardware_fields(self) -> None:
        form = self._group("Device and reproducibility")
        self.device_combo = _combo(DEVICES, "Where training runs")
        self.device_note = QLabel(AUTO_DEVICE_NOTE)
        self.device_note.setWordWrap(True)
        self.device_note.setObjectName("training_device_note")
        self.precision_combo = _combo(
            PRECISIONS, "Number format; mixed precision is faster on GPUs"
        )
        self.seed_spin = _spin(0, SEED_MAX, "The same seed gives the same run")
        form.addRow("Device", self.device_combo)
        form.addRow("", self.device_note)
        form.addRow("Precision", self.precision_combo)
        self.compile_check = QCheckBox("Compile the model (torch.compile)")
        self.compile_check.setObjectName("training_compile")
        self.compile_check.setToolTip(
            "Faster steps, mostly on GPUs, after a compile of seconds to minutes at the start"
        )
        form.addRow("", self.compile_check)
        form.addRow("Seed", self.seed_spin)
        self.memory_label = QLabel("")
        self.memory_label.setWordWrap(True)
        self.memory_label.setObjectName("training_memory_forecast")
        self.memory_label.setToolTip(
            "Forecast peak memory of one training step: weights, gradients, optimizer state, "
            "saved activations and the batch. The largest batch leaves a reserve free."
        )
        form.addRow("Memory", self.memory_label)
        self.all_gpus_check = QCheckBox("All GPUs of this machine")
        self.all_gpus_check.setObjectName("training_all_gpus")
        form.addRow("", self.all_gpus_check)
        self._sync_all_gpus()
        self.device_combo.currentIndexChanged.connect(
            lambda: self._edit(("device",), self.device_combo.currentData(), "Set device")
        )
        self.precision_combo.currentIndexChanged.connect(
            lambda: self._edit(("precision",), self.precision_combo.currentData(), "Set precision")
        )
        self.compile_check.toggled.connect(
            lambda on: self._edit(
                ("compile",), on, "Compile the model" if on else "Do not compile the model"
            )
        )
        self._connect_spin(self.seed_spin, ("seed",), "Set seed")

    def _make_transfer_fields(self) -> None:
        form = self._group("Transfer learning")
        self.initial_combo = QComboBox()
        self.initial_combo.setToolTip(
            "Start from the weights of one of this project's runs (matched node by node)"
        )
        self.frozen_list = QListWidget()
        self.frozen_list.setObjectName("training_frozen")
        self.frozen_list.setToolTip("Checked layers keep their weights during training")
        self.frozen_list.setMaximumHeight(150)
        self.frozen_list.setUniformItemSizes(True)
        form.addRow("Start from", self.initial_combo)
        form.addRow("Frozen", self.frozen_list)
        self.initial_combo.currentIndexChanged.connect(
            lambda: self._edit(
                ("initial_weights",), self.initial_combo.currentData(), "Set initial weights"
            )
        )
        self.frozen_list.itemChanged.connect(self._on_frozen_changed)

    def _align_labels(self) -> None:
        """One label column for every group, so the fields line up down the form."""
        labels = []
        for form in self._forms:
            for row in range(form.rowCount()):
                item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
                widget = item.widget() if item is not None else None
                if isinstance(widget, QLabel):
                    labels.append(widget)
        width = max((label.sizeHint().width() for label in labels), default=0)
        for label in labels:
            label.setMinimumWidth(width)

    def _connect_spin(
        self, spin: QSpinBox | QDoubleSpinBox, path: tuple[str, ...], text: str
    ) -> None:
        spin.valueChanged.connect(lambda value: self._edit(path, value, text, merge=True))
        spin.editingFinished.connect(self._end_burst)

    def _end_burst(self) -> None:
        self._burst += 1

    # ----------------------------------------------------------------- the project
    def set_project(self, project: Project | None) -> None:
        """Edit `project`'s training settings (None: no project)."""
        self._disconnect_graph()
        self.project = project
        self._summary = None  # the new project's arrives with the window's first analysis
        self.error = None
        self._frozen_shown = None
        if project is not None:
            graph = project.main_graph
            for signal in (graph.node_added, graph.node_removed, graph.node_renamed):
                signal.connect(self._on_graph_changed)
            self._connected_graph = graph
        self._sync()

    def section_changed(self) -> None:
        """The project's training section was replaced (an edit, an undo or a redo)."""
        self.error = None
        self._sync()

    def set_auto_device(self, label: str | None) -> None:
        """What "Automatic" resolves to on this machine, once the window knows."""
        self.auto_device = label
        note = AUTO_DEVICE_NOTE
        if label:
            note += f" Here: {label}."
        self.device_note.setText(note)

    def set_task_runner(self, tasks: TaskRunner) -> None:
        """Where the memory forecast runs (never on the Qt thread)."""
        self._tasks = tasks
        self._forecast_timer.start()

    def set_summary(self, graph: Graph | None, summary: ModelSummary | None) -> None:
        """The window's latest summary of the main graph (None: the graph has errors); a new
        one arrives after every edit, and the forecast follows it."""
        self._summary = (graph, summary) if graph is not None and summary is not None else None
        self._forecast_timer.start()

    def set_devices(self, memory: dict[str, int], gpu_count: int) -> None:
        """Each device type's memory in bytes ("cuda": GPU 0, "cpu": RAM) and the GPU count."""
        self.device_memory = dict(memory)
        self.gpu_count = gpu_count
        self._sync_all_gpus()
        self._forecast_timer.start()

    @property
    def processes_per_node(self) -> int | None:
        """With "All GPUs of this machine": one training process per GPU (`--nproc-per-node`)."""
        if self.all_gpus_check.isEnabled() and self.all_gpus_check.isChecked():
            return self.gpu_count
        return None

    def _sync_all_gpus(self) -> None:
        usable = self.gpu_count > 0
        self.all_gpus_check.setEnabled(usable)
        if usable:
            self.all_gpus_check.setToolTip(
                f"Train on all {self.gpu_count} GPUs: one process per GPU (torchrun); the "
                "batch size is per GPU"
            )
        else:
            self.all_gpus_check.setChecked(False)
            self.all_gpus_check.setToolTip("No CUDA GPU here: see Help ▸ Device… for why")

    def _device_type(self, section: TrainingSection) -> str:
        if section.device == "auto":
            return "cuda" if self.gpu_count else "cpu"
        return section.device

    def _start_forecast(self) -> None:
        """Forecast the peak memory of the project's settings in a worker, from the window's
        summary of the graph (the builders are not run again)."""
        section = self.section
        if self._tasks is None or self.project is None or section is None:
            return
        if not self.isVisible():
            return  # showing the form syncs it, which forecasts again; a closed window never
        if not self._devices_asked:
            self._devices_asked = True
            self.devices_wanted.emit()
        if section.mode == "gan" or self._summary is None:
            self._show_forecast("")
            return
        if self._forecast_task is not None:
            self._forecast_task.cancel()
        self._forecast_generation += 1
        generation = self._forecast_generation
        graph, summary = self._summary
        device = self._device_type(section)
        memory = self.device_memory.get(device)

        def work(cancelled: object) -> Iterator[object]:
            from studio.core.units import human_bytes
            from studio.training.forecast import budget_bytes, settings_memory_model

            model = settings_memory_model(graph, section, device, summary)
            forecast = model.at(section.batch_size)
            text = f"About {human_bytes(forecast.total)} at batch {section.batch_size}"
            if memory:
                budget = budget_bytes(memory)
                largest = model.largest_batch(budget)
                where = "GPU" if device == "cuda" else device.upper()
                text += (
                    f"; the largest batch that fits the {where} ({human_bytes(memory)}) is "
                    f"{largest:,}"
                    if largest
                    else f"; does not fit the {where} even at batch 1"
                )
            yield generation, text + "."

        self._forecast_task = self._tasks.start(
            "memory forecast",
            work,
            self._on_forecast,
            lambda exc, _trace: self._on_forecast((generation, "")),
        )

    def _on_forecast(self, item: object) -> None:
        assert isinstance(item, tuple)
        generation, text = item
        if generation == self._forecast_generation:
            self._forecast_task = None
            self._show_forecast(text)

    def _show_forecast(self, text: str) -> None:
        self.forecast_text = text
        self.memory_label.setText(text or "—")

    def refresh_runs(self) -> None:
        """List the runs model's run ids again in the "Start from" choice."""
        if self.project is not None:
            self._syncing = True
            try:
                self._sync_initial_weights(self.project.training)
            finally:
                self._syncing = False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._sync()  # and the Data tab may have changed the task

    @property
    def section(self) -> TrainingSection | None:
        return self.project.training if self.project is not None else None

    def _disconnect_graph(self) -> None:
        graph = self._connected_graph
        if graph is not None:
            for signal in (graph.node_added, graph.node_removed, graph.node_renamed):
                signal.disconnect(self._on_graph_changed)
        self._connected_graph = None

    def _on_graph_changed(self, *_: object) -> None:
        self._graph_timer.start()

    # ----------------------------------------------------------------- edits
    def _edit(
        self, path: tuple[str, ...], value: object, text: str, *, merge: bool = False
    ) -> None:
        if self._syncing or self.project is None:
            return
        current = self.project.training
        document = current.model_dump(mode="json")
        target = document
        for part in path[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = target[part] = {}
            target = child
        target[path[-1]] = value
        try:
            section = TrainingSection.model_validate(document)
        except ValidationError as exc:
            self._show_error(describe_validation_error(exc))
            self._sync()
            return
        self._show_error(None)
        if section == current:
            return
        key = ("training", path, self._burst) if merge else None
        self.edit_requested.emit(TrainingEdit(section, text, key))

    def _on_metric_toggled(self, _checked: bool) -> None:
        if self._syncing or self.project is None:
            return
        task = self.project.training.task
        chosen = [
            name for name in TASK_METRICS.get(task, ()) if self.metric_checks[name].isChecked()
        ]
        if not chosen:
            self._show_error("Keep at least one metric: the run reports what is checked.")
            self._sync()
            return
        if tuple(chosen) == DEFAULT_METRICS.get(task) and not self.project.training.metrics:
            return
        self._edit(("metrics",), chosen, "Set metrics")

    def _on_frozen_changed(self, _item: QListWidgetItem) -> None:
        if self._syncing or self.project is None:
            return
        frozen = []
        for row in range(self.frozen_list.count()):
            item = self.frozen_list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                frozen.append(str(item.data(Qt.ItemDataRole.UserRole)))
        self._edit(("frozen",), frozen, "Set frozen layers")

    def _show_error(self, message: str | None) -> None:
        self.error = message
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))

    # ----------------------------------------------------------------- showing
    def _sync(self) -> None:
        """Show the project's settings, without echoing them back as edits."""
        section = self.section
        enabled = section is not None
        self.placeholder.setVisible(not enabled)
        for heading in self._headings:
            heading.setVisible(enabled)
        for form in self._forms:
            for row in range(form.rowCount()):
                form.setRowVisible(row, enabled)
        if section is None:
            return
        self._syncing = True
        try:
            self._sync_fields(section)
        finally:
            self._syncing = False
        self._forecast_timer.start()

    def _sync_fields(self, section: TrainingSection) -> None:
        _set_combo(self.mode_combo, section.mode)
        _set_combo(self.task_combo, section.task)
        self.epochs_spin.setValue(section.epochs)
        self.batch_spin.setValue(section.batch_size)
        self.lr_spin.setValue(section.learning_rate)
        optimizer = section.optimizer
        _set_combo(self.optimizer_combo, optimizer.name)
        self.weight_decay_spin.setValue(optimizer.weight_decay)
        self.momentum_spin.setValue(optimizer.momentum)
        self.nesterov_check.setChecked(optimizer.nesterov)
        sgd = optimizer.name == "sgd"
        form = self.optimization_form
        form.setRowVisible(self.momentum_spin, sgd)
        form.setRowVisible(self.nesterov_check, sgd)
        self._sync_loss(section)
        self._sync_metrics(section)
        self.grad_clip_spin.setValue(section.grad_clip)
        scheduler = section.scheduler
        _set_combo(self.scheduler_combo, scheduler.name)
        self.step_size_spin.setValue(scheduler.step_size)
        self.gamma_spin.setValue(scheduler.gamma)
        self.scheduler_patience_spin.setValue(scheduler.patience)
        self.schedule_form.setRowVisible(self.step_size_spin, scheduler.name == "step")
        self.schedule_form.setRowVisible(self.gamma_spin, scheduler.name in ("step", "plateau"))
        self.schedule_form.setRowVisible(self.scheduler_patience_spin, scheduler.name == "plateau")
        self._sync_stop_metric(section)
        self.stop_patience_spin.setValue(section.early_stopping.patience)
        _set_combo(self.device_combo, section.device)
        _set_combo(self.precision_combo, section.precision)
        self.compile_check.setChecked(section.compile)
        self.seed_spin.setValue(min(section.seed, SEED_MAX))
        self._sync_initial_weights(section)
        self._sync_frozen_items(section)

    def _sync_loss(self, section: TrainingSection) -> None:
        combo = self.loss_combo
        combo.clear()
        for name in TASK_LOSSES.get(section.task, ("auto",)):
            title = LOSS_TITLES[name]
            if name == "auto":
                title += " (cross-entropy)" if section.task == "classification" else " (MSE)"
            combo.addItem(title, name)
        _set_combo(combo, section.loss)
        valid = section.loss in TASK_LOSSES.get(section.task, ())
        if not valid and self.error is None:
            self._show_error(
                f"The loss {section.loss!r} does not suit {section.task}: choose another."
            )
        elif valid and self.error and self.error.startswith("The loss "):
            self._show_error(None)

    def _sync_metrics(self, section: TrainingSection) -> None:
        offered = TASK_METRICS.get(section.task, ())
        chosen = set(section.metrics or DEFAULT_METRICS.get(section.task, ()))
        for name, check in self.metric_checks.items():
            check.setVisible(name in offered)
            check.setChecked(name in chosen)
        self.metrics_note.setVisible(not offered)
        defaults = "" if section.metrics else " (the task's defaults)"
        self.metrics_box.setToolTip(f"Computed on the validation split every epoch{defaults}")

    def _sync_stop_metric(self, section: TrainingSection) -> None:
        combo = self.stop_metric_combo
        combo.clear()
        combo.addItem("Validation loss", "auto")
        for name in section.metrics or DEFAULT_METRICS.get(section.task, ()):
            combo.addItem(f"Validation {METRIC_TITLES.get(name, name).lower()}", name)
        _set_combo(combo, section.early_stopping.metric)

    def _run_ids(self) -> list[str]:
        """This project's run ids, newest first, as the runs model last read them (the run
        folders are never listed on the Qt thread)."""
        path = self.project.path if self.project is not None else None
        model = self.runs_model
        if path is None or model is None or model.snapshot.project_path != path:
            return []
        return sorted((run.run_id for run in model.snapshot.runs), reverse=True)

    def _sync_initial_weights(self, section: TrainingSection) -> None:
        combo = self.initial_combo
        combo.clear()
        combo.addItem("Random weights", None)
        for run_id in self._run_ids():
            combo.addItem(run_id, run_id)
        if section.initial_weights is not None and combo.findData(section.initial_weights) < 0:
            combo.addItem(f"{section.initial_weights} (missing)", section.initial_weights)
        combo.setCurrentIndex(max(combo.findData(section.initial_weights), 0))

    def _sync_frozen(self) -> None:
        if self.section is not None:
            self._syncing = True
            try:
                self._sync_frozen_items(self.section)
            finally:
                self._syncing = False

    def _sync_frozen_items(self, section: TrainingSection) -> None:
        assert self.project is not None
        names = [n.name for n in self.project.main_graph.nodes if n.type_id not in UNFREEZABLE]
        shown = (tuple(names), tuple(section.frozen))
        if shown == self._frozen_shown:
            return
        self._frozen_shown = shown
        listing = self.frozen_list
        listing.clear()
        frozen = set(section.frozen)
        known = set(names)
        missing = [name for name in section.frozen if name not in known]
        for name in [*names, *missing]:
            item = QListWidgetItem(name if name in known else f"{name} (not in the graph)")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in frozen else Qt.CheckState.Unchecked)
            listing.addItem(item)

    def _restyle(self, *_: object) -> None:
        muted = theme.colour("text_muted").name()
        for heading in self._headings:
            heading.setStyleSheet(f"color: {muted}; font-weight: bold; font-size: 8pt;")
        self.device_note.setStyleSheet(f"color: {muted};")
        self.metrics_note.setStyleSheet(f"color: {muted};")
        self.error_label.setStyleSheet(f"color: {theme.colour('error').name()};")
