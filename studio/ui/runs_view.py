"""The Runs tab: every training run of the project, and a few of them compared.

The run folders are read in a worker (`studio.training.run_index`), so a project with
hundreds of runs, or a run being written, never stalls the window. The list is read again
when the tab is shown, when the runs folder changes (a file-system watcher), and every few
seconds while a run is training; nothing is read while the tab is hidden.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QDesktopServices,
    QFont,
    QHideEvent,
    QIcon,
    QPainter,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.project import Project
from studio.training.run_index import (
    BROKEN,
    COMPLETED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    RUNNING,
    STOPPED,
    BestValue,
    RunComparison,
    RunInfo,
    compare_runs,
)
from studio.training.runs import runs_folder
from studio.ui import theme
from studio.ui.runs_model import RunsModel, RunsSnapshot
from studio.ui.tasks import Task, TaskRunner

# While a run trains, the list (and a comparison that includes it) is read this often.
POLL_MS = 2000
# File-system events come in bursts (a checkpoint is a temp file, a write and a rename).
SETTLE_MS = 300

STATUS_COLOURS = {
    RUNNING: "accent",
    COMPLETED: "ok",
    FINISHED: "ok",
    STOPPED: "warning",
    INTERRUPTED: "warning",
    FAILED: "error",
    BROKEN: "error",
}
STATUS_TEXT = {FINISHED: "finished?"}
STATUS_HELP = {
    RUNNING: "Training now",
    COMPLETED: "Trained every epoch",
    FINISHED: "An older run without a status file: every epoch and a checkpoint are there",
    STOPPED: "Stopped on request, or by early stopping; its checkpoints are kept",
    INTERRUPTED: "Its training process ended without finishing (killed, or the machine stopped)",
    FAILED: "Training failed",
    BROKEN: "Its configuration cannot be read",
}
# One colour per compared run, in selection order (layer category colours of the theme).
RUN_COLOUR_CATEGORIES = (
    "Dense",
    "Recurrent",
    "Merge",
    "Attention",
    "Activation",
    "Convolution",
    "Pooling",
    "Normalization",
)
LEGEND_PARTS = 3
TABLE_HEIGHT = 200
COLUMNS = ("Status", "Run", "Started", "Epochs", "Best", "Device")


def run_colour(index: int) -> QColor:
    return theme.category_colour(RUN_COLOUR_CATEGORIES[index % len(RUN_COLOUR_CATEGORIES)])


@cache
def _dot(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


def short_run_id(run_id: str) -> str:
    """A run id's random suffix ("20261206-101250.877-e51408" → "e51408")."""
    return run_id.rsplit("-", 1)[-1] if run_id.count("-") >= 2 else run_id


def dot_icon(colour: QColor) -> QIcon:
    return _dot(colour.name())


def status_colour(status: str) -> QColor:
    return theme.colour(STATUS_COLOURS.get(status, "text_muted"))


def describe_started(when: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if when else "—"


def describe_best(run: RunInfo) -> str:
    headline = run.headline
    if headline is None:
        return "—"
    key, best = headline
    return f"{key.removeprefix('val_')} {format_value(best.value)} (epoch {best.epoch})"


def format_value(value: float | None) -> str:
    if value is None:
        return "—"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:.2f}"


def format_best(best: BestValue | None) -> str:
    return "—" if best is None else f"{format_value(best.value)} (epoch {best.epoch})"


