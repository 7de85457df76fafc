"""File ▸ Import…: a PyTorch module class or an ONNX model as a project, off the Qt thread.

The dialog offers what `studio import` does. For a ``.py`` source it lists the file's
``nn.Module`` subclasses by reading the file with `ast` (nothing runs until Import is pressed)
and prefills the input shapes from a literal ``example_input_shape`` / ``input_shape`` class
attribute. The import itself (`run_import`) runs in a task of the window's `TaskRunner`, with
the same functions as the command: it maps the model, checks that the project reproduces the
source's outputs and only then writes the project and a run holding the weights. When some
constructs cannot be imported they are all listed, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.project import SUFFIX
from studio.core.registry import LayerRegistry
from studio.ui.import_source import (
    ImportRequest,
    ImportResult,
    ModuleClass,
    describe_syntax_error,
    find_module_classes,
    format_shapes,
    list_datasets,
    output_problem,
    parse_args_text,
    parse_shapes_text,
    project_path,
    read_source,
    run_import,
    source_problem,
)
from studio.ui.tasks import Task, TaskRunner

SOURCE_FILTER = "Models (*.py *.onnx);;Python files (*.py);;ONNX models (*.onnx);;All files (*)"
CONSTRUCT_COLUMNS = ("Name", "Kind", "Location", "Why")
READ_DELAY_MS = 250
ERROR_COLOR = QColor("#d04545")
OK_COLOR = QColor("#2e9d4f")
WARNING_COLOR = QColor("#d9a441")


# ---------------------------------------------------------------- the dialog
def _error_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {ERROR_COLOR.name()};")
    label.hide()
    return label


def _stacked(*parts: QWidget | QHBoxLayout) -> QWidget:
    """A form field with the messages under it."""
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(4)
    for part in parts:
        if isinstance(part, QHBoxLayout):
            column.addLayout(part)
        else:
            column.addWidget(part)
    return holder


def _show(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


class ImportDialog(QDialog):
    """Choose a source, its class, arguments and shapes; import in a worker; open the result."""

    def __init__(
        self,
        tasks: TaskRunner,
        registry: LayerRegistry,
        open_project: Callable[[Path], bool],
        *,
        show_partial: Callable[[Any], bool] | None = None,
        start_folder: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import model")
        self.setObjectName("import_dialog")
        self.tasks = tasks
        self.registry = registry
        self.open_project = open_project
        # Shows a refused model's mapped part as an unsaved project (see `open_partial`).
        self.show_partial = show_partial
        self.partial: Any = None
        self.start_folder = start_folder
        self.classes: list[ModuleClass] = []
        self.imported: ImportResult | None = None
        self.failure: BaseException | None = None
        self.import_task: Task | None = None
        self.read_task: Task | None = None
        self.datasets_task: Task | None = None
        self._read_path: Path | None = None
        self._out_edited = False
        self._shapes_edited = False
        self._read_timer = QTimer(self)
        self._read_timer.setSingleShot(True)
        self._read_timer.setInterval(READ_DELAY_MS)
        self._read_timer.timeout.connect(self._read_source)

        # source
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("path/to/model.py or model.onnx")
        self.source_edit.textEdited.connect(self._on_source_edited)
        self.source_button = QPushButton("Browse…")
        self.source_button.clicked.connect(self._browse_source)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_edit, 1)
        source_row.addWidget(self.source_button)
        self.source_error = _error_label("import_source_error")
        self.trust_label = QLabel(
            "⚠ Importing runs this file as Python — its top level and the class's constructor "
            "— exactly as <code>python</code> would. Import only code you trust."
        )
        self.trust_label.setObjectName("import_trust_warning")
        self.trust_label.setStyleSheet(f"color: {WARNING_COLOR.name()};")
        self.trust_label.setWordWrap(True)
        self.trust_label.hide()

        # class, arguments, shapes
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("The nn.Module subclasses defined in the file (read, not run)")
        self.class_combo.currentIndexChanged.connect(self._on_class_chosen)
        self.args_edit = QLineEdit()
        self.args_edit.setToolTip("Keyword arguments of the class's constructor, as a JSON object")
        self.args_edit.textChanged.connect(self._check_args)
        self.args_error = _error_label("import_args_error")
        self.shapes_edit = QLineEdit()
        self.shapes_edit.setPlaceholderText("e.g. 1,3,32,32 — batch included; ';' between inputs")
        self.shapes_edit.setToolTip(
            "One shape per input of forward(), batch included, e.g. 1,3,32,32; separate several "
            "inputs with ';'. Empty: the class's example_input_shape, or the ONNX model's inputs."
        )
        self.shapes_edit.textChanged.connect(self._check_shapes)
        self.shapes_edit.textEdited.connect(self._on_shapes_edited)
        self.shapes_error = _error_label("import_shapes_error")

        # dataset and output
        self.dataset_combo = QComboBox()
        self.dataset_combo.addItem("None — attach data later", None)
        self.dataset_combo.setToolTip(
            "A bundled dataset the project trains and evaluates on; its task (classification "
            "or regression) becomes the project's"
        )
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText(f"where the project goes, e.g. model{SUFFIX}")
        self.out_edit.textEdited.connect(self._on_out_edited)
        self.out_edit.textChanged.connect(self._check_out)
        self.out_button = QPushButton("Browse…")
        self.out_button.clicked.connect(self._browse_out)
        self.overwrite_box = QCheckBox("Overwrite")
        self.overwrite_box.setToolTip("Replace the existing project file (its runs are kept)")
        self.overwrite_box.toggled.connect(self._check_out)
        self.overwrite_box.hide()
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(self.overwrite_box)
        out_row.addWidget(self.out_button)
        self.out_error = _error_label("import_out_error")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # A field and its message share a row, so a hidden message takes no space.
        form.addRow("Source", _stacked(source_row, self.source_error, self.trust_label))
        form.addRow("Class", self.class_combo)
        form.addRow("Constructor arguments", _stacked(self.args_edit, self.args_error))
        form.addRow("Input shapes", _stacked(self.shapes_edit, self.shapes_error))
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("Project file", _stacked(out_row, self.out_error))
        self.form = form

        # progress and outcome
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 0)  # busy: no measurable progress inside a trace
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(8)
        self.progress_bar.hide()
        self.status_label = QLabel("")
        self.status_label.setObjectName("import_status")
        self.status_label.setWordWrap(True)
        self.message_label = _error_label("import_message")
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.result_box = QGroupBox("What was imported")
        result_form = QFormLayout(self.result_box)
        self.result_labels: dict[str, QLabel] = {}
        for key, title in (
            ("model", "Model"),
            ("layers", "Layers"),
            ("check", "Outputs"),
            ("project", "Project"),
            ("weights", "Weights"),
            ("dataset", "Dataset"),
        ):
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.result_labels[key] = label
            result_form.addRow(title, label)
        self.result_box.hide()

        self.constructs_box = QGroupBox("Cannot be imported")
        constructs_layout = QVBoxLayout(self.constructs_box)
        self.constructs_label = QLabel()
        self.constructs_label.setWordWrap(True)
        self.constructs_table = QTableWidget(0, len(CONSTRUCT_COLUMNS))
        self.constructs_table.setObjectName("import_constructs")
        self.constructs_table.setHorizontalHeaderLabels(CONSTRUCT_COLUMNS)
        self.constructs_table.verticalHeader().setVisible(False)
        self.constructs_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.constructs_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.constructs_table.setWordWrap(True)
        self.constructs_table.setAlternatingRowColors(True)
        header = self.constructs_table.horizontalHeader()
        for column in range(len(CONSTRUCT_COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(CONSTRUCT_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        # Wrapped reasons need taller rows whenever the reason column changes width.
        header.sectionResized.connect(self._fit_construct_rows)
        constructs_layout.addWidget(self.constructs_label)
        constructs_layout.addWidget(self.constructs_table, 1)
        self.partial_button = QPushButton("Open what was imported")
        self.partial_button.setObjectName("import_open_partial")
        self.partial_button.setToolTip(
            "Open the layers that did map as an unsaved project, without weights: an Input "
            "named …_stand_in stands where each construct above is missing"
        )
        self.partial_button.clicked.connect(self.open_partial)
        self.partial_button.hide()
        constructs_layout.addWidget(self.partial_button, 0, alignment=Qt.AlignmentFlag.AlignLeft)
        self.constructs_box.hide()

        self.open_button = QPushButton("Open project")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_imported)
        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.start_import)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.result_box)
        layout.addWidget(self.constructs_box, 1)
        layout.addStretch(0)
        layout.addLayout(buttons)
        self.resize(820, 560)

        self._set_python_fields(None)
        self.datasets_task = self.tasks.start(
            "import datasets", list_datasets, self._show_datasets, self._datasets_failed
        )

    # ---- inputs
    def set_source(self, path: str | Path) -> None:
        """Use this file as the source and read it now (as choosing it in Browse… does)."""
        self.source_edit.setText(str(path))
        self._on_source_edited()
        self._read_timer.stop()
        self._read_source()

    def _browse_source(self) -> None:
        start = self.source_edit.text().strip() or str(self.start_folder or "")
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", start, SOURCE_FILTER)
        if path:
            self.set_source(path)

    def _browse_out(self) -> None:
        start = self.out_edit.text().strip() or str(self.start_folder or "")
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Write the project to",
            start,
            f"Strata projects (*{SUFFIX})",
            options=QFileDialog.Option.DontConfirmOverwrite,  # the Overwrite box asks instead
        )
        if path:
            self.set_output(path)

    def set_output(self, path: str | Path) -> None:
        self._out_edited = True
        self.out_edit.setText(str(path))

    def _on_source_edited(self, *_: object) -> None:
        self._clear_outcome()
        self._shapes_edited = False  # shapes typed for another file say nothing about this one
        text = self.source_edit.text().strip()
        problem = source_problem(text)
        path = Path(text).expanduser() if text else None
        is_python = path is not None and path.suffix.lower() == ".py"
        if not self._out_edited and path is not None and path.suffix.lower() in (".py", ".onnx"):
            self.out_edit.setText(str(path.with_suffix(SUFFIX)))
        if problem or not is_python:
            self._read_timer.stop()
            self._cancel_read()
            self._read_path = None
            self.classes = []
            self.shapes_edit.clear()  # an ONNX model knows its inputs; a Python file's are gone
            _show(self.source_error, problem)
            self._set_python_fields(None if problem else False)
            return
        _show(self.source_error, "")
        self._set_python_fields(True)
        self.class_combo.clear()
        self.class_combo.setPlaceholderText("Reading the file…")
        self._read_timer.start()

    def _set_python_fields(self, python: bool | None) -> None:
        """Fields for a Python source (True), an ONNX one (False) or none yet (None)."""
        self.trust_label.setVisible(python is True)
        self.class_combo.setEnabled(python is True)
        self.args_edit.setEnabled(python is True)
        if python is not True:
            self.class_combo.clear()
            self.class_combo.setPlaceholderText(
                "ONNX models have no class" if python is False else "Choose a .py file first"
            )
            self.args_edit.setPlaceholderText(
                "ONNX models take no constructor arguments" if python is False else ""
            )
            _show(self.args_error, "")

    def _cancel_read(self) -> None:
        if self.read_task is not None:
            self.read_task.cancel()
            self.read_task = None

    def _read_source(self) -> None:
        text = self.source_edit.text().strip()
        if source_problem(text) or not text.lower().endswith(".py"):
            return
        path = Path(text).expanduser()
        self._cancel_read()
        self._read_path = path
        self.read_task = self.tasks.start(
            "read import source", lambda cancelled: read_source(path, cancelled), self._show_read
        )

    def _show_read(self, item: object) -> None:
        assert isinstance(item, tuple)
        path, found = item
        if path != self._read_path:
            return  # the source changed since
        self.read_task = None
        self.class_combo.clear()
        if isinstance(found, SyntaxError):
            self.classes = []
            self.class_combo.setPlaceholderText("—")
            _show(self.source_error, describe_syntax_error(found, path))
            return
        if isinstance(found, StudioError):  # the sentence names the file already
            self.classes = []
            self.class_combo.setPlaceholderText("—")
            _show(self.source_error, str(found))
            return
        if isinstance(found, BaseException):
            self.classes = []
            self.class_combo.setPlaceholderText("—")
            _show(self.source_error, f"{path.name} cannot be read: {found}")
            return
        self.classes = list(found)
        if not self.classes:
            self.class_combo.setPlaceholderText("—")
            _show(
                self.source_error,
                f"{path.name} defines no nn.Module subclass at its top level "
                "(class Net(nn.Module): …).",
            )
            return
        self.class_combo.setPlaceholderText("")
        for module_class in self.classes:
            self.class_combo.addItem(f"{module_class.name}   (line {module_class.line})")
        # The model is usually the class with an example input, else the last one defined.
        chosen = next(
            (i for i, c in enumerate(self.classes) if c.input_shapes), len(self.classes) - 1
        )
        self.class_combo.setCurrentIndex(chosen)
        self._on_class_chosen(chosen)

    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def chosen_class(self) -> ModuleClass | None:
        index = self.class_combo.currentIndex()
        return self.classes[index] if 0 <= index < len(self.classes) else None

    def choose_class(self, name: str) -> None:
        self.class_combo.setCurrentIndex(self.class_names().index(name))

    def _on_class_chosen(self, _index: int) -> None:
        chosen = self.chosen_class()
        if chosen is None:
            return
        self.args_edit.setPlaceholderText(chosen.args_hint())
        if not self._shapes_edited:
            self.shapes_edit.setText(format_shapes(chosen.input_shapes))
        if not chosen.input_shapes:
            self.shapes_edit.setPlaceholderText(
                f"{chosen.name} has no example_input_shape: give one, e.g. 1,3,32,32"
            )

    def _on_shapes_edited(self, *_: object) -> None:
        self._shapes_edited = True

    def _on_out_edited(self, *_: object) -> None:
        self._out_edited = True

    def _check_args(self) -> str:
        problem = parse_args_text(self.args_edit.text())[1] if self.args_edit.isEnabled() else ""
        _show(self.args_error, problem)
        return problem

    def _check_shapes(self) -> str:
        problem = parse_shapes_text(self.shapes_edit.text())[1]
        _show(self.shapes_error, problem)
        return problem

    def _check_out(self) -> str:
        text = self.out_edit.text()
        exists = bool(text.strip()) and project_path(text).is_file()
        self.overwrite_box.setVisible(exists)
        problem = output_problem(text, overwrite=self.overwrite_box.isChecked())
        _show(self.out_error, problem)
        return problem

    def _show_datasets(self, item: object) -> None:
        assert isinstance(item, list)
        for name, label in item:
            self.dataset_combo.addItem(f"{name} — {label}", name)

    def _datasets_failed(self, exc: BaseException, _trace: str) -> None:
        self.dataset_combo.setToolTip(f"The bundled datasets could not be listed: {exc}")

    def choose_dataset(self, name: str | None) -> None:
        self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(name))

    # ---- importing
    def request(self) -> ImportRequest | None:
        """The import the fields describe; None when a field is wrong (its message shows)."""
        text = self.source_edit.text().strip()
        problems = [source_problem(text) or self.source_error.text()]
        is_python = text.lower().endswith(".py")
        chosen = self.chosen_class()
        if not problems[0] and is_python and chosen is None:
            problems[0] = (
                "Wait until the file has been read."
                if self.read_task is not None or self._read_timer.isActive()
                else "Choose a class."
            )
        _show(self.source_error, problems[0])
        problems += [self._check_args(), self._check_shapes(), self._check_out()]
        shapes = parse_shapes_text(self.shapes_edit.text())[0]
        if not any(problems) and is_python and not shapes:
            problems.append(
                f"{chosen.name if chosen else 'The class'} has no example_input_shape: "
                "give the input shape, batch included, e.g. 1,3,32,32."
            )
            _show(self.shapes_error, problems[-1])
        if any(problems) or shapes is None:
            return None
        kwargs = parse_args_text(self.args_edit.text())[0] if is_python else {}
        assert kwargs is not None
        path = Path(text).expanduser()
        source = f"{path}:{chosen.name}" if is_python and chosen is not None else str(path)
        dataset = self.dataset_combo.currentData()
        return ImportRequest(
            source=source,
            kwargs=kwargs,
            input_shapes=shapes,
            dataset=str(dataset) if dataset else None,
            out=project_path(self.out_edit.text()),
        )

    def start_import(self) -> Task | None:
        """Check the fields, then import in a worker; None (with inline messages) when refused."""
        if self.import_task is not None:
            return None
        self._clear_outcome()
        request = self.request()
        if request is None:
            return None
        registry = self.registry
        self.import_task = self.tasks.start(
            "import model",
            lambda cancelled: run_import(request, registry, cancelled),
            self._on_item,
            self._on_failed,
            self._on_finished,
        )
        self._set_busy(True)
        return self.import_task

    @property
    def busy(self) -> bool:
        return self.import_task is not None

    def _set_busy(self, busy: bool) -> None:
        self.progress_bar.setVisible(busy)
        self.import_button.setEnabled(not busy)
        for widget in (
            self.source_edit,
            self.source_button,
            self.shapes_edit,
            self.dataset_combo,
            self.out_edit,
            self.out_button,
            self.overwrite_box,
        ):
            widget.setEnabled(not busy)
        python = not busy and self.source_edit.text().strip().lower().endswith(".py")
        self.class_combo.setEnabled(python and bool(self.classes))
        self.args_edit.setEnabled(python)

    def _on_item(self, item: object) -> None:
        if isinstance(item, str):
            self.status_label.setText(item)
        elif isinstance(item, ImportResult):
            self._show_result(item)

    def _show_result(self, result: ImportResult) -> None:
        self.imported = result
        labels = self.result_labels
        labels["model"].setText(f"{result.model_name} from {result.source}")
        labels["layers"].setText(result.describe_layers())
        shapes = ", ".join(str(s) for s in result.input_shapes)
        labels["check"].setText(
            f"✓ match the source on random inputs {shapes} "
            f"(max abs difference {result.max_abs_diff:.2g})"
        )
        labels["check"].setStyleSheet(f"color: {OK_COLOR.name()};")
        labels["project"].setText(str(result.out))
        labels["weights"].setText(f"{result.run_path}  (last.pt and best.pt)")
        labels["dataset"].setText(result.dataset or "none — choose one in the Data tab")
        self.result_box.show()
        self.status_label.setText("✓ Imported. Open the project to see its graph and train it.")
        self.open_button.setEnabled(True)
        self.open_button.setDefault(True)

    def _on_failed(self, exc: BaseException, trace: str) -> None:
        from studio.importers.mapping import UnsupportedModelError

        self.failure = exc
        self.status_label.clear()
        if isinstance(exc, UnsupportedModelError):
            self._show_constructs(exc)
        elif isinstance(exc, StudioError):
            _show(self.message_label, f"{exc}\nNothing was written.")
        else:  # a bug of ours: say what happened; the traceback is one hover away
            _show(
                self.message_label,
                f"The import failed unexpectedly: {type(exc).__name__}: {exc}",
            )
            self.message_label.setToolTip(trace)

    def _show_constructs(self, exc: Any) -> None:
        count = len(exc.constructs)
        self.constructs_label.setText(
            f"{count} construct{'s' if count != 1 else ''} of {exc.source} cannot be "
            f"imported, so nothing was written. Change {'them' if count != 1 else 'it'} in the "
            "source (the Why column says how) and import again."
        )
        table = self.constructs_table
        table.setRowCount(len(exc.constructs))
        for row, construct in enumerate(exc.constructs):
            values = (construct.name, construct.kind, construct.where, construct.reason)
            for column, text in enumerate(values):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                table.setItem(row, column, cell)
        self.partial = getattr(exc, "partial", None)
        offered = self.partial is not None and self.show_partial is not None
        self.partial_button.setVisible(offered)
        if offered:
            self.constructs_label.setText(
                self.constructs_label.text()
                + " Or open what did map, to finish it by hand on the canvas."
            )
        self.constructs_box.show()
        self._fit_construct_rows()

    def open_partial(self) -> bool:
        """Show the refused model's mapped part in the window (unsaved); closes the dialog."""
        if self.partial is None or self.show_partial is None:
            return False
        if not self.show_partial(self.partial):
            return False
        self.accept()
        return True

    def _fit_construct_rows(self, *_: object) -> None:
        self.constructs_table.resizeRowsToContents()

    def _on_finished(self) -> None:
        self.import_task = None
        self._set_busy(False)

    def _clear_outcome(self) -> None:
        self.imported = None
        self.failure = None
        self.result_box.hide()
        self.constructs_box.hide()
        self.partial = None
        self.partial_button.hide()
        self.constructs_table.setRowCount(0)
        _show(self.message_label, "")
        self.message_label.setToolTip("")
        self.status_label.clear()
        self.open_button.setEnabled(False)
        self.import_button.setDefault(True)

    def unmapped(self) -> list[tuple[str, str, str, str]]:
        """The constructs listed after a failed import: (name, kind, location, why)."""
        rows: list[tuple[str, str, str, str]] = []
        table = self.constructs_table
        for row in range(table.rowCount()):
            cells = [table.item(row, column) for column in range(len(CONSTRUCT_COLUMNS))]
            name, kind, where, why = (cell.text() if cell else "" for cell in cells)
            rows.append((name, kind, where, why))
        return rows

    def open_imported(self) -> bool:
        """Open the imported project in the window (which asks about unsaved changes first)."""
        if self.imported is None or not self.open_project(self.imported.out):
            return False
        self.accept()
        return True

    def done(self, result: int) -> None:
        # Closing stops the import before it writes anything; its late signals are dropped.
        self._read_timer.stop()
        for task in (self.import_task, self.read_task, self.datasets_task):
            if task is not None:
                task.cancel()
        super().done(result)


__all__ = [
    "ImportDialog",
    "ImportRequest",
    "ImportResult",
    "ModuleClass",
    "find_module_classes",
    "parse_args_text",
    "parse_shapes_text",
    "run_import",
]
