"""The canvas: a scene that mirrors a core `Graph` through its events, and the view onto it.

`GraphScene` keeps one `NodeItem` per node and one `EdgeItem` per edge, keyed by their
persistent ids, and holds nothing the document does not have except geometry and the
latest analysis (shapes and problems, which it only displays). A finished drag writes the
new positions back with `Graph.move_node`, so the document owns the layout.

A node's position is the centre of its card: nodes in a chain then line up port to port
whatever their heights. Painting is cheap by construction: text is laid out when content
changes (never in `paint`), fonts and pens are shared, cards are cached as device pixmaps,
and below a zoom threshold only the card shapes are drawn.
"""

from __future__ import annotations

import html
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import lru_cache, partial
from typing import Any

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from studio.compile.inference import Problem
from studio.core.errors import GraphEditError
from studio.core.graph import MAX_COORDINATE, Edge, Graph, Node
from studio.core.specs import ParamValue
from studio.ui import theme
from studio.ui.analysis import ShapeReport, compact_shape_text, shape_text

CARD_WIDTH = 160.0
CARD_RADIUS = 7.0
STRIPE_WIDTH = 4.0
PAD_X = 11.0
PAD_TOP = 7.0
PAD_BOTTOM = 6.0
TITLE_LINE = 16.5
SUBTITLE_LINE = 14.5
PARAM_LINE = 13.5
SHAPE_LINE = 16.0
SEPARATOR_GAP = 4.5
PORT_RADIUS = 4.5
PORT_SPACING = 18.0
# Below this zoom, text is too small to read: cards are drawn as plain shapes.
TEXT_LOD = 0.38
LABEL_LOD = 0.5
# Edges that skip over cards in between leave their row this far above it.
LANE_OFFSET = 78.0
LANE_CURVE = 30.0

_NO_PEN = QPen(Qt.PenStyle.NoPen)
_POSITION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_SELECTION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged


def _cosmetic_pen(colour: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)
    return pen


_CARD_PEN = _cosmetic_pen(theme.CARD_BORDER, 1.0)
_SELECTED_PEN = _cosmetic_pen(theme.CARD_SELECTED, 2.0)
_SEPARATOR_PEN = QPen(theme.SEPARATOR, 1.0)
_PORT_PEN = _cosmetic_pen(theme.BACKGROUND, 1.5)
_EDGE_PEN = _cosmetic_pen(theme.EDGE, 1.6)
_EDGE_UNKNOWN_PEN = _cosmetic_pen(theme.EDGE, 1.4, Qt.PenStyle.DashLine)
_EDGE_SELECTED_PEN = _cosmetic_pen(theme.EDGE_SELECTED, 2.2)
_CARD_BRUSH = QBrush(theme.CARD)
_INPUT_PORT_BRUSH = QBrush(QColor("#8b929c"))
_TEXT_PEN = QPen(theme.TEXT)
_MUTED_PEN = QPen(theme.TEXT_MUTED)
_ERROR_PEN = QPen(theme.ERROR)


