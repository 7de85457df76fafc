"""File ▸ Export…: export a trained run in several formats, each one verified, off the Qt thread.

The dialog lists the project's runs (from the file system, no torch), the formats of the
exporter registry (discovered in a worker: the exporters import torch), an ONNX opset, int8
dynamic quantisation and an output folder. Export runs `export_trained_run_steps` in a task of
the window's `TaskRunner`; every stage a format enters reaches the dialog as it starts, and the
results table says per format what was written, its size, the verified max difference and,
when it failed, why.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.runs_model import RunsModel, RunsSnapshot
from studio.ui.tasks import Task, TaskRunner

#: Formats ticked when the dialog opens.
DEFAULT_FORMATS = ("onnx", "python")
STAGES = ("check", "write", "verify", "done")
STAGE_TEXT = {"check": "checking…", "write": "writing…", "verify": "verifying…"}
COLUMNS = ("Format", "File", "Size", "Max diff", "Result")
OK_COLOR = QColor("#2e9d4f")
FAIL_COLOR = QColor("#d04545")


@dataclass(frozen=True)
class FormatChoice:
    """One format the registry offers: its id, title, and where it came from."""

    format: str
    title: str
    origin: str


@dataclass(frozen=True)
class ExportRequest:
    """What the user asked for, as the worker needs it (plain values only)."""

    project_path: Path
    run_id: str
    formats: tuple[str, ...]
    out_dir: Path
    opset: int
    quantize: bool


def folder_problem(text: str) -> str:
    """Why the output folder cannot be used, in a sentence; "" when it can."""
    if not text.strip():
        return "Choose an output folder."
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        return f"{path} is a file; choose a folder to export into."
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, so {path} cannot be created; choose another folder."
    # Probe with a real file: permission bits say nothing for root or read-only mounts.
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"{existing} is not writable ({exc.strerror or exc}); choose another folder."
    return ""


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def discover_formats(_cancelled: Callable[[], bool]) -> Iterator[object]:
    """Worker: the registry's formats (importing the exporters loads torch)."""
    from studio.plugins import default_exporters

    registry, _reports = default_exporters()
    yield [FormatChoice(e.format, e.title, registry.origin(e.format)) for e in registry]


def export_run(request: ExportRequest, cancelled: Callable[[], bool]) -> Iterator[object]:
    """Worker: load the run, then export it stage by stage.

    Yields a status string while loading, ``(format, stage, path)`` as each format enters a
    stage, and finally the `ExportReport`. Stops between stages when cancelled.
    """
    from studio.export.run_export import export_trained_run_steps
    from studio.export.subject import ExportOptions
    from studio.plugins import default_exporters
    from studio.training.trained import load_run_weights

    yield f"Loading run {request.run_id}…"
    # An imported model that names no data exports too, verified on inputs of its shapes.
    trained = load_run_weights(request.project_path, request.run_id, allow_gan=True)
    if cancelled():
        return
    yield "Exporting…"
    steps = export_trained_run_steps(
        trained,
        list(request.formats),
        request.out_dir,
        options=ExportOptions(opset=request.opset),
        quantize=request.quantize,
        registry=default_exporters()[0],
    )
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            yield stop.value
            return
        yield step
        if cancelled():
            steps.close()
            return


