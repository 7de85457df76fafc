"""The Data tab: where the project's data comes from, how it is split and prepared, and a look
at it (samples, split sizes, class balance, column statistics).

The tab edits the project's `data` section and nothing else of it. Every change makes a new,
validated `DataSection` and asks the window to swap it in (`edit_requested`); the window
pushes a `DataEditCommand`, which swaps the whole section back and forth on undo and redo.
The core's commands edit graphs only, so this command lives here, in the UI layer.

Reading the data happens in a worker (`inspect_data` may read a large file, and its module
pulls in pandas): the tab shows what it last read, marks it as updating, and drops a result
about settings that have changed since. Only a visible tab reads; a hidden one remembers that
it is stale. A `DataError` (which names file, row and column) is shown in red in the tab.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent, QUndoCommand
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.project import DataSection, Project
from studio.data.errors import DataError
from studio.data.registry import default_datasets
from studio.data.signature import format_dims
from studio.ui import theme
from studio.ui.data_form import (
    AUGMENTATION_FIELDS,
    GROUP_MODELS,
    PREPROCESSING_FIELDS,
    SOURCE_FIELDS,
    SPLIT_FIELDS,
    FieldEditor,
    FieldSpec,
    FormContext,
    NoWheelCombo,
    friendly_error,
    make_field_editor,
)
from studio.ui.data_previews import (
    ClassBalanceChart,
    ImageGrid,
    ImageTile,
    SeriesPlot,
    SplitBar,
    StatisticsTable,
    TableCells,
    TablePreviewView,
    TextSamples,
    image_tiles,
    statistics_cells,
    table_cells,
)
from studio.ui.tasks import Task, TaskRunner

if TYPE_CHECKING:
    from studio.data.overview import DataOverview

# Samples shown: four of each digit, or forty rows or texts.
PREVIEW_COUNT = 40
# Settings typed in quick succession are read once.
READ_DELAY_MS = 120
UNITS = {"table": "rows", "image": "images", "sequence": "windows", "text": "texts"}
FILE_ITEM = "\x00file"


# ----------------------------------------------------------------- undo
@dataclass(frozen=True)
class DataState:
    """What a data edit changes: the whole data section, and the training task that follows
    the data's task in supervised training (a classifier's data swapped for a regression
    table must not leave the project asking to classify)."""

    section: DataSection
    task: str

    @classmethod
    def of(cls, project: Project) -> DataState:
        return cls(project.data, project.training.task)


@dataclass(frozen=True)
class DataEdit:
    """An edit the tab asks for: the new section, the undo text, and a merge key (edits of
    one field in one burst of typing or stepping share a key, and undo as one step)."""

    section: DataSection
    text: str
    key: tuple[object, ...] | None = None
    # The data's task when the edit decides it (a dataset picked, a task chosen), else None.
    task: str | None = None


class DataEditCommand(QUndoCommand):
    """Swaps the project's data section (and training task) between before and after."""

    ID = 1003

    def __init__(
        self,
        apply: Callable[[DataState], None],
        before: DataState,
        after: DataState,
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
        if not isinstance(other, DataEditCommand) or other.key != self.key or self.key is None:
            return False
        self.after = other.after
        self.setObsolete(self.after == self.before)
        return True


# ----------------------------------------------------------------- reading (worker side)
@dataclass
class ColumnsFound:
    """The header of the CSV a source reads, known before (or without) a full read."""

    columns: list[str]


@dataclass
class OverviewRead:
    """An overview, with what the Qt thread would be slow to make already made: the preview
    images as `QImage`s, the cells of the preview table and of the statistics."""

    overview: DataOverview
    tiles: list[ImageTile] = field(default_factory=list)
    table: TableCells | None = None
    statistics: TableCells | None = None


@dataclass
class SourceSuggested:
    """Settings guessed for a file or folder the user picked."""

    source: Any
    label: str


def read_overview(
    section: DataSection, base_dir: Path | None, cancelled: Callable[[], bool]
) -> Iterator[object]:
    """Work for a worker: the CSV header (when there is one), then the whole overview."""
    source = section.source
    path_text = getattr(source, "path", None)
    if path_text is not None and getattr(source, "delimiter", None) is not None:
        from studio.data.csv_reader import read_header
        from studio.data.paths import resolve_path

        try:
            columns = read_header(
                resolve_path(path_text, base_dir),
                path_text,
                source.delimiter,  # type: ignore[union-attr]
                source.encoding,  # type: ignore[union-attr]
                source.fallback_encoding,  # type: ignore[union-attr]
            )
        except DataError:
            pass  # the full read below says what is wrong
        else:
            yield ColumnsFound(columns)
    if cancelled():
        return
    from studio.data.overview import inspect_data

    overview = inspect_data(section, base_dir, preview_count=PREVIEW_COUNT)
    preview = overview.preview
    read = OverviewRead(overview, statistics=statistics_cells(overview.statistics))
    if preview.kind == "image":
        read.tiles = image_tiles(preview)
    elif preview.kind == "table":
        read.table = table_cells(preview, {s.name: s.role for s in overview.statistics})
    elif preview.kind == "sequence":
        import pyqtgraph  # noqa: F401  (0.4 s to import: here, not on the Qt thread)
    yield read


def suggest_for(path: Path, label: str, cancelled: Callable[[], bool]) -> Iterator[object]:
    """Work for a worker: source settings for a picked file or folder (it may read it)."""
    from studio.data.detect import suggest_source

    yield SourceSuggested(suggest_source(path, label=label), label)


# ----------------------------------------------------------------- the tab
def _section_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("section")
    return label


def _box(title: str, body: QWidget, note: QLabel | None = None) -> QWidget:
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(4)
    heading = QHBoxLayout()
    heading.setSpacing(10)
    heading.addWidget(_section_label(title))
    if note is not None:
        heading.addWidget(note, 1)
    else:
        heading.addStretch(1)
    column.addLayout(heading)
    column.addWidget(body, 1)
    return box


class DataTab(QWidget):
    """Source chooser, settings form and overview of the project's data.

    `set_project` shows a project; `data_changed` follows an edit, undo or redo of its data
    section. Edits leave as `edit_requested(DataEdit)`; `overview_updated` says a read ended
    (`overview` or `error` holds what it found).
    """

    edit_requested = Signal(object)  # DataEdit
    overview_updated = Signal()

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.project: Project | None = None
        self.overview: DataOverview | None = None
        self.error: str | None = None
        self.columns: list[str] = []
        self.editors: dict[str, FieldEditor] = {}
        self.rows: dict[str, tuple[QWidget | None, QWidget]] = {}
        self.section_labels: dict[str, QLabel] = {}
        self._columns_state: object = None
        self._form_key: object = None
        self._burst = 0
        self._stale = True
        self._generation = 0
        self._read_task: Task | None = None
        self._suggest_task: Task | None = None
        self._read_timer = QTimer(self)
        self._read_timer.setSingleShot(True)
        self._read_timer.setInterval(READ_DELAY_MS)
        self._read_timer.timeout.connect(self._read)
        self._datasets = {info.name: info for info in default_datasets()}

        self._make_source_bar()
        self._make_form()
        self._make_overview()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.form_scroll)
        splitter.addWidget(self.overview_panel)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 900])
        self.splitter = splitter
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.source_bar)
        outer.addWidget(splitter, 1)
        self._restyle()
        theme.notifier().theme_changed.connect(self._restyle)
        self.set_project(None)

    # ------------------------------------------------------------- building
    def _make_source_bar(self) -> None:
        bar = QFrame()
        bar.setObjectName("data_source_bar")
        self.dataset_combo = NoWheelCombo()
        self.dataset_combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.dataset_combo.setMinimumWidth(280)
        self.dataset_combo.setToolTip("A dataset that ships with Strata Studio, or your own file")
        for info in self._datasets.values():
            self.dataset_combo.addItem(f"{info.title}  ·  {info.kind}", info.name)
            index = self.dataset_combo.count() - 1
            self.dataset_combo.setItemData(
                index, f"{info.description}\n{info.size_text()}", Qt.ItemDataRole.ToolTipRole
            )
        self.dataset_combo.activated.connect(self._on_dataset_activated)
        self.file_button = QToolButton()
        self.file_button.setText("From file…")
        self.file_button.setToolTip("Use your own CSV, IDX or NumPy file")
        self.file_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.file_button.clicked.connect(self.ask_file)
        menu = QMenu(self.file_button)
        menu.addAction("File (CSV, IDX, NPY, NPZ)…", self.ask_file)
        menu.addAction("Image folder (one subfolder per class)…", self.ask_folder)
        self.file_button.setMenu(menu)
        self.shape_label = QLabel()
        self.shape_label.setObjectName("data_shape")
        self.shape_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.about_label = QLabel()
        self.about_label.setObjectName("muted")
        self.about_label.setWordWrap(True)
        self.about_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        top = QHBoxLayout()
        top.setSpacing(8)
        source = QLabel("Data")
        source.setObjectName("data_title")
        top.addWidget(source)
        top.addSpacing(6)
        top.addWidget(self.dataset_combo)
        top.addWidget(self.file_button)
        top.addSpacing(12)
        top.addWidget(self.shape_label, 1)
        column = QVBoxLayout(bar)
        column.setContentsMargins(12, 8, 12, 8)
        column.setSpacing(4)
        column.addLayout(top)
        column.addWidget(self.about_label)
        self.source_bar = bar

    def _make_form(self) -> None:
        self.form_error = QLabel()
        self.form_error.setObjectName("data_error")
        self.form_error.setWordWrap(True)
        self.form_error.hide()
        self.form_body = QWidget()
        self.form_column = QVBoxLayout(self.form_body)
        self.form_column.setContentsMargins(12, 4, 12, 12)
        self.form_column.setSpacing(2)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setHorizontalSpacing(10)
        self.form.setVerticalSpacing(6)
        # One form for all the groups, so that every field lines up under one label column.
        # The splits, normalisation and augmentation rows are made once; the source's rows
        # change with the kind of source (a table has columns, an image folder a size).
        self._source_rows = 0
        for title, specs in COMMON_GROUPS:
            self._add_group(title, specs, None)
        self.form_column.addWidget(self.form_error)
        self.form_column.addWidget(self.form_host)
        self.form_column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.form_body)
        scroll.setMinimumWidth(260)
        self.form_scroll = scroll

    def _make_overview(self) -> None:
        self.split_bar = SplitBar()
        self.notes_label = QLabel()
        self.notes_label.setObjectName("data_notes")
        self.notes_label.setWordWrap(True)
        self.notes_label.hide()
        self.error_label = QLabel()
        self.error_label.setObjectName("data_error_banner")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.error_label.hide()

        self.preview_note = QLabel()
        self.preview_note.setObjectName("muted")
        self.preview_stack = QStackedWidget()
        self.message_label = QLabel()
        self.message_label.setObjectName("muted")
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setWordWrap(True)
        self.image_grid = ImageGrid()
        self.image_scroll = QScrollArea()
        self.image_scroll.setWidgetResizable(True)
        self.image_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.image_scroll.setWidget(self.image_grid)
        self.table_preview = TablePreviewView()
        self.series_plot = SeriesPlot()
        self.text_samples = TextSamples()
        for page in (
            self.message_label,
            self.image_scroll,
            self.table_preview,
            self.series_plot,
            self.text_samples,
        ):
            self.preview_stack.addWidget(page)
        self.balance_chart = ClassBalanceChart()
        balance_scroll = QScrollArea()
        balance_scroll.setWidgetResizable(True)
        balance_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        balance_scroll.setWidget(self.balance_chart)
        self.statistics_table = StatisticsTable()

        self.preview_box = _box("PREVIEW", self.preview_stack, self.preview_note)
        self.balance_note = QLabel()
        self.balance_note.setObjectName("muted")
        self.balance_box = _box("CLASS BALANCE", balance_scroll, self.balance_note)
        self.statistics_box = _box("STATISTICS", self.statistics_table)
        # Samples and class balance side by side; the statistics under both, as tall as
        # their rows need (a few for a table, one per channel for images).
        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.setChildrenCollapsible(False)
        upper.addWidget(self.preview_box)
        upper.addWidget(self.balance_box)
        upper.setStretchFactor(0, 1)
        upper.setStretchFactor(1, 0)
        upper.setSizes([800, 360])
        self.upper_splitter = upper
        whole = QSplitter(Qt.Orientation.Vertical)
        whole.setChildrenCollapsible(False)
        whole.addWidget(upper)
        whole.addWidget(self.statistics_box)
        whole.setStretchFactor(0, 1)
        whole.setStretchFactor(1, 0)
        self.overview_splitter = whole

        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(12, 10, 12, 8)
        column.setSpacing(6)
        column.addWidget(self.split_bar)
        column.addWidget(self.notes_label)
        column.addWidget(self.error_label)
        column.addWidget(whole, 1)
        column.addStretch(0)  # takes the room while an error hides the overview
        self.overview_panel = panel

    def _restyle(self, *_: object) -> None:
        c = theme.colour
        error = c("error").name()
        self.setStyleSheet(
            f"QFrame#data_source_bar {{ background: {c('chrome').name()};"
            f" border-bottom: 1px solid {c('chrome_line').name()}; }}"
            f"QLabel#data_title {{ font-weight: 600; font-size: 11pt; }}"
            f"QLabel#data_shape {{ color: {c('text').name()}; font-family: monospace; }}"
            f"QLabel#data_error {{ color: {error}; }}"
            f"QLabel#data_notes {{ color: {c('warning').name()}; }}"
            "QTableView#data_table::item { padding: 0px 6px; }"
            f"QLabel#data_error_banner {{ color: {error}; background: {c('base').name()};"
            f" border: 1px solid {error}; border-left: 4px solid {error}; padding: 8px 10px; }}"
        )
        self.text_samples.restyle()
        self.series_plot.restyle()
        self.update()

    # ------------------------------------------------------------- the project
    def set_project(self, project: Project | None) -> None:
        """Show a project's data (None: no project)."""
        self.project = project
        self.overview = None
        self.error = None
        self.columns = []
        self._form_key = None
        self._cancel_read()
        self._clear_overview("Reading the data…" if project is not None else "No project open.")
        self._sync()
        self._mark_stale()

    def data_changed(self) -> None:
        """The project's data section was replaced (an edit, an undo or a redo)."""
        if self.project is None:
            return
        self._sync()
        self._mark_stale()

    @property
    def section(self) -> DataSection | None:
        return self.project.data if self.project is not None else None

    def base_dir(self) -> Path | None:
        if self.project is None or self.project.path is None:
            return None
        return self.project.path.parent

    def error_text(self) -> str | None:
        """The red message shown about the data, if any (tests and accessibility)."""
        return self.error_label.text() if not self.error_label.isHidden() else None

    # ------------------------------------------------------------- choosing a source
    def _on_dataset_activated(self, index: int) -> None:
        name = self.dataset_combo.itemData(index)
        if name == FILE_ITEM or not isinstance(name, str):
            return
        self.choose_dataset(name)

    def choose_dataset(self, name: str) -> None:
        """Train on a bundled dataset (the splits and preprocessing stay as they are)."""
        section = self.section
        if section is None or (section.source is None and section.dataset == name):
            return
        info = self._datasets[name]
        data = section.model_dump()
        data["dataset"], data["source"] = name, None
        task = info.task if info.task in ("classification", "regression") else None
        self._request(data, f"Use the {info.title} dataset", None, task)

    def ask_file(self) -> None:
        start = str(self.base_dir() or Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Choose a data file",
            start,
            "Data files (*.csv *.tsv *.txt *.npy *.npz *.gz *ubyte *.idx*);;All files (*)",
        )
        if path:
            self.use_path(Path(path))

    def ask_folder(self) -> None:
        start = str(self.base_dir() or Path.home())
        path = QFileDialog.getExistingDirectory(self, "Choose an image folder", start)
        if path:
            self.use_path(Path(path))

    def use_path(self, path: Path) -> Task | None:
        """Train on a file or folder: its settings are guessed in a worker, then applied."""
        if self.project is None:
            return None
        base = self.base_dir()
        label = str(path)
        if base is not None and path.is_absolute() and path.is_relative_to(base):
            label = str(path.relative_to(base))  # the project and its data move together
        if self._suggest_task is not None:
            self._suggest_task.cancel()
        project = self.project
        self._suggest_task = self.tasks.start(
            "suggest data source",
            lambda cancelled: suggest_for(path, label, cancelled),
            lambda item: self._on_suggested(project, item),
            self._on_suggest_failed,
            self._on_suggest_finished,
        )
        return self._suggest_task

    def _on_suggested(self, project: Project, item: object) -> None:
        if project is not self.project or not isinstance(item, SourceSuggested):
            return
        data = project.data.model_dump()
        data["dataset"], data["source"] = None, item.source.model_dump()
        self._request(data, f"Use {Path(item.label).name}", None, source_task(item.source))

    def _on_suggest_failed(self, exc: BaseException, trace: str) -> None:
        self._show_error(_message_of(exc))

    def _on_suggest_finished(self) -> None:
        self._suggest_task = None

    # ------------------------------------------------------------- edits
    def _request(
        self, data: dict[str, Any], text: str, key: tuple[object, ...] | None, task: str | None
    ) -> bool:
        try:
            section = DataSection.model_validate(data)
        except ValidationError as exc:
            self.form_error.setText(friendly_error(exc))
            self.form_error.show()
            self._sync()  # the fields show the section's values again
            return False
        self.form_error.hide()
        self.edit_requested.emit(DataEdit(section, text, key, task))
        return True

    def set_field(self, key: str, value: Any) -> bool:
        """Set one setting (``"splits.seed"``, ``"source.target"``) as the form would."""
        section = self.section
        if section is None:
            return False
        group, name = key.split(".", 1)
        data = section.model_dump()
        if data.get(group) is None:
            return False
        if data[group].get(name) == value:
            return False
        data[group][name] = value
        editor = self.editors.get(key)
        label = editor.spec.label if editor is not None else name.replace("_", " ")
        task = None
        if key == "source.task" and section.source is not None:
            task = source_task(section.source.model_copy(update={"task": value}))
        return self._request(data, f"Set {label.lower()}", (key, self._burst), task)

    def _end_burst(self) -> None:
        self._burst += 1

    # ------------------------------------------------------------- the form
    def _add_group(self, title: str, specs: Sequence[FieldSpec], at: int | None) -> int:
        """Add a heading and a row per field (at row `at`, else at the end); the rows added."""
        rows = 0

        def add(*widgets: QWidget) -> None:
            nonlocal rows
            if at is None:
                self.form.addRow(*widgets)
            else:
                self.form.insertRow(at + rows, *widgets)
            rows += 1

        heading = _section_label(title)
        self.section_labels[title] = heading
        add(heading)
        section = self.section
        for spec in specs:
            if spec.group == "source" and section is not None and section.source is not None:
                model: type[BaseModel] = type(section.source)
            else:
                model = GROUP_MODELS[spec.group]
            editor = make_field_editor(spec, model)
            editor.edited.connect(lambda value, key=spec.key: self.set_field(key, value))
            editor.finished.connect(self._end_burst)
            editor.setProperty("section", title)
            self.editors[spec.key] = editor
            if spec.editor == "bool":
                add(editor)
                self.rows[spec.key] = (None, editor)
            else:
                label = QLabel(spec.label)
                label.setToolTip(spec.help)
                add(label, editor)
                self.rows[spec.key] = (label, editor)
        return rows

    def _build_source_rows(self) -> None:
        """The rows of the source's settings, at the top of the form (none for a dataset)."""
        for _ in range(self._source_rows):
            self.form.removeRow(0)
        self._source_rows = 0
        for key in [k for k in self.editors if k.startswith("source.")]:
            del self.editors[key]
            del self.rows[key]
        for title in [t for t in self.section_labels if t in _SOURCE_TITLES.values()]:
            del self.section_labels[title]
        self._columns_state = None
        section = self.section
        if section is not None and section.source is not None:
            kind = section.source.kind
            self._source_rows = self._add_group(_SOURCE_TITLES[kind], SOURCE_FIELDS[kind], 0)

    def _context(self) -> FormContext | None:
        section = self.section
        if section is None:
            return None
        kind: str | None = None
        task: str | None = None
        if self.overview is not None:
            kind, task = self.overview.kind, self.overview.task
        elif section.source is None and section.dataset in self._datasets:
            info = self._datasets[section.dataset]
            kind, task = info.kind, info.task
        elif section.source is not None:
            kind = _SOURCE_KINDS.get(section.source.kind)
            task = source_task(section.source)
        return FormContext(section, kind, task)

    def _sync(self) -> None:
        """Make the source bar and the form show the project's data section."""
        section = self.section
        self.dataset_combo.setEnabled(section is not None)
        self.file_button.setEnabled(section is not None)
        key = None if section is None else (section.source.kind if section.source else "dataset")
        if key != self._form_key:
            self._form_key = key
            self._build_source_rows()
        self._sync_source_bar()
        self.form_host.setVisible(section is not None)
        context = self._context()
        if section is None or context is None:
            return
        data = section.model_dump()
        for spec_key, editor in self.editors.items():
            group, name = spec_key.split(".", 1)
            values = data.get(group) or {}
            editor.set_value(values.get(name))
            spec = editor.spec
            label, widget = self.rows[spec_key]
            shown = _group_applies(editor.property("section"), context)
            shown = shown and (spec.shown(context) if spec.shown is not None else True)
            widget.setVisible(shown)
            if label is not None:
                label.setVisible(shown)
            widget.setEnabled(spec.enabled(section) if spec.enabled is not None else True)
        for title, heading in self.section_labels.items():
            heading.setVisible(_group_applies(title, context))
        self._sync_columns()

    def _sync_columns(self) -> None:
        implied: dict[str, list[str]] = {}
        if self.overview is not None and self.overview.kind == "table":
            stats = self.overview.statistics
            implied["source.features"] = [s.name for s in stats if s.role == "feature"]
            implied["source.categorical"] = [
                s.name for s in stats if s.role == "feature" and s.type == "categorical"
            ]
        elif self.overview is not None and self.overview.kind == "sequence":
            channels = [s.name for s in self.overview.statistics if s.role == "channel"]
            implied["source.columns"] = channels
            implied["source.targets"] = channels
        state = (tuple(self.columns), tuple((k, tuple(v)) for k, v in sorted(implied.items())))
        if state == self._columns_state:
            return  # a file's thousand columns are not offered again on every edit
        self._columns_state = state
        for key, editor in self.editors.items():
            if editor.spec.editor in ("column", "columns"):
                editor.set_columns(self.columns, implied.get(key, []))

    def _sync_source_bar(self) -> None:
        section = self.section
        combo = self.dataset_combo
        with QSignalBlocker(combo):
            file_index = combo.findData(FILE_ITEM)
            if section is not None and section.source is not None:
                name = Path(_source_path(section.source)).name
                if file_index < 0:
                    combo.insertItem(0, "", FILE_ITEM)
                    file_index = 0
                combo.setItemText(file_index, f"Your file: {name}")
                combo.setCurrentIndex(file_index)
            else:
                if file_index >= 0:
                    combo.removeItem(file_index)
                index = combo.findData(section.dataset) if section is not None else -1
                combo.setCurrentIndex(index)
        if section is None:
            self.about_label.setText("Open a project to choose its data.")
            self.shape_label.clear()
            return
        if section.source is None and section.dataset in self._datasets:
            info = self._datasets[section.dataset]
            self.about_label.setText(
                f"{info.description}  Licence: {info.licence}. Source: {info.source}."
            )
            self.shape_label.setText(_shape_line(info.size, info.unit, info))
        elif section.source is not None:
            self.about_label.setText(
                f"{_SOURCE_NAMES[section.source.kind]}: {_source_path(section.source)}"
            )
            self.shape_label.setText("")
        else:
            self.about_label.setText(
                f"The project names the dataset {section.dataset!r}, which is not installed."
                if section.dataset
                else "The project names no data yet: choose a dataset or a file."
            )
            self.shape_label.clear()
        if self.overview is not None:
            overview = self.overview
            self.shape_label.setText(
                _shape_line(overview.samples, self._unit(), overview.signature)
            )

    def _unit(self) -> str:
        """What one sample is: a bundled dataset says (except that a series' samples are
        windows, not the time steps its size counts)."""
        section = self.section
        kind = self.overview.kind if self.overview is not None else None
        dataset = section.dataset if section is not None and section.source is None else None
        if dataset in self._datasets and kind != "sequence":
            return self._datasets[dataset].unit
        return UNITS.get(kind or "", "samples")

    # ------------------------------------------------------------- reading
    def _mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self._read_timer.start()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._read_timer.start(0)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._read_timer.stop()

    def _cancel_read(self) -> None:
        self._read_timer.stop()
        if self._read_task is not None:
            self._read_task.cancel()
            self._read_task = None

    @property
    def reading(self) -> bool:
        """Whether a read is under way or waiting to start."""
        return self._read_task is not None or (self._stale and self.project is not None)

    def _read(self) -> None:
        section = self.section
        if section is None or not self.isVisible():
            return
        self._stale = False
        if not section.names_data:
            self._cancel_read()
            self._clear_overview("Choose a dataset, or your own file with From file….")
            return
        self._cancel_read()
        self._generation += 1
        generation = self._generation
        snapshot = section.model_copy(deep=True)
        base_dir = self.base_dir()
        self.preview_note.setText("Reading…")
        self._read_task = self.tasks.start(
            "read data",
            lambda cancelled: read_overview(snapshot, base_dir, cancelled),
            lambda item: self._on_read(generation, snapshot, item),
            lambda exc, trace: self._on_read_failed(generation, exc),
            lambda: self._on_read_finished(generation),
        )

    def _on_read(self, generation: int, section: DataSection, item: object) -> None:
        if generation != self._generation:
            return
        if isinstance(item, ColumnsFound):
            self.columns = item.columns
            self._sync_columns()
        elif isinstance(item, OverviewRead):
            self._show_overview(item)

    def _on_read_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.overview = None
        self._clear_overview("")
        self._show_error(_message_of(exc))
        self._sync()
        self.overview_updated.emit()

    def _on_read_finished(self, generation: int) -> None:
        if generation == self._generation:
            self._read_task = None
            if self.preview_note.text() == "Reading…":
                self.preview_note.clear()

    # ------------------------------------------------------------- showing
    def _show_error(self, message: str) -> None:
        self.error = message
        self.error_label.setText(message)
        self.error_label.show()
        self.split_bar.hide()
        self.overview_splitter.hide()

    def _clear_overview(self, message: str) -> None:
        self.error = None
        self.error_label.hide()
        self.split_bar.show()
        self.overview_splitter.show()
        self.notes_label.hide()
        self.split_bar.set_sizes({})
        self.message_label.setText(message)
        self.preview_stack.setCurrentWidget(self.message_label)
        self.preview_note.clear()
        self.balance_chart.set_balance([])
        self.statistics_table.set_statistics([])
        self.balance_box.show()

    def _show_overview(self, read: OverviewRead) -> None:
        overview = read.overview
        self.overview = overview
        self.error = None
        self.error_label.hide()
        self.split_bar.show()
        self.overview_splitter.show()
        if not self.columns and overview.kind == "table":
            self.columns = [s.name for s in overview.statistics]
        self.split_bar.set_sizes(overview.split_sizes, self._unit())
        notes = list(overview.notes)
        self.notes_label.setText("\n".join(notes))
        self.notes_label.setVisible(bool(notes))
        preview = overview.preview
        unit = self._unit()
        shown = 0
        if preview.kind == "image":
            rounds = len(overview.class_balance) if overview.task == "classification" else 0
            self.image_grid.set_tiles(read.tiles, rounds)
            self.preview_stack.setCurrentWidget(self.image_scroll)
            shown = len(read.tiles)
            how = ", a few of each class" if rounds else ""
        elif preview.kind == "table":
            assert read.table is not None
            self.table_preview.set_table(*read.table)
            self.preview_stack.setCurrentWidget(self.table_preview)
            shown = len(preview.rows)
            how = ", in file order"
        elif preview.kind == "sequence":
            self.series_plot.set_preview(preview)
            self.preview_stack.setCurrentWidget(self.series_plot)
            how = ""
        else:
            self.text_samples.set_preview(preview)
            self.preview_stack.setCurrentWidget(self.text_samples)
            shown = len(preview.texts)
            how = ", a few of each class" if overview.task == "classification" else ""
        if preview.kind == "sequence":
            curves = len(self.series_plot.curve_names)
            total = len(preview.series)
            self.preview_note.setText(
                f"{curves} of {total} series" if curves < total else f"{total} series"
            )
        else:
            self.preview_note.setText(f"{shown} of {overview.samples:,} {unit}{how}")
        self.balance_chart.set_balance(overview.class_balance)
        self.balance_box.setVisible(bool(overview.class_balance))
        self.balance_note.setText(_balance_text(overview))
        self.statistics_table.set_table(*(read.statistics or ([], [])))
        self._fit_statistics(len(overview.statistics))
        self._sync()
        self.overview_updated.emit()

    def _fit_statistics(self, rows: int) -> None:
        """Give the statistics the height of their rows (up to eight), the samples the rest."""
        table = self.statistics_table
        wanted = (
            table.horizontalHeader().height()
            + table.verticalHeader().defaultSectionSize() * max(1, min(rows, 8))
            + 34  # the section title, and the horizontal scroll bar's room
        )
        sizes = self.overview_splitter.sizes()
        total = sum(sizes)
        if total > wanted:
            self.overview_splitter.setSizes([total - wanted, wanted])