def _read_only(text: str, tooltip: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def _table(headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class RunCurves(QWidget):
    """One metric of the compared runs over epochs: a curve per run, in the run's colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.metric_combo = QComboBox()
        self.metric_combo.setMinimumContentsLength(16)
        self.metric_combo.setToolTip("The metric to plot for every selected run")
        self.metric_combo.currentTextChanged.connect(self._draw)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric:"))
        row.addWidget(self.metric_combo)
        row.addStretch(1)
        self._layout.addLayout(row)
        self.plot: object | None = None  # a pyqtgraph PlotWidget, made on first use
        self.comparison: RunComparison | None = None
        self.labels: dict[str, str] = {}
        self.curve_names: list[str] = []

    def set_comparison(self, comparison: RunComparison, labels: dict[str, str]) -> None:
        self.comparison = comparison
        self.labels = labels
        names = comparison.metric_names
        chosen = self.metric_combo.currentText()
        if chosen not in names:
            monitor = comparison.runs[0].monitor if comparison.runs else "val_loss"
            chosen = next(
                (n for n in (monitor, "val_loss") if n in names), names[0] if names else ""
            )
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        self.metric_combo.addItems(names)
        self.metric_combo.setCurrentText(chosen)
        self.metric_combo.blockSignals(False)
        self._draw()

    def restyle(self) -> None:
        self._draw()

    def _draw(self, *_: object) -> None:
        import pyqtgraph as pg

        comparison = self.comparison
        if comparison is None:
            return
        if self.plot is None:
            widget = pg.PlotWidget()
            widget.setMenuEnabled(False)
            widget.showGrid(x=True, y=True, alpha=0.15)
            widget.getPlotItem().setLabel("bottom", "epoch")
            self._layout.addWidget(widget, 1)
            self.plot = widget
        widget = self.plot
        assert isinstance(widget, pg.PlotWidget)
        widget.setBackground(theme.colour("base"))
        item = widget.getPlotItem()
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(theme.colour("separator")))
            axis.setTextPen(pg.mkPen(theme.colour("text_muted")))
        item.clear()
        if item.legend is None:
            item.addLegend(offset=(-8, 8))
        legend = item.legend
        legend.clear()
        legend.setLabelTextColor(theme.colour("text"))
        backdrop = theme.colour("window")
        backdrop.setAlpha(220)
        legend.setBrush(pg.mkBrush(backdrop))
        legend.setPen(pg.mkPen(theme.colour("separator")))
        metric = self.metric_combo.currentText()
        item.setLabel("left", metric)
        self.curve_names = []
        for index, run in enumerate(comparison.runs):
            curves = comparison.curves.get(run.run_id, {})
            values = curves.get(metric)
            if values is None or not len(values):
                continue
            colour = run_colour(index)
            name = self.labels.get(run.run_id, run.run_id)
            curve = item.plot(
                curves["epoch"],
                values,
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush=pg.mkBrush(colour),
                symbolPen=pg.mkPen(colour),
                name=name,
                connect="finite",
            )
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self.curve_names.append(name)
        item.enableAutoRange()


class RunsView(QWidget):
    """Every run of the open project, with several compared side by side."""

    runs_listed = Signal(object)  # list[RunInfo], newest first
    comparison_shown = Signal(object)  # RunComparison
    initial_weights_requested = Signal(str)  # a run id: start the next training from it

    def __init__(
        self, tasks: TaskRunner, runs_model: RunsModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("runs_view")
        self.tasks = tasks
        # The window's runs model reads the runs folder; this view asks it to, and shows it.
        self.runs_model = runs_model
        runs_model.runs_changed.connect(self._on_listed)
        self.project: Project | None = None
        self.project_path: Path | None = None
        self.runs: list[RunInfo] = []
        self.comparison: RunComparison | None = None
        self.error: str | None = None
        self._stale = True
        self._compare_task: Task | None = None
        self._compare_pending = False
        self._compared_state: tuple[tuple[str, float | None], ...] = ()
        self._delete_task: Task | None = None

        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._on_folder_changed)
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self.refresh)
        self._poll_timer = QTimer(self)
        self._poll_timer.setInterval(POLL_MS)
        self._poll_timer.timeout.connect(self.refresh)

        self._make_header()
        self._make_table()
        self._make_comparison()
        self.empty_label = QLabel()
        self.empty_label.setObjectName("runs_empty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet(
            f"color: {theme.colour('text_muted').name()}; padding: 24px;"
        )
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.comparison_area)
        # The comparison gets the room: the list needs a few rows, and scrolls.
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([TABLE_HEIGHT, 3 * TABLE_HEIGHT])
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.addLayout(self.header)
        layout.addWidget(self.stack, 1)
        theme.notifier().theme_changed.connect(self._on_theme_changed)
        self._show_state()

    # ----------------------------------------------------------------- building
    def _make_header(self) -> None:
        self.count_label = QLabel("Runs")
        font = self.count_label.font()
        font.setBold(True)
        self.count_label.setFont(font)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the runs folder again")
        self.refresh_button.clicked.connect(self.refresh)
        self.weights_button = QPushButton("Use Weights")
        self.weights_button.setToolTip(
            "Start the next training from this run's weights (Training ▸ initial weights)"
        )
        self.weights_button.clicked.connect(self._use_weights)
        self.folder_button = QPushButton("Open Folder")
        self.folder_button.setToolTip("Show the run's folder in the file manager")
        self.folder_button.clicked.connect(self.open_folder)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected runs' folders (cannot be undone)")
        self.delete_button.clicked.connect(lambda: self.delete_runs(self.selected_ids()))
        self.header = QHBoxLayout()
        self.header.addWidget(self.count_label)
        self.header.addStretch(1)
        for button in (
            self.weights_button,
            self.folder_button,
            self.delete_button,
            self.refresh_button,
        ):
            self.header.addWidget(button)

    def _make_table(self) -> None:
        table = QTableWidget(0, len(COLUMNS))
        table.setObjectName("runs_table")
        table.setHorizontalHeaderLabels(list(COLUMNS))
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._context_menu)
        header = table.horizontalHeader()
        header.setStretchLastSection(True)
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        table.itemSelectionChanged.connect(self._on_selection_changed)
        self.table = table

    def _make_comparison(self) -> None:
        self.curves = RunCurves()
        self.compare_hint = QLabel()
        self.compare_hint.setStyleSheet(f"color: {theme.colour('text_muted').name()};")
        self.compare_hint.setWordWrap(True)
        self.show_all_check = QCheckBox("Show all settings")
        self.show_all_check.setToolTip("Show every setting, not only those that differ")
        self.show_all_check.toggled.connect(self._fill_settings)
        self.settings_table = _table(["Setting"])
        self.settings_table.setObjectName("runs_settings")
        self.metrics_table = _table(["Metric"])
        self.metrics_table.setObjectName("runs_metrics")
        self.graph_table = _table(["Node", "Change"])
        self.graph_table.setObjectName("runs_graph_changes")
        self.graph_note = QLabel()
        self.graph_note.setWordWrap(True)
        settings_page = QWidget()
        settings_layout = QVBoxLayout(settings_page)
        settings_layout.setContentsMargins(0, 4, 0, 0)
        settings_layout.addWidget(self.show_all_check)
        settings_layout.addWidget(self.settings_table, 1)
        graph_page = QWidget()
        graph_layout = QVBoxLayout(graph_page)
        graph_layout.setContentsMargins(0, 4, 0, 0)
        graph_layout.addWidget(self.graph_note)
        graph_layout.addWidget(self.graph_table, 1)
        self.detail_tabs = QTabWidget()
        self.detail_tabs.setDocumentMode(True)
        self.detail_tabs.addTab(settings_page, "Settings")
        self.detail_tabs.addTab(self.metrics_table, "Metrics")
        self.detail_tabs.addTab(graph_page, "Graph Differences")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.curves)
        split.addWidget(self.detail_tabs)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 4)
        split.setChildrenCollapsible(False)
        self.comparison_split = split
        area = QWidget()
        layout = QVBoxLayout(area)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.compare_hint)
        layout.addWidget(split, 1)
        self.comparison_area = area

    # ----------------------------------------------------------------- the project
    def set_project(self, project: Project | None) -> None:
        """Show the runs of `project` (None: no project)."""
        self.project = project
        self.project_path = project.path if project is not None else None
        self.runs = []
        self.comparison = None
        self.error = None
        self._cancel_tasks()
        self.table.setRowCount(0)
        self._watch()
        self._show_state()
        self._mark_stale()

    def project_saved(self, path: Path) -> None:
        """A save may have moved the project (Save As): its runs are elsewhere then."""
        if self.project is not None and self.project_path != self.project.path:
            self.set_project(self.project)

    @property
    def folder(self) -> Path | None:
        return runs_folder(self.project_path) if self.project_path is not None else None

    @property
    def listing(self) -> bool:
        return self.runs_model.reading

    @property
    def comparing(self) -> bool:
        return self._compare_task is not None or self._compare_pending

    @property
    def busy(self) -> bool:
        """Reading, comparing, deleting, or wanting to read once shown."""
        return self.listing or self.comparing or self._delete_task is not None or self._stale

    def _mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def _watch(self) -> None:
        watched = self.watcher.directories()
        if watched:
            self.watcher.removePaths(watched)
        folder = self.folder
        if folder is None:
            return
        wanted = [str(folder.parent)]
        if folder.is_dir():
            wanted.append(str(folder))
        wanted += [str(run.path) for run in self.runs if run.is_running]
        self.watcher.addPaths([p for p in wanted if Path(p).is_dir()])

    def _on_folder_changed(self, _path: str) -> None:
        if self.isVisible():
            self._settle_timer.start()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
        self._update_poll()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._settle_timer.stop()
        self._poll_timer.stop()

    def _update_poll(self) -> None:
        if self.isVisible() and any(run.is_running for run in self.runs):
            if not self._poll_timer.isActive():
                self._poll_timer.start()
        else:
            self._poll_timer.stop()

    # ----------------------------------------------------------------- reading
    def refresh(self) -> None:
        """Have the runs model read the runs folder again; only while the tab is shown."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        if self.project_path is None:
            self._show_state()
            return
        self.runs_model.refresh()

    def _on_listed(self, snapshot: RunsSnapshot) -> None:
        """The runs model has read this project's runs (whoever asked it to)."""
        if snapshot.project_path != self.project_path or not snapshot.complete:
            return
        if snapshot.error is not None:
            self.error = snapshot.error
            self._show_state()
            return
        self.error = None
        selected = set(self.selected_ids())
        self.runs = list(snapshot.runs)
        self._fill_table(selected)
        self._watch()
        self._show_state()
        self._update_poll()
        self.runs_listed.emit(self.runs)
        # A compared run that moved on (a training one) is compared again.
        if self._selection_state() != self._compared_state:
            self._compare()

    def _fill_table(self, selected: set[str]) -> None:
        table = self.table
        table.blockSignals(True)
        table.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            status = _read_only(
                STATUS_TEXT.get(run.status, run.status),
                "\n".join(t for t in (STATUS_HELP.get(run.status), run.message) if t),
            )
            status.setIcon(dot_icon(status_colour(run.status)))
            status.setData(Qt.ItemDataRole.UserRole, run.run_id)
            total = f" / {run.epochs_total}" if run.epochs_total else ""
            cells = [
                status,
                _read_only(run.run_id, str(run.path)),
                _read_only(describe_started(run.started)),
                _read_only(f"{run.epochs_done}{total}"),
                _read_only(describe_best(run), f"best {run.monitor} of the run"),
                _read_only(run.device or "—"),
            ]
            if run.status == BROKEN:
                cells[1].setForeground(QBrush(theme.colour("error")))
            for column, cell in enumerate(cells):
                table.setItem(row, column, cell)
        table.clearSelection()
        model = table.selectionModel()
        for row, run in enumerate(self.runs):
            if run.run_id in selected:
                index = table.model().index(row, 0)
                model.select(
                    index,
                    model.SelectionFlag.Select | model.SelectionFlag.Rows,
                )
        table.blockSignals(False)
        self._mark_compared_rows()
        self._update_actions()

    def _show_state(self) -> None:
        running = sum(run.is_running for run in self.runs)
        if self.project is None:
            text = "Open a project to see its training runs."
        elif self.project_path is None:
            text = "Save the project: its training runs are kept in a folder beside the file."
        elif self.error is not None:
            text = self.error
        elif not self.runs:
            name = self.project_path.name
            text = (
                "No runs yet.\n\nTrain the model (the Training tab, or "
                f"“studio train {name}”) and every run appears here, to compare with the others."
            )
        else:
            text = ""
        self.stack.setCurrentIndex(0 if text else 1)
        self.empty_label.setText(text)
        count = len(self.runs)
        summary = f"{count} run" + ("s" if count != 1 else "")
        if running:
            summary += f" · {running} training"
        self.count_label.setText(summary if count else "Runs")
        self._update_actions()

    # ----------------------------------------------------------------- selection
    def selected_ids(self) -> list[str]:
        """Selected run ids, in table order (newest first)."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        ids = []
        for row in rows:
            item = self.table.item(row, 0)
            if item is not None:
                ids.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return ids

    def select_runs(self, run_ids: Sequence[str]) -> None:
        """Select these runs (as Ctrl+clicks would), which compares them."""
        wanted = set(run_ids)
        self.table.blockSignals(True)
        self.table.clearSelection()
        model = self.table.selectionModel()
        for row, run in enumerate(self.runs):
            if run.run_id in wanted:
                index = self.table.model().index(row, 0)
                model.select(index, model.SelectionFlag.Select | model.SelectionFlag.Rows)
        self.table.blockSignals(False)
        self._on_selection_changed()

    def selected_runs(self) -> list[RunInfo]:
        ids = set(self.selected_ids())
        return [run for run in self.runs if run.run_id in ids]

    def _selection_state(self) -> tuple[tuple[str, float | None], ...]:
        by_id = {run.run_id: run for run in self.runs}
        return tuple((i, by_id[i].updated if i in by_id else None) for i in self._compare_order())

    def _compare_order(self) -> list[str]:
        """Oldest first: the first run is the baseline that the others differ from."""
        return list(reversed(self.selected_ids()))

    def _on_selection_changed(self) -> None:
        self._update_actions()
        self._compare()

    def _update_actions(self) -> None:
        runs = self.selected_runs()
        self.delete_button.setEnabled(bool(runs))
        self.folder_button.setEnabled(self.folder is not None and self.folder.is_dir())
        single = len(runs) == 1 and runs[0].has_checkpoint and runs[0].status != BROKEN
        self.weights_button.setEnabled(single)
        self.refresh_button.setEnabled(self.project_path is not None)

    # ----------------------------------------------------------------- comparing
    def _compare(self) -> None:
        path = self.project_path
        ids = self._compare_order()
        if self._compare_task is not None:
            self._compare_task.cancel()
            self._compare_task = None
        self._compared_state = self._selection_state()
        if path is None or not ids:
            self.comparison = None
            self._clear_comparison()
            return
        self._compare_pending = True

        def work(cancelled: object) -> Iterator[object]:
            import pyqtgraph  # noqa: F401  (imported here, the plot costs milliseconds later)

            yield compare_runs(path, ids)

        task = self.tasks.start(
            "compare runs",
            work,
            lambda item: self._on_compared(task, item),
            lambda exc, trace: self._on_compare_failed(task, exc),
            lambda: self._compare_finished(task),
        )
        self._compare_task = task

    def _compare_finished(self, task: Task) -> None:
        if self._compare_task is task:
            self._compare_task = None
            self._compare_pending = False

    def _on_compare_failed(self, task: Task, exc: BaseException) -> None:
        if self._compare_task is task:
            self.compare_hint.setText(f"The runs cannot be compared: {exc}")

    def _on_compared(self, task: Task, item: object) -> None:
        if self._compare_task is not task:
            return
        assert isinstance(item, RunComparison)
        self.comparison = item
        self._compare_pending = False
        self._show_comparison()
        self.comparison_shown.emit(item)

    def _clear_comparison(self) -> None:
        self._compare_pending = False
        hint = "Select runs to compare them: Ctrl+click or Shift+click for several."
        self.compare_hint.setText(hint if self.runs else "")
        self.comparison_split.setVisible(False)
        self._mark_compared_rows()

    def run_labels(self, comparison: RunComparison) -> dict[str, str]:
        """Legend names: the run id's short suffix, and what sets the run apart (settings
        first, then graph params), e.g. "3ec614  learning_rate=0.01, hidden1.out_features=8"."""
        differing: list[tuple[str, tuple[str | None, ...]]] = [
            (row.name.rsplit(".", 1)[-1], row.values)
            for row in comparison.differing_settings()
            if row.name.startswith("training.") and not row.name.startswith("training.initial")
        ]
        differing += [
            (f"{change.node}.{change.param}", change.values)
            for change in comparison.graph_changes
            if change.kind == "param"
        ]
        differing = differing[:LEGEND_PARTS]
        labels = {}
        for index, run in enumerate(comparison.runs):
            short = short_run_id(run.run_id)
            parts = [f"{name}={values[index]}" for name, values in differing]
            labels[run.run_id] = short + (f"  {', '.join(parts)}" if parts else "")
        return labels

    def _show_comparison(self) -> None:
        comparison = self.comparison
        if comparison is None or not comparison.runs:
            self._clear_comparison()
            return
        self.comparison_split.setVisible(True)
        count = len(comparison.runs)
        self.compare_hint.setText(
            "One run: select more (Ctrl+click) to compare them."
            if count == 1
            else f"Comparing {count} runs; the oldest is the baseline."
        )
        self.curves.set_comparison(comparison, self.run_labels(comparison))
        self._mark_compared_rows()
        self._fill_settings()
        self._fill_metrics()
        self._fill_graph_changes()

    def _mark_compared_rows(self) -> None:
        """A dot of each compared run's colour beside its id in the list."""
        colours = {}
        if self.comparison is not None:
            colours = {run.run_id: i for i, run in enumerate(self.comparison.runs)}
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 1)
            if item is not None:
                index = colours.get(item.text())
                item.setIcon(dot_icon(run_colour(index)) if index is not None else QIcon())

    def _run_headers(self, table: QTableWidget, fixed: Sequence[str]) -> None:
        assert self.comparison is not None
        runs = self.comparison.runs
        table.setColumnCount(len(fixed) + len(runs))
        # The run id's suffix, as in the plot's legend (the full id is the tooltip): three
        # full ids with their millisecond timestamps do not fit beside the settings.
        table.setHorizontalHeaderLabels([*fixed, *(short_run_id(run.run_id) for run in runs)])
        for index, run in enumerate(runs):
            header = table.horizontalHeaderItem(len(fixed) + index)
            if header is not None:
                header.setIcon(dot_icon(run_colour(index)))
                header.setToolTip(run.run_id)
        header_view = table.horizontalHeader()
        for column in range(table.columnCount()):
            header_view.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header_view.setStretchLastSection(True)

    def _fill_settings(self, *_: object) -> None:
        comparison = self.comparison
        if comparison is None:
            return
        show_all = self.show_all_check.isChecked() or len(comparison.runs) == 1
        rows = comparison.settings if show_all else comparison.differing_settings()
        table = self.settings_table
        self._run_headers(table, ["Setting"])
        table.setRowCount(len(rows))
        bold = QFont(table.font())
        bold.setBold(True)
        for row_index, row in enumerate(rows):
            name = _read_only(row.name)
            table.setItem(row_index, 0, name)
            for column, value in enumerate(row.values, start=1):
                cell = _read_only("—" if value is None else value, value)
                if row.differs:
                    cell.setFont(bold)
                table.setItem(row_index, column, cell)
            if row.differs and show_all:
                name.setFont(bold)
        differing = len(comparison.differing_settings())
        self.detail_tabs.setTabText(
            0, f"Settings ({differing} differ)" if differing else "Settings"
        )

    def _fill_metrics(self) -> None:
        comparison = self.comparison
        assert comparison is not None
        table = self.metrics_table
        self._run_headers(table, ["Metric"])
        lines: list[tuple[str, list[str]]] = []
        for row in comparison.metrics:
            if any(best is not None for best in row.best):
                lines.append((f"best {row.name}", [format_best(b) for b in row.best]))
            lines.append((f"final {row.name}", [format_value(v) for v in row.final]))
        lines.append(("epochs", [str(run.epochs_done) for run in comparison.runs]))
        lines.append(("status", [STATUS_TEXT.get(r.status, r.status) for r in comparison.runs]))
        table.setRowCount(len(lines))
        for row_index, (name, values) in enumerate(lines):
            table.setItem(row_index, 0, _read_only(name))
            for column, value in enumerate(values, start=1):
                table.setItem(row_index, column, _read_only(value))

    def _fill_graph_changes(self) -> None:
        comparison = self.comparison
        assert comparison is not None
        changes = comparison.graph_changes
        table = self.graph_table
        several_graphs = len({change.graph for change in changes}) > 1
        self._run_headers(table, ["Node", "Change"])
        table.setRowCount(len(changes))
        for row_index, change in enumerate(changes):
            node = f"{change.graph} ▸ {change.node}" if several_graphs else change.node
            what = {"param": change.param or "", "type": "layer type"}.get(change.kind, change.kind)
            table.setItem(row_index, 0, _read_only(node))
            table.setItem(row_index, 1, _read_only(what))
            for column, value in enumerate(change.values, start=2):
                table.setItem(row_index, column, _read_only("absent" if value is None else value))
        count = len(comparison.runs)
        if count < 2:
            note = "Select two or more runs to see how their graphs differ."
        elif not changes:
            note = "The runs trained the same graph."
        else:
            nodes = len({(c.graph, c.node) for c in changes})
            note = f"{nodes} node" + ("s" if nodes != 1 else "") + " differ from the baseline."
        self.graph_note.setText(note)
        table.setVisible(bool(changes))
        self.detail_tabs.setTabText(
            2, f"Graph Differences ({len(changes)})" if changes else "Graph Differences"
        )

    # ----------------------------------------------------------------- actions
    def _context_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        for button in (self.weights_button, self.folder_button, self.delete_button):
            action = menu.addAction(button.text(), button.click)
            action.setEnabled(button.isEnabled())
        menu.popup(self.table.viewport().mapToGlobal(position))

    def _use_weights(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1:
            self.initial_weights_requested.emit(runs[0].run_id)

    def open_folder(self) -> None:
        """Open the selected run's folder (or the runs folder) in the file manager."""
        runs = self.selected_runs()
        target = runs[0].path if len(runs) == 1 else self.folder
        if target is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))

    def delete_runs(self, run_ids: Sequence[str], *, confirm: bool = True) -> Task | None:
        """Delete run folders (after asking); a run that is training now is refused."""
        by_id = {run.run_id: run for run in self.runs}
        runs = [by_id[i] for i in run_ids if i in by_id]
        training = [run.run_id for run in runs if run.is_running]
        if training:
            QMessageBox.information(
                self,
                "Run is training",
                "Stop the training first: " + ", ".join(training) + " is still running.",
            )
            return None
        if not runs or self.folder is None:
            return None
        if confirm:
            names = "\n".join(run.run_id for run in runs[:10])
            more = f"\n… and {len(runs) - 10} more" if len(runs) > 10 else ""
            answer = QMessageBox.question(
                self,
                "Delete runs",
                f"Delete {len(runs)} run" + ("s" if len(runs) != 1 else "") + " and their "
                f"checkpoints? This cannot be undone.\n\n{names}{more}",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
        folder = self.folder
        paths = [folder / run.run_id for run in runs]

        def work(cancelled: object) -> Iterator[object]:
            for path in paths:
                if path.parent == folder:  # never anything outside the runs folder
                    shutil.rmtree(path)
                yield path.name

        def failed(exc: BaseException, trace: str) -> None:
            QMessageBox.warning(self, "Cannot delete run", str(exc))

        def finished() -> None:
            self._delete_task = None
            self._mark_stale()

        self._delete_task = self.tasks.start("delete runs", work, lambda _: None, failed, finished)
        return self._delete_task

    # ----------------------------------------------------------------- housekeeping
    def _cancel_tasks(self) -> None:
        if self._compare_task is not None:
            self._compare_task.cancel()
        self._compare_task = None
        self._compare_pending = False
        self._compared_state = ()
        self._clear_comparison()

    def _on_theme_changed(self, _name: str) -> None:
        muted = theme.colour("text_muted").name()
        self.empty_label.setStyleSheet(f"color: {muted}; padding: 24px;")
        self.compare_hint.setStyleSheet(f"color: {muted};")
        if self.runs:
            self._fill_table(set(self.selected_ids()))
        if self.comparison is not None:
            self._show_comparison()
