"""File ▸ New…: the template gallery, one tile per bundled template with a picture of its graph.

The dialog opens at once with empty tiles; a worker reads each template (plain JSON, no
graph is built) and paints a schematic of its graphs into a `QImage` (safe off the Qt
thread), which reaches the tile by signal. The schematic draws each layer as a block in its
category's colour at the node's place (x scaled to fit, rows spread to fit), edges as
curves, and skip connections as arcs above the row. Pictures are cached per file, size,
pixel ratio and theme, so the gallery opens with its pictures the second time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
    QTextLayout,
    QTextLine,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.registry import LayerRegistry
from studio.core.resources import Template
from studio.ui import theme
from studio.ui.tasks import TaskRunner

THUMB_SIZE = QSize(248, 124)
TILE_SIZE = QSize(272, 226)
TEMPLATE_ROLE = Qt.ItemDataRole.UserRole + 1
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 2
THUMB_ROLE = Qt.ItemDataRole.UserRole + 3


@dataclass(frozen=True)
class SchematicColours:
    """Plain colour names, taken on the Qt thread and handed to the painting worker."""

    background: str
    grid: str
    edge: str
    outline: str
    categories: Mapping[str, str]
    fallback: str

    @classmethod
    def current(cls, registry: LayerRegistry) -> SchematicColours:
        categories = {c: theme.category_colour(c).name() for c in registry.categories()}
        return cls(
            background=theme.colour("background").name(),
            grid=theme.colour("grid_dot").name(),
            edge=theme.colour("edge").name(),
            outline=theme.colour("background").name(),
            categories=categories,
            fallback=theme.colour("text_muted").name(),
        )


_cache: dict[tuple[str, int, int, int, int, float, str], QImage] = {}


def _cache_key(path: Path, size: QSize, ratio: float) -> tuple[str, int, int, int, int, float, str]:
    try:
        stat = path.stat()
        stamp, length = stat.st_mtime_ns, stat.st_size
    except OSError:
        stamp, length = 0, 0
    return (str(path), stamp, length, size.width(), size.height(), ratio, theme.current().name)


Outline = tuple[list[tuple[str, float, float]], list[tuple[str, str]]]


def _graph_outlines(document: object) -> list[Outline]:
    """Per graph: its nodes as (id, x, y), and its edges as (source id, target id)."""
    graphs: list[Outline] = []
    if not isinstance(document, dict):
        return graphs
    for graph in document.get("graphs") or []:
        if not isinstance(graph, dict):
            continue
        nodes = []
        for node in graph.get("nodes") or []:
            try:
                x, y = (float(v) for v in node.get("position") or (0.0, 0.0))
                nodes.append((str(node["id"]), x, y))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        edges = []
        for edge in graph.get("edges") or []:
            try:
                edges.append((str(edge["src"]), str(edge["dst"])))
            except (KeyError, TypeError):
                continue
        graphs.append((nodes, edges))
    return graphs


def _node_types(document: object) -> dict[str, str]:
    types: dict[str, str] = {}
    if not isinstance(document, dict):
        return types
    for graph in document.get("graphs") or []:
        for node in (graph.get("nodes") if isinstance(graph, dict) else None) or []:
            if isinstance(node, dict) and "id" in node:
                types[str(node["id"])] = str(node.get("type", ""))
    return types


def render_schematic(
    document: object,
    registry: LayerRegistry,
    colours: SchematicColours,
    size: QSize,
    ratio: float = 1.0,
) -> QImage:
    """A picture of a project document's graphs; safe to call from a worker thread."""
    width, height = size.width(), size.height()
    image = QImage(
        max(1, round(width * ratio)),
        max(1, round(height * ratio)),
        QImage.Format.Format_ARGB32_Premultiplied,
    )
    image.setDevicePixelRatio(ratio)
    image.fill(QColor(colours.background))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _paint_grid(painter, width, height, QColor(colours.grid))
    types = _node_types(document)
    graphs = [g for g in _graph_outlines(document) if g[0]]
    if graphs:
        band = height / len(graphs)
        for i, (nodes, edges) in enumerate(graphs):
            area = QRectF(14, i * band + 10, width - 28, band - 20)
            _paint_graph(painter, area, nodes, edges, types, registry, colours)
    painter.end()
    return image


