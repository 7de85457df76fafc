"""The canvas: a scene that mirrors a core `Graph` through its events, and the view onto it.

`GraphScene` keeps one `NodeItem` per node and one `EdgeItem` per edge, keyed by their
persistent ids, and holds nothing the document does not have except geometry and the
latest analysis (shapes and problems, which it only displays). Every edit made on the canvas
(a finished drag, a connection drawn by mouse, delete, paste, a dropped layer, auto-layout)
is a core command handed to `GraphScene.push` (the window's undoable `MainWindow.push`); the
scene changes only when the document's events say so.

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Literal, cast

from PySide6.QtCore import QLineF, QMimeData, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
    QRegion,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QToolTip,
    QWidget,
)

from studio.compile.inference import Problem
from studio.core.clipboard import PasteCommand, copy_nodes, dumps, loads, paste_command
from studio.core.commands import (
    AddNodeCommand,
    Command,
    ConnectCommand,
    DisconnectCommand,
    MacroCommand,
    MoveNodesCommand,
    RemoveNodeCommand,
)
from studio.core.errors import GraphEditError, StudioError
from studio.core.graph import MAX_COORDINATE, Edge, Graph, Node, Position
from studio.core.layout import Direction, layered_layout
from studio.core.specs import ParamValue
from studio.core.units import human_count
from studio.ui import theme
from studio.ui.analysis import ShapeReport, compact_shape_text, shape_text
from studio.ui.minimap import Minimap, Overview

# The palette drags a layer with this mime type; its data is the layer's type id (utf-8).
LAYER_MIME = "application/x-strata-layer"
# Copied layers on the system clipboard: the JSON of `studio.core.clipboard.copy_nodes`.
NODES_MIME = "application/x-strata-nodes"

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
# A press this close to a port (scene units, and at least `PORT_HIT_PIXELS` on screen, up to
# `PORT_HIT_MAX`) starts a connection instead of moving the card.
PORT_HIT = 8.0
PORT_HIT_PIXELS = 7.0
PORT_HIT_MAX = 20.0
# An edge can be clicked this far (scene units) from its line.
EDGE_HIT_WIDTH = 10.0

PortKind = Literal["in", "out"]

_NO_PEN = QPen(Qt.PenStyle.NoPen)
_POSITION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_SELECTION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged


def _cosmetic_pen(colour: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)
    return pen


@dataclass(frozen=True)
class _Pens:
    """The pens and brushes the canvas paints with, made once per theme (see `_pens`)."""

    card: QPen
    selected: QPen
    separator: QPen
    port: QPen
    edge: QPen
    edge_unknown: QPen
    edge_highlighted: QPen
    edge_selected: QPen
    pending: QPen
    target: QPen
    grid: QPen
    card_brush: QBrush
    input_port_brush: QBrush
    target_brush: QBrush
    text: QPen
    muted: QPen
    error: QPen
    badge_text: QPen


def _make_pens() -> _Pens:
    grid = _cosmetic_pen(theme.GRID_DOT, 1.8)
    grid.setCapStyle(Qt.PenCapStyle.RoundCap)
    return _Pens(
        card=_cosmetic_pen(theme.CARD_BORDER, 1.0),
        selected=_cosmetic_pen(theme.CARD_SELECTED, 2.0),
        separator=QPen(theme.SEPARATOR, 1.0),
        port=_cosmetic_pen(theme.BACKGROUND, 1.5),
        edge=_cosmetic_pen(theme.EDGE, 1.6),
        edge_unknown=_cosmetic_pen(theme.EDGE, 1.4, Qt.PenStyle.DashLine),
        edge_highlighted=_cosmetic_pen(theme.EDGE_SELECTED, 2.2),
        edge_selected=_cosmetic_pen(theme.EDGE_SELECTED, 3.4),
        pending=_cosmetic_pen(theme.EDGE_SELECTED, 2.0, Qt.PenStyle.DashLine),
        target=_cosmetic_pen(theme.EDGE_SELECTED, 2.0),
        grid=grid,
        card_brush=QBrush(theme.CARD),
        input_port_brush=QBrush(theme.PORT_INPUT),
        target_brush=QBrush(theme.EDGE_SELECTED),
        text=QPen(theme.TEXT),
        muted=QPen(theme.TEXT_MUTED),
        error=QPen(theme.ERROR),
        badge_text=QPen(theme.BACKGROUND),
    )


# Made on first use and again after a theme switch; painting allocates no pens.
_pens = theme.per_theme(_make_pens)


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
        self._problem: Problem | None = None
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(2)
        self.hide()

    def set_problem(self, problem: Problem | None) -> None:
        self._problem = problem
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

    def restyle(self) -> None:
        """Take the current theme's colours."""
        self.set_problem(self._problem)

    def boundingRect(self) -> QRectF:
        half = self.SIZE / 2 + 1
        return QRectF(-half, -half, 2 * half, 2 * half)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        half = self.SIZE / 2
        pens = _pens()
        painter.setPen(pens.port)
        painter.setBrush(self._brush)
        painter.drawEllipse(QPointF(0, 0), half, half)
        painter.setPen(pens.badge_text)
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
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.badge = BadgeItem(self)
        self._over_port = False
        self.problem: Problem | None = None
        self.shape_text = "…"
        self._shape_known = False
        self._title = ""
        self._subtitle = ""
        self.params_text = ""
        self._params_drawn = ""
        self._params: list[tuple[str, str]] = []
        self._rect = QRectF()
        self._card = QPainterPath()
        self._stripe = QPainterPath()
        self._colour = QColor()
        self._rgba = 0
        self._colour_brush = QBrush()
        self._colour_pen = QPen()
        self._overview_brush = QBrush()
        self._inputs: dict[str, QPointF] = {}
        self._outputs: dict[str, QPointF] = {}
        # A value painted over the card (e.g. layer conductance from the Explain tab).
        self.heat: float | None = None
        self._heat_colour = QColor()
        self._heat_text = ""
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
        owner = None
        if node.shares is not None and node.shares in self._graph:
            owner = self._graph.node(node.shares).name
        # A tied layer says whose weights it uses: "Conv2d = tower_0".
        subtitle = spec.title if owner is None else f"{spec.title} = {owner}"
        self._subtitle = _elided("subtitle", subtitle, text_width)
        self._fit_param_text()
        params: list[tuple[str, str]] = []
        for name in spec.key_params:
            if name not in node.params:
                continue
            value = _elided("body", format_param(node.params[name]), text_width * 0.6)
            label_width = text_width - _advance("body", value) - 6
            params.append((_elided("body", name, label_width), value))
        self._params = params
        self._colour = theme.category_colour(spec.category)
        self._rgba = self._colour.rgba()
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
        tip = f"<b>{node.name}</b> — {spec.title}<br>{html.escape(spec.help)}"
        if owner is not None:
            tip += f"<br>Uses the weights of <b>{html.escape(owner)}</b> (tied)."
        if self._heat_text:
            tip += f"<br><b>{html.escape(self._heat_text)}</b>"
        self.setToolTip(tip)
        self.update()

    def set_heat(self, value: float | None, colour: QColor | None = None, text: str = "") -> None:
        """Tint the card with `colour` (None: no tint); `text` joins the tooltip."""
        self.heat = value
        self._heat_colour = QColor(colour) if colour is not None and value is not None else QColor()
        self._heat_text = text if value is not None else ""
        self.refresh_content()

    def set_analysis(self, shape: str | None, problem: Problem | None) -> None:
        """Show the latest inferred shape (None: unknown) and the node's problem, if any."""
        self._shape_known = shape is not None
        text = shape if shape is not None else "shape unknown"
        self.shape_text = _elided("shape", text, CARD_WIDTH - 2 * PAD_X)
        self.problem = problem
        self.badge.set_problem(problem)
        self.update()

    def set_param_count(self, count: int | None) -> None:
        """Show how many parameters the layer has (from the summary); None or 0 hides it."""
        text = f"{human_count(count)} params" if count else ""
        if text != self.params_text:
            self.params_text = text
            self._fit_param_text()
            self.update()

    def _fit_param_text(self) -> None:
        """What fits beside the type name: "2.30k params", else "2.30k", else nothing."""
        self._params_drawn = ""
        if not self.params_text:
            return
        room = CARD_WIDTH - 2 * PAD_X - _advance("subtitle", self._subtitle) - 8
        for text in (self.params_text, self.params_text.removesuffix(" params")):
            if _advance("subtitle", text) <= room:
                self._params_drawn = text
                return

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

    def port_positions(self, kind: PortKind) -> dict[str, QPointF]:
        """Scene position of each input (``"in"``) or output (``"out"``) port, in order."""
        ports = self._inputs if kind == "in" else self._outputs
        origin = self.pos()
        return {name: origin + local for name, local in ports.items()}

    def port_near(self, scene_pos: QPointF, radius: float) -> tuple[PortKind, str] | None:
        """The port closest to `scene_pos` within `radius`, as (kind, name)."""
        local = scene_pos - self.pos()
        best: tuple[PortKind, str] | None = None
        best_distance = radius * radius
        kinds: tuple[tuple[PortKind, dict[str, QPointF]], ...] = (
            ("in", self._inputs),
            ("out", self._outputs),
        )
        for kind, ports in kinds:
            for name, point in ports.items():
                dx, dy = point.x() - local.x(), point.y() - local.y()
                distance = dx * dx + dy * dy
                if distance <= best_distance:
                    best, best_distance = (kind, name), distance
        return best

    @property
    def colour(self) -> QColor:
        """The colour of the layer's category."""
        return QColor(self._colour)

    @property
    def category_rgba(self) -> int:
        """The category colour as one number (a cheap key to group cards by colour)."""
        return self._rgba

    def scene_card_rect(self) -> QRectF:
        return self._rect.translated(self.pos())

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        # A cross over a port says "drag from here to connect".
        over = self.port_near(event.scenePos(), PORT_HIT) is not None
        if over != self._over_port:
            self._over_port = over
            if over:
                self.setCursor(Qt.CursorShape.CrossCursor)
            else:
                self.unsetCursor()
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        if self._over_port:
            self._over_port = False
            self.unsetCursor()
        super().hoverLeaveEvent(event)

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
        pens = _pens()
        painter.setPen(pens.selected if self.isSelected() else pens.card)
        # Zoomed out, a card tinted with its category keeps the network's structure legible.
        painter.setBrush(pens.card_brush if readable else self._overview_brush)
        painter.drawPath(self._card)
        painter.setPen(_NO_PEN)
        painter.setBrush(self._colour_brush)
        painter.drawPath(self._stripe)
        if readable:
            self._paint_text(painter, pens)
        self._paint_ports(painter, pens)
        if self.heat is not None:
            self._paint_heat(painter)

    def _paint_heat(self, painter: QPainter) -> None:
        fill = QColor(self._heat_colour)
        fill.setAlphaF(0.22 * self._heat_colour.alphaF())
        painter.setBrush(fill)
        painter.setPen(QPen(self._heat_colour, 4))
        painter.drawPath(self._card)

    def _paint_text(self, painter: QPainter, pens: _Pens) -> None:
        fonts = theme.canvas_fonts()
        left = self._rect.left() + PAD_X
        right = self._rect.right() - PAD_X
        y = self._rect.top() + PAD_TOP
        painter.setFont(fonts.title)
        painter.setPen(pens.text)
        painter.drawText(QPointF(left, y + fonts.title_metrics.ascent()), self._title)
        y += TITLE_LINE
        painter.setFont(fonts.subtitle)
        painter.setPen(self._colour_pen)
        painter.drawText(QPointF(left, y + fonts.subtitle_metrics.ascent()), self._subtitle)
        if self._params_drawn:
            painter.setPen(pens.muted)
            width = _advance("subtitle", self._params_drawn)
            painter.drawText(
                QPointF(right - width, y + fonts.subtitle_metrics.ascent()), self._params_drawn
            )
        y += SUBTITLE_LINE
        painter.setFont(fonts.body)
        ascent = fonts.body_metrics.ascent()
        for name, value in self._params:
            painter.setPen(pens.muted)
            painter.drawText(QPointF(left, y + ascent), name)
            painter.setPen(pens.text)
            painter.drawText(QPointF(right - _advance("body", value), y + ascent), value)
            y += PARAM_LINE
        y += SEPARATOR_GAP
        painter.setPen(pens.separator)
        painter.drawLine(
            QPointF(self._rect.left() + STRIPE_WIDTH, y), QPointF(self._rect.right(), y)
        )
        y += SEPARATOR_GAP
        painter.setFont(fonts.shape)
        if self.problem is not None and self.problem.severity == "error":
            painter.setPen(pens.error)
        elif self._shape_known:
            painter.setPen(pens.text)
        else:
            painter.setPen(pens.muted)
        painter.drawText(QPointF(left, y + fonts.shape_metrics.ascent()), self.shape_text)

    def _paint_ports(self, painter: QPainter, pens: _Pens) -> None:
        painter.setPen(pens.port)
        painter.setBrush(pens.input_port_brush)
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


