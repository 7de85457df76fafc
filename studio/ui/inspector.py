"""The inspector: the selected node's shapes and problem, and a form that edits it.

The form is made from the layer's param specs (`studio.ui.param_editors`). Every edit goes
through the window's `push` as one core command, so it is undoable and refused edits change
nothing; the keystrokes of one burst of typing in one field merge into one undo step
(`TypedParamCommand`). The form follows the graph: an undo, a redo or an edit made elsewhere
updates the fields without sending anything back. The form is rebuilt only when another node
is shown, so a new analysis report never takes the focus from a field being typed in.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.commands import Command, RenameNodeCommand, SetSharesCommand
from studio.core.errors import GraphEditError
from studio.core.graph import Graph
from studio.core.specs import LayerSpec, ParamValue
from studio.ui import theme
from studio.ui.analysis import ShapeReport, shape_text
from studio.ui.param_editors import ParamField, make_editor, tooltip_for
from studio.ui.undo import TypedParamCommand

Push = Callable[[Command], bool]


def _form() -> QFormLayout:
    form = QFormLayout()
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setHorizontalSpacing(10)
    form.setVerticalSpacing(6)
    form.setContentsMargins(0, 6, 0, 0)
    return form


class InspectorPanel(QWidget):
    """Shows and edits one node; `show_node(None, ...)` shows a hint instead.

    `push` does a command and records it (the window's `MainWindow.push`); without it the form
    is read-only. When `push` refuses, the window's `edit_refused` message should reach
    `note_refusal`, so that the field can say why.
    """

    # The user ticked or unticked "Trainable" on the shown layer: (layer name, trainable).
    trainable_toggled = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None, *, push: Push | None = None) -> None:
        super().__init__(parent)
        self.graph: Graph | None = None
        self.node_id: str | None = None
        self.fields: dict[str, ParamField] = {}
        self._push = push
        self._spec: LayerSpec | None = None
        self._burst = 0
        self._committing = False
        self._last_refusal: str | None = None
        self._report: ShapeReport | None = None
        self._last_field = QLabel()
        # The WEIGHTS section's button, while the shown layer uses another layer's weights.
        self.untie_button: QPushButton | None = None

        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setWordWrap(True)
        self.help = QLabel()
        self.help.setWordWrap(True)
        self.help.setTextFormat(Qt.TextFormat.PlainText)
        self.help.setObjectName("muted")
        self.name_edit = QLineEdit()
        self.name_edit.setToolTip(
            "The layer's name: unique in the graph; it names the layer's submodule in the "
            "generated code."
        )
        self.name_edit.editingFinished.connect(self._commit_name)
        self.name_error = QLabel()
        self.name_error.setWordWrap(True)
        self.name_error.setTextFormat(Qt.TextFormat.PlainText)
        self.name_error.setObjectName("error")
        self.name_error.hide()
        self.name_field = QWidget()
        name_column = QVBoxLayout(self.name_field)
        name_column.setContentsMargins(0, 0, 0, 0)
        name_column.setSpacing(2)
        name_column.addWidget(self.name_edit)
        name_column.addWidget(self.name_error)
        self.type_label = QLabel()
        self.type_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Name and type stay (the name field keeps its focus across reports); params are rebuilt.
        self.layer_host = QWidget()
        self.layer_form = _form()
        self.layer_host.setLayout(self.layer_form)
        self.layer_form.addRow(self._section_label("LAYER"))
        self.name_label = self._label("Name", self.name_edit.toolTip())
        self.layer_form.addRow(self.name_label, self.name_field)
        self.type_name_label = self._label("Type", "The layer's type id.")
        self.layer_form.addRow(self.type_name_label, self.type_label)
        # Transfer learning: a frozen layer keeps its weights while the rest trains. The window
        # says when the layer has weights to freeze (`show_trainable`).
        self.trainable_check = QCheckBox("Trainable")
        self.trainable_check.setObjectName("inspector_trainable")
        self.trainable_check.setToolTip(
            "Unticked, training leaves this layer's weights as they are (frozen): for transfer "
            "learning from an earlier run's weights. The Training tab lists the frozen layers."
        )
        self.trainable_check.toggled.connect(self._on_trainable_toggled)
        self.trainable_label = self._label("Training", self.trainable_check.toolTip())
        self.layer_form.addRow(self.trainable_label, self.trainable_check)
        self.show_trainable(None)
        self.shapes_host = QWidget()
        self.shapes_form = _form()
        self.shapes_host.setLayout(self.shapes_form)
        self.form_host = QWidget()
        self.form = _form()
        self.form_host.setLayout(self.form)
        self.separator = QFrame()
        self.separator.setFrameShape(QFrame.Shape.HLine)

        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(10, 10, 10, 10)
        column.setSpacing(6)
        column.addWidget(self.heading)
        column.addWidget(self.help)
        column.addWidget(self.separator)
        column.addWidget(self.shapes_host)
        column.addWidget(self.layer_host)
        column.addWidget(self.form_host)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._style()
        self.show_node(None, None, None)
        theme.notifier().theme_changed.connect(self._on_theme_changed)

    # ----------------------------------------------------------------- showing
    def show_node(
        self, graph: Graph | None, node_id: str | None, report: ShapeReport | None
    ) -> None:
        """Show `node_id` of `graph` with what `report` found; the same node is updated in place."""
        self._report = report
        if graph is None or node_id is None or node_id not in graph:
            self._bind(graph)
            self._clear()
            self.heading.setText(
                f"<span style='color:{theme.TEXT_MUTED.name()}'>No selection</span>"
            )
            self.help.setText("Select a layer on the canvas to see and edit its settings.")
            return
        self._bind(graph)
        spec = graph.spec(node_id)
        if node_id != self.node_id or spec is not self._spec:
            self._build(graph, node_id, spec)
        else:
            self._sync()
        self._show_shapes(graph, node_id, report)

    def show_trainable(self, trainable: bool | None) -> None:
        """Tick "Trainable" as the project says, or hide it (None: no weights to freeze)."""
        shown = trainable is not None
        self.trainable_check.setVisible(shown)
        self.trainable_label.setVisible(shown)
        if shown:
            self.trainable_check.blockSignals(True)
            self.trainable_check.setChecked(bool(trainable))
            self.trainable_check.blockSignals(False)
            self.trainable_check.setEnabled(self._push is not None)

    def _on_trainable_toggled(self, on: bool) -> None:
        if self.graph is not None and self.node_id is not None and self.node_id in self.graph:
            self.trainable_toggled.emit(self.graph.node(self.node_id).name, on)

    def field_text(self, label: str) -> str | None:
        """The value shown for a label, editable or not (tests and accessibility)."""
        for host, form in (
            (self.shapes_host, self.shapes_form),
            (self.layer_host, self.layer_form),
            (self.form_host, self.form),
        ):
            if host.isHidden():
                continue
            for row in range(form.rowCount()):
                name = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
                value = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
                if name is None or value is None:
                    continue
                name_widget, value_widget = name.widget(), value.widget()
                if not isinstance(name_widget, QLabel) or name_widget.text() != label:
                    continue
                if isinstance(value_widget, QLabel):
                    return value_widget.text()
                if isinstance(value_widget, ParamField):
                    return value_widget.editor.text()
                if value_widget is self.name_field:
                    return self.name_edit.text()
        return None

    def field(self, name: str) -> ParamField:
        """The form row of one param of the shown node."""
        return self.fields[name]

    @property
    def name_error_text(self) -> str | None:
        return self.name_error.text() if self.name_error.isVisibleTo(self) else None

    def note_refusal(self, message: str) -> None:
        """The window refused an edit with this sentence (connect `edit_refused` here)."""
        self._last_refusal = message

    # ----------------------------------------------------------------- building
    def _style(self) -> None:
        """One style sheet for every row's labels: styling each label alone costs a style
        resolution per widget, which made showing a node with many params slow."""
        muted, error = theme.TEXT_MUTED.name(), theme.ERROR.name()
        self.setStyleSheet(
            f"QLabel#muted {{ color: {muted}; }}"
            f"QLabel#hint {{ color: {muted}; font-size: 8pt; }}"
            f"QLabel#error {{ color: {error}; font-size: 8pt; }}"
        )
        self.separator.setStyleSheet(f"color: {theme.SEPARATOR.name()};")

    def _on_theme_changed(self, name: str) -> None:
        """Colours are baked into the rows' style sheets: restyle, and rebuild the form."""
        self._style()
        node_id, self.node_id = self.node_id, None
        self.show_node(self.graph, node_id, self._report)

    def _build(self, graph: Graph, node_id: str, spec: LayerSpec) -> None:
        self._clear()
        self.node_id = node_id
        self._spec = spec
        self._burst += 1
        node = graph.node(node_id)
        self.help.setText(spec.help)
        self._show_heading(node.name, spec)
        self.separator.show()
        self.layer_host.show()
        self.name_edit.setText(node.name)
        self.name_edit.setReadOnly(self._push is None)
        self._show_name_error(None)
        self.type_label.setText(spec.type_id)
        if node.shares is not None:
            self._show_tie(graph, node.shares)
        if spec.params:
            self._section(self.form, "PARAMETERS")
        for param in spec.params:
            editor = make_editor(param)
            editor.set_value(node.params.get(param.name))
            editor.set_read_only(self._push is None)
            field = ParamField(editor)
            name = param.name
            editor.edited.connect(lambda value, name=name: self._on_edited(name, value))
            editor.rejected.connect(lambda message, name=name: self._on_rejected(name, message))
            editor.finished.connect(lambda name=name: self._on_finished(name))
            self.fields[name] = field
            self.form.addRow(self._label(name, tooltip_for(param)), field)

    def _show_tie(self, graph: Graph, owner: str) -> None:
        """Which layer's weights this one uses, and a button to give it its own again."""
        self._section(self.form, "WEIGHTS")
        name = graph.node(owner).name if owner in graph else "a removed layer"
        untie = QPushButton("Untie")
        untie.setToolTip("Give this layer weights of its own (a copy no longer shared)")
        untie.setEnabled(self._push is not None)
        untie.clicked.connect(self._untie)
        self.untie_button = untie
        if self.node_id is not None and graph.is_weight_tied(self.node_id):
            label = self._label(
                "weight tied to",
                "This layer's weight is the other layer's (an Embedding's table is the output "
                "Linear's weight, tied embeddings): training changes both at once, and the "
                "model stores it once. Each keeps its own other weights (the Linear's bias).",
            )
        else:
            label = self._label(
                "shared with",
                "This layer uses another layer's weights: training "
                "changes both at once, and the model stores them once.",
            )
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(name))
        layout.addStretch(1)
        layout.addWidget(untie)
        self.form.addRow(label, row)

    def _untie(self) -> None:
        if self.graph is None or self.node_id is None:
            return
        refusal = self._run(SetSharesCommand(self.graph, self.node_id, None))
        if refusal is not None:
            self.note_refusal(refusal)

    def _sync(self) -> None:
        """Show the model's values (they normally arrive one by one through graph events)."""
        if self.graph is None or self.node_id is None or self.node_id not in self.graph:
            return
        node = self.graph.node(self.node_id)
        for name, field in self.fields.items():
            field.editor.set_value(node.params.get(name))
        if not self.name_edit.hasFocus() and self.name_edit.text() != node.name:
            self.name_edit.setText(node.name)
        if self._spec is not None:
            self._show_heading(node.name, self._spec)

    def _show_heading(self, name: str, spec: LayerSpec) -> None:
        colour = theme.category_colour(spec.category).name()
        self.heading.setText(
            f"<span style='font-size:13pt; font-weight:600'>{_escape(name)}</span><br>"
            f"<span style='color:{colour}'>{_escape(spec.title)}</span>"
            f"<span style='color:{theme.TEXT_MUTED.name()}'> · {_escape(spec.category)}</span>"
        )

    def _show_shapes(self, graph: Graph, node_id: str, report: ShapeReport | None) -> None:
        _clear_form(self.shapes_form)
        if report is None or node_id not in report.inputs:
            self.shapes_host.setVisible(report is not None)
            if report is not None:
                self._section(self.shapes_form, "SHAPES")
                self._row(self.shapes_form, "Output", "checking…")
            return
        self.shapes_host.show()
        self._section(self.shapes_form, "SHAPES")
        inputs = [shape_text(s) for s in report.inputs[node_id]]
        if inputs:
            self._row(self.shapes_form, "Input", ", ".join(inputs))
        outputs = report.outputs.get(node_id) or {}
        if outputs:
            shown = ", ".join(shape_text(s) for s in outputs.values())
            self._row(self.shapes_form, "Output", shown)
        problem = report.problem_for(node_id)
        if problem is not None:
            self._row(self.shapes_form, "Problem", problem.message)
            alarm = theme.WARNING if problem.severity == "warning" else theme.ERROR
            self._last_field.setStyleSheet(f"color: {alarm.name()};")

    def _clear(self) -> None:
        for field in self.fields.values():
            field.editor.blockSignals(True)
        self.fields.clear()
        self.node_id = None
        self._spec = None
        self.untie_button = None
        _clear_form(self.form)
        _clear_form(self.shapes_form)
        self.shapes_host.hide()
        self.layer_host.hide()
        self.separator.hide()

    def _bind(self, graph: Graph | None) -> None:
        """Follow `graph`'s events (and stop following the previous graph's)."""
        if graph is self.graph:
            return
        if self.graph is not None:
            self.graph.param_changed.disconnect(self._on_param_changed)
            self.graph.node_renamed.disconnect(self._on_node_renamed)
            self.graph.shares_changed.disconnect(self._on_shares_changed)
        self.graph = graph
        if graph is not None:
            graph.param_changed.connect(self._on_param_changed)
            graph.node_renamed.connect(self._on_node_renamed)
            graph.shares_changed.connect(self._on_shares_changed)

    def _label(self, text: str, tooltip: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("muted")
        label.setToolTip(tooltip)
        return label

    def _row(self, form: QFormLayout, name: str, value: str) -> QLabel:
        """Add a read-only ``name: value``; returns the name's label."""
        label = self._label(name, "")
        field = QLabel(value)
        field.setTextFormat(Qt.TextFormat.PlainText)
        field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        field.setWordWrap(True)
        form.addRow(label, field)
        self._last_field = field
        return label

    def _section(self, form: QFormLayout, title: str) -> None:
        form.addRow(self._section_label(title))

    @staticmethod
    def _section_label(title: str) -> QLabel:
        heading = QLabel(title)
        heading.setObjectName("section")
        return heading

    # ----------------------------------------------------------------- editing
    def _run(self, command: Command) -> str | None:
        """Push `command`; None when done, else the refusal's sentence."""
        if self._push is None:
            return "This view is read-only."
        self._last_refusal = None
        self._committing = True
        try:
            done = self._push(command)
        finally:
            self._committing = False
        if done:
            return None
        return self._sentence(self._last_refusal or "The edit was refused.")

    def _sentence(self, message: str) -> str:
        """A refusal without the node's name in front: the field is beside it already."""
        if self.graph is not None and self.node_id is not None and self.node_id in self.graph:
            prefix = f"{self.graph.node(self.node_id).name}: "
            if message.startswith(prefix):
                return message[len(prefix) :]
        return message

    def _current_value(self, name: str) -> ParamValue:
        assert self.graph is not None and self.node_id is not None
        return self.graph.node(self.node_id).params.get(name)

    def _on_edited(self, name: str, value: object) -> None:
        field = self.fields.get(name)
        graph, node_id = self.graph, self.node_id
        if field is None or graph is None or node_id is None or node_id not in graph:
            return
        if value == self._current_value(name):
            field.show_error(None)
            return
        try:
            command = TypedParamCommand(graph, node_id, name, value, burst=self._burst)
        except GraphEditError as exc:
            field.show_error(self._sentence(str(exc)))
            return
        field.show_error(self._run(command))

    def _on_rejected(self, name: str, message: str) -> None:
        field = self.fields.get(name)
        if field is not None:
            field.show_error(message)

    def _on_finished(self, name: str) -> None:
        """The person left the field: the next keystroke starts a new undo step."""
        self._burst += 1
        field = self.fields.get(name)
        if field is None or self.node_id is None:
            return
        model = self._current_value(name)
        if field.editor.value() != model:  # the graph refused what the field shows
            field.editor.set_value(model)
        if field.editor.shows_value():
            field.show_error(None)

    def _commit_name(self) -> None:
        graph, node_id = self.graph, self.node_id
        if graph is None or node_id is None or node_id not in graph:
            return
        name = self.name_edit.text().strip()
        if name == graph.node(node_id).name:
            self.name_edit.setText(name)
            self._show_name_error(None)
            return
        self._burst += 1
        try:
            command = RenameNodeCommand(graph, node_id, name)
        except GraphEditError as exc:
            self._show_name_error(self._sentence(str(exc)))
            return
        self._show_name_error(self._run(command))

    def _show_name_error(self, message: str | None) -> None:
        self.name_error.setText(message or "")
        self.name_error.setVisible(bool(message))
        self.name_edit.setStyleSheet(f"border: 1px solid {theme.ERROR.name()};" if message else "")

    # ----------------------------------------------------------------- graph events
    def _on_param_changed(self, node_id: str, name: str, value: object) -> None:
        field = self.fields.get(name)
        if node_id != self.node_id or field is None:
            return
        field.editor.set_value(value)  # type: ignore[arg-type]
        if not self._committing:  # an undo, a redo or another view: a new burst
            self._burst += 1
            field.show_error(None)

    def _on_shares_changed(self, node_id: str, owner: object) -> None:
        if node_id == self.node_id:
            self.node_id = None  # rebuild the form: the WEIGHTS section comes or goes
            self.show_node(self.graph, node_id, self._report)

    def _on_node_renamed(self, node_id: str, name: str) -> None:
        if node_id != self.node_id or self._spec is None:
            return
        self._show_heading(name, self._spec)
        if not self._committing:
            self.name_edit.setText(name)
            self._show_name_error(None)


def _clear_form(form: QFormLayout) -> None:
    while form.rowCount():
        form.removeRow(0)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
