"""The main window: canvas in the centre, palette, inspector, problems and summary docks.

Everything slow happens off the Qt thread: a project file is parsed and its graphs built in
a worker, and each graph is analysed (shapes, problems, summary, which need torch) from a
snapshot in a worker whose reports arrive by signal. Reports carry the generation of the
graph they describe, and a report about an older generation is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from psygnal import SignalInstance
from PySide6.QtCore import QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QGraphicsScene,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QToolBar,
    QUndoView,
    QWidget,
)

from studio import __version__
from studio.core.autosave import Autosave
from studio.core.commands import AddNodeCommand, Command
from studio.core.errors import StudioError
from studio.core.graph import Graph
from studio.core.project import SUFFIX, Project
from studio.core.registry import LayerRegistry
from studio.core.resources import Template, list_templates
from studio.ui import theme
from studio.ui.analysis import (
    DataContext,
    DeviceReport,
    ShapeReport,
    SummaryReport,
    analyse_graph,
    graph_snapshot,
)
from studio.ui.canvas import GraphScene, GraphView, NodeItem
from studio.ui.code_view import CodeView
from studio.ui.data_tab import DataEdit, DataEditCommand, DataState, DataTab
from studio.ui.gallery import TemplateGallery
from studio.ui.inspector import InspectorPanel
from studio.ui.palette import PalettePanel
from studio.ui.recovery import AutosaveController, RecoveryDialog, describe_time
from studio.ui.reports import ProblemsPanel, SummaryPanel
from studio.ui.settings import THEME_KEY, RecentFiles, app_settings
from studio.ui.shortcuts import ShortcutsDialog
from studio.ui.tasks import Task, TaskRunner
from studio.ui.undo import CoreUndoCommand

PLACEHOLDER = (
    "Start from a template with File ▸ New… (Ctrl+N)\nor open a project with File ▸ Open… (Ctrl+O)"
)
# Edits are analysed once typing or dragging pauses this long.
ANALYSIS_DELAY_MS = 150


class GraphPage:
    """One graph of the open project: its scene, and what the analysis last found."""

    def __init__(self, name: str, graph: Graph, scene: GraphScene) -> None:
        self.name = name
        self.graph = graph
        self.scene = scene
        self.shapes: ShapeReport | None = None
        self.summary: SummaryReport | None = None
        self.generation = 0
        self.task: Task | None = None
        self.view_state: tuple[float, QPointF] | None = None
        self.edit_handler: Callable[..., None] | None = None


def _structural_signals(graph: Graph) -> list[SignalInstance]:
    """The graph events that change shapes or problems (a move changes neither)."""
    return [
        graph.node_added,
        graph.node_removed,
        graph.node_renamed,
        graph.param_changed,
        graph.edge_added,
        graph.edge_removed,
        graph.shares_changed,  # a tie changes the parameter count
    ]


class MainWindow(QMainWindow):
    """The editor window. `open_project` loads in the background; `set_project` shows one."""

    project_opened = Signal(object)  # Project
    edit_refused = Signal(str)  # the refusal's message, e.g. "... would make a cycle ..."
    analysis_updated = Signal(str, str)  # graph name, "shapes" | "device" | "summary"
    project_saved = Signal(object)  # Path: the file a save just wrote

    def __init__(
        self, registry: LayerRegistry | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        if registry is None:
            from studio.plugins import default_registry

            registry = default_registry()
        self.registry = registry
        self.project: Project | None = None
        self.pages: dict[str, GraphPage] = {}
        self.current: GraphPage | None = None
        self.device_label: str | None = None
        self.tasks = TaskRunner(self)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._modified = False
        self._open_task: Task | None = None
        self._shut_down = False
        self._dirty_pages: set[str] = set()
        self._analysis_timer = QTimer(self)
        self._analysis_timer.setSingleShot(True)
        self._analysis_timer.setInterval(ANALYSIS_DELAY_MS)
        self._analysis_timer.timeout.connect(self._analyse_dirty_pages)

        self._empty_scene = QGraphicsScene(self)
        self.view = GraphView()
        self.view.placeholder = PLACEHOLDER
        self.view.setScene(self._empty_scene)
        self.setCentralWidget(self.view)

        self.palette_panel = PalettePanel(registry)
        self.inspector = InspectorPanel(push=self.push)
        self.inspector.trainable_toggled.connect(self.set_trainable)
        self.problems_panel = ProblemsPanel()
        self.summary_panel = SummaryPanel()
        self.palette_dock = self._dock("Layers", "palette", self.palette_panel)
        self.inspector_dock = self._dock("Inspector", "inspector", self.inspector)
        self.problems_dock = self._dock("Problems", "problems", self.problems_panel)
        self.summary_dock = self._dock("Summary", "summary", self.summary_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.palette_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.problems_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.summary_dock)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.problems_dock, self.summary_dock)
        self._make_code_dock()
        self.problems_dock.raise_()
        self.problems_panel.node_requested.connect(self.reveal_node)
        self.summary_panel.node_requested.connect(self.reveal_node)
        self.problems_panel.clear()
        self.summary_panel.show_pending("Open a project to see its summary.")

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self.view.zoom_changed.connect(self._show_zoom)
        self.resize(1600, 1000)
        self.resizeDocks(
            [self.palette_dock, self.inspector_dock], [230, 300], Qt.Orientation.Horizontal
        )
        self.resizeDocks([self.problems_dock], [270], Qt.Orientation.Vertical)
        self._update_title()
        self._update_actions()
        self._init_files_autosave_themes()
        self._init_runs_model()
        self._init_data_tab()
        self._init_training_tab()
        self._init_runs_and_training_settings()
        self._init_export()
        self._init_evaluation_tab()
        self._init_explain_tab()
        self._init_import()
        self._init_plugins_dialog()
        self._init_device_doctor()

    # ----------------------------------------------------------------- building
    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{name}_dock")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        return dock

    def _action(
        self, text: str, slot: object, shortcuts: list[QKeySequence] | None = None
    ) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts(shortcuts)
        action.triggered.connect(slot)
        return action

    def _make_actions(self) -> None:
        keys = QKeySequence.StandardKey
        self.open_action = self._action("&Open…", self._ask_open, [QKeySequence(keys.Open)])
        self.save_action = self._action("&Save", self.save_project, [QKeySequence(keys.Save)])
        self.save_as_action = self._action(
            "Save &As…", self._ask_save_as, [QKeySequence("Ctrl+Shift+S")]
        )
        self.quit_action = self._action("&Quit", self.close, [QKeySequence("Ctrl+Q")])
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.fit_action = self._action(
            "&Fit to View", self.view.fit_to_view, [QKeySequence("F"), QKeySequence("Ctrl+0")]
        )
        self.zoom_in_action = self._action(
            "Zoom &In",
            lambda: self.view.set_zoom(self.view.zoom * 1.25),
            [QKeySequence(keys.ZoomIn)],
        )
        self.zoom_out_action = self._action(
            "Zoom &Out",
            lambda: self.view.set_zoom(self.view.zoom / 1.25),
            [QKeySequence(keys.ZoomOut)],
        )
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence(keys.Undo)])
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence(keys.Redo)])
        self.about_action = self._action("&About Strata Studio", self._about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self._make_canvas_actions()

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.examples_menu = QMenu("Open &Example", self)
        self.examples_menu.aboutToShow.connect(self._fill_examples_menu)
        file_menu.addMenu(self.examples_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self.edit_menu = bar.addMenu("&Edit")
        self.edit_menu.addAction(self.undo_action)
        self.edit_menu.addAction(self.redo_action)
        self.edit_menu.addAction(self.undo_history_action)
        self.edit_menu.addSeparator()
        for action in self.canvas_edit_actions:
            self.edit_menu.addAction(action)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.select_all_action)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.auto_layout_action)
        self.edit_menu.addAction(self.auto_layout_tb_action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.fit_action)
        view_menu.addAction(self.zoom_in_action)
        view_menu.addAction(self.zoom_out_action)
        view_menu.addSeparator()
        for dock in (
            self.palette_dock,
            self.inspector_dock,
            self.problems_dock,
            self.summary_dock,
            self.code_dock,
        ):
            view_menu.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _make_toolbar(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.save_action)
        toolbar.addSeparator()
        toolbar.addAction(self.fit_action)
        toolbar.addAction(self.auto_layout_action)
        toolbar.addSeparator()
        self.graph_selector = QComboBox()
        self.graph_selector.setToolTip("This project has several graphs; choose the one to show.")
        self.graph_selector.currentTextChanged.connect(self._on_graph_chosen)
        label = QLabel("Graph:")
        label.setStyleSheet("padding-left: 4px;")
        self._graph_label_action = toolbar.addWidget(label)
        self._graph_selector_action = toolbar.addWidget(self.graph_selector)
        self._graph_label_action.setVisible(False)
        self._graph_selector_action.setVisible(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _make_status_bar(self) -> None:
        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.problems_status = QLabel()
        self.params_status = QLabel()
        self.device_status = QLabel()
        self.device_status.setToolTip("Where training runs with --device auto")
        self.zoom_status = QLabel()
        for label in (
            self.problems_status,
            self.params_status,
            self.device_status,
            self.zoom_status,
        ):
            status.addPermanentWidget(label)

    # ----------------------------------------------------------------- edits
    def push(self, command: Command) -> bool:
        """Do a core command and record it for undo; a refusal is shown, not raised.

        Every edit made in the window (canvas, inspector, palette) goes through here.
        """
        try:
            command.do()
        except StudioError as exc:
            self.statusBar().showMessage(str(exc), 6000)
            self.edit_refused.emit(str(exc))
            return False
        self.undo_stack.push(CoreUndoCommand(command))
        return True

    def _on_clean_changed(self, clean: bool) -> None:
        self.set_modified(not clean)

    # ----------------------------------------------------------------- projects
    @property
    def modified(self) -> bool:
        return self._modified

    def set_modified(self, modified: bool) -> None:
        if modified != self._modified:
            self._modified = modified
            self._update_title()

    def open_project(self, path: str | Path, *, as_template: bool = False) -> Task:
        """Load a project in the background; a `ProjectError` is shown in a message box.

        `as_template` opens a copy with no file, so Save asks where to put it.
        """
        path = Path(path)
        registry = self.registry

        def load(cancelled: object) -> Iterator[Project]:
            yield Project.load(path, registry)

        def loaded(item: object) -> None:
            assert isinstance(item, Project)
            if as_template:
                item.path = None
            self.set_project(item)
            self.statusBar().showMessage(f"Opened {path.name}", 4000)

        if self._open_task is not None:
            self._open_task.cancel()
        self.statusBar().showMessage(f"Opening {path.name}…")
        self._open_task = self.tasks.start("open project", load, loaded, self._open_failed)
        return self._open_task

    def _open_failed(self, exc: BaseException, trace: str) -> None:
        self.statusBar().clearMessage()
        if isinstance(exc, StudioError):
            message = str(exc)
        else:  # a bug of ours: say what happened without a traceback dialog
            message = f"Unexpected error while opening the project: {type(exc).__name__}: {exc}"
        QMessageBox.critical(self, "Cannot open project", message)

    def set_project(self, project: Project) -> None:
        """Show a loaded project (replacing the current one, which is not saved)."""
        self._close_project()
        self.project = project
        names = list(project.graphs)
        self.graph_selector.blockSignals(True)
        self.graph_selector.clear()
        self.graph_selector.addItems(names)
        self.graph_selector.setCurrentIndex(0)
        self.graph_selector.blockSignals(False)
        several = len(names) > 1
        self._graph_label_action.setVisible(several)
        self._graph_selector_action.setVisible(several)
        self.undo_stack.clear()
        self.set_modified(False)
        self.show_graph(names[0])
        self._update_title()
        self._update_actions()
        self.project_opened.emit(project)

    def _close_project(self) -> None:
        self._analysis_timer.stop()
        self._dirty_pages.clear()
        for page in self.pages.values():
            if page.task is not None:
                page.task.cancel()
            self._disconnect_page(page)
            page.scene.close()
            page.scene.deleteLater()
        self.pages.clear()
        self.current = None
        self.project = None
        self.view.setScene(self._empty_scene)
        self.inspector.show_node(None, None, None)
        self.problems_panel.clear()
        self.summary_panel.show_pending("Open a project to see its summary.")
        self.problems_status.clear()
        self.params_status.clear()

    def save_project(self) -> bool:
        if self.project is None:
            return False
        if self.project.path is None:
            return self._ask_save_as()
        return self.save_project_as(self.project.path)

    def save_project_as(self, path: str | Path) -> bool:
        """Save atomically to `path`; a failure is shown and leaves the old file whole."""
        if self.project is None:
            return False
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        try:
            self.project.save(path)
        except StudioError as exc:
            QMessageBox.critical(self, "Cannot save project", str(exc))
            return False
        self.undo_stack.setClean()
        self.set_modified(False)
        self.statusBar().showMessage(f"Saved {path}", 4000)
        self.project_saved.emit(path)
        return True

    def _ask_open(self) -> None:
        if not self._confirm_discard():
            return
        start = str(self.project.path.parent) if self.project and self.project.path else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", start, f"Strata projects (*{SUFFIX});;All files (*)"
        )
        if path:
            self.open_project(path)

    def _ask_save_as(self) -> bool:
        if self.project is None:
            return False
        if self.project.path is not None:
            suggestion = str(self.project.path)
        else:
            stem = "_".join(self.project.name.lower().split()) or "project"
            suggestion = str(Path.home() / f"{stem}{SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(
            self, "Save project as", suggestion, f"Strata projects (*{SUFFIX})"
        )
        return self.save_project_as(path) if path else False

    def _fill_examples_menu(self) -> None:
        self.examples_menu.clear()
        templates = list_templates()
        if not templates:
            self.examples_menu.addAction("No examples found").setEnabled(False)
        for template in templates:
            action = self.examples_menu.addAction(template.title)
            action.setToolTip(template.description)
            action.triggered.connect(lambda _=False, path=template.path: self._open_example(path))

    def _open_example(self, path: Path) -> None:
        if self._confirm_discard():
            self.open_project(path, as_template=True)

    def _confirm_discard(self) -> bool:
        """Ask before losing unsaved changes; True when it is fine to go on."""
        if not self._modified or self.project is None:
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to {self.project.name} first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save_project()
        return answer == QMessageBox.StandardButton.Discard

    # ----------------------------------------------------------------- graphs
    def show_graph(self, name: str) -> None:
        """Put one of the project's graphs on the canvas."""
        if self.project is None or name not in self.project.graphs:
            return
        if self.current is not None:
            if self.current.name == name:
                return
            self.current.view_state = (
                self.view.zoom,
                self.view.mapToScene(self.view.viewport().rect().center()),
            )
        page = self.pages.get(name) or self._make_page(name)
        self.current = page
        self.view.setScene(page.scene)
        if self.graph_selector.currentText() != name:
            self.graph_selector.blockSignals(True)
            self.graph_selector.setCurrentText(name)
            self.graph_selector.blockSignals(False)
        if page.view_state is None:
            # After pending resizes (and, for a large graph, once every item exists), so the
            # view frames what the graph really covers in the viewport it really has.
            if page.scene.is_populated:
                QTimer.singleShot(0, partial(self._frame_graph, page))
            else:
                page.scene.populated.connect(partial(self._frame_graph, page))
        else:
            zoom, centre = page.view_state
            self.view.set_zoom(zoom)
            self.view.centerOn(centre)
        self._show_page_reports(page)
        self._on_selection_changed()
        if page.shapes is None and page.task is None:
            if page.scene.is_populated:
                self._analyse(page)
            else:
                # A worker importing torch competes for the GIL: let the canvas fill first.
                page.scene.populated.connect(partial(self._analyse_if_needed, page))

    def _frame_graph(self, page: GraphPage) -> None:
        if self.current is page and page.view_state is None:
            self.view.frame_graph()

    def _make_page(self, name: str) -> GraphPage:
        assert self.project is not None
        graph = self.project.graphs[name]
        scene = GraphScene(graph, self)
        page = GraphPage(name, graph, scene)
        self.pages[name] = page
        scene.selectionChanged.connect(self._on_selection_changed)
        scene.push = self.push

        def edited(*_: object) -> None:
            self._on_graph_edited(name)

        page.edit_handler = edited
        graph.node_moved.connect(self._on_graph_moved)
        for signal in _structural_signals(graph):
            signal.connect(edited)
        return page

    def _disconnect_page(self, page: GraphPage) -> None:
        page.graph.node_moved.disconnect(self._on_graph_moved)
        if page.edit_handler is not None:
            for signal in _structural_signals(page.graph):
                signal.disconnect(page.edit_handler)

    def _on_graph_chosen(self, name: str) -> None:
        if name:
            self.show_graph(name)

    def _on_graph_moved(self, *_: object) -> None:
        self.set_modified(True)

    def _on_graph_edited(self, graph_name: str) -> None:
        self.set_modified(True)
        self._dirty_pages.add(graph_name)
        self._analysis_timer.start()

    # ----------------------------------------------------------------- analysis
    def _analyse_dirty_pages(self) -> None:
        for name in list(self._dirty_pages):
            page = self.pages.get(name)
            if page is not None:
                self._analyse(page)
        self._dirty_pages.clear()

    def _analyse_if_needed(self, page: GraphPage) -> None:
        if self.pages.get(page.name) is page and page.shapes is None and page.task is None:
            self._analyse(page)

    def _analyse(self, page: GraphPage) -> None:
        page.generation += 1
        generation = page.generation
        if page.task is not None:
            page.task.cancel()
        snapshot = graph_snapshot(page.graph)
        registry = self.registry
        data = self._data_context(page.name)

        def work(cancelled: object) -> Iterator[object]:
            yield from analyse_graph(snapshot, registry, data=data, cancelled=cancelled)  # type: ignore[arg-type]

        page.task = self.tasks.start(
            f"analyse {page.name}",
            work,
            lambda item: self._on_report(page, generation, item),
            lambda exc, trace: self._on_analysis_failed(page, generation, exc),
            lambda: self._on_analysis_finished(page, generation),
        )

    def _is_live(self, page: GraphPage, generation: int) -> bool:
        return self.pages.get(page.name) is page and page.generation == generation

    def _on_report(self, page: GraphPage, generation: int, report: object) -> None:
        if isinstance(report, DeviceReport):
            self.device_label = report.label
            self.device_status.setText(f"Device: {report.label}")
        if not self._is_live(page, generation):
            return
        if isinstance(report, ShapeReport):
            page.shapes = report
            page.scene.apply_report(report)
            if page is self.current:
                self.problems_panel.show_report(report)
                self._show_problem_count(report)
                self._on_selection_changed()
            self.analysis_updated.emit(page.name, "shapes")
        elif isinstance(report, SummaryReport):
            page.summary = report
            page.scene.apply_param_counts({row.node_id: row.params for row in report.rows})
            if self.project is not None and page.graph is self.project.main_graph:
                self.training_form.set_summary(report.graph, report.summary)
            if page is self.current:
                self.summary_panel.show_report(report)
                self._show_params(report)
                self._show_trainable(page)
            self.analysis_updated.emit(page.name, "summary")
        elif isinstance(report, DeviceReport):
            self.analysis_updated.emit(page.name, "device")

    def _on_analysis_failed(self, page: GraphPage, generation: int, exc: BaseException) -> None:
        if not self._is_live(page, generation):
            return
        message = f"The analysis stopped: {type(exc).__name__}: {exc}"
        page.summary = SummaryReport(unavailable=message)
        if page is self.current:
            self.summary_panel.show_report(page.summary)
            self.statusBar().showMessage(message, 8000)

    def _on_analysis_finished(self, page: GraphPage, generation: int) -> None:
        if page.generation == generation:
            page.task = None

    def _show_page_reports(self, page: GraphPage) -> None:
        if page.shapes is None:
            self.problems_panel.show_pending()
            self.problems_status.setText("Checking…")
            self.problems_status.setStyleSheet("")
        else:
            self.problems_panel.show_report(page.shapes)
            self._show_problem_count(page.shapes)
        if page.summary is None:
            self.summary_panel.show_pending()
            self.params_status.setText("Parameters: …")
        else:
            self.summary_panel.show_report(page.summary)
            self._show_params(page.summary)
        self._show_page_code(page)

    def _show_problem_count(self, report: ShapeReport) -> None:
        errors, warnings = report.error_count, report.warning_count
        if errors:
            text = f"{errors} problem" + ("s" if errors != 1 else "")
            colour = theme.ERROR
        else:
            text = "valid"
            colour = theme.OK
        if warnings:
            text += f" · {warnings} warning" + ("s" if warnings != 1 else "")
        self.problems_status.setText(text)
        self.problems_status.setStyleSheet(f"color: {colour.name()};")

    def _show_params(self, report: SummaryReport) -> None:
        if report.unavailable:
            self.params_status.setText("Parameters: —")
        else:
            self.params_status.setText(f"Parameters: {report.total_params:,}")

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_status.setText(f"{zoom * 100:.0f}%")

    # ----------------------------------------------------------------- selection
    def reveal_node(self, node_id: str) -> None:
        """Select a node and centre the view on it (problems list, summary table)."""
        page = self.current
        if page is None:
            return
        item = page.scene.select_node(node_id)
        if item is not None:
            self.view.centre_on_item(item)

    def _on_selection_changed(self) -> None:
        page = self.current
        if page is None:
            self.inspector.show_node(None, None, None)
            return
        selected = page.scene.selected_node_ids()
        node_id = selected[0] if len(selected) == 1 else None
        self.inspector.show_node(page.graph, node_id, page.shapes)
        self.inspector.show_trainable(self._trainable(page, node_id))
        if len(selected) > 1:
            self.inspector.help.setText(f"{len(selected)} layers selected.")

    def _show_trainable(self, page: GraphPage) -> None:
        selected = page.scene.selected_node_ids()
        node_id = selected[0] if len(selected) == 1 else None
        self.inspector.show_trainable(self._trainable(page, node_id))

    def _trainable(self, page: GraphPage, node_id: str | None) -> bool | None:
        """Whether the node's weights train (None: it has none, or the mode freezes nothing:
        the frozen list applies to a supervised or autoencoder project's main graph)."""
        project = self.project
        if (
            project is None
            or node_id is None
            or node_id not in page.graph
            or project.training.mode == "gan"
            or page.graph is not project.main_graph
        ):
            return None
        if page.summary is not None and page.summary.rows:
            params = {row.node_id: row.params for row in page.summary.rows}
            if not params.get(node_id):
                return None
        elif page.graph.spec(node_id).role != "layer":
            return None
        return page.graph.node(node_id).name not in project.training.frozen

    def set_trainable(self, name: str, trainable: bool) -> None:
        """Freeze or unfreeze a layer by name: one undoable edit of the training settings."""
        from studio.ui.training_form import TrainingEdit

        project = self.project
        if project is None:
            return
        frozen = [n for n in project.training.frozen if n != name]
        if not trainable:
            frozen.append(name)
        if frozen == project.training.frozen:
            return
        section = project.training.model_copy(update={"frozen": frozen})
        text = f"Freeze {name}" if not trainable else f"Unfreeze {name}"
        self.edit_training(TrainingEdit(section, text))

    def selected_node(self) -> NodeItem | None:
        page = self.current
        if page is None:
            return None
        selected = page.scene.selected_node_ids()
        return page.scene.nodes[selected[0]] if len(selected) == 1 else None

    # ----------------------------------------------------------------- window
    def _update_title(self) -> None:
        if self.project is None:
            self.setWindowTitle(theme.APP_NAME)
        else:
            mark = "*" if self._modified else ""
            self.setWindowTitle(f"{mark}{self.project.name} — {theme.APP_NAME}")

    def _update_actions(self) -> None:
        has_project = self.project is not None
        self.save_action.setEnabled(has_project)
        self.save_as_action.setEnabled(has_project)

    def _about(self) -> None:
        QMessageBox.about(
            self,
            f"About {theme.APP_NAME}",
            f"<h3>{theme.APP_NAME} {__version__}</h3>"
            "<p>Design, train, explain and export neural networks on a canvas, without code.</p>"
            "<p>Projects are plain JSON (<code>*.strata</code>); everything the window does is "
            "also available from the <code>studio</code> command.</p>",
        )

    def shutdown(self) -> bool:
        """Stop background work and release the graphs; True when every worker finished."""
        if self._shut_down:
            return True
        self._shut_down = True
        self._shutdown_training()
        self._analysis_timer.stop()
        finished = self.tasks.shutdown()
        self._close_project()
        return finished

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._confirm_discard():
            event.ignore()
            return
        self.shutdown()
        self._end_files_session()
        event.accept()

    # ---- inspector, palette, code
    def _make_code_dock(self) -> None:
        """The Code dock, tabbed with Problems and Summary; and the palette's and inspector's
        connections to the window."""
        self.code_view = CodeView()
        self.code_dock = self._dock("Code", "code", self.code_view)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.code_dock)
        self.tabifyDockWidget(self.summary_dock, self.code_dock)
        self._code_task: Task | None = None
        # The page and analysis generation the code view shows, or is having generated.
        self._code_for: tuple[GraphPage, int] | None = None
        self.code_dock.visibilityChanged.connect(self._on_code_dock_visibility)
        self.analysis_updated.connect(self._on_analysis_for_code)
        self.palette_panel.layer_activated.connect(self.add_layer_at_centre)
        self.edit_refused.connect(self.inspector.note_refusal)

    def add_layer_at_centre(self, type_id: str) -> bool:
        """Add a layer at the centre of the view (palette double-click) and select it."""
        page = self.current
        if page is None:
            self.statusBar().showMessage("Open a project first (File ▸ Open Example).", 4000)
            return False
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        x, y = round(centre.x(), 2), round(centre.y(), 2)
        # Adding several layers in a row steps each one down and right instead of stacking them.
        taken = [node.position for node in page.graph.nodes]
        for _ in range(50):
            if not any(abs(x - px) < 12 and abs(y - py) < 12 for px, py in taken):
                break
            x, y = x + 30.0, y + 30.0
        command = AddNodeCommand(page.graph, type_id, position=(x, y))
        if not self.push(command):
            return False
        page.scene.select_node(command.node_id)
        return True

    def _on_analysis_for_code(self, graph_name: str, what: str) -> None:
        page = self.current
        if what == "shapes" and page is not None and page.name == graph_name:
            self._show_page_code(page)

    def _on_code_dock_visibility(self, visible: bool) -> None:
        if visible and self.current is not None:
            self._show_page_code(self.current)

    def _show_page_code(self, page: GraphPage) -> None:
        """The problems while the graph has errors, else its source, generated in a worker.

        Generating builds every module (torch, and the weights' memory), so it happens only
        while the Code dock is on screen; showing the dock brings the code up to date.
        """
        report = page.shapes
        if report is None:
            self._cancel_code()
            self.code_view.show_pending("Checking the graph…")
            return
        if report.graph_error_count:
            self._cancel_code()
            pairs = zip(report.problems, report.lines, strict=True)
            self.code_view.show_problems(
                [
                    line
                    for p, line in pairs
                    if p.severity == "error" and p not in report.data_problems
                ]
            )
            return
        wanted = (page, page.generation)
        if self._code_for == wanted:
            return  # shown already, or on its way
        self._cancel_code()
        if self.code_dock.visibleRegion().isEmpty():  # behind another tab, closed or minimised
            return
        self._code_for = wanted
        self.code_view.status.setText("Generating…")
        snapshot = graph_snapshot(page.graph)
        registry = self.registry
        project_name = self.project.name if self.project is not None else page.name
        several = self.project is not None and len(self.project.graphs) > 1
        title = f"{project_name} {page.name}" if several else project_name

        def work(cancelled: object) -> Iterator[object]:
            from studio.compile.codegen import generate_code
            from studio.compile.compiler import class_name_for
            from studio.ui.analysis import graph_from_snapshot

            graph = graph_from_snapshot(snapshot, registry)
            class_name = class_name_for(title)
            yield class_name, generate_code(graph, class_name=class_name, title=title)

        def generated(item: object) -> None:
            if self._code_for == wanted and isinstance(item, tuple):
                class_name, code = item
                lines = code.count("\n")
                self.code_view.show_code(code, f"{class_name} · {lines} lines · read-only")

        def failed(exc: BaseException, trace: str) -> None:
            if self._code_for == wanted:
                known = isinstance(exc, StudioError)
                message = str(exc) if known else f"{type(exc).__name__}: {exc}"
                self.code_view.show_failure(message)

        def finished() -> None:
            if self._code_for == wanted:
                self._code_task = None

        self._code_task = self.tasks.start(
            f"generate code for {page.name}", work, generated, failed, finished
        )

    def _cancel_code(self) -> None:
        if self._code_task is not None:
            self._code_task.cancel()
            self._code_task = None
        self._code_for = None

    # ---- files, autosave, themes
    def _init_files_autosave_themes(self) -> None:
        """New from the gallery, Open Recent, autosave, View ▸ Theme, icons, shortcut help."""
        self.setWindowIcon(theme.app_icon())
        self.settings = app_settings()
        self.recent_files = RecentFiles(self.settings)
        self.gallery: TemplateGallery | None = None
        self.recovery_dialog: RecoveryDialog | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.autosave = AutosaveController(
            self.tasks, lambda: self.project, lambda: self._modified, parent=self
        )
        self.autosave.failed.connect(lambda message: self.statusBar().showMessage(message, 8000))
        session = self.autosave.session
        # A window that goes without closing cleanly is a crash as far as its autosaves go.
        self.destroyed.connect(lambda *_: session.release())
        self.project_opened.connect(self._on_project_shown_for_files)
        self.project_saved.connect(self._on_project_saved_for_files)
        theme.notifier().theme_changed.connect(self._on_theme_changed)

        keys = QKeySequence.StandardKey
        self.new_action = self._action(
            "&New…", self.show_template_gallery, [QKeySequence(keys.New)]
        )
        self.new_action.setStatusTip("Start a new project from a template")
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.full_screen_action = self._action(
            "&Full Screen", self._toggle_full_screen, [QKeySequence(keys.FullScreen)]
        )
        self.full_screen_action.setCheckable(True)
        self.shortcuts_action = self._action(
            "&Keyboard Shortcuts",
            self.show_shortcuts,
            [QKeySequence("Ctrl+/"), QKeySequence(keys.HelpContents)],
        )
        self.theme_menu = QMenu("&Theme", self)
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name, choice in theme.THEMES.items():
            action = QAction(choice.title, self.theme_group)
            action.setCheckable(True)
            action.setChecked(name == theme.current().name)
            action.triggered.connect(lambda _=False, name=name: self.set_theme(name))
            self.theme_menu.addAction(action)
            self.theme_actions[name] = action

        file_menu = self._menu_holding(self.open_action)
        if file_menu is not None:
            file_menu.insertAction(self.open_action, self.new_action)
            after_open = file_menu.actions()
            index = after_open.index(self.open_action) + 1
            if index < len(after_open):
                file_menu.insertMenu(after_open[index], self.recent_menu)
            else:
                file_menu.addMenu(self.recent_menu)
        view_menu = self._menu_holding(self.fit_action)
        if view_menu is not None:
            view_menu.addSeparator()
            view_menu.addMenu(self.theme_menu)
            view_menu.addAction(self.full_screen_action)
        help_menu = self._menu_holding(self.about_action)
        if help_menu is not None:
            help_menu.insertAction(self.about_action, self.shortcuts_action)
            help_menu.insertSeparator(self.about_action)

        toolbar = self.toolbar
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        toolbar.setIconSize(QSize(20, 20))
        present = toolbar.actions()
        if self.new_action not in present:
            toolbar.insertAction(self.open_action, self.new_action)
        if self.undo_action not in present and self.save_action in present:
            following = present[present.index(self.save_action) + 1 :]
            before = following[0] if following else None
            separator = toolbar.insertSeparator(before) if before else toolbar.addSeparator()
            toolbar.insertAction(separator, self.undo_action)
            toolbar.insertAction(separator, self.redo_action)
        self._decorate_actions()

    def _decorate_actions(self) -> None:
        """Icons on the common actions, and tooltips that name their shortcut."""
        icons = {
            "new_action": "new",
            "open_action": "open",
            "save_action": "save",
            "save_as_action": "save-as",
            "undo_action": "undo",
            "redo_action": "redo",
            "fit_action": "fit",
            "zoom_in_action": "zoom-in",
            "zoom_out_action": "zoom-out",
            "layout_action": "layout",
            "auto_layout_action": "layout",
            "shortcuts_action": "keyboard",
        }
        for attribute, icon_name in icons.items():
            action = getattr(self, attribute, None)
            if not isinstance(action, QAction):
                continue
            action.setIcon(theme.icon(icon_name))
            shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            text = action.text().replace("&", "").rstrip(".…")
            action.setToolTip(f"{text} ({shortcut})" if shortcut else text)
        # The undo stack renames its actions ("Undo Move"); keep the tooltip's shortcut.
        self.undo_stack.undoTextChanged.connect(self._retip_undo_actions)
        self.undo_stack.redoTextChanged.connect(self._retip_undo_actions)
        self._retip_undo_actions()

    def _retip_undo_actions(self, *_: object) -> None:
        for action in (self.undo_action, self.redo_action):
            native = QKeySequence.SequenceFormat.NativeText
            action.setToolTip(
                f"{action.text().replace('&', '')} ({action.shortcut().toString(native)})"
            )

    def _menu_holding(self, action: QAction) -> QMenu | None:
        for top in self.menuBar().actions():
            menu = top.menu()
            if isinstance(menu, QMenu) and action in menu.actions():
                return menu
        return None

    # files
    def show_template_gallery(self) -> TemplateGallery:
        """File ▸ New…: the gallery, window-modal but not blocking; choosing opens a copy."""
        if self.gallery is not None:
            self.gallery.raise_()
            return self.gallery
        gallery = TemplateGallery(list_templates(), self.registry, self)
        gallery.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        gallery.template_chosen.connect(self.new_from_template)
        gallery.finished.connect(self._gallery_closed)
        self.gallery = gallery
        gallery.open()
        return gallery

    def _gallery_closed(self, _result: int) -> None:
        self.gallery = None

    def new_from_template(self, template: Template) -> Task | None:
        """Open a template as an untitled project (after asking about unsaved changes)."""
        if not self._confirm_discard():
            return None
        return self.open_project(template.path, as_template=True)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent_files.paths()
        if not paths:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
            return
        home = Path.home()
        for number, path in enumerate(paths, start=1):
            folder = path.parent
            shown = f"~/{folder.relative_to(home)}" if folder.is_relative_to(home) else str(folder)
            accelerator = f"&{number}" if number < 10 else "1&0"
            action = self.recent_menu.addAction(f"{accelerator}  {path.name}   —   {shown}")
            action.setToolTip(str(path))
            action.triggered.connect(lambda _=False, path=path: self.open_recent(path))
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("&Clear Recent Projects", self._clear_recent)

    def _clear_recent(self) -> None:
        self.recent_files.clear()

    def open_recent(self, path: Path) -> Task | None:
        """Open a recent project; one that is gone is dropped from the list, with a message."""
        if not path.is_file():
            self.recent_files.remove(path)
            QMessageBox.information(
                self,
                "Project not found",
                f"{path} no longer exists, so it was removed from the recent projects.",
            )
            return None
        if not self._confirm_discard():
            return None
        return self.open_project(path)

    def _on_project_shown_for_files(self, project: Project) -> None:
        recovering = self.autosave.adopting
        self.autosave.project_shown(project)
        if project.path is not None and not recovering:
            self.recent_files.add(project.path)

    def _on_project_saved_for_files(self, path: Path) -> None:
        self.autosave.saved(path)
        self.recent_files.add(path)

    # autosave and recovery
    def offer_recovery(self) -> RecoveryDialog | None:
        """If a crash left autosaves, list them (window-modal, not blocking); else None."""
        entries = self.autosave.session.recoverable()
        if not entries:
            return None
        dialog = RecoveryDialog(entries, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.recover_requested.connect(self.recover_autosave)
        folder_session = self.autosave.session
        dialog.discard_requested.connect(lambda entry: folder_session.discard(entry.key))
        dialog.finished.connect(self._recovery_closed)
        self.recovery_dialog = dialog
        dialog.open()
        return dialog

    def _recovery_closed(self, _result: int) -> None:
        self.recovery_dialog = None

    def recover_autosave(self, entry: Autosave) -> Task:
        """Open an autosave as its original project (same file), with its changes unsaved."""
        registry = self.registry

        def load(cancelled: object) -> Iterator[Project]:
            yield Project.load(entry.content_path, registry)

        def loaded(item: object) -> None:
            assert isinstance(item, Project)
            item.path = entry.original_path
            self.autosave.adopt_next(entry.key)
            self.set_project(item)
            self.undo_stack.resetClean()  # never clean: undoing cannot reach the file's state
            self.set_modified(True)
            self.autosave.autosave_now()  # the side file now belongs to this session
            when = describe_time(entry.saved_at)
            self.statusBar().showMessage(
                f"Recovered {entry.name} as autosaved {when}; save to keep the changes", 10000
            )

        if self._open_task is not None:
            self._open_task.cancel()
        self.statusBar().showMessage(f"Recovering {entry.name}…")
        self._open_task = self.tasks.start("recover", load, loaded, self._open_failed)
        return self._open_task

    def _end_files_session(self) -> None:
        """The clean close: the autosave goes, and so does the session's lock."""
        self.autosave.close()
        theme.notifier().theme_changed.disconnect(self._on_theme_changed)

    # themes and help
    def set_theme(self, name: str) -> None:
        """Switch the whole application's theme and remember it."""
        chosen = theme.set_theme(name)
        self.settings.setValue(THEME_KEY, chosen.name)
        self.settings.sync()
        self.theme_actions[chosen.name].setChecked(True)

    def _on_theme_changed(self, name: str) -> None:
        action = self.theme_actions.get(name)
        if action is not None and not action.isChecked():
            action.setChecked(True)
        for page in self.pages.values():
            page.scene.setBackgroundBrush(theme.BACKGROUND)
            for item in page.scene.items():
                item.update()  # drops the item's cached pixmap, painted in the old colours
        self._empty_scene.setBackgroundBrush(theme.BACKGROUND)
        self.view.resetCachedContent()
        self.view.viewport().update()
        if self.current is not None and self.current.shapes is not None:
            self._show_problem_count(self.current.shapes)

    def _toggle_full_screen(self, checked: bool) -> None:
        if checked:
            self.showFullScreen()
        else:
            self.showNormal()

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help ▸ Keyboard Shortcuts, built afresh from the actions the window has now."""
        if self.shortcuts_dialog is None or not self.shortcuts_dialog.isVisible():
            if self.shortcuts_dialog is not None:
                self.shortcuts_dialog.deleteLater()
            self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()
        return self.shortcuts_dialog

    # ---- canvas editing
    def _make_canvas_actions(self) -> None:
        """Cut, Copy, Paste, Duplicate, Delete, Select All, auto-layout, and the undo history.

        The canvas (`GraphView`) does the work; these actions are enabled only when it applies.
        """
        keys = QKeySequence.StandardKey
        view = self.view
        self.cut_action = self._action("Cu&t", view.cut_selection, [QKeySequence(keys.Cut)])
        self.copy_action = self._action("&Copy", self._copy_to_clipboard, [QKeySequence(keys.Copy)])
        self.paste_action = self._action("&Paste", view.paste, [QKeySequence(keys.Paste)])
        self.duplicate_action = self._action(
            "D&uplicate", view.duplicate_selection, [QKeySequence("Ctrl+D")]
        )
        self.delete_action = self._action(
            "&Delete",
            view.delete_selection,
            [QKeySequence(keys.Delete), QKeySequence("Backspace")],
        )
        self.select_all_action = self._action(
            "Select &All", view.select_all, [QKeySequence(keys.SelectAll)]
        )
        self.auto_layout_action = self._action(
            "Auto-layout &Left to Right",
            lambda: view.auto_layout("LR"),
            [QKeySequence("Ctrl+L")],
        )
        self.auto_layout_tb_action = self._action(
            "Auto-layout T&op to Bottom",
            lambda: view.auto_layout("TB"),
            [QKeySequence("Ctrl+Shift+L")],
        )
        self.canvas_edit_actions = [
            self.cut_action,
            self.copy_action,
            self.paste_action,
            self.duplicate_action,
            self.delete_action,
        ]
        # Their keys act on the canvas only while it has focus: Backspace in the palette, or
        # Ctrl+A in the problems list, must not delete or select cards.
        for action in [*self.canvas_edit_actions, self.select_all_action]:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            view.addAction(action)
        self.undo_view = QUndoView(self.undo_stack)
        self.undo_view.setEmptyLabel("<opened>")
        self.undo_history_dock = self._dock("Undo History", "undo_history", self.undo_view)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.undo_history_dock)
        self.undo_history_dock.hide()
        self.undo_history_action = self.undo_history_dock.toggleViewAction()
        self.undo_history_action.setText("Undo &History")
        view.editing_changed.connect(self._update_edit_actions)
        self._update_edit_actions()

    def _update_edit_actions(self) -> None:
        view = self.view
        shown = view.graph_scene() is not None
        cards, anything = view.selection_state()
        for action in (self.cut_action, self.copy_action, self.duplicate_action):
            action.setEnabled(cards)
        self.delete_action.setEnabled(anything)
        self.paste_action.setEnabled(view.can_paste)
        for action in (self.select_all_action, self.auto_layout_action, self.auto_layout_tb_action):
            action.setEnabled(shown)

    def _copy_to_clipboard(self) -> None:
        count = self.view.copy_selection()
        if count:
            self.statusBar().showMessage(
                f"Copied {count} layer" + ("s" if count != 1 else ""), 3000
            )

    # ---- data tab
    def _init_data_tab(self) -> None:
        """The Data tab, beside the canvas in the centre: tabs "Graph" and "Data"."""
        self.data_tab = DataTab(self.tasks)
        self.takeCentralWidget()  # the canvas, which becomes the first tab
        self.central_tabs = QTabWidget()
        self.central_tabs.setObjectName("central_tabs")
        self.central_tabs.setDocumentMode(True)
        self.central_tabs.addTab(self.view, "Graph")
        self.central_tabs.addTab(self.data_tab, "Data")
        self.central_tabs.setTabToolTip(0, "The model's layers and connections")
        self.central_tabs.setTabToolTip(1, "What the model trains on: source, splits, a look")
        self.setCentralWidget(self.central_tabs)
        self._docks_hidden_off_graph: list[QDockWidget] = []
        self._bottom_height_for_graph: int | None = None
        self.central_tabs.currentChanged.connect(self._on_central_tab_changed)
        self.data_tab.edit_requested.connect(self.edit_data)
        self.project_opened.connect(self.data_tab.set_project)
        # A problem or a summary row names a node: show the canvas first, then the node.
        for panel in (self.problems_panel, self.summary_panel):
            panel.node_requested.disconnect(self.reveal_node)
            panel.node_requested.connect(self._reveal_node_on_canvas)

    def show_data_tab(self) -> None:
        self.central_tabs.setCurrentWidget(self.data_tab)

    def show_graph_tab(self) -> None:
        self.central_tabs.setCurrentWidget(self.view)

    def _reveal_node_on_canvas(self, node_id: str) -> None:
        self.show_graph_tab()
        self.reveal_node(node_id)

    def _on_central_tab_changed(self, index: int) -> None:
        """One policy for every tab but the Graph tab: the layer palette and the inspector
        edit graphs, so elsewhere they give up their room, and the bottom docks are made lower.
        Back on the Graph tab the docks the person had open come back, at the height they had,
        whichever tabs were visited in between. A tab with a `tab_shown()` hears of it."""
        widget = self.central_tabs.widget(index)
        bottom = next(
            (d for d in (self.problems_dock, self.summary_dock, self.code_dock) if d.isVisible()),
            None,
        )
        if widget is not self.view:
            for dock in (self.palette_dock, self.inspector_dock):
                if dock.isVisible() and not dock.isFloating():
                    dock.hide()
                    self._docks_hidden_off_graph.append(dock)
            if bottom is not None and not bottom.isFloating() and bottom.height() > 180:
                if self._bottom_height_for_graph is None:
                    self._bottom_height_for_graph = bottom.height()
                self.resizeDocks([bottom], [170], Qt.Orientation.Vertical)
            shown = getattr(widget, "tab_shown", None)
            if callable(shown):
                shown()
            return
        for dock in self._docks_hidden_off_graph:
            dock.show()
        self._docks_hidden_off_graph = []
        height, self._bottom_height_for_graph = self._bottom_height_for_graph, None
        if bottom is not None and height is not None:
            self.resizeDocks([bottom], [height], Qt.Orientation.Vertical)

    def edit_data(self, edit: DataEdit) -> None:
        """Swap in a new data section as one undoable step (`DataEditCommand`)."""
        project = self.project
        if project is None:
            return
        before = DataState.of(project)
        task = before.task
        if edit.task is not None and project.training.mode == "supervised":
            task = edit.task  # the training task follows the data's
        after = DataState(edit.section, task)
        apply = partial(self._apply_data_state, project)
        self.undo_stack.push(DataEditCommand(apply, before, after, edit.text, edit.key))

    def _apply_data_state(self, project: Project, state: DataState) -> None:
        if project is not self.project:
            return
        project.data = state.section
        if project.training.task != state.task:
            project.training.task = state.task  # type: ignore[assignment]
        self.set_modified(True)
        self.data_tab.data_changed()
        # Every graph is checked against the data: analyse them all again.
        self._dirty_pages.update(self.pages)
        self._analysis_timer.start()

    def _data_context(self, graph_name: str) -> DataContext | None:
        """What the analysis of one graph needs to check it against the project's data."""
        if self.project is None or not self.project.data.names_data:
            return None
        return DataContext.from_project(self.project, graph_name)

    # ---- training tab
    def _init_training_tab(self) -> None:
        """The Training tab after "Data": the training settings beside the live dashboard."""
        from studio.ui.training_tab import TrainingTab

        self.training_tab = TrainingTab(
            self._project_file_for_training,
            lambda: self.project.path if self.project is not None else None,
        )
        index = self.central_tabs.indexOf(self.data_tab) + 1
        self.central_tabs.insertTab(index, self.training_tab, "Training")
        self.central_tabs.setTabToolTip(index, "Train the model and watch it learn, live")
        self.project_opened.connect(self.training_tab.set_project)
        self.project_saved.connect(lambda _path: self.training_tab.refresh())
        self.training_tab.runs_model = self.runs_model

    def show_training_tab(self) -> None:
        self.central_tabs.setCurrentWidget(self.training_tab)

    def _project_file_for_training(self) -> Path | None:
        """The file `studio train` reads: saved first when changed (untitled: ask where)."""
        if self.project is None:
            return None
        if (self._modified or self.project.path is None) and not self.save_project():
            return None
        return self.project.path

    def _shutdown_training(self) -> None:
        training_tab = getattr(self, "training_tab", None)
        if training_tab is not None:
            training_tab.shutdown()  # stops, then if need be kills, the training child

    # ---- the project's runs, read in a worker for every tab that lists them
    def _init_runs_model(self) -> None:
        """One runs model for the whole window, told of the project before any tab is."""
        from studio.ui.runs_model import RunsModel

        self.runs_model = RunsModel(self.tasks, self)
        self.project_opened.connect(self._on_project_for_runs)
        self.project_saved.connect(self._on_project_for_runs)

    def _on_project_for_runs(self, _item: object) -> None:
        # A save may have moved the project (Save As), and an open replaces it.
        path = self.project.path if self.project is not None else None
        self.runs_model.set_project_path(path)

    # ---- runs tab and training settings
    def _init_runs_and_training_settings(self) -> None:
        """The Runs tab (every run of the project, several compared) and the training
        settings form (in the Training tab when there is one)."""
        from studio.ui.runs_view import RunsView

        self.runs_view = RunsView(self.tasks, self.runs_model)
        index = self.central_tabs.addTab(self.runs_view, "Runs")
        self.central_tabs.setTabToolTip(
            index, "Every training run of the project; select several to compare them"
        )
        self.project_opened.connect(self.runs_view.set_project)
        self.project_saved.connect(self.runs_view.project_saved)
        self.runs_view.initial_weights_requested.connect(self.use_run_weights)
        self._init_training_settings()

    def _init_training_settings(self) -> None:
        from studio.ui.training_form import TrainingForm

        self.training_form = TrainingForm()
        self.training_form.edit_requested.connect(self.edit_training)
        self.project_opened.connect(self.training_form.set_project)
        self.training_form.runs_model = self.runs_model
        self.runs_model.runs_changed.connect(lambda _runs: self.training_form.refresh_runs())
        self.analysis_updated.connect(self._on_analysis_for_training_form)
        # A data edit undone here can change the task the form shows.
        self.undo_stack.indexChanged.connect(self._on_undo_for_training_form)
        if hasattr(self, "training_tab"):
            self.training_tab.set_settings_widget(self.training_form)

    def show_runs_tab(self) -> None:
        self.central_tabs.setCurrentWidget(self.runs_view)

    def edit_training(self, edit: object) -> None:
        """Swap in a new training section as one undoable step (`TrainingEditCommand`)."""
        from studio.ui.training_form import TrainingEdit, TrainingEditCommand

        project = self.project
        if project is None or not isinstance(edit, TrainingEdit):
            return
        apply = partial(self._apply_training_section, project)
        self.undo_stack.push(
            TrainingEditCommand(apply, project.training, edit.section, edit.text, edit.key)
        )

    def _apply_training_section(self, project: Project, section: object) -> None:
        from studio.core.project import TrainingSection

        if project is not self.project or not isinstance(section, TrainingSection):
            return
        project.training = section
        self.set_modified(True)
        self.training_form.section_changed()
        page = self.current
        if page is not None:
            self._show_trainable(page)
        if hasattr(self, "training_tab"):
            self.training_tab.refresh()

    def use_run_weights(self, run_id: str) -> None:
        """Start the next training from a run's weights (one undoable edit)."""
        from studio.ui.training_form import TrainingEdit

        if self.project is None:
            return
        section = self.project.training.model_copy(update={"initial_weights": run_id})
        section = type(section).model_validate(section.model_dump(mode="json"))
        self.edit_training(TrainingEdit(section, f"Start training from run {run_id}"))
        self.statusBar().showMessage(
            f"The next training starts from the weights of run {run_id}", 6000
        )

    def _on_analysis_for_training_form(self, _graph: str, kind: str) -> None:
        if kind == "device":
            self.training_form.set_auto_device(self.device_label)

    def _on_undo_for_training_form(self, _index: int) -> None:
        if self.training_form.isVisible():
            self.training_form.section_changed()

    # ---- export dialog
    def _init_export(self) -> None:
        """File ▸ Export…, enabled when the saved project has a trained run."""
        from studio.ui.export_dialog import ExportDialog

        self.export_dialog: ExportDialog | None = None
        self.export_action = QAction("&Export…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.export_action.triggered.connect(self.show_export_dialog)
        file_menu = self._menu_holding(self.quit_action)
        if file_menu is not None:
            file_menu.insertAction(self.quit_action, self.export_action)
            file_menu.insertSeparator(self.quit_action)
            # A run may have been trained outside the window: read again (in a worker).
            file_menu.aboutToShow.connect(self.runs_model.refresh)
        self.runs_model.runs_changed.connect(lambda _snapshot: self._update_export_action())
        self._update_export_action()

    def _update_export_action(self) -> None:
        # From the runs model's last reading: no run folder is read on the Qt thread.
        path = self.project.path if self.project is not None else None
        snapshot = self.runs_model.snapshot
        trained = path is not None and snapshot.project_path == path and snapshot.has_weights
        self.export_action.setEnabled(trained)
        self.export_action.setStatusTip(
            "Export a trained run, every format verified"
            if trained
            else "Export needs a trained run: train the project first"
        )

    def show_export_dialog(self) -> object:
        """The Export dialog for the project's runs (window-modal, never blocking)."""
        from studio.ui.export_dialog import ExportDialog

        self._update_export_action()
        if self.project is None or self.project.path is None or not self.export_action.isEnabled():
            self.statusBar().showMessage("Train the project first; then it can be exported.", 5000)
            return None
        if self.export_dialog is not None:
            self.export_dialog.close()
            self.export_dialog.deleteLater()
        self.export_dialog = ExportDialog(
            self.tasks, self.project.path, self.runs_model, parent=self
        )
        self.export_dialog.open()
        return self.export_dialog

    # ---- evaluation tab
    def _init_evaluation_tab(self) -> None:
        """The Evaluation tab: a trained run's metrics, confusion matrix and samples."""
        from studio.ui.evaluation_tab import EvaluationTab

        self.evaluation_tab = EvaluationTab(self.tasks, self.runs_model)
        index = self.central_tabs.addTab(self.evaluation_tab, "Evaluation")
        self.central_tabs.setTabToolTip(
            index, "How a trained run does on held-out data; click the mistakes to see them"
        )
        self.project_opened.connect(self.evaluation_tab.set_project)

    def show_evaluation_tab(self) -> None:
        self.central_tabs.setCurrentWidget(self.evaluation_tab)

    # ---- explain tab
    def _init_explain_tab(self) -> None:
        """The Explain tab: attributions of a trained run's predictions, with sanity checks.

        It sees the current graph's scene through a small read-only view (click a node to pick
        the layer of Grad-CAM and conductance) and tints its nodes by layer conductance.
        """
        from studio.ui.explain_tab import ExplainTab

        self.explain_tab = ExplainTab(self.tasks, self.runs_model)
        index = self.central_tabs.addTab(self.explain_tab, "Explain")
        self.central_tabs.setTabToolTip(
            index, "Why a trained run predicts what it does: attribution maps and their checks"
        )
        self.project_opened.connect(self._on_project_opened_for_explain)
        if hasattr(self, "evaluation_tab"):
            self.evaluation_tab.explain_requested.connect(self.explain_samples)

    def show_explain_tab(self) -> None:
        self.central_tabs.setCurrentWidget(self.explain_tab)

    def explain_samples(self, run_id: str, positions: list[int]) -> None:
        """From a confusion-matrix cell: show the Explain tab on those test samples."""
        self.show_explain_tab()
        self.explain_tab.explain_samples(run_id, positions)

    def _on_project_opened_for_explain(self, project: Project) -> None:
        scene = self.current.scene if self.current is not None else None
        self.explain_tab.set_scene(scene)
        self.explain_tab.set_project(project)
        if scene is not None:
            scene.selectionChanged.connect(self._on_selection_for_explain)

    def _on_selection_for_explain(self) -> None:
        item = self.selected_node()
        if item is not None and self.current is not None:
            self.explain_tab.on_canvas_selection(self.current.graph.node(item.node_id).name)

    # ---- import dialog
    def _init_import(self) -> None:
        """File ▸ Import…: a PyTorch class (file.py:Class) or an ONNX model as a project."""
        from studio.ui.import_dialog import ImportDialog

        self.import_dialog: ImportDialog | None = None
        self.import_action = QAction("&Import…", self)
        self.import_action.setShortcut(QKeySequence("Ctrl+Shift+I"))
        self.import_action.setStatusTip(
            "Import a PyTorch module class or an ONNX model, with its weights, as a project"
        )
        self.import_action.triggered.connect(self.show_import_dialog)
        file_menu = self._menu_holding(self.quit_action)
        if file_menu is not None:
            export = getattr(self, "export_action", None)
            before = export if export in file_menu.actions() else self.quit_action
            file_menu.insertAction(before, self.import_action)

    def show_import_dialog(self) -> object:
        """The Import dialog (window-modal, never blocking); the import runs in `tasks`."""
        from studio.ui.import_dialog import ImportDialog

        if self.import_dialog is not None:
            self.import_dialog.close()
            self.import_dialog.deleteLater()
        folder = self.project.path.parent if self.project and self.project.path else None
        self.import_dialog = ImportDialog(
            self.tasks,
            self.registry,
            self._open_imported_project,
            show_partial=self._show_partial_import,
            start_folder=folder,
            parent=self,
        )
        self.import_dialog.open()
        return self.import_dialog

    def _open_imported_project(self, path: Path) -> bool:
        """Open an imported project after asking about unsaved changes; False if declined."""
        if not self._confirm_discard():
            return False
        self.open_project(path)
        return True

    def _show_partial_import(self, project: Project) -> bool:
        """Show the mapped part of a refused import, unsaved (Save asks where it goes)."""
        if not self._confirm_discard():
            return False
        project.path = None
        self.set_project(project)
        self.set_modified(True)
        self.statusBar().showMessage(
            "The part that imported, without weights: each …_stand_in Input marks a construct "
            "that did not (the project's description lists them). Save to keep it.",
            15000,
        )
        return True

    # ---- plugins dialog
    def _init_plugins_dialog(self) -> None:
        """Help ▸ Plugins…: the installed plugins, what they register, and their errors."""
        from studio.ui.plugins_dialog import PluginsDialog

        self.plugins_dialog: PluginsDialog | None = None
        self.plugins_action = QAction("&Plugins…", self)
        self.plugins_action.setStatusTip("Installed plugins, what each adds, and any errors")
        self.plugins_action.triggered.connect(self.show_plugins_dialog)
        help_menu = self._menu_holding(self.about_action)
        if help_menu is not None:
            help_menu.insertAction(self.about_action, self.plugins_action)

    def show_plugins_dialog(self) -> object:
        """The Plugins dialog (window-modal, never blocking); discovery runs in a worker."""
        from studio.ui.plugins_dialog import PluginsDialog

        if self.plugins_dialog is not None:
            self.plugins_dialog.close()
            self.plugins_dialog.deleteLater()
        self.plugins_dialog = PluginsDialog(self.tasks, parent=self)
        self.plugins_dialog.open()
        return self.plugins_dialog

    # ---- device doctor
    def _init_device_doctor(self) -> None:
        """Help ▸ Device…: the doctor's report, read once in a worker (it imports torch).

        The same facts give the training form each device's memory, for the largest batch
        that fits, and the GPU count for "All GPUs of this machine". They are read when first
        wanted (the dialog, or the form's first forecast), so the window appears before torch
        is imported.
        """
        from studio.training.doctor import DoctorReport

        self.device_report: DoctorReport | None = None
        self.device_dialog: QWidget | None = None
        self._device_task: Task | None = None
        self.device_action = QAction("&Device…", self)
        self.device_action.setStatusTip("Which device training uses, and why not a GPU")
        self.device_action.triggered.connect(self.show_device_dialog)
        help_menu = self._menu_holding(self.about_action)
        if help_menu is not None:
            help_menu.insertAction(self.about_action, self.device_action)
        self.training_form.devices_wanted.connect(self._read_devices)
        self.training_form.set_task_runner(self.tasks)

    def _read_devices(self) -> None:
        if self._shut_down or self._device_task is not None or self.device_report is not None:
            return

        def work(cancelled: object) -> Iterator[object]:
            from studio.core.memory import machine_memory
            from studio.training.doctor import doctor_report

            yield doctor_report(), machine_memory() or 0

        self._device_task = self.tasks.start("device doctor", work, self._on_device_report)

    def _on_device_report(self, item: object) -> None:
        from studio.training.doctor import DoctorReport

        assert isinstance(item, tuple)
        report, ram = item
        assert isinstance(report, DoctorReport)
        self.device_report = report
        self._device_task = None
        memory: dict[str, int] = {"cpu": int(ram)} if ram else {}
        gpus = report.facts.gpus if report.facts.cuda_available else ()
        if gpus:
            memory["cuda"] = gpus[0].memory_mb * 2**20
        self.training_form.set_devices(memory, len(gpus))
        if self.device_dialog is not None:
            from PySide6.QtWidgets import QPlainTextEdit

            text = self.device_dialog.findChild(QPlainTextEdit, "device_report")
            if text is not None:
                text.setPlainText(report.format_text())

    def show_device_dialog(self) -> QWidget:
        """The doctor's report in a window-modal dialog that never blocks the window."""
        from PySide6.QtGui import QFont
        from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QVBoxLayout

        if self.device_dialog is not None:
            self.device_dialog.close()
            self.device_dialog.deleteLater()
        dialog = QDialog(self)
        dialog.setObjectName("device_dialog")
        dialog.setWindowTitle("Device")
        dialog.resize(640, 420)
        text = QPlainTextEdit()
        text.setObjectName("device_report")
        text.setReadOnly(True)
        text.setFont(QFont("monospace"))
        report = self.device_report
        text.setPlainText(report.format_text() if report else "Reading the devices…")
        self._read_devices()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        self.device_dialog = dialog
        dialog.open()
        return dialog