def format_param(value: ParamValue) -> str:
    """A param value as a person writes it: ``[1, 8, 8]``, ``0.1``, ``true``, ``—``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class BadgeItem(QGraphicsItem):
    """The round marker on a card's corner; its tooltip is the problem's sentence."""

    SIZE = 16.0

    def __init__(self, parent: NodeItem) -> None:
        super().__init__(parent)
        self._colour = theme.ERROR
        self._brush = QBrush(self._colour)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(2)
        self.hide()

    def set_problem(self, problem: Problem | None) -> None:
        if problem is None:
            self.setToolTip("")
            self.hide()
            return
        self._colour = theme.WARNING if problem.severity == "warning" else theme.ERROR
        self._brush = QBrush(self._colour)
        self.setToolTip(problem.message)
        self.show()
        self.update()

    @property
    def colour(self) -> QColor:
        return self._colour

    def boundingRect(self) -> QRectF:
        half = self.SIZE / 2 + 1
        return QRectF(-half, -half, 2 * half, 2 * half)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        half = self.SIZE / 2
        painter.setPen(_PORT_PEN)
        painter.setBrush(self._brush)
        painter.drawEllipse(QPointF(0, 0), half, half)
        painter.setPen(QPen(theme.BACKGROUND))
        painter.setFont(theme.canvas_fonts().badge)
        painter.drawText(self.boundingRect(), Qt.AlignmentFlag.AlignCenter, "!")


class NodeItem(QGraphicsItem):
    """A layer card: name, type, key params, output shape, ports, and a problem badge."""

    def __init__(self, graph: Graph, node: Node) -> None:
        super().__init__()
        self.node_id = node.id
        self._graph = graph
        flags = QGraphicsItem.GraphicsItemFlag
        self.setFlags(flags.ItemIsMovable | flags.ItemIsSelectable | flags.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.badge = BadgeItem(self)
        self.problem: Problem | None = None
        self.shape_text = "…"
        self._shape_known = False
        self._title = ""
        self._subtitle = ""
        self._params: list[tuple[str, str]] = []
        self._rect = QRectF()
        self._card = QPainterPath()
        self._stripe = QPainterPath()
        self._colour = QColor()
        self._colour_brush = QBrush()
        self._colour_pen = QPen()
        self._overview_brush = QBrush()
        self._inputs: dict[str, QPointF] = {}
        self._outputs: dict[str, QPointF] = {}
        self.refresh_content()
        self.setPos(*node.position)

    # ----------------------------------------------------------------- content
    @property
    def title(self) -> str:
        return self._title

    @property
    def subtitle(self) -> str:
        return self._subtitle

    @property
    def param_lines(self) -> list[tuple[str, str]]:
        return list(self._params)

    def refresh_content(self) -> None:
        """Re-read name, type, params and ports from the document and lay the card out."""
        node = self._graph.node(self.node_id)
        spec = self._graph.spec(self.node_id)
        text_width = CARD_WIDTH - 2 * PAD_X
        self._title = _elided("title", node.name, text_width)
        self._subtitle = _elided("subtitle", spec.title, text_width)
        params: list[tuple[str, str]] = []
        for name in spec.key_params:
            if name not in node.params:
                continue
            value = _elided("body", format_param(node.params[name]), text_width * 0.6)
            label_width = text_width - _advance("body", value) - 6
            params.append((_elided("body", name, label_width), value))
        self._params = params
        self._colour = theme.category_colour(spec.category)
        self._colour_brush = QBrush(self._colour)
        self._colour_pen = QPen(self._colour)
        self._overview_brush = QBrush(_blend(theme.CARD, self._colour, 0.45))

        inputs = [p.name for p in spec.input_ports(node.params)]
        outputs = [p.name for p in spec.output_ports(node.params)]
        content = (
            PAD_TOP
            + TITLE_LINE
            + SUBTITLE_LINE
            + PARAM_LINE * len(params)
            + SEPARATOR_GAP * 2
            + SHAPE_LINE
            + PAD_BOTTOM
        )
        ports = max(len(inputs), len(outputs), 1) * PORT_SPACING + 12
        height = max(content, ports)
        self.prepareGeometryChange()
        self._rect = QRectF(-CARD_WIDTH / 2, -height / 2, CARD_WIDTH, height)
        self._card = QPainterPath()
        self._card.addRoundedRect(self._rect, CARD_RADIUS, CARD_RADIUS)
        stripe = QPainterPath()
        stripe.addRect(QRectF(self._rect.left(), self._rect.top(), STRIPE_WIDTH, height))
        self._stripe = self._card.intersected(stripe)
        self._inputs = _port_positions(inputs, self._rect.left())
        self._outputs = _port_positions(outputs, self._rect.right())
        self.badge.setPos(self._rect.right() - 4, self._rect.top() + 4)
        self.setToolTip(f"<b>{node.name}</b> — {spec.title}<br>{html.escape(spec.help)}")
        self.update()

    def set_analysis(self, shape: str | None, problem: Problem | None) -> None:
        """Show the latest inferred shape (None: unknown) and the node's problem, if any."""
        self._shape_known = shape is not None
        text = shape if shape is not None else "shape unknown"
        self.shape_text = _elided("shape", text, CARD_WIDTH - 2 * PAD_X)
        self.problem = problem
        self.badge.set_problem(problem)
        self.update()

    # ----------------------------------------------------------------- geometry
    @property
    def card_rect(self) -> QRectF:
        return QRectF(self._rect)

    def input_port_pos(self, port: str) -> QPointF:
        """Scene position of an input port (the card's left centre if the port is unknown)."""
        local = self._inputs.get(port, QPointF(self._rect.left(), 0))
        return self.mapToScene(local)

    def output_port_pos(self, port: str) -> QPointF:
        local = self._outputs.get(port, QPointF(self._rect.right(), 0))
        return self.mapToScene(local)

    def boundingRect(self) -> QRectF:
        margin = PORT_RADIUS + 2
        return self._rect.adjusted(-margin, -margin, margin, margin)

    def shape(self) -> QPainterPath:
        return self._card

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change is _POSITION_CHANGED:
            scene = self.scene()
            if isinstance(scene, GraphScene):
                scene.node_item_moved(self)
        elif change is _SELECTION_CHANGED:
            scene = self.scene()
            if isinstance(scene, GraphScene):
                scene.refresh_edges_of(self.node_id)
        return super().itemChange(change, value)

    # ----------------------------------------------------------------- painting
    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        readable = lod >= TEXT_LOD
        painter.setPen(_SELECTED_PEN if self.isSelected() else _CARD_PEN)
        # Zoomed out, a card tinted with its category keeps the network's structure legible.
        painter.setBrush(_CARD_BRUSH if readable else self._overview_brush)
        painter.drawPath(self._card)
        painter.setPen(_NO_PEN)
        painter.setBrush(self._colour_brush)
        painter.drawPath(self._stripe)
        if readable:
            self._paint_text(painter)
        self._paint_ports(painter)

    def _paint_text(self, painter: QPainter) -> None:
        fonts = theme.canvas_fonts()
        left = self._rect.left() + PAD_X
        right = self._rect.right() - PAD_X
        y = self._rect.top() + PAD_TOP
        painter.setFont(fonts.title)
        painter.setPen(_TEXT_PEN)
        painter.drawText(QPointF(left, y + fonts.title_metrics.ascent()), self._title)
        y += TITLE_LINE
        painter.setFont(fonts.subtitle)
        painter.setPen(self._colour_pen)
        painter.drawText(QPointF(left, y + fonts.subtitle_metrics.ascent()), self._subtitle)
        y += SUBTITLE_LINE
        painter.setFont(fonts.body)
        ascent = fonts.body_metrics.ascent()
        for name, value in self._params:
            painter.setPen(_MUTED_PEN)
            painter.drawText(QPointF(left, y + ascent), name)
            painter.setPen(_TEXT_PEN)
            painter.drawText(QPointF(right - _advance("body", value), y + ascent), value)
            y += PARAM_LINE
        y += SEPARATOR_GAP
        painter.setPen(_SEPARATOR_PEN)
        painter.drawLine(
            QPointF(self._rect.left() + STRIPE_WIDTH, y), QPointF(self._rect.right(), y)
        )
        y += SEPARATOR_GAP
        painter.setFont(fonts.shape)
        if self.problem is not None and self.problem.severity == "error":
            painter.setPen(_ERROR_PEN)
        elif self._shape_known:
            painter.setPen(_TEXT_PEN)
        else:
            painter.setPen(_MUTED_PEN)
        painter.drawText(QPointF(left, y + fonts.shape_metrics.ascent()), self.shape_text)

    def _paint_ports(self, painter: QPainter) -> None:
        painter.setPen(_PORT_PEN)
        painter.setBrush(_INPUT_PORT_BRUSH)
        for point in self._inputs.values():
            painter.drawEllipse(point, PORT_RADIUS, PORT_RADIUS)
        painter.setBrush(self._colour_brush)
        for point in self._outputs.values():
            painter.drawEllipse(point, PORT_RADIUS, PORT_RADIUS)