def _paint_grid(painter: QPainter, width: int, height: int, colour: QColor) -> None:
    pen = QPen(colour, 1.2)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    step = 12
    for y in range(step // 2, height, step):
        for x in range(step // 2, width, step):
            painter.drawPoint(QPointF(x, y))


def _category_colour(type_id: str, registry: LayerRegistry, colours: SchematicColours) -> QColor:
    try:
        category = registry.get(type_id).category
    except Exception:  # an unknown layer (a plugin that is not installed) still gets a block
        return QColor(colours.fallback)
    return QColor(colours.categories.get(category, colours.fallback))


def _paint_graph(
    painter: QPainter,
    area: QRectF,
    nodes: list[tuple[str, float, float]],
    edges: list[tuple[str, str]],
    types: Mapping[str, str],
    registry: LayerRegistry,
    colours: SchematicColours,
) -> None:
    xs = sorted({x for _, x, _ in nodes})
    ys = sorted({y for _, _, y in nodes})
    columns, rows = len(xs), len(ys)
    x_span = xs[-1] - xs[0]
    y_span = ys[-1] - ys[0]
    block_w = max(3.0, min(16.0, area.width() / max(columns, 1) * 0.5))
    block_h = max(6.0, min(area.height() * 0.55, area.height() / max(rows, 1) * 0.75))
    # Room above a single row for the arcs of skip connections.
    top_room = 0.0 if rows > 1 else min(area.height() * 0.3, 24.0)
    inner = QRectF(
        area.left() + block_w / 2,
        area.top() + block_h / 2 + top_room,
        max(0.0, area.width() - block_w),
        max(0.0, area.height() - block_h - top_room),
    )

    def place(x: float, y: float) -> QPointF:
        if x_span == 0:
            px = inner.center().x()
        else:
            px = inner.left() + (x - xs[0]) / x_span * inner.width()
        if y_span == 0:
            py = inner.center().y()
        else:
            py = inner.top() + (y - ys[0]) / y_span * inner.height()
        return QPointF(px, py)

    centre = {node_id: place(x, y) for node_id, x, y in nodes}
    column_step = inner.width() / max(columns - 1, 1)
    edge_pen = QPen(QColor(colours.edge), 1.3)
    edge_pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(edge_pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for src, dst in edges:
        a, b = centre.get(src), centre.get(dst)
        if a is None or b is None:
            continue
        path = QPainterPath()
        skips = abs(b.x() - a.x()) > column_step * 1.5 and math.isclose(a.y(), b.y(), abs_tol=1.0)
        if skips:
            start = QPointF(a.x(), a.y() - block_h / 2)
            end = QPointF(b.x(), b.y() - block_h / 2)
            lift = min(top_room + block_h * 0.2, 6 + abs(b.x() - a.x()) * 0.25)
            path.moveTo(start)
            path.cubicTo(
                QPointF(start.x(), start.y() - lift),
                QPointF(end.x(), end.y() - lift),
                end,
            )
        else:
            start = QPointF(a.x() + block_w / 2, a.y())
            end = QPointF(b.x() - block_w / 2, b.y())
            bend = max(4.0, (end.x() - start.x()) / 2)
            path.moveTo(start)
            path.cubicTo(
                QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()), end
            )
        painter.drawPath(path)
    outline = QPen(QColor(colours.outline), 1.2)
    painter.setPen(outline)
    radius = min(3.0, block_w / 3)
    for node_id, _, _ in nodes:
        c = centre[node_id]
        painter.setBrush(QBrush(_category_colour(types.get(node_id, ""), registry, colours)))
        painter.drawRoundedRect(
            QRectF(c.x() - block_w / 2, c.y() - block_h / 2, block_w, block_h), radius, radius
        )


def load_thumbnail(
    path: Path,
    registry: LayerRegistry,
    colours: SchematicColours,
    size: QSize = THUMB_SIZE,
    ratio: float = 1.0,
) -> QImage:
    """Read a template and paint its schematic (an empty picture when it cannot be read)."""
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = None
    return render_schematic(document, registry, colours, size, ratio)


class TileDelegate(QStyledItemDelegate):
    """A tile: the picture, the title in bold, and the description on up to three lines."""

    PAD = 10

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return TILE_SIZE

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(option.rect).adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        border = theme.colour("accent") if selected else theme.colour("tile_border")
        if hovered and not selected:
            border = theme.colour("text_muted")
        painter.setPen(QPen(border, 2.0 if selected else 1.0))
        painter.setBrush(QBrush(theme.colour("tile")))
        painter.drawRoundedRect(rect, 8, 8)
        pad = self.PAD
        thumb_rect = QRectF(
            rect.left() + pad, rect.top() + pad, THUMB_SIZE.width(), THUMB_SIZE.height()
        )
        pixmap = index.data(THUMB_ROLE)
        clip = QPainterPath()
        clip.addRoundedRect(thumb_rect, 5, 5)
        painter.save()
        painter.setClipPath(clip)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            painter.drawPixmap(thumb_rect.topLeft(), pixmap)
        else:
            painter.fillRect(thumb_rect, theme.colour("background"))
        painter.restore()
        text_left = rect.left() + pad
        text_width = rect.width() - 2 * pad
        y = thumb_rect.bottom() + 9
        title_font = QFont(option.font)
        title_font.setBold(True)
        title_font.setPointSizeF(option.font.pointSizeF() + 0.5)
        painter.setFont(title_font)
        painter.setPen(theme.colour("text"))
        metrics = QFontMetrics(title_font)
        title = metrics.elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole)),
            Qt.TextElideMode.ElideRight,
            int(text_width),
        )
        painter.drawText(QPointF(text_left, y + metrics.ascent()), title)
        y += metrics.height() + 3
        painter.setFont(option.font)
        painter.setPen(theme.colour("text_muted"))
        description = str(index.data(DESCRIPTION_ROLE) or "")
        area = QRectF(text_left, y, text_width, rect.bottom() - y - 4)
        _draw_wrapped(painter, description, option.font, area, 3)
        painter.restore()


