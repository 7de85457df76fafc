"""The layer palette: every registered layer by category, filtered as the user types."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from studio.core.registry import LayerRegistry
from studio.core.specs import LayerSpec
from studio.ui import theme

TYPE_ID_ROLE = Qt.ItemDataRole.UserRole


def _swatch(colour: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(colour))
    painter.drawRoundedRect(1, 1, 10, 10, 3, 3)
    painter.end()
    return QIcon(pixmap)


class PalettePanel(QWidget):
    """A search field over a category tree; each layer's tooltip is its help text."""

    def __init__(self, registry: LayerRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(14)
        self.tree.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._categories: list[QTreeWidgetItem] = []
        self._fill()
        self.search.textChanged.connect(self.apply_filter)

    def _fill(self) -> None:
        for category, specs in self.registry.categories().items():
            group = QTreeWidgetItem([category])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setIcon(0, _swatch(theme.category_colour(category)))
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            for spec in specs:
                group.addChild(self._layer_item(spec))
            self.tree.addTopLevelItem(group)
            self._categories.append(group)
        self.tree.expandAll()

    @staticmethod
    def _layer_item(spec: LayerSpec) -> QTreeWidgetItem:
        item = QTreeWidgetItem([spec.title])
        item.setData(0, TYPE_ID_ROLE, spec.type_id)
        item.setToolTip(0, spec.help)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        return item

    def apply_filter(self, text: str) -> None:
        """Show layers whose title, id or category contains every word typed."""
        words = text.lower().split()
        for group in self._categories:
            category = group.text(0).lower()
            shown = 0
            for child in _children(group):
                haystack = f"{child.text(0)} {child.data(0, TYPE_ID_ROLE)} {category}".lower()
                match = all(word in haystack for word in words)
                child.setHidden(not match)
                shown += match
            group.setHidden(shown == 0)
            if words and shown:
                group.setExpanded(True)

    def visible_layers(self) -> list[str]:
        """Type ids of the layers currently shown."""
        found: list[str] = []
        for group in self._categories:
            if group.isHidden():
                continue
            for child in _children(group):
                if not child.isHidden():
                    found.append(str(child.data(0, TYPE_ID_ROLE)))
        return found


def _children(group: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    found = (group.child(i) for i in range(group.childCount()))
    return [child for child in found if child is not None]
