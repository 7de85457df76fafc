"""The layer palette: every registered layer by category, filtered as the user types.

Each layer shows its category's icon, its title and its one line of help. Dragging a layer
carries its type id as `LAYER_MIME_TYPE` (the canvas accepts the drop); double-clicking it,
or pressing Enter on it (or in the search field), asks for it to be added at the centre of
the view through `layer_activated`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from PySide6.QtCore import (
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QKeyEvent,
    QPainter,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.registry import LayerRegistry
from studio.core.resources import assets_dir
from studio.core.specs import LayerSpec
from studio.ui import theme

TYPE_ID_ROLE = Qt.ItemDataRole.UserRole
HELP_ROLE = Qt.ItemDataRole.UserRole + 1
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2
LAYER_MIME_TYPE = "application/x-strata-layer"
ICON_SIZE = 18


def layer_mime_data(type_id: str) -> QMimeData:
    """What a drag from the palette carries: the layer's type id, UTF-8, as `LAYER_MIME_TYPE`."""
    data = QMimeData()
    data.setData(LAYER_MIME_TYPE, type_id.encode("utf-8"))
    return data


# ----------------------------------------------------------------- icons
@cache
def category_icon(category: str) -> QIcon:
    """The category's glyph `assets/icons/<category>.svg` (``input-output.svg`` for
    Input/Output), drawn by the theme in the category's colour; a painted tile with the
    category's initials when there is no such file (a plugin's own category)."""
    if (assets_dir() / "icons" / f"{theme.category_icon_name(category)}.svg").is_file():
        return theme.category_icon(category)
    return _painted_icon(category)


def _painted_icon(category: str) -> QIcon:
    """A rounded tile in the category's colour with its initial, crisp at 1× and 2×."""
    colour = theme.category_colour(category)
    letters = "".join(w[0] for w in re.findall(r"[A-Za-z]+", category))[:2].upper() or "?"
    icon = QIcon()
    for scale in (1, 2):
        size = ICON_SIZE * scale
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        tile = QColor(colour)
        tile.setAlpha(60)
        painter.setBrush(QBrush(tile))
        painter.setPen(QPen(colour, 1.2 * scale))
        inset = 1.0 * scale
        painter.drawRoundedRect(
            QRectF(inset, inset, size - 2 * inset, size - 2 * inset), 4 * scale, 4 * scale
        )
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int((8 if len(letters) > 1 else 10) * scale))
        painter.setFont(font)
        painter.setPen(colour.lighter(125))
        painter.drawText(QRect(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, letters)
        painter.end()
        pixmap.setDevicePixelRatio(scale)
        icon.addPixmap(pixmap)
    return icon


# ----------------------------------------------------------------- the tree
class LayerDelegate(QStyledItemDelegate):
    """A layer row: icon, title, and the help in a smaller, muted second line."""

    PADDING = 4

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        if index.data(TYPE_ID_ROLE) is None:
            return size
        metrics = option.fontMetrics
        height = metrics.height() + _small_metrics_height(option.font) + 2 * self.PADDING + 2
        return QSize(size.width(), max(size.height(), height))

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        type_id = index.data(TYPE_ID_ROLE)
        if type_id is None:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        # Copies: the option's members are about to be cleared for the background's sake.
        title, help_text, icon = str(opt.text), str(index.data(HELP_ROLE) or ""), QIcon(opt.icon)
        opt.text = ""
        opt.icon = QIcon()
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

        rect = opt.rect.adjusted(self.PADDING, self.PADDING, -self.PADDING, -self.PADDING)
        icon_rect = QRect(rect.left(), rect.top() + 1, ICON_SIZE, ICON_SIZE)
        icon.paint(painter, icon_rect)
        text_left = icon_rect.right() + 8
        width = max(0, rect.right() - text_left)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(QColor("#ffffff") if selected else theme.TEXT)
        line = opt.fontMetrics.height()
        painter.drawText(
            QRect(text_left, rect.top(), width, line),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            opt.fontMetrics.elidedText(title, Qt.TextElideMode.ElideRight, width),
        )
        small = _small_font(opt.font)
        painter.setFont(small)
        painter.setPen(QColor("#d6e4f5") if selected else theme.TEXT_MUTED)
        small_metrics = painter.fontMetrics()
        painter.drawText(
            QRect(text_left, rect.top() + line + 1, width, small_metrics.height()),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            small_metrics.elidedText(help_text, Qt.TextElideMode.ElideRight, width),
        )
        painter.restore()


def _small_font(font: QFont) -> QFont:
    small = QFont(font)
    size = font.pointSizeF()
    if size > 0:
        small.setPointSizeF(size * 0.85)
    else:
        small.setPixelSize(max(8, int(font.pixelSize() * 0.85)))
    return small


def _small_metrics_height(font: QFont) -> int:
    return QFontMetrics(_small_font(font)).height()


class LayerTree(QTreeWidget):
    """The palette's tree: drags carry a layer's type id; Enter on a layer activates it."""

    layer_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(True)
        self.setIndentation(12)
        self.setUniformRowHeights(False)
        self.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setItemDelegate(LayerDelegate(self))
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.itemDoubleClicked.connect(self._on_double_clicked)

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME_TYPE]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:  # type: ignore[override]
        type_ids = [item.data(0, TYPE_ID_ROLE) for item in items]
        found = [t for t in type_ids if t]
        return layer_mime_data(str(found[0])) if found else QMimeData()

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def keyPressEvent(self, event: QKeyEvent) -> None:
        item = self.currentItem()
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and item is not None and item.data(0, TYPE_ID_ROLE):
            self.layer_activated.emit(str(item.data(0, TYPE_ID_ROLE)))
            event.accept()
            return
        super().keyPressEvent(event)

    def _on_double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        type_id = item.data(0, TYPE_ID_ROLE)
        if type_id:
            self.layer_activated.emit(str(type_id))