def _bezier(start: QPointF, end: QPointF) -> tuple[QPainterPath, QPointF]:
    """The curve from an output port to an input port, and its middle.

    The control points mirror each other about the middle, so the curve's halfway point in
    length is its point at t = 0.5: exact, without `pointAtPercent`'s costly length search.
    """
    forward = end.x() - start.x()
    reach = max(abs(forward) * 0.5, 40.0) if forward > 0 else max(-forward * 0.3, 90.0)
    c1 = QPointF(start.x() + reach, start.y())
    c2 = QPointF(end.x() - reach, end.y())
    path = QPainterPath(start)
    path.cubicTo(c1, c2, end)
    middle = QPointF(
        (start.x() + 3 * c1.x() + 3 * c2.x() + end.x()) / 8,
        (start.y() + 3 * c1.y() + 3 * c2.y() + end.y()) / 8,
    )
    return path, middle


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
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)
        self._middle = QPointF()
        self._hit_shape: QPainterPath | None = None
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
        self._hit_shape = None
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
            path, self._label_anchor = _bezier(start, end)
        self._middle = self._label_anchor
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

    @property
    def middle(self) -> QPointF:
        """The point halfway along the edge (where its label sits)."""
        return QPointF(self._middle)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        # Stroked on first use only: most edges are never clicked.
        if self._hit_shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(EDGE_HIT_WIDTH)
            self._hit_shape = stroker.createStroke(self._path)
        return self._hit_shape

    def collidesWithPath(
        self,
        path: QPainterPath,
        mode: Qt.ItemSelectionMode = Qt.ItemSelectionMode.IntersectsItemShape,
    ) -> bool:
        """A rubber band catches an edge when it covers the edge's middle.

        Testing the stroked curve against the band would cost far more on a large graph, and
        would catch every long edge that merely passes through the band.
        """
        if not path.contains(self._middle):
            return False
        if mode in (
            Qt.ItemSelectionMode.ContainsItemShape,
            Qt.ItemSelectionMode.ContainsItemBoundingRect,
        ):  # the whole edge inside: both its ends too
            start = self._path.elementAt(0)
            return path.contains(QPointF(start.x, start.y)) and path.contains(
                self._path.currentPosition()
            )
        return True

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        highlighted = self.source.isSelected() or self.target.isSelected() or self.isSelected()
        pens = _pens()
        if self.isSelected():
            painter.setPen(pens.edge_selected)
        elif highlighted:
            painter.setPen(pens.edge_highlighted)
        else:
            painter.setPen(pens.edge if self._shape_known else pens.edge_unknown)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if not self.label:
            return
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod < LABEL_LOD:
            return
        painter.setFont(theme.canvas_fonts().label)
        painter.setPen(pens.text if highlighted else pens.muted)
        painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


