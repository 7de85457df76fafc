"""The inspector: the selected node's type, name, shapes and params (read-only for now)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.graph import Graph
from studio.ui import theme
from studio.ui.analysis import ShapeReport, shape_text
from studio.ui.canvas import format_param


class InspectorPanel(QWidget):
    """Shows one node; `show_node(None, ...)` shows a hint instead."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.node_id: str | None = None
        self._last_field = QLabel()
        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setWordWrap(True)
        self.help = QLabel()
        self.help.setWordWrap(True)
        self.help.setTextFormat(Qt.TextFormat.PlainText)
        self.help.setStyleSheet(f"color: {theme.TEXT_MUTED.name()};")
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setHorizontalSpacing(10)
        self.form.setVerticalSpacing(6)
        self.form.setContentsMargins(0, 6, 0, 0)
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(10, 10, 10, 10)
        column.setSpacing(6)
        column.addWidget(self.heading)
        column.addWidget(self.help)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet(f"color: {theme.SEPARATOR.name()};")
        column.addWidget(line)
        column.addWidget(self.form_host)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_node(None, None, None)

    def show_node(
        self, graph: Graph | None, node_id: str | None, report: ShapeReport | None
    ) -> None:
        self._clear_form()
        if graph is None or node_id is None or node_id not in graph:
            self.node_id = None
            self.heading.setText(
                f"<span style='color:{theme.TEXT_MUTED.name()}'>No selection</span>"
            )
            self.help.setText("Select a layer on the canvas to see its settings.")
            return
        self.node_id = node_id
        node = graph.node(node_id)
        spec = graph.spec(node_id)
        colour = theme.category_colour(spec.category).name()
        self.heading.setText(
            f"<span style='font-size:13pt; font-weight:600'>{node.name}</span><br>"
            f"<span style='color:{colour}'>{spec.title}</span>"
            f"<span style='color:{theme.TEXT_MUTED.name()}'> · {spec.category}</span>"
        )
        self.help.setText(spec.help)
        self._row("Name", node.name)
        self._row("Type", spec.type_id)
        if report is not None and node_id in report.inputs:
            self._section("SHAPES")
            inputs = [shape_text(s) for s in report.inputs[node_id]]
            if inputs:
                self._row("Input", ", ".join(inputs))
            outputs = report.outputs.get(node_id) or {}
            if outputs:
                self._row("Output", ", ".join(shape_text(s) for s in outputs.values()))
            problem = report.problem_for(node_id)
            if problem is not None:
                self._row("Problem", problem.message)
                alarm = theme.WARNING if problem.severity == "warning" else theme.ERROR
                self._last_field.setStyleSheet(f"color: {alarm.name()};")
        if spec.params:
            self._section("PARAMETERS")
        for param in spec.params:
            label = self._row(param.name, format_param(node.params.get(param.name)))
            label.setToolTip(param.help)

    def field_text(self, label: str) -> str | None:
        """The value shown for a label (tests and accessibility)."""
        for row in range(self.form.rowCount()):
            name = self.form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            value = self.form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if name is None or value is None:
                continue
            name_widget, value_widget = name.widget(), value.widget()
            if isinstance(name_widget, QLabel) and name_widget.text() == label:
                return value_widget.text() if isinstance(value_widget, QLabel) else None
        return None

    def _row(self, name: str, value: str) -> QLabel:
        """Add ``name: value``; returns the name's label (its tooltip explains the row)."""
        label = QLabel(name)
        label.setStyleSheet(f"color: {theme.TEXT_MUTED.name()};")
        field = QLabel(value)
        field.setTextFormat(Qt.TextFormat.PlainText)
        field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        field.setWordWrap(True)
        self.form.addRow(label, field)
        self._last_field = field
        return label

    def _section(self, title: str) -> None:
        heading = QLabel(title)
        heading.setObjectName("section")
        self.form.addRow(heading)

    def _clear_form(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