class _SearchField(QLineEdit):
    """Down moves into the list, so a layer is found and added without the mouse."""

    down_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down:
            self.down_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class PalettePanel(QWidget):
    """A search field over a category tree of layers.

    `layer_activated(type_id)` asks the window to add a layer at the view's centre.
    """

    layer_activated = Signal(str)

    def __init__(self, registry: LayerRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.search = _SearchField()
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip(
            "Type to filter by name, id or description; Enter adds the first match, "
            "Down moves into the list."
        )
        self.tree = LayerTree()
        self.tree.setToolTip("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._categories: list[QTreeWidgetItem] = []
        self._fill()
        self.search.textChanged.connect(self.apply_filter)
        self.search.returnPressed.connect(self._activate_first)
        self.search.down_pressed.connect(self._enter_list)
        self.tree.layer_activated.connect(self.layer_activated)

    def _fill(self) -> None:
        for category, specs in self.registry.categories().items():
            group = QTreeWidgetItem([category])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setIcon(0, category_icon(category))
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
        item.setData(0, HELP_ROLE, spec.help)
        item.setData(
            0, SEARCH_ROLE, f"{spec.title} {spec.type_id} {spec.category} {spec.help}".lower()
        )
        item.setIcon(0, category_icon(spec.category))
        item.setToolTip(0, spec.help)
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        )
        return item

    def apply_filter(self, text: str) -> None:
        """Show layers whose title, id, category or help contains every word typed."""
        words = text.lower().split()
        for group in self._categories:
            shown = 0
            for child in _children(group):
                haystack = str(child.data(0, SEARCH_ROLE))
                match = all(word in haystack for word in words)
                child.setHidden(not match)
                shown += match
            group.setHidden(shown == 0)
            if words and shown:
                group.setExpanded(True)
        current = self.tree.currentItem()
        if current is not None and current.isHidden():
            self.tree.setCurrentIndex(QModelIndex())

    def visible_layers(self) -> list[str]:
        """Type ids of the layers currently shown."""
        return [str(item.data(0, TYPE_ID_ROLE)) for item in self._visible_items()]

    def item_for(self, type_id: str) -> QTreeWidgetItem | None:
        """The tree item of a layer (tests, and selecting a layer from elsewhere)."""
        for group in self._categories:
            for child in _children(group):
                if child.data(0, TYPE_ID_ROLE) == type_id:
                    return child
        return None

    def _visible_items(self) -> list[QTreeWidgetItem]:
        found: list[QTreeWidgetItem] = []
        for group in self._categories:
            if group.isHidden():
                continue
            found.extend(child for child in _children(group) if not child.isHidden())
        return found

    def _activate_first(self) -> None:
        if not self.search.text().strip():
            return
        visible = self._visible_items()
        if visible:
            self.layer_activated.emit(str(visible[0].data(0, TYPE_ID_ROLE)))

    def _enter_list(self) -> None:
        visible = self._visible_items()
        if visible:
            current = self.tree.currentItem()
            if current is None or current.isHidden() or not current.data(0, TYPE_ID_ROLE):
                self.tree.setCurrentItem(visible[0])
            self.tree.setFocus()


def _children(group: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    found = (group.child(i) for i in range(group.childCount()))
    return [child for child in found if child is not None]