_SOURCE_TITLES = {
    "table": "CSV TABLE",
    "image_folder": "IMAGE FOLDER",
    "idx": "IDX FILES",
    "arrays": "NUMPY ARRAYS",
    "text": "TEXT CSV",
    "series": "TIME SERIES CSV",
}
_SOURCE_NAMES = {
    "table": "CSV table",
    "image_folder": "Image folder",
    "idx": "IDX images and labels",
    "arrays": "NumPy arrays",
    "text": "Text CSV",
    "series": "Time-series CSV",
}
_SOURCE_KINDS = {
    "table": "table",
    "image_folder": "image",
    "idx": "image",
    "text": "text",
    "series": "sequence",
}


COMMON_GROUPS: tuple[tuple[str, Sequence[FieldSpec]], ...] = (
    ("SPLITS", SPLIT_FIELDS),
    ("NORMALISATION", PREPROCESSING_FIELDS),
    ("AUGMENTATION (TRAINING IMAGES)", AUGMENTATION_FIELDS),
)


def source_task(source: Any) -> str | None:
    """The task a source's settings decide before it is read (None: the data decides)."""
    kind = source.kind
    if kind in ("image_folder", "idx", "text"):
        return "classification"
    task = getattr(source, "task", "auto")
    if kind == "series":
        return "regression" if task == "forecast" else "classification"
    return task if task in ("classification", "regression") else None