class PortTargetsItem(QGraphicsItem):
    """Rings on every port a connection being dragged may end on: one item, not one per port."""

    RING = PORT_RADIUS + 2.5

    def __init__(self, points: Iterable[QPointF]) -> None:
        super().__init__()
        self._points = list(points)
        self._hover: QPointF | None = None
        self.setZValue(3)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        margin = self.RING + 2
        if self._points:
            xs = [p.x() for p in self._points]
            ys = [p.y() for p in self._points]
            area = QRectF(QPointF(min(xs), min(ys)), QPointF(max(xs), max(ys)))
            self._bounds = area.adjusted(-margin, -margin, margin, margin)
        else:
            self._bounds = QRectF()

    @property
    def points(self) -> list[QPointF]:
        return list(self._points)

    @property
    def hover(self) -> QPointF | None:
        return self._hover

    def set_hover(self, point: QPointF | None) -> None:
        """Fill the ring the connection would end on (None: none)."""
        if point == self._hover:
            return
        margin = self.RING + 2
        for old_or_new in (self._hover, point):
            if old_or_new is not None:
                x, y = old_or_new.x(), old_or_new.y()
                self.update(QRectF(x - margin, y - margin, 2 * margin, 2 * margin))
        self._hover = point

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return QPainterPath()  # never in the way of a click

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        margin = self.RING + 2
        exposed = option.exposedRect.adjusted(-margin, -margin, margin, margin)
        pens = _pens()
        painter.setPen(pens.target)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for point in self._points:
            if exposed.contains(point):
                painter.drawEllipse(point, self.RING, self.RING)
        if self._hover is not None:
            painter.setBrush(pens.target_brush)
            painter.drawEllipse(self._hover, self.RING, self.RING)


@dataclass
class _ConnectionDrag:
    """A connection being drawn by mouse: where it starts and what it may end on."""

    anchor: NodeItem
    kind: PortKind  # the kind of port it starts from; it ends on the other kind
    port: str
    targets: dict[tuple[str, str], QPointF]  # (node id, port) -> scene position
    preview: QGraphicsPathItem
    rings: PortTargetsItem
    # Dragged off the input port it fed: hidden meanwhile, removed or moved on release.
    detached: EdgeItem | None = None


class _Refused(Command):
    """An edit refused while its command was being made (a connection check, say).

    Doing it raises that refusal again, so `push` reports it as it reports every refusal
    (status bar, `edit_refused`) and records nothing.
    """

    def __init__(self, error: StudioError) -> None:
        self.error = error
        self.text = "Refused"

    def do(self) -> None:
        raise self.error

    def undo(self) -> None:
        pass


def _storable(point: QPointF) -> Position:
    """A scene point as a node position the project file can hold."""
    x = max(-MAX_COORDINATE, min(MAX_COORDINATE, round(point.x(), 2)))
    y = max(-MAX_COORDINATE, min(MAX_COORDINATE, round(point.y(), 2)))
    return (x, y)


# Node tints of `GraphScene.set_node_heat`: the diverging ends of the explain heatmaps.
HEAT_POSITIVE = (214, 39, 40)
HEAT_NEGATIVE = (33, 102, 172)