def _draw_wrapped(painter: QPainter, text: str, font: QFont, rect: QRectF, max_lines: int) -> None:
    """Word-wrapped text in `rect`, at most `max_lines` lines, the last one elided."""
    metrics = QFontMetrics(font)
    layout = QTextLayout(text, font)
    layout.beginLayout()
    lines: list[QTextLine] = []
    while len(lines) < max_lines:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(rect.width())
        lines.append(line)
    layout.endLayout()
    y = rect.top()
    for i, line in enumerate(lines):
        start, length = line.textStart(), line.textLength()
        piece = text[start : start + length].rstrip()
        if i == len(lines) - 1 and start + length < len(text):
            piece = metrics.elidedText(text[start:], Qt.TextElideMode.ElideRight, int(rect.width()))
        painter.drawText(QPointF(rect.left(), y + metrics.ascent()), piece)
        y += metrics.lineSpacing()


class TemplateGallery(QDialog):
    """Choose a template; `template_chosen(Template)` fires when the user confirms one."""

    template_chosen = Signal(object)  # studio.core.resources.Template
    thumbnails_ready = Signal()

    def __init__(
        self,
        templates: list[Template],
        registry: LayerRegistry,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project from a template")
        self.templates = templates
        self.registry = registry
        self.runner = TaskRunner(self, threads=1)
        heading = QLabel("Start from a template")
        heading_font = heading.font()
        heading_font.setPointSizeF(heading_font.pointSizeF() + 3)
        heading_font.setBold(True)
        heading.setFont(heading_font)
        hint = QLabel(
            "Each template is a complete, working network with a dataset. "
            "It opens as a new, untitled project."
        )
        hint.setObjectName("muted")
        self.model = QStandardItemModel(self)
        self.view = QListView()
        self.view.setObjectName("gallery")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setWrapping(True)
        self.view.setUniformItemSizes(True)
        self.view.setSpacing(6)
        self.view.setMouseTracking(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setItemDelegate(TileDelegate(self.view))
        self.view.setModel(self.model)
        self.view.doubleClicked.connect(lambda _index: self.accept())
        self.view.activated.connect(lambda _index: self.accept())
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.addWidget(heading)
        layout.addWidget(hint)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.buttons)
        columns = 4 if len(templates) > 6 else 3
        cell_w, cell_h = TILE_SIZE.width() + 12, TILE_SIZE.height() + 12
        self.resize(columns * cell_w + 44, 2 * cell_h + 122)
        for template in templates:
            item = QStandardItem(template.title)
            item.setData(template, TEMPLATE_ROLE)
            item.setData(template.description, DESCRIPTION_ROLE)
            item.setToolTip(f"{template.title}\n{template.description}\n{template.path.name}")
            item.setEditable(False)
            self.model.appendRow(item)
        if templates:
            self.view.setCurrentIndex(self.model.index(0, 0))
        self.view.selectionModel().currentChanged.connect(self._update_buttons)
        self._update_buttons()
        self.pending = 0
        self._load_thumbnails()

    def _load_thumbnails(self) -> None:
        ratio = self.devicePixelRatioF()
        colours = SchematicColours.current(self.registry)
        missing: list[tuple[int, Path, tuple[str, int, int, int, int, float, str]]] = []
        for row, template in enumerate(self.templates):
            key = _cache_key(template.path, THUMB_SIZE, ratio)
            cached = _cache.get(key)
            if cached is not None:
                self._set_thumbnail(row, cached)
            else:
                missing.append((row, template.path, key))
        if not missing:
            self.thumbnails_ready.emit()
            return
        registry = self.registry
        self.pending = len(missing)

        def work(cancelled: Callable[[], bool]) -> Iterator[object]:
            for row, path, key in missing:
                if cancelled():
                    return
                yield row, key, load_thumbnail(path, registry, colours, THUMB_SIZE, ratio)

        def arrived(item: object) -> None:
            assert isinstance(item, tuple)
            row, key, image = item
            _cache[key] = image
            self._set_thumbnail(row, image)
            self.pending -= 1
            if self.pending == 0:
                self.thumbnails_ready.emit()

        self.runner.start("template thumbnails", work, arrived)

    def _set_thumbnail(self, row: int, image: QImage) -> None:
        item = self.model.item(row)
        if item is not None:
            item.setData(QPixmap.fromImage(image), THUMB_ROLE)

    def _update_buttons(self, *_: object) -> None:
        self.create_button.setEnabled(self.chosen_template() is not None)

    def chosen_template(self) -> Template | None:
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        template = index.data(TEMPLATE_ROLE)
        return template if isinstance(template, Template) else None

    def select(self, name: str) -> bool:
        """Make the template called `name` the current tile."""
        for row, template in enumerate(self.templates):
            if template.name == name:
                self.view.setCurrentIndex(self.model.index(row, 0))
                return True
        return False

    def accept(self) -> None:
        template = self.chosen_template()
        if template is None:
            return
        super().accept()
        self.template_chosen.emit(template)

    def done(self, result: int) -> None:
        self.runner.shutdown()
        super().done(result)


def main(argv: list[str] | None = None) -> int:
    """Save a picture of the gallery: ``python -m studio.ui.gallery --out gallery.png``."""
    import argparse

    from PySide6.QtCore import QTimer

    from studio.core.resources import list_templates
    from studio.plugins import default_registry
    from studio.ui.app import create_application

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--select", default="cnn_classifier", help="the template to highlight")
    args = parser.parse_args(argv)
    app = create_application()
    gallery = TemplateGallery(list_templates(), default_registry())
    gallery.select(args.select)
    gallery.show()
    status = {"code": 1}

    def capture() -> None:
        pixmap = gallery.grab()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if pixmap.save(str(args.out)):
            print(f"saved {args.out} ({pixmap.width()}x{pixmap.height()})")
            status["code"] = 0
        gallery.reject()
        app.quit()

    gallery.thumbnails_ready.connect(lambda: QTimer.singleShot(300, capture))
    if gallery.pending == 0:
        QTimer.singleShot(300, capture)
    app.exec()
    return status["code"]


if __name__ == "__main__":
    raise SystemExit(main())
