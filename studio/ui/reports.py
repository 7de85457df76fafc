"""The bottom docks: the problems list and the model summary table."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.units import human_count
from studio.ui import theme
from studio.ui.analysis import ShapeReport, SummaryReport

NODE_ID_ROLE = Qt.ItemDataRole.UserRole


def _dot(colour: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(colour))
    painter.drawEllipse(2, 2, 8, 8)
    painter.end()
    return QIcon(pixmap)


class ProblemsPanel(QListWidget):
    """One line per problem (``node: sentence``); clicking one asks to show its node."""

    node_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlternatingRowColors(True)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._error_icon = _dot(theme.ERROR)
        self._warning_icon = _dot(theme.WARNING)
        self._ok_icon = _dot(theme.OK)
        self.itemClicked.connect(self._on_item)
        self.itemActivated.connect(self._on_item)
        self.show_pending()

    def show_pending(self, text: str = "Checking the graph…") -> None:
        self.clear()
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        self.addItem(item)

    def show_report(self, report: ShapeReport) -> None:
        self.clear()
        if not report.problems:
            item = QListWidgetItem(self._ok_icon, "No problems: the graph is valid.")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.addItem(item)
            return
        ordered = sorted(
            zip(report.problems, report.lines, strict=True),
            key=lambda pair: pair[0].severity != "error",
        )
        for problem, line in ordered:
            icon = self._warning_icon if problem.severity == "warning" else self._error_icon
            item = QListWidgetItem(icon, line)
            item.setData(NODE_ID_ROLE, problem.node_id)
            item.setToolTip(line)
            self.addItem(item)

    def lines(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def _on_item(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ID_ROLE)
        if node_id:
            self.node_requested.emit(str(node_id))


class SummaryPanel(QWidget):
    """Per-layer output shape, parameters and FLOPs (batch 1), with a totals row."""

    COLUMNS = ("Layer", "Type", "Output shape", "Params", "FLOPs")
    node_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: SummaryReport | None = None
        self.note = QLabel()
        self.note.setStyleSheet(f"color: {theme.TEXT_MUTED.name()}; padding: 4px 8px;")
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((220, 170, 190, 120)):
            self.table.setColumnWidth(column, width)
        for column in (3, 4):
            heading = self.table.horizontalHeaderItem(column)
            if heading is not None:
                heading.setTextAlignment(
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.note)
        layout.addWidget(self.table)
        self.table.cellClicked.connect(self._on_cell)
        self.show_pending()

    @property
    def total_params(self) -> int | None:
        if self.report is None or self.report.unavailable:
            return None
        return self.report.total_params

    def show_pending(self, text: str = "Computing the summary…") -> None:
        self.report = None
        self.table.setRowCount(0)
        self.note.setText(text)
        self.note.show()

    def show_report(self, report: SummaryReport) -> None:
        self.report = report
        self.table.setRowCount(0)
        if report.unavailable:
            self.note.setText(report.unavailable)
            self.note.show()
            return
        self.note.hide()
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(report.rows) + 1)
        for row, layer in enumerate(report.rows):
            cells = (layer.name, layer.layer, layer.output_shape, f"{layer.params:,}")
            for column, text in enumerate(cells):
                self.table.setItem(row, column, self._cell(text, layer.node_id))
            flops = self._cell(human_count(layer.flops), layer.node_id)
            flops.setToolTip(f"{layer.flops:,} FLOPs")
            flops.setTextAlignment(right)
            self.table.item(row, 3).setTextAlignment(right)  # type: ignore[union-attr]
            self.table.setItem(row, 4, flops)
        total = len(report.rows)
        bold = QFont(self.table.font())
        bold.setBold(True)
        totals = ("Total", "", "", f"{report.total_params:,}", human_count(report.total_flops))
        for column, text in enumerate(totals):
            item = self._cell(text, None)
            item.setFont(bold)
            if column >= 3:
                item.setTextAlignment(right)
            self.table.setItem(total, column, item)
        self.table.setUpdatesEnabled(True)

    @staticmethod
    def _cell(text: str, node_id: str | None) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        item.setData(NODE_ID_ROLE, node_id)
        return item

    def row_texts(self) -> list[list[str]]:
        return [
            [_text(self.table.item(r, c)) for c in range(self.table.columnCount())]
            for r in range(self.table.rowCount())
        ]

    def _on_cell(self, row: int, column: int) -> None:
        item = self.table.item(row, 0)
        node_id = item.data(NODE_ID_ROLE) if item is not None else None
        if node_id:
            self.node_requested.emit(str(node_id))


def _text(item: QTableWidgetItem | None) -> str:
    return "" if item is None else item.text()