class GraphScene(QGraphicsScene):
    """Mirrors one `Graph`: items appear, move and vanish as the graph's events say.

    A large graph is mirrored in slices of about `SLICE_SECONDS` per turn of the event loop
    (and so is a new analysis report), so opening thousands of nodes never freezes the
    window; `populated` says when every item exists. Graph events that arrive meanwhile are
    honoured: a slice always reads the document as it is when it runs. Likewise a burst of
    events (a large graph laid out or pasted, or that undone): the first `BURST_LIMIT` of a
    turn of the event loop are mirrored at once, the rest in slices; `moves_applied` says
    when the cards are all where the document has them after a burst of moves.

    Edits go through `push` (set by the window to `MainWindow.push`, which records them for
    undo and reports refusals); without it, commands are done directly.
    """

    populated = Signal()
    moves_applied = Signal()
    # Cards or connections appeared, vanished or moved: an overview of the scene is stale.
    overview_changed = Signal()

    # Up to this many items are made (or updated) at once; beyond, in slices.
    SYNC_LIMIT = 300
    # Up to this many graph events are mirrored at once per turn of the event loop.
    BURST_LIMIT = 100
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
        self.push: Callable[[Command], bool] | None = None
        self._connection: _ConnectionDrag | None = None
        # While not None, edges to re-route once a batch of moves is over (see batched_geometry).
        self._deferred_edges: set[str] | None = None
        self._overview_stale = False
        # Graph events mirrored at once in this turn of the event loop (see `_mirror_now`).
        self._events_this_turn = 0
        self._pending_moves: set[str] = set()
        # While a burst of moves is mirrored, edges are re-routed only once it is over: an
        # edge with one end moved and the other not yet would span the scene, and the scene's
        # index pays for every such rectangle.
        self._in_burst = False
        self._reroute: set[str] = set()
        self._turn = QTimer(self)
        self._turn.setSingleShot(True)
        self._turn.setInterval(0)
        self._turn.timeout.connect(self._new_turn)
        self.setBackgroundBrush(theme.BACKGROUND)
        graph.node_added.connect(self._on_node_added)
        graph.node_removed.connect(self._on_node_removed)
        graph.node_moved.connect(self._on_node_moved)
        graph.node_renamed.connect(self._on_node_changed)
        graph.param_changed.connect(self._on_param_changed)
        graph.shares_changed.connect(self._on_node_changed)
        graph.edge_added.connect(self._on_edge_added)
        graph.edge_removed.connect(self._on_edge_removed)
        theme.notifier().theme_changed.connect(self._on_theme_changed)
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
        self.cancel_connection()
        self._pump.stop()
        self._queue.clear()
        graph = self.graph
        graph.node_added.disconnect(self._on_node_added)
        graph.node_removed.disconnect(self._on_node_removed)
        graph.node_moved.disconnect(self._on_node_moved)
        graph.node_renamed.disconnect(self._on_node_changed)
        graph.param_changed.disconnect(self._on_param_changed)
        graph.shares_changed.disconnect(self._on_node_changed)
        graph.edge_added.disconnect(self._on_edge_added)
        graph.edge_removed.disconnect(self._on_edge_removed)
        theme.notifier().theme_changed.disconnect(self._on_theme_changed)

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
            if self._overview_stale:
                self.overview_changed.emit()
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
        self.touch_overview()
        return item

    def _add_edge_item(self, edge: Edge) -> EdgeItem:
        item = EdgeItem(edge, self.nodes[edge.src], self.nodes[edge.dst])
        self.edges[edge.id] = item
        self._edges_by_node[edge.src].add(edge.id)
        self._edges_by_node[edge.dst].add(edge.id)
        self.addItem(item)
        if self.report is not None:
            self._apply_edge_report(item, self.report)
        self.touch_overview()
        return item

    def node_item_moved(self, item: NodeItem) -> None:
        edge_ids = self._edges_by_node.get(item.node_id, ())
        if self._in_burst:
            self._reroute.update(edge_ids)
        elif self._deferred_edges is not None:
            self._deferred_edges.update(edge_ids)
        else:
            for edge_id in edge_ids:
                self.edges[edge_id].update_geometry()
        self.touch_overview()

    @contextmanager
    def batched_geometry(self) -> Iterator[None]:
        """Within the block, an edge whose two ends both move is re-routed once, at the end."""
        if self._deferred_edges is not None:
            yield
            return
        self._deferred_edges = set()
        try:
            yield
        finally:
            pending, self._deferred_edges = self._deferred_edges, None
            if self._in_burst:
                self._reroute |= pending
            else:
                for edge_id in pending:
                    edge = self.edges.get(edge_id)
                    if edge is not None:
                        edge.update_geometry()

    def refresh_edges_of(self, node_id: str) -> None:
        for edge_id in self._edges_by_node.get(node_id, ()):
            self.edges[edge_id].update()

    def edges_of(self, node_id: str) -> list[EdgeItem]:
        return [self.edges[e] for e in self._edges_by_node.get(node_id, ())]

    def selected_node_ids(self) -> list[str]:
        return [item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)]

    def selected_edge_ids(self) -> list[str]:
        return [item.edge_id for item in self.selectedItems() if isinstance(item, EdgeItem)]

    def select(
        self, node_ids: Iterable[str] = (), edge_ids: Iterable[str] = (), *, clear: bool = True
    ) -> None:
        """Select these nodes and edges with one `selectionChanged`, not one per item."""
        before = set(self.selectedItems())
        self.blockSignals(True)
        try:
            if clear:
                self.clearSelection()
            for node_id in node_ids:
                node_item = self.nodes.get(node_id)
                if node_item is not None:
                    node_item.setSelected(True)
            for edge_id in edge_ids:
                edge_item = self.edges.get(edge_id)
                if edge_item is not None:
                    edge_item.setSelected(True)
        finally:
            self.blockSignals(False)
        if set(self.selectedItems()) != before:
            self.selectionChanged.emit()

    def select_all(self) -> None:
        self.select(self.nodes, self.edges)

    def select_node(self, node_id: str) -> NodeItem | None:
        item = self.nodes.get(node_id)
        if item is None:
            return None
        self.clearSelection()
        item.setSelected(True)
        return item

    # ----------------------------------------------------------------- analysis
    def set_node_heat(self, values: dict[str, float] | None, label: str = "value") -> None:
        """Tint node cards by a value per node id (None clears every tint).

        Values are scaled by the largest magnitude: positive red, negative blue, stronger
        colour for larger magnitude; each card's tooltip gives `label` and its value.
        """
        values = values or {}
        scale = max((abs(v) for v in values.values()), default=0.0) or 1.0
        for node_id, item in self.nodes.items():
            value = values.get(node_id)
            if value is None:
                if item.heat is not None:
                    item.set_heat(None)
                continue
            colour = QColor(*(HEAT_POSITIVE if value >= 0 else HEAT_NEGATIVE))
            colour.setAlphaF(0.35 + 0.65 * min(1.0, abs(value) / scale))
            item.set_heat(value, colour, f"{label}: {value:+.4g}")

    def node_heat(self) -> dict[str, float]:
        """The values the cards are tinted by now."""
        return {nid: item.heat for nid, item in self.nodes.items() if item.heat is not None}

    def apply_param_counts(self, counts: dict[str, int]) -> None:
        """Put each layer's parameter count on its card (nodes not in `counts` show none)."""
        for node_id, item in self.nodes.items():
            item.set_param_count(counts.get(node_id))

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

    # ----------------------------------------------------------------- edits
    def _push(self, command: Command) -> bool:
        if self.push is not None:
            return self.push(command)
        try:
            command.do()
        except StudioError:
            return False
        return True

    def report_refusal(self, error: StudioError) -> None:
        """Report an edit refused before any command existed, as `push` reports refusals."""
        self._push(_Refused(error))

    def _submit(self, make: Callable[[], Command]) -> tuple[Command | None, str]:
        """Make a command (its checks may refuse) and push it: the command done, or the refusal."""
        try:
            command = make()
        except StudioError as exc:
            self._push(_Refused(exc))
            return None, str(exc)
        return (command, "") if self._push(command) else (None, "")

    def commit_moves(self, items: Iterable[QGraphicsItem]) -> bool:
        """Write the positions of dragged cards into the document: one command per drag."""
        moves: dict[str, Position] = {}
        for item in items:
            if isinstance(item, NodeItem) and item.node_id in self.graph:
                position = _storable(item.pos())
                if position != self.graph.node(item.node_id).position:
                    moves[item.node_id] = position
        if not moves:
            return False
        with self.batched_geometry():
            done = self._push(MoveNodesCommand(self.graph, moves))
            if not done:  # the cards go back to where the document has them
                for node_id in moves:
                    self.nodes[node_id].setPos(*self.graph.node(node_id).position)
        return done

    def delete_selection(self, *, verb: str = "Delete") -> bool:
        """Remove the selected nodes (with their connections) and edges as one undo step."""
        chosen = set(self.selected_node_ids())
        node_ids = [node.id for node in self.graph.nodes if node.id in chosen]
        # An edge of a removed node goes with it; disconnecting it here too would fail.
        edge_ids = [
            edge_id
            for edge_id in self.selected_edge_ids()
            if edge_id in self.edges
            and self.edges[edge_id].source.node_id not in chosen
            and self.edges[edge_id].target.node_id not in chosen
        ]
        if not node_ids and not edge_ids:
            return False
        graph = self.graph

        def make() -> Command:
            children: list[Command] = [DisconnectCommand(graph, e) for e in edge_ids]
            children += [RemoveNodeCommand(graph, n) for n in node_ids]
            return MacroCommand(_delete_text(verb, graph, node_ids, edge_ids), children)

        command, _ = self._submit(make)
        return command is not None

    def copy_selection(self) -> dict[str, Any] | None:
        """The selected nodes and the connections among them as plain data (None: none)."""
        node_ids = self.selected_node_ids()
        return copy_nodes(self.graph, node_ids) if node_ids else None

    def paste(
        self, data: Mapping[str, Any], offset: Position = (0.0, 0.0), *, text: str | None = None
    ) -> list[str]:
        """Add copies of copied nodes, offset, and select them; their ids ([] if refused)."""
        command, _ = self._submit(lambda: paste_command(self.graph, data, offset, text=text))
        if not isinstance(command, PasteCommand):
            return []
        self._select_when_shown(command.node_ids)
        return command.node_ids

    def add_layer(self, type_id: str, position: QPointF) -> str | None:
        """Add a layer of this type centred at `position` and select it; its id, or None."""

        def make() -> Command:
            self.graph.registry.get(type_id)  # an unknown type is refused by name
            return AddNodeCommand(self.graph, type_id, position=_storable(position))

        command, _ = self._submit(make)
        if not isinstance(command, AddNodeCommand):
            return None
        self._select_when_shown([command.node_id])
        return command.node_id

    def _select_when_shown(self, node_ids: list[str]) -> None:
        """Select new nodes; those of a burst still to be mirrored once their cards exist."""
        self.select(node_ids)
        if any(node_id not in self.nodes for node_id in node_ids):
            self._queue_work(partial(self.select, node_ids))

    def auto_layout(self, direction: Direction) -> bool:
        """Lay the graph out in layers (one undoable move); False when nothing moved."""
        nodes = self.graph.nodes
        if not nodes:
            return False
        layout = layered_layout(self.graph, direction)
        # The graph stays where it was: the layout's top-left node centre goes to the old one.
        dx = min(n.position[0] for n in nodes) - min(x for x, _ in layout.values())
        dy = min(n.position[1] for n in nodes) - min(y for _, y in layout.values())
        moves: dict[str, Position] = {}
        for node in nodes:
            x, y = layout[node.id]
            target = _storable(QPointF(x + dx, y + dy))
            if target != node.position:
                moves[node.id] = target
        if not moves:
            return False
        command = MoveNodesCommand(self.graph, moves)
        command.text = "Auto-layout " + ("left to right" if direction == "LR" else "top to bottom")
        with self.batched_geometry():
            return self._push(command)

    # ----------------------------------------------------------------- mouse
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._connection is None:
            hit = self.port_at(event.scenePos(), _hit_radius(event))
            if hit is not None:
                self._begin_connection(*hit)
                self._drag_connection(event.scenePos(), _hit_radius(event))
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._connection is not None:
            self._drag_connection(event.scenePos(), _hit_radius(event))
            event.accept()
            return
        # Dragging many cards: an edge between two of them is re-routed once per move.
        with self.batched_geometry():
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._connection is not None:
            if event.button() == Qt.MouseButton.LeftButton:
                self._finish_connection(event)
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.commit_moves(self.selectedItems())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._connection is not None and event.key() == Qt.Key.Key_Escape:
            self.cancel_connection()
            event.accept()
            return
        super().keyPressEvent(event)

    # ----------------------------------------------------------------- connecting
    @property
    def connecting(self) -> bool:
        """Whether a connection is being drawn by mouse."""
        return self._connection is not None

    @property
    def connection_targets(self) -> list[tuple[str, str]]:
        """The (node id, port) pairs the connection being drawn may end on."""
        return list(self._connection.targets) if self._connection is not None else []

    def port_at(
        self, scene_pos: QPointF, radius: float = PORT_HIT
    ) -> tuple[NodeItem, PortKind, str] | None:
        """The port of a card within `radius` of a scene point: (card, kind, port name)."""
        area = QRectF(scene_pos.x() - radius, scene_pos.y() - radius, 2 * radius, 2 * radius)
        for item in self.items(area, Qt.ItemSelectionMode.IntersectsItemBoundingRect):
            if isinstance(item, NodeItem):
                hit = item.port_near(scene_pos, radius)
                if hit is not None:
                    return item, hit[0], hit[1]
        return None

    def _begin_connection(self, item: NodeItem, kind: PortKind, port: str) -> None:
        anchor, anchor_kind, anchor_port = item, kind, port
        detached: EdgeItem | None = None
        if kind == "in":
            feeder = self.graph.incoming(item.node_id).get(port)
            if feeder is not None and feeder.id in self.edges and feeder.src in self.nodes:
                # Pull the connection off this port, to plug it in elsewhere or drop it.
                detached = self.edges[feeder.id]
                anchor, anchor_kind, anchor_port = self.nodes[feeder.src], "out", feeder.src_port
        targets = self._connection_targets(anchor, anchor_kind, detached)
        preview = QGraphicsPathItem()
        preview.setPen(_pens().pending)
        preview.setZValue(3)
        preview.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        rings = PortTargetsItem(targets.values())
        self.addItem(preview)
        self.addItem(rings)
        if detached is not None:
            detached.hide()
        self._connection = _ConnectionDrag(
            anchor, anchor_kind, anchor_port, targets, preview, rings, detached
        )

    def _connection_targets(
        self, anchor: NodeItem, kind: PortKind, detached: EdgeItem | None
    ) -> dict[tuple[str, str], QPointF]:
        """Every port the connection may end on: no cycle, no occupied input."""
        graph = self.graph
        targets: dict[tuple[str, str], QPointF] = {}
        if kind == "out":
            blocked = self._upstream(anchor.node_id)
            freed = detached.edge_id if detached is not None else None
            for node_id, item in self.nodes.items():
                if node_id in blocked:
                    continue
                incoming = graph.incoming(node_id)
                for port, point in item.port_positions("in").items():
                    feeder = incoming.get(port)
                    if feeder is None or feeder.id == freed:
                        targets[(node_id, port)] = point
        else:
            blocked = graph.descendants([anchor.node_id])
            for node_id, item in self.nodes.items():
                if node_id not in blocked:
                    for port, point in item.port_positions("out").items():
                        targets[(node_id, port)] = point
        return targets

    def _upstream(self, node_id: str) -> set[str]:
        """The node and every node that feeds it, directly or not."""
        found = {node_id}
        stack = [node_id]
        while stack:
            for edge in self.graph.incoming(stack.pop()).values():
                if edge.src not in found:
                    found.add(edge.src)
                    stack.append(edge.src)
        return found

    def _target_under(
        self, scene_pos: QPointF, radius: float, drag: _ConnectionDrag
    ) -> tuple[NodeItem, PortKind, str] | None:
        """Where a connection released here would end: a port, or a port of the card here."""
        hit = self.port_at(scene_pos, radius)
        if hit is not None:
            return hit
        card = next((i for i in self.items(scene_pos) if isinstance(i, NodeItem)), None)
        if card is None or card is drag.anchor:
            return None
        wanted: PortKind = "in" if drag.kind == "out" else "out"
        ports = list(card.port_positions(wanted))
        free = [p for p in ports if (card.node_id, p) in drag.targets]
        if free or ports:
            # A card with no free port is still the target: the refusal then says why.
            return card, wanted, (free or ports)[0]
        other: PortKind = "out" if wanted == "in" else "in"
        others = list(card.port_positions(other))
        return (card, other, others[0]) if others else None

    def _drag_connection(self, scene_pos: QPointF, radius: float) -> None:
        drag = self._connection
        if drag is None:
            return
        hit = self._target_under(scene_pos, radius, drag)
        snapped = drag.targets.get((hit[0].node_id, hit[2])) if hit is not None else None
        drag.rings.set_hover(snapped)
        end = snapped if snapped is not None else scene_pos
        start = drag.anchor.port_positions(drag.kind)[drag.port]
        path, _ = _bezier(start, end) if drag.kind == "out" else _bezier(end, start)
        drag.preview.setPath(path)

    def _finish_connection(self, event: QGraphicsSceneMouseEvent) -> None:
        drag = self._connection
        assert drag is not None
        hit = self._target_under(event.scenePos(), _hit_radius(event), drag)
        self._end_connection()
        detached = drag.detached
        graph = self.graph
        if hit is None:
            if detached is not None:  # dropped on empty canvas: the connection stays off
                edge_id = detached.edge_id
                command, _ = self._submit(lambda: DisconnectCommand(graph, edge_id))
                if command is None:
                    self._show_detached(detached)
            return
        item, kind, port = hit
        if drag.kind == "out":
            src, src_port, dst, dst_port = drag.anchor.node_id, drag.port, item.node_id, port
        else:
            src, src_port, dst, dst_port = item.node_id, port, drag.anchor.node_id, drag.port
        same_port = item is drag.anchor and kind == drag.kind and port == drag.port
        own_input = detached is not None and (kind, dst, dst_port) == (
            "in",
            detached.target.node_id,
            detached.dst_port,
        )
        if same_port or own_input:  # released where it started: nothing changes
            self._show_detached(detached)
            return

        def make() -> Command:
            connect = ConnectCommand(graph, src, src_port, dst, dst_port)
            if detached is None:
                return connect
            unplug = DisconnectCommand(graph, detached.edge_id)
            return MacroCommand("Reconnect", [unplug, connect])

        command, refusal = self._submit(make)
        if command is None:
            self._show_detached(detached)
            if refusal:
                QToolTip.showText(event.screenPos(), refusal, event.widget())

    def cancel_connection(self) -> None:
        """Stop drawing a connection; a detached one goes back where it was."""
        drag = self._connection
        if drag is not None:
            self._end_connection()
            self._show_detached(drag.detached)

    def _end_connection(self) -> None:
        drag = self._connection
        self._connection = None
        if drag is not None:
            self.removeItem(drag.preview)
            self.removeItem(drag.rings)

    def _show_detached(self, item: EdgeItem | None) -> None:
        if item is not None and self.edges.get(item.edge_id) is item:
            item.show()

    # ----------------------------------------------------------------- overview
    def touch_overview(self) -> None:
        """Say (once until the next `overview`) that the overview is stale.

        While the scene fills in, it says so once, when full: gathering the overview again
        after every slice of a large graph would cost the opening a third of a second.
        """
        if not self._overview_stale:
            self._overview_stale = True
            if not self._populating:
                self.overview_changed.emit()

    def overview(self) -> Overview:
        """Cards as rectangles by colour and connections as lines, for the minimap."""
        whole = Overview()
        for part in self.overview_parts():
            whole.merge(part)
        return whole

    def overview_parts(self, size: int = 250) -> Iterator[Overview]:
        """The overview in parts of `size` cards or connections, to gather between events.

        It works from the items as they are when it starts; a change meanwhile makes the
        overview stale again (`overview_changed`), so the minimap gathers it once more.
        """
        self._overview_stale = False
        nodes = list(self.nodes.values())
        edges = list(self.edges.values())
        for start in range(0, len(nodes), size):
            boxes: dict[int, tuple[QColor, list[QRectF]]] = {}
            bounds = QRectF()
            for item in nodes[start : start + size]:
                rect = item.scene_card_rect()
                bounds = bounds.united(rect)
                key = item.category_rgba
                if key not in boxes:
                    boxes[key] = (item.colour, [])
                boxes[key][1].append(rect)
            yield Overview(bounds, list(boxes.values()))
        for start in range(0, len(edges), size):
            links = [QLineF(e.source.pos(), e.target.pos()) for e in edges[start : start + size]]
            yield Overview(links=links)

    # ----------------------------------------------------------------- graph events
    def _mirror_now(self) -> bool:
        """Whether one more graph event may be mirrored at once in this turn of the loop.

        A burst of events (thousands of layers pasted, or their removal undone) is mirrored
        `BURST_LIMIT` at a time, the rest in slices, so the window never freezes.
        """
        if self._events_this_turn >= self.BURST_LIMIT:
            return False
        self._events_this_turn += 1
        if not self._turn.isActive():
            self._turn.start()
        return True

    def _queue_work(self, work: Callable[[], None]) -> None:
        self._queue.append(work)
        if not self._pump.isActive():
            self._pump.start()

    def _on_node_added(self, node: Node) -> None:
        if not self._populating and self._mirror_now():
            self._add_node_item(node)
        else:
            self._queue_work(partial(self._make_node_item, node.id))

    def _on_node_removed(self, node: Node) -> None:
        item = self.nodes.pop(node.id, None)
        self._edges_by_node.pop(node.id, None)
        if item is not None:
            if self._connection is not None and self._connection.anchor is item:
                self.cancel_connection()
            self.removeItem(item)
            self.touch_overview()

    def _on_node_moved(self, node_id: str, position: tuple[float, float]) -> None:
        if node_id not in self.nodes:
            return
        if not self._pending_moves and self._mirror_now():
            self._apply_move(node_id)
            return
        if not self._in_burst:
            self._in_burst = True
            self._queue_work(self._apply_pending_moves)
        self._pending_moves.add(node_id)

    def _new_turn(self) -> None:
        self._events_this_turn = 0

    @property
    def moves_pending(self) -> bool:
        """Whether some cards or edges have yet to follow a burst of moves (`moves_applied`)."""
        return self._in_burst or bool(self._reroute)

    def _apply_move(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is None or node_id not in self.graph:
            return
        position = self.graph.node(node_id).position
        if (item.pos().x(), item.pos().y()) != position:
            item.setPos(*position)

    def _apply_pending_moves(self, chunk: int = 100) -> None:
        pending = self._pending_moves
        for _ in range(min(chunk, len(pending))):
            self._apply_move(pending.pop())
        if pending:
            self._queue.append(self._apply_pending_moves)
        else:
            self._in_burst = False
            self._queue.append(self._reroute_edges)

    def _reroute_edges(self, chunk: int = 150) -> None:
        reroute = self._reroute
        for _ in range(min(chunk, len(reroute))):
            edge = self.edges.get(reroute.pop())
            if edge is not None:
                edge.update_geometry()
        if reroute:
            self._queue.append(self._reroute_edges)
        elif not self._in_burst:
            self.moves_applied.emit()

    def _on_node_changed(self, node_id: str, *_: object) -> None:
        item = self.nodes.get(node_id)
        if item is not None:
            item.refresh_content()
            self.node_item_moved(item)

    def _on_param_changed(self, node_id: str, name: str, value: object) -> None:
        self._on_node_changed(node_id)

    def _on_edge_added(self, edge: Edge) -> None:
        if edge.src in self.nodes and edge.dst in self.nodes and self._mirror_now():
            self._add_edge_item(edge)
        else:
            self._queue_work(partial(self._make_edge_item, edge.id))

    def _on_theme_changed(self, _name: str) -> None:
        """Paint everything in the new theme's colours (a large graph's cards in slices)."""
        self.setBackgroundBrush(theme.BACKGROUND)
        node_ids = list(self.nodes)
        for start in range(0, len(node_ids), 100):
            self._queue.append(partial(self._restyle_nodes, node_ids[start : start + 100]))
        for edge in self.edges.values():
            edge.update()
        if self._connection is not None:
            self._connection.preview.setPen(_pens().pending)
        if len(node_ids) <= self.SYNC_LIMIT:
            self._drain(budget=None)
        elif not self._pump.isActive():
            self._pump.start()

    def _restyle_nodes(self, node_ids: list[str]) -> None:
        for node_id in node_ids:
            item = self.nodes.get(node_id)
            if item is not None:
                item.refresh_content()  # the category colours differ between themes
                item.badge.restyle()
        self.touch_overview()

    def _on_edge_removed(self, edge: Edge) -> None:
        item = self.edges.pop(edge.id, None)
        for node_id in (edge.src, edge.dst):
            self._edges_by_node.get(node_id, set()).discard(edge.id)
        if item is not None:
            self.removeItem(item)
            self.touch_overview()


def _hit_radius(event: QGraphicsSceneMouseEvent) -> float:
    """How near a port a press must be, in scene units: a few pixels whatever the zoom."""
    widget = event.widget()
    view = widget.parentWidget() if widget is not None else None
    zoom = view.transform().m11() if isinstance(view, QGraphicsView) else 1.0
    return min(PORT_HIT_MAX, max(PORT_HIT, PORT_HIT_PIXELS / max(zoom, 1e-6)))


def _delete_text(verb: str, graph: Graph, node_ids: list[str], edge_ids: list[str]) -> str:
    parts = []
    if len(node_ids) == 1:
        parts.append(graph.node(node_ids[0]).name)
    elif node_ids:
        parts.append(f"{len(node_ids)} layers")
    if edge_ids:
        parts.append("1 connection" if len(edge_ids) == 1 else f"{len(edge_ids)} connections")
    return f"{verb} " + " and ".join(parts)


class GraphView(QGraphicsView):
    """Pan (middle drag, or space + drag), zoom (wheel, 0.1x to 4x), fit; a dotted grid.

    Left drag on empty canvas draws a rubber band; Ctrl- or Shift-click adds or removes a
    card from the selection. Layers dragged from the palette (`LAYER_MIME`) drop onto it.
    A minimap in the bottom-right corner shows the whole graph.
    """

    zoom_changed = Signal(float)
    scene_changed = Signal(object)  # the QGraphicsScene now shown
    # The selection, the scene shown or the clipboard changed: what Edit offers may differ.
    editing_changed = Signal()

    # Each paste of the same copy lands this much further down and right.
    PASTE_STEP = 40.0

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
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setAcceptDrops(True)
        self.minimap = Minimap(self)
        self.zoom_changed.connect(self.minimap.update)
        theme.notifier().theme_changed.connect(self._on_theme_changed)
        self._clipboard_has_nodes = False
        self._paste_source = b""
        self._paste_round = 0
        clipboard = QGuiApplication.clipboard()
        clipboard.dataChanged.connect(self._on_clipboard_changed)
        self._on_clipboard_changed()

    # ----------------------------------------------------------------- scene
    def setScene(self, scene: QGraphicsScene | None) -> None:
        old = self.scene()
        if isinstance(old, GraphScene):
            old.overview_changed.disconnect(self.minimap.schedule_render)
            old.selectionChanged.disconnect(self.editing_changed)
            old.cancel_connection()
        super().setScene(scene)
        if isinstance(scene, GraphScene):
            scene.overview_changed.connect(self.minimap.schedule_render)
            scene.selectionChanged.connect(self.editing_changed)
            self.minimap.set_source(scene.overview_parts)
        else:
            self.minimap.set_source(None)
        self.scene_changed.emit(scene)
        self.editing_changed.emit()

    def _on_theme_changed(self, _name: str) -> None:
        self.resetCachedContent()  # the grid, drawn in the old colours
        self.viewport().update()
        self.minimap.update()

    def graph_scene(self) -> GraphScene | None:
        """The scene shown, if it is a graph's."""
        scene = self.scene()
        return scene if isinstance(scene, GraphScene) else None

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.minimap.place()

    # ----------------------------------------------------------------- editing
    @property
    def can_paste(self) -> bool:
        """A graph is shown and the clipboard holds copied layers."""
        return self.graph_scene() is not None and self._clipboard_has_nodes

    def selection_state(self) -> tuple[bool, bool]:
        """Whether cards are selected, and whether anything (cards or connections) is."""
        scene = self.graph_scene()
        if scene is None:
            return False, False
        selected = scene.selectedItems()
        return any(isinstance(item, NodeItem) for item in selected), bool(selected)

    def _on_clipboard_changed(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        self._clipboard_has_nodes = mime is not None and mime.hasFormat(NODES_MIME)
        self.editing_changed.emit()

    def copy_selection(self) -> int:
        """Put the selected cards (and their inner connections) on the system clipboard."""
        scene = self.graph_scene()
        data = scene.copy_selection() if scene is not None else None
        if data is None:
            return 0
        mime = QMimeData()
        mime.setData(NODES_MIME, dumps(data).encode("utf-8"))
        QGuiApplication.clipboard().setMimeData(mime)
        return len(data["nodes"])

    def cut_selection(self) -> bool:
        """Copy the selected cards, then remove them (one undo step)."""
        scene = self.graph_scene()
        if scene is None or not self.copy_selection():
            return False
        return scene.delete_selection(verb="Cut")

    def delete_selection(self) -> bool:
        scene = self.graph_scene()
        return scene is not None and scene.delete_selection()

    def select_all(self) -> None:
        scene = self.graph_scene()
        if scene is not None:
            scene.select_all()

    def paste(self) -> list[str]:
        """Add the clipboard's layers and select them; their ids ([] if none or refused).

        Pasting the same copy again steps each paste down and right; a copy whose place is
        out of sight (another graph, another project) lands in the middle of the view.
        """
        scene = self.graph_scene()
        mime = QGuiApplication.clipboard().mimeData()
        if scene is None or mime is None or not mime.hasFormat(NODES_MIME):
            return []
        raw = bytes(mime.data(NODES_MIME).data())
        try:
            data = loads(raw)
        except StudioError as exc:
            scene.report_refusal(exc)
            return []
        if raw != self._paste_source:
            self._paste_source, self._paste_round = raw, 0
        self._paste_round += 1
        step = self.PASTE_STEP * self._paste_round
        return scene.paste(data, self._paste_offset(data, step))

    def duplicate_selection(self) -> list[str]:
        """Copies of the selected cards next to them, selected; the clipboard is untouched."""
        scene = self.graph_scene()
        data = scene.copy_selection() if scene is not None else None
        if scene is None or data is None:
            return []
        count = len(data["nodes"])
        text = "Duplicate " + (data["nodes"][0]["name"] if count == 1 else f"{count} layers")
        return scene.paste(data, (self.PASTE_STEP, self.PASTE_STEP), text=text)

    def _paste_offset(self, data: Mapping[str, Any], step: float) -> Position:
        positions = [node["position"] for node in data["nodes"]]
        if not positions:
            return (step, step)
        xs = [float(p[0]) for p in positions]
        ys = [float(p[1]) for p in positions]
        centre = QPointF((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if visible.contains(centre + QPointF(step, step)):
            return (step, step)
        # The first paste lands in the middle of the view, later ones step on from there.
        cascade = step - self.PASTE_STEP
        middle = visible.center()
        return (middle.x() - centre.x() + cascade, middle.y() - centre.y() + cascade)

    def auto_layout(self, direction: Direction) -> bool:
        """Lay the graph out (one undoable step), then show all of it."""
        scene = self.graph_scene()
        if scene is None or not scene.auto_layout(direction):
            return False
        if scene.moves_pending:  # a large graph: fit once every card has followed
            scene.moves_applied.connect(self._fit_laid_out, Qt.ConnectionType.SingleShotConnection)
        else:
            self.fit_to_view()
        return True

    def _fit_laid_out(self) -> None:
        self.fit_to_view()

    # ----------------------------------------------------------------- drops
    def _dropped_layer(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> str | None:
        """The layer type id a palette drag carries, if this view can take it."""
        mime = event.mimeData()
        if self.graph_scene() is None or mime is None or not mime.hasFormat(LAYER_MIME):
            return None
        type_id = bytes(mime.data(LAYER_MIME).data()).decode("utf-8", errors="replace").strip()
        return type_id or None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_layer(event) is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._dropped_layer(event) is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        type_id = self._dropped_layer(event)
        scene = self.graph_scene()
        if type_id is None or scene is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        scene.add_layer(type_id, self.mapToScene(event.position().toPoint()))
        self.setFocus(Qt.FocusReason.MouseFocusReason)

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
        self._forward(event, super().mousePressEvent)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan_by(delta.x(), delta.y())
            event.accept()
            return
        self._forward(event, super().mouseMoveEvent)

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
        self._forward(event, super().mouseReleaseEvent)

    @staticmethod
    def _forward(event: QMouseEvent, handler: Callable[[QMouseEvent], None]) -> None:
        """Let Qt handle the event, with Shift meaning what Ctrl means to it (toggle, extend)."""
        modifiers = event.modifiers()
        if not modifiers & Qt.KeyboardModifier.ShiftModifier:
            handler(event)
            return
        translated = QMouseEvent(
            event.type(),
            event.position(),
            event.scenePosition(),
            event.globalPosition(),
            event.button(),
            event.buttons(),
            modifiers | Qt.KeyboardModifier.ControlModifier,
            event.pointingDevice(),
        )
        handler(translated)
        event.setAccepted(translated.isAccepted())

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
        # A diagonal pan exposes an L of two thin strips of the cached background, but Qt
        # passes their bounding rect, the whole viewport: dots go only where the clip lets
        # them show, which is about a hundred instead of thousands each frame.
        clip = painter.clipRegion() if painter.hasClipping() else QRegion()
        strips = cast(Iterable[QRect], clip)  # a QRegion iterates its rects; the stubs miss it
        areas = [QRectF(r).intersected(rect) for r in strips] if clip.rectCount() else [rect]
        dots: list[QPointF] = []
        for area in areas:
            left = math.floor(area.left() / spacing) * spacing
            top = math.floor(area.top() / spacing) * spacing
            columns = int((area.right() - left) / spacing) + 1
            rows = int((area.bottom() - top) / spacing) + 1
            if len(dots) + columns * rows > 40_000:
                return
            dots.extend(
                QPointF(left + i * spacing, top + j * spacing)
                for j in range(rows)
                for i in range(columns)
            )
        painter.setPen(_pens().grid)
        painter.drawPoints(QPolygonF(dots))

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        if not self.placeholder:
            return
        scene = self.scene()
        # A graph scene knows its cards; scene.items() would build a list of every item,
        # thousands on a large graph, on each frame.
        if scene is not None and (scene.nodes if isinstance(scene, GraphScene) else scene.items()):
            return
        painter.save()
        painter.resetTransform()
        painter.setFont(theme.canvas_fonts().placeholder)
        painter.setPen(theme.TEXT_MUTED)
        painter.drawText(
            QRectF(self.viewport().rect()), Qt.AlignmentFlag.AlignCenter, self.placeholder
        )
        painter.restore()