class ExportDialog(QDialog):
    """Choose a run, formats and a folder; export, verified, with per-format progress."""

    def __init__(
        self,
        tasks: TaskRunner,
        project_path: Path,
        runs_model: RunsModel,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setObjectName("export_dialog")
        self.tasks = tasks
        self.project_path = Path(project_path)
        self.runs_model = runs_model
        self.format_boxes: dict[str, QCheckBox] = {}
        self.choices: list[FormatChoice] = []
        self.rows: dict[str, int] = {}
        self.report: Any = None
        self.last_folder: Path | None = None
        self.formats_task: Task | None = None
        self.export_task: Task | None = None
        self._stages_done = 0

        self.run_combo = QComboBox()
        self.run_combo.setToolTip("The trained run whose best weights are exported")
        self.formats_box = QGroupBox("Formats")
        self.formats_layout = QGridLayout(self.formats_box)
        self.formats_pending = QLabel("Finding the export formats…")
        self.formats_layout.addWidget(self.formats_pending, 0, 0)
        self.opset_spin = QSpinBox()
        self.opset_spin.setRange(14, 23)
        self.opset_spin.setValue(18)
        self.opset_spin.setToolTip("The ONNX operator set version the file targets")
        self.quantize_box = QCheckBox("int8 dynamic quantisation (Linear, LSTM)")
        self.quantize_box.setToolTip(
            "Smaller and faster on CPU; the accuracy change on the test split is measured"
        )
        self.folder_edit = QLineEdit(str(self.project_path.parent / "export"))
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)

        options_row = QHBoxLayout()
        options_row.addWidget(self.opset_spin)
        options_row.addSpacing(24)
        options_row.addWidget(self.quantize_box)
        options_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Run", self.run_combo)
        form.addRow("ONNX opset", options_row)
        form.addRow("Output folder", folder_row)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setObjectName("export_message")
        self.message_label.hide()
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setValue(0)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.quantization_label = QLabel("")
        self.quantization_label.setWordWrap(True)
        self.quantization_label.hide()

        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.start_export)
        self.open_button = QPushButton("Open folder")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_folder)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.formats_box)
        layout.addWidget(self.message_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.quantization_label)
        layout.addLayout(buttons)
        self.resize(900, 560)

        self._show_runs(runs_model.snapshot)
        runs_model.runs_changed.connect(self._show_runs)
        self.refresh_runs()
        self.formats_task = self.tasks.start(
            "export formats", discover_formats, self._show_formats, self._formats_failed
        )

    # ---- inputs
    def refresh_runs(self) -> None:
        """Have the runs model read the project's runs again (in a worker)."""
        self.runs_model.refresh()

    def _show_runs(self, snapshot: RunsSnapshot) -> None:
        """List the runs with weights the model last read, keeping the choice."""
        if snapshot.project_path != self.project_path:
            return
        current = self.run_combo.currentData()
        self.run_combo.clear()
        for info in snapshot.with_weights:
            self.run_combo.addItem(info.describe(), info.run_id)
        index = self.run_combo.findData(current) if current else -1
        self.run_combo.setCurrentIndex(max(index, 0))
        self._update_export_button()

    def _show_formats(self, item: object) -> None:
        assert isinstance(item, list)
        self.choices = item
        self.formats_pending.hide()
        for i, choice in enumerate(self.choices):
            box = QCheckBox(choice.title)
            box.setToolTip(
                f"{choice.format}" + ("" if choice.origin == "studio" else f" — {choice.origin}")
            )
            box.setChecked(choice.format in DEFAULT_FORMATS)
            box.toggled.connect(self._update_export_button)
            self.format_boxes[choice.format] = box
            self.formats_layout.addWidget(box, i // 3, i % 3)
        self._update_export_button()

    def _formats_failed(self, exc: BaseException, _trace: str) -> None:
        self.formats_pending.setText(f"The export formats could not be loaded: {exc}")

    def set_formats(self, formats: list[str] | tuple[str, ...]) -> None:
        """Tick exactly these formats (the others are unticked)."""
        for format_id, box in self.format_boxes.items():
            box.setChecked(format_id in formats)

    def chosen_formats(self) -> tuple[str, ...]:
        return tuple(f for f, box in self.format_boxes.items() if box.isChecked())

    def _update_export_button(self, *_: object) -> None:
        busy = self.export_task is not None
        self.export_button.setEnabled(
            not busy and self.run_combo.count() > 0 and bool(self.chosen_formats())
        )
        for widget in (self.run_combo, self.opset_spin, self.quantize_box, self.folder_edit):
            widget.setEnabled(not busy)
        self.browse_button.setEnabled(not busy)
        for box in self.format_boxes.values():
            box.setEnabled(not busy)
        if self.run_combo.count() == 0:
            self._show_message("This project has no trained run yet; train it first.", error=True)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    # ---- exporting
    def start_export(self) -> Task | None:
        """Check the inputs, then export in a worker; None (with a message) when refused."""
        if self.export_task is not None:
            return None
        problem = folder_problem(self.folder_edit.text())
        formats = self.chosen_formats()
        if not problem and not formats:
            problem = "Tick at least one format."
        if not problem and self.run_combo.currentData() is None:
            problem = "This project has no trained run yet; train it first."
        self._show_message(problem, error=bool(problem))
        if problem:
            return None
        request = ExportRequest(
            self.project_path,
            str(self.run_combo.currentData()),
            formats,
            Path(self.folder_edit.text()).expanduser(),
            self.opset_spin.value(),
            self.quantize_box.isChecked(),
        )
        self.report = None
        self.last_folder = request.out_dir
        self.open_button.setEnabled(False)
        self.quantization_label.clear()
        self.quantization_label.hide()
        self._fill_rows(formats)
        self._stages_done = 0
        self.progress_bar.setRange(0, len(formats) * len(STAGES))
        self.progress_bar.setValue(0)
        self.export_task = self.tasks.start(
            "export",
            lambda cancelled: export_run(request, cancelled),
            self._on_item,
            self._on_failed,
            self._on_finished,
        )
        self._update_export_button()
        return self.export_task

    def _fill_rows(self, formats: tuple[str, ...]) -> None:
        titles = {c.format: c.title for c in self.choices}
        self.table.setRowCount(len(formats))
        self.rows = {}
        for row, format_id in enumerate(formats):
            self.rows[format_id] = row
            values = (titles.get(format_id, format_id), "", "", "", "waiting")
            for column, text in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(text))

    def _on_item(self, item: object) -> None:
        from studio.export.project_export import ExportReport

        if isinstance(item, str):
            self.status_label.setText(item)
        elif isinstance(item, tuple):
            format_id, stage, path = item
            self._show_stage(format_id, stage, path)
        elif isinstance(item, ExportReport):
            self._show_report(item)

    def _show_stage(self, format_id: str, stage: str, path: Path | None) -> None:
        row = self.rows.get(format_id)
        if row is None:
            return
        self._stages_done += 1
        self.progress_bar.setValue(min(self._stages_done, self.progress_bar.maximum()))
        if path is not None:
            self._set_cell(row, 1, path.name)
        if stage in STAGE_TEXT:
            self._set_cell(row, 4, STAGE_TEXT[stage])
            title = self.table.item(row, 0)
            name = title.text() if title is not None else format_id
            self.status_label.setText(f"{name}: {STAGE_TEXT[stage]}")

    def _show_report(self, report: Any) -> None:
        self.report = report
        self.progress_bar.setValue(self.progress_bar.maximum())
        for result in report.results:
            row = self.rows.get(result.format)
            if row is None:
                continue
            name = "—" if result.path is None else result.path.name
            if result.path is not None and result.path.is_dir():
                name += "/"  # a folder: model.py, weights and preprocessing
            self._set_cell(row, 1, name)
            self._set_cell(row, 2, human_size(result.size_bytes) if result.path else "—")
            diff = result.max_abs_diff
            self._set_cell(row, 3, "—" if diff is None else f"{diff:.2g}")
            if result.ok:
                text = "✓ verified"
                if result.notes:
                    text += f" (note: {'; '.join(result.notes)})"
            else:
                text = f"✗ failed at {result.stage}: {result.reason}"
            cell = self._set_cell(row, 4, text)
            cell.setForeground(OK_COLOR if result.ok else FAIL_COLOR)
            cell.setToolTip("\n".join([text, *result.notes]))
        self.table.resizeRowsToContents()
        self.table.setCurrentCell(-1, -1)
        passed = sum(r.ok for r in report.results)
        summary = f"{passed} of {len(report.results)} formats exported and verified"
        if report.model_card is not None:
            summary += f"; model card {report.model_card.name}"
        if report.preprocessing is not None:
            summary += f"; preprocessing in {report.preprocessing.name}"
        self.status_label.setText(summary + ".")
        if report.notes:
            self._show_message("; ".join(report.notes), error=False)
        if report.quantization is not None:
            self.quantization_label.setText(report.quantization.describe())
            self.quantization_label.show()
        self.open_button.setEnabled(True)

    def _set_cell(self, row: int, column: int, text: str) -> QTableWidgetItem:
        cell = self.table.item(row, column)
        if cell is None:
            cell = QTableWidgetItem()
            self.table.setItem(row, column, cell)
        cell.setText(text)
        return cell

    def _on_failed(self, exc: BaseException, _trace: str) -> None:
        self._show_message(f"Export failed: {exc}", error=True)
        self.status_label.clear()

    def _on_finished(self) -> None:
        self.export_task = None
        self._update_export_button()

    def _show_message(self, text: str, *, error: bool) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        self.message_label.setStyleSheet(f"color: {FAIL_COLOR.name()};" if error else "")

    @property
    def busy(self) -> bool:
        return self.export_task is not None

    def open_folder(self) -> None:
        if self.last_folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.last_folder)))

    def done(self, result: int) -> None:
        # Closing stops the export between two stages; its late signals are dropped.
        for task in (self.export_task, self.formats_task):
            if task is not None:
                task.cancel()
        super().done(result)


__all__ = ["ExportDialog", "ExportRequest", "export_run", "folder_problem"]
