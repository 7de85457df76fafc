"""The Training tab: training settings on the left, the live dashboard on the right.

The settings side holds whatever `set_settings_widget` is given (the training settings
form); until then it shows a read-only summary of the project's training section. The
dashboard (pyqtgraph, 0.4 s to import) is built the first time it is needed, so opening the
window does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.project import Project

if TYPE_CHECKING:
    from studio.ui.dashboard import TrainingDashboard
    from studio.ui.runs_model import RunsModel

SETTINGS_WIDTH = 300


class TrainingSummary(QWidget):
    """A compact, read-only view of `project.training`."""

    FIELDS = ("Mode", "Task", "Optimizer", "Learning rate", "Batch size", "Epochs", "Device")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel("<b>Training settings</b>")
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(6)
        for name in self.FIELDS:
            value = QLabel("—")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[name] = value
            form.addRow(f"{name}:", value)
        self.note = QLabel("These come from the project file.")
        self.note.setWordWrap(True)
        self.note.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addStretch(1)

    def show_project(self, project: Project | None) -> None:
        if project is None:
            for value in self.values.values():
                value.setText("—")
            return
        training = project.training
        optimizer: str = training.optimizer.name
        if training.optimizer.weight_decay:
            optimizer += f" (weight decay {training.optimizer.weight_decay:g})"
        shown = {
            "Mode": training.mode,
            "Task": training.task,
            "Optimizer": optimizer,
            "Learning rate": f"{training.learning_rate:g}",
            "Batch size": str(training.batch_size),
            "Epochs": str(training.epochs),
            "Device": training.device,
        }
        for name, text in shown.items():
            self.values[name].setText(text)


class TrainingTab(QWidget):
    """Settings (left) and dashboard (right) in a splitter."""

    def __init__(
        self,
        prepare: Callable[[], Path | None],
        project_path: Callable[[], Path | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.summary = TrainingSummary()
        self.settings_widget: QWidget = self.summary
        self.settings_area = QScrollArea()
        self.settings_area.setObjectName("training_settings_area")
        self.settings_area.setWidgetResizable(True)
        self.settings_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.settings_area.setWidget(self.summary)
        self.settings_area.setMinimumWidth(220)
        self._prepare = prepare
        self._project_path = project_path
        self._dashboard: TrainingDashboard | None = None
        # The window's runs model, which the dashboard's Resume reads (set before first shown).
        self.runs_model: RunsModel | None = None
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.settings_area)
        self.splitter.addWidget(QWidget())  # the dashboard's place until it is built
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([SETTINGS_WIDTH, 1200])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    @property
    def dashboard(self) -> TrainingDashboard:
        """The dashboard, built on first use."""
        if self._dashboard is None:
            from studio.ui.dashboard import TrainingDashboard

            dashboard = TrainingDashboard(
                self._prepare, self._project_path, has_project=lambda: self.project is not None
            )
            sizes = self.splitter.sizes()
            placeholder = self.splitter.replaceWidget(1, dashboard)
            if placeholder is not None:
                placeholder.deleteLater()
            self.splitter.setSizes(sizes)
            dashboard.run_started.connect(self.refresh)
            if self.runs_model is not None:
                dashboard.set_runs_model(self.runs_model)
            # "All GPUs of this machine" in the settings form: one process per GPU.
            dashboard.processes_per_node = lambda: getattr(
                self.settings_widget, "processes_per_node", None
            )
            self._dashboard = dashboard
        return self._dashboard

    def set_settings_widget(self, widget: QWidget) -> None:
        """Put the training settings form on the left, in place of the summary."""
        old = self.settings_area.takeWidget()
        if old is not None and old is not widget:
            old.deleteLater()
        self.settings_widget = widget
        self.settings_area.setWidget(widget)

    def set_project(self, project: Project | None) -> None:
        self.project = project
        self.refresh()

    def refresh(self) -> None:
        """Show the project's settings as they are now, and what can be done."""
        if self.settings_widget is self.summary:
            self.summary.show_project(self.project)
        if self._dashboard is not None:
            self._dashboard.update_buttons()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.dashboard  # noqa: B018  (built when first shown)
        self.refresh()

    def shutdown(self) -> None:
        """No training child outlives the window."""
        if self._dashboard is not None:
            self._dashboard.shutdown()