def _balance_text(overview: DataOverview) -> str:
    """``10 classes, 174 to 183 each``: how even the classes are, at a glance."""
    totals = [c.total for c in overview.class_balance]
    if not totals:
        return ""
    low, high = min(totals), max(totals)
    each = f"{low:,} each" if low == high else f"{low:,} to {high:,} each"
    return f"{len(totals)} classes, {each}"


def _group_applies(title: object, context: FormContext) -> bool:
    """Augmentation changes training images, so it applies to images only."""
    return not (isinstance(title, str) and title.startswith("AUGMENTATION")) or (
        context.kind == "image"
    )


def _source_path(source: Any) -> str:
    return str(getattr(source, "path", None) or getattr(source, "images", ""))


def _shape_line(size: int, unit: str, described: Any) -> str:
    """``1,797 images · image (1, 8, 8) float → 10 classes``."""
    signature = getattr(described, "signature", described)
    target = signature.target
    if target.task == "classification":
        goal = f"{target.num_classes} classes"
    elif target.task == "regression":
        goal = f"regression {format_dims(target.shape)}"
    else:
        goal = "no target"
    return f"{size:,} {unit}  ·  {signature.describe_inputs()} → {goal}"


def _message_of(exc: BaseException) -> str:
    """What went wrong, in a sentence; never a traceback."""
    if isinstance(exc, StudioError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return friendly_error(exc)
    return f"Unexpected error while reading the data: {type(exc).__name__}: {exc}"