@lru_cache(maxsize=8192)
def _elided(font: str, text: str, width: float) -> str:
    """Text cut with an ellipsis to fit; cached, since a graph repeats its layer types."""
    metrics = getattr(theme.canvas_fonts(), f"{font}_metrics")
    return str(metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))


@lru_cache(maxsize=8192)
def _advance(font: str, text: str) -> float:
    return float(getattr(theme.canvas_fonts(), f"{font}_metrics").horizontalAdvance(text))


def _blend(base: QColor, tint: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(
        base.redF() + (tint.redF() - base.redF()) * amount,
        base.greenF() + (tint.greenF() - base.greenF()) * amount,
        base.blueF() + (tint.blueF() - base.blueF()) * amount,
    )


def _port_positions(ports: list[str], x: float) -> dict[str, QPointF]:
    """Ports spread evenly around the card's vertical centre."""
    middle = (len(ports) - 1) / 2
    return {name: QPointF(x, (i - middle) * PORT_SPACING) for i, name in enumerate(ports)}


class EdgeItem(QGraphicsItem):
    """A connection: a cubic bezier from an output port to an input port, with its shape.

    An edge that would run straight through the cards between its ends (a skip
    connection in a chain) rises to a lane above the row instead.
    """

    def __init__(self, edge: Edge, source: NodeItem, target: NodeItem) -> None:
        super().__init__()
        self.edge_id = edge.id
        self.source = source
        self.target = target
        self.src_port = edge.src_port
        self.dst_port = edge.dst_port
        self.setZValue(0)
        self.label = ""
        self._shape_known = False
        self._path = QPainterPath()
        self._label_anchor = QPointF()
        self._label_below = False
        self._label_rect = QRectF()
        self._bounds = QRectF()
        self.update_geometry()

    def set_shape(self, label: str | None, tooltip: str = "") -> None:
        self._shape_known = label is not None
        self.label = label or ""
        self.setToolTip(tooltip)
        self._layout_label()

    def update_geometry(self) -> None:
        start = self.source.output_port_pos(self.src_port)
        end = self.target.input_port_pos(self.dst_port)
        path = QPainterPath(start)
        forward = end.x() - start.x()
        skips = forward > 2.5 * LANE_CURVE + 70 and abs(end.y() - start.y()) < 60
        self._label_below = False
        if skips:
            # Into a lower port the lane runs below the row, so it crosses no other edge.
            below = end.y() > self.target.scenePos().y() + 1
            if below:
                lane = max(start.y(), end.y()) + LANE_OFFSET
            else:
                lane = min(start.y(), end.y()) - LANE_OFFSET
            self._label_below = below
            r = LANE_CURVE
            path.cubicTo(
                QPointF(start.x() + r, start.y()),
                QPointF(start.x() + r, lane),
                QPointF(start.x() + 2 * r, lane),
            )
            path.lineTo(QPointF(end.x() - 2 * r, lane))
            path.cubicTo(QPointF(end.x() - r, lane), QPointF(end.x() - r, end.y()), end)
            self._label_anchor = QPointF((start.x() + end.x()) / 2, lane)
        else:
            reach = max(abs(forward) * 0.5, 40.0) if forward > 0 else max(-forward * 0.3, 90.0)
            path.cubicTo(
                QPointF(start.x() + reach, start.y()), QPointF(end.x() - reach, end.y()), end
            )
            self._label_anchor = path.pointAtPercent(0.5)
        self._path = path
        self._layout_label()

    def _layout_label(self) -> None:
        self.prepareGeometryChange()
        if self.label:
            metrics = theme.canvas_fonts().label_metrics
            width = metrics.horizontalAdvance(self.label) + 4
            height = metrics.height()
            # Above the line, clear of the ports it runs between.
            top = self._label_anchor.y() + (2 if self._label_below else -height - 2)
            self._label_rect = QRectF(self._label_anchor.x() - width / 2, top, width, height)
        else:
            self._label_rect = QRectF()
        bounds = self._path.controlPointRect()
        if not self._label_rect.isNull():
            bounds = bounds.united(self._label_rect)
        self._bounds = bounds.adjusted(-3, -3, 3, 3)
        self.update()

    @property
    def path(self) -> QPainterPath:
        return QPainterPath(self._path)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        highlighted = self.source.isSelected() or self.target.isSelected()
        if highlighted:
            painter.setPen(_EDGE_SELECTED_PEN)
        else:
            painter.setPen(_EDGE_PEN if self._shape_known else _EDGE_UNKNOWN_PEN)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if not self.label:
            return
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod < LABEL_LOD:
            return
        painter.setFont(theme.canvas_fonts().label)
        painter.setPen(_TEXT_PEN if highlighted else _MUTED_PEN)
        painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


class GraphScene(QGraphicsScene):
    """Mirrors one `Graph`: items appear, move and vanish as the graph's events say.

    A large graph is mirrored in slices of about `SLICE_SECONDS` per turn of the event loop
    (and so is a new analysis report), so opening thousands of nodes never freezes the
    window; `populated` says when every item exists. Graph events that arrive meanwhile are
    honoured: a slice always reads the document as it is when it runs.
    """

    populated = Signal()

    # Up to this many items are made (or updated) at once; beyond, in slices.
    SYNC_LIMIT = 300
    SLICE_SECONDS = 0.012

    def __init__(self, graph: Graph, parent: Any = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[str, EdgeItem] = {}
        self._edges_by_node: dict[str, set[str]] = {}
        self.report: ShapeReport | None = None
        self._closed = False
        self._queue: deque[Callable[[], None]] = deque()
        self._pump = QTimer(self)
        self._pump.setSingleShot(True)
        self._pump.setInterval(0)
        self._pump.timeout.connect(self._drain)
        self._populating = True
        self.setBackgroundBrush(theme.BACKGROUND)
        graph.node_added.connect(self._on_node_added)
        graph.node_removed.connect(self._on_node_removed)
        graph.node_moved.connect(self._on_node_moved)
        graph.node_renamed.connect(self._on_node_changed)
        graph.param_changed.connect(self._on_param_changed)
        graph.edge_added.connect(self._on_edge_added)
        graph.edge_removed.connect(self._on_edge_removed)
        for node in graph.nodes:
            self._queue.append(partial(self._make_node_item, node.id))
        for edge in graph.edges:
            self._queue.append(partial(self._make_edge_item, edge.id))
        if len(graph) <= self.SYNC_LIMIT:
            self._drain(budget=None)
        else:
            self._pump.start()

    @property
    def is_populated(self) -> bool:
        return not self._populating

    def close(self) -> None:
        """Stop mirroring the graph (the window is done with this scene)."""
        if self._closed:
            return
        self._closed = True
        self._pump.stop()
        self._queue.clear()
        graph = self.graph
        graph.node_added.disconnect(self._on_node_added)
        graph.node_removed.disconnect(self._on_node_removed)
        graph.node_moved.disconnect(self._on_node_moved)
        graph.node_renamed.disconnect(self._on_node_changed)
        graph.param_changed.disconnect(self._on_param_changed)
        graph.edge_added.disconnect(self._on_edge_added)
        graph.edge_removed.disconnect(self._on_edge_removed)

    def _drain(self, budget: float | None = SLICE_SECONDS) -> None:
        """Run queued work until the time budget is spent; come back on the next turn."""
        deadline = None if budget is None else time.perf_counter() + budget
        queue = self._queue
        while queue:
            queue.popleft()()
            if deadline is not None and time.perf_counter() > deadline:
                break
        if queue and not self._closed:
            self._pump.start()
        elif self._populating:
            self._populating = False
            self.populated.emit()

    # ----------------------------------------------------------------- items
    def _make_node_item(self, node_id: str) -> None:
        if node_id in self.graph and node_id not in self.nodes:
            self._add_node_item(self.graph.node(node_id))

    def _make_edge_item(self, edge_id: str) -> None:
        if edge_id in self.edges:
            return
        try:
            edge = self.graph.edge(edge_id)
        except GraphEditError:
            return  # removed before its turn came
        if edge.src in self.nodes and edge.dst in self.nodes:
            self._add_edge_item(edge)

    def _add_node_item(self, node: Node) -> NodeItem:
        item = NodeItem(self.graph, node)
        self.nodes[node.id] = item
        self._edges_by_node.setdefault(node.id, set())
        self.addItem(item)
        if self.report is not None:
            self._apply_node_report(item, self.report)
        return item

    def _add_edge_item(self, edge: Edge) -> EdgeItem:
        item = EdgeItem(edge, self.nodes[edge.src], self.nodes[edge.dst])
        self.edges[edge.id] = item
        self._edges_by_node[edge.src].add(edge.id)
        self._edges_by_node[edge.dst].add(edge.id)
        self.addItem(item)
        if self.report is not None:
            self._apply_edge_report(item, self.report)
        return item

    def node_item_moved(self, item: NodeItem) -> None:
        for edge_id in self._edges_by_node.get(item.node_id, ()):
            self.edges[edge_id].update_geometry()

    def refresh_edges_of(self, node_id: str) -> None:
        for edge_id in self._edges_by_node.get(node_id, ()):
            self.edges[edge_id].update()

    def edges_of(self, node_id: str) -> list[EdgeItem]:
        return [self.edges[e] for e in self._edges_by_node.get(node_id, ())]

    def selected_node_ids(self) -> list[str]:
        return [item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)]

    def select_node(self, node_id: str) -> NodeItem | None:
        item = self.nodes.get(node_id)
        if item is None:
            return None
        self.clearSelection()
        item.setSelected(True)
        return item

    # ----------------------------------------------------------------- analysis
    def apply_report(self, report: ShapeReport) -> None:
        """Show shapes and problems; items the report does not know (newer edits) are left as is.

        Items made later pick the report up as they are made; a large scene is updated in
        slices like its population.
        """
        self.report = report
        node_ids, edge_ids = list(self.nodes), list(self.edges)
        if len(node_ids) + len(edge_ids) <= 2 * self.SYNC_LIMIT:
            self._apply_slice(report, node_ids, edge_ids)
            return
        step = 100
        for i in range(0, len(node_ids), step):
            self._queue.append(partial(self._apply_slice, report, node_ids[i : i + step], []))
        for i in range(0, len(edge_ids), step):
            self._queue.append(partial(self._apply_slice, report, [], edge_ids[i : i + step]))
        if not self._pump.isActive():
            self._pump.start()

    def _apply_slice(self, report: ShapeReport, node_ids: list[str], edge_ids: list[str]) -> None:
        if report is not self.report:
            return  # a newer report has arrived
        for node_id in node_ids:
            item = self.nodes.get(node_id)
            if item is not None:
                self._apply_node_report(item, report)
        for edge_id in edge_ids:
            edge_item = self.edges.get(edge_id)
            if edge_item is not None:
                self._apply_edge_report(edge_item, report)

    def _apply_node_report(self, item: NodeItem, report: ShapeReport) -> None:
        node_id = item.node_id
        if node_id not in report.inputs:
            return
        spec = self.graph.spec(node_id)
        if spec.role == "output":
            known = [s for s in report.inputs[node_id] if s is not None]
            shape = shape_text(known[0]) if known else None
        else:
            outputs = report.outputs.get(node_id) or {}
            shape = shape_text(next(iter(outputs.values()))) if outputs else None
        item.set_analysis(shape, report.problem_for(node_id))

    def _apply_edge_report(self, item: EdgeItem, report: ShapeReport) -> None:
        if item.source.node_id not in report.inputs:
            return
        shapes = report.outputs.get(item.source.node_id)
        shape = None if shapes is None else shapes.get(item.src_port)
        if shape is None:
            item.set_shape(None)
        else:
            item.set_shape(compact_shape_text(shape), f"{shape_text(shape)} {shape.dtype}")

    # ----------------------------------------------------------------- moves
    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.commit_moves(self.selectedItems())

    def commit_moves(self, items: Iterable[QGraphicsItem]) -> None:
        """Write the positions of dragged cards into the document."""
        for item in items:
            if not isinstance(item, NodeItem) or item.node_id not in self.graph:
                continue
            x = max(-MAX_COORDINATE, min(MAX_COORDINATE, round(item.pos().x(), 2)))
            y = max(-MAX_COORDINATE, min(MAX_COORDINATE, round(item.pos().y(), 2)))
            if (x, y) != self.graph.node(item.node_id).position:
                self.graph.move_node(item.node_id, (x, y))

    # ----------------------------------------------------------------- graph events
    def _on_node_added(self, node: Node) -> None:
        if self._populating:
            self._queue.append(partial(self._make_node_item, node.id))
        else:
            self._add_node_item(node)

    def _on_node_removed(self, node: Node) -> None:
        item = self.nodes.pop(node.id, None)
        self._edges_by_node.pop(node.id, None)
        if item is not None:
            self.removeItem(item)

    def _on_node_moved(self, node_id: str, position: tuple[float, float]) -> None:
        item = self.nodes.get(node_id)
        if item is not None and (item.pos().x(), item.pos().y()) != position:
            item.setPos(*position)

    def _on_node_changed(self, node_id: str, *_: object) -> None:
        item = self.nodes.get(node_id)
        if item is not None:
            item.refresh_content()
            self.node_item_moved(item)

    def _on_param_changed(self, node_id: str, name: str, value: object) -> None:
        self._on_node_changed(node_id)

    def _on_edge_added(self, edge: Edge) -> None:
        if edge.src in self.nodes and edge.dst in self.nodes:
            self._add_edge_item(edge)
        else:
            self._queue.append(partial(self._make_edge_item, edge.id))

    def _on_edge_removed(self, edge: Edge) -> None:
        item = self.edges.pop(edge.id, None)
        for node_id in (edge.src, edge.dst):
            self._edges_by_node.get(node_id, set()).discard(edge.id)
        if item is not None:
            self.removeItem(item)


class GraphView(QGraphicsView):
    """Pan (middle drag, or space + drag), zoom (wheel, 0.1x to 4x), fit; a dotted grid."""

    zoom_changed = Signal(float)

    MIN_ZOOM = 0.1
    MAX_ZOOM = 4.0
    # Opening a graph: fit it when it stays readable at this zoom, else start at its inputs.
    READABLE_ZOOM = 0.55
    START_ZOOM = 0.85
    GRID = 24.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        limit = MAX_COORDINATE + 2000
        # A fixed, generous scene rect lets the user pan past the graph's edges.
        self.setSceneRect(QRectF(-limit, -limit, 2 * limit, 2 * limit))
        self.placeholder = ""
        self._space_held = False
        self._pan_from: QPointF | None = None
        self._grid_pen = _cosmetic_pen(theme.GRID_DOT, 1.8)
        self._grid_pen.setCapStyle(Qt.PenCapStyle.RoundCap)

    # ----------------------------------------------------------------- zoom
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float) -> None:
        target = min(self.MAX_ZOOM, max(self.MIN_ZOOM, zoom))
        current = self.zoom
        if math.isclose(target, current, rel_tol=1e-9):
            return
        self.scale(target / current, target / current)
        self.zoom_changed.emit(self.zoom)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if delta == 0:
            event.ignore()
            return
        self.set_zoom(self.zoom * 1.0015**delta)
        event.accept()

    def _graph_rect(self) -> QRectF:
        scene = self.scene()
        return scene.itemsBoundingRect() if scene is not None else QRectF()

    def fit_to_view(self, *, max_zoom: float = 1.25) -> None:
        """Show the whole graph (within the zoom limits), centred."""
        rect = self._graph_rect()
        if rect.isEmpty():
            self.resetTransform()
            self.centerOn(0, 0)
            self.zoom_changed.emit(self.zoom)
            return
        rect = rect.adjusted(-40, -40, 40, 40)
        self._set_zoom_centred(self._fitting_zoom(rect, max_zoom), rect.center())

    def frame_graph(self) -> None:
        """The view on opening a graph: all of it if readable, else its inputs, readable."""
        rect = self._graph_rect()
        if rect.isEmpty():
            self.fit_to_view()
            return
        padded = rect.adjusted(-40, -40, 40, 40)
        zoom = self._fitting_zoom(padded, 1.25)
        if zoom >= self.READABLE_ZOOM:
            self._set_zoom_centred(zoom, padded.center())
            return
        zoom = max(self.START_ZOOM, zoom)
        visible_w = self.viewport().width() / zoom
        visible_h = self.viewport().height() / zoom
        x = padded.left() + visible_w / 2
        y = padded.center().y() if padded.height() <= visible_h else padded.top() + visible_h / 2
        self._set_zoom_centred(zoom, QPointF(x, y))

    def _fitting_zoom(self, rect: QRectF, max_zoom: float) -> float:
        viewport = self.viewport().rect()
        zoom = min(viewport.width() / rect.width(), viewport.height() / rect.height())
        return min(max_zoom, self.MAX_ZOOM, max(self.MIN_ZOOM, zoom))

    def _set_zoom_centred(self, zoom: float, centre: QPointF) -> None:
        self.resetTransform()
        self.scale(zoom, zoom)
        self.centerOn(centre)
        self.zoom_changed.emit(self.zoom)

    def centre_on_item(self, item: QGraphicsItem) -> None:
        if self.zoom < self.READABLE_ZOOM:
            self._set_zoom_centred(self.START_ZOOM, item.sceneBoundingRect().center())
        else:
            self.centerOn(item)

    # ----------------------------------------------------------------- panning
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            if self._pan_from is None:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space_held
        ):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan_by(delta.x(), delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            if self._space_held:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the content by (dx, dy) viewport pixels."""
        horizontal, vertical = self.horizontalScrollBar(), self.verticalScrollBar()
        horizontal.setValue(horizontal.value() - round(dx))
        vertical.setValue(vertical.value() - round(dy))

    # ----------------------------------------------------------------- drawing
    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        rect = QRectF(rect)
        painter.fillRect(rect, theme.BACKGROUND)
        zoom = self.zoom
        spacing = self.GRID
        while spacing * zoom < 14:
            spacing *= 2
        left = math.floor(rect.left() / spacing) * spacing
        top = math.floor(rect.top() / spacing) * spacing
        columns = int((rect.right() - left) / spacing) + 1
        rows = int((rect.bottom() - top) / spacing) + 1
        if columns * rows > 40_000:
            return
        points = QPolygonF(
            [
                QPointF(left + i * spacing, top + j * spacing)
                for j in range(rows)
                for i in range(columns)
            ]
        )
        painter.setPen(self._grid_pen)
        painter.drawPoints(points)

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        if not self.placeholder:
            return
        scene = self.scene()
        if scene is not None and scene.items():
            return
        painter.save()
        painter.resetTransform()
        painter.setFont(theme.canvas_fonts().placeholder)
        painter.setPen(theme.TEXT_MUTED)
        painter.drawText(
            QRectF(self.viewport().rect()), Qt.AlignmentFlag.AlignCenter, self.placeholder
        )
        painter.restore()
