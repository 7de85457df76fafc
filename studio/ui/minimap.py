"""An overview of the whole graph in a corner of the canvas; click or drag in it to move there.

Drawing thousands of cards every frame would cost what the canvas itself costs, so the
overview is drawn once into a pixmap from plain rectangles and lines (never by asking the
scene's items to paint), and drawn again only after the graph changes, at most every
`RENDER_DELAY_MS`. Its source hands the rectangles over in parts, gathered a few
milliseconds per turn of the event loop, so even a graph of thousands of nodes never stalls
the window; the old picture stays up until the new one is ready. Panning and zooming the
canvas only repaint the rectangle of the visible area over that pixmap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from studio.ui import theme


@dataclass
class Overview:
    """What the minimap draws: cards as rectangles grouped by colour, connections as lines.

    A source yields several of these, each for some of the cards or connections; `merge`
    gathers them into one.
    """

    bounds: QRectF = field(default_factory=QRectF)
    boxes: list[tuple[QColor, list[QRectF]]] = field(default_factory=list)
    links: list[QLineF] = field(default_factory=list)

    def merge(self, part: Overview) -> None:
        if not part.bounds.isEmpty():
            self.bounds = part.bounds if self.bounds.isEmpty() else self.bounds.united(part.bounds)
        for colour, rects in part.boxes:
            for known, found in self.boxes:
                if known.rgba() == colour.rgba():
                    found.extend(rects)
                    break
            else:
                self.boxes.append((colour, list(rects)))
        self.links.extend(part.links)


OverviewSource = Callable[[], Iterator[Overview]]


class Minimap(QWidget):
    """A small overview pinned to the bottom-right corner of a `QGraphicsView`."""

    SIZE = QSize(220, 150)
    CORNER_MARGIN = 12
    INSET = 8
    RENDER_DELAY_MS = 200
    # Parts of the overview are gathered for about this long per turn of the event loop.
    SLICE_SECONDS = 0.006

    def __init__(self, view: QGraphicsView) -> None:
        super().__init__(view)
        self._view = view
        self._source: OverviewSource | None = None
        self._pixmap = QPixmap()
        # Scene coordinates -> this widget's coordinates, as of the last render.
        self._to_widget = QTransform()
        self._dragging = False
        self._parts: Iterator[Overview] | None = None
        self._gathered = Overview()
        self._stale = False
        self.longest_slice = 0.0  # seconds: the longest turn spent gathering, for benchmarks
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(self.RENDER_DELAY_MS)
        self._render_timer.timeout.connect(self._start_render)
        self._pump = QTimer(self)
        self._pump.setSingleShot(True)
        self._pump.setInterval(0)
        self._pump.timeout.connect(self._gather)
        self.setFixedSize(self.SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)
        view.horizontalScrollBar().valueChanged.connect(self.update)
        view.verticalScrollBar().valueChanged.connect(self.update)
        self.hide()

    # ----------------------------------------------------------------- content
    def set_source(self, source: OverviewSource | None) -> None:
        """Show the overview `source` yields in parts (None: nothing to show, so hide)."""
        self._source = source
        self._render_timer.stop()
        self._pump.stop()
        self._parts = None
        self._stale = False
        self._pixmap = QPixmap()
        if source is None:
            self.hide()
            return
        self._start_render()

    def schedule_render(self) -> None:
        """The graph changed: draw the overview again soon (changes in between coalesce)."""
        if self._parts is not None:
            self._stale = True  # changed while being gathered: once more when done
        elif not self._render_timer.isActive():
            self._render_timer.start()

    @property
    def render_pending(self) -> bool:
        return self._render_timer.isActive() or self._parts is not None

    def render_overview(self) -> None:
        """Gather the whole overview and draw it now (tests; the window renders in slices)."""
        self._render_timer.stop()
        if self._parts is None:
            self._begin_gathering()
        self._gather(budget=None)

    def _start_render(self) -> None:
        self._begin_gathering()
        self._gather()

    def _begin_gathering(self) -> None:
        self._pump.stop()
        self._parts = self._source() if self._source is not None else iter(())
        self._gathered = Overview()
        self._stale = False

    def _gather(self, budget: float | None = SLICE_SECONDS) -> None:
        parts = self._parts
        if parts is None:
            return
        started = time.perf_counter()
        deadline = None if budget is None else started + budget
        for part in parts:
            self._gathered.merge(part)
            if deadline is not None and time.perf_counter() > deadline:
                self.longest_slice = max(self.longest_slice, time.perf_counter() - started)
                self._pump.start()
                return
        self._parts = None
        self._draw(self._gathered)
        self.longest_slice = max(self.longest_slice, time.perf_counter() - started)
        self._gathered = Overview()
        if self._stale:
            self._stale = False
            self.schedule_render()

    def _draw(self, overview: Overview) -> None:
        """Draw the gathered overview into the pixmap; hide when there is nothing to show."""
        if overview.bounds.isEmpty():
            self._pixmap = QPixmap()
            self.hide()
            return
        size = self.size()
        inner = QRectF(self.rect()).adjusted(self.INSET, self.INSET, -self.INSET, -self.INSET)
        bounds = overview.bounds
        scale = min(inner.width() / bounds.width(), inner.height() / bounds.height())
        # Centre the graph in the widget.
        dx = inner.center().x() - bounds.center().x() * scale
        dy = inner.center().y() - bounds.center().y() * scale
        self._to_widget = QTransform(scale, 0, 0, scale, dx, dy)
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        try:
            painter.setTransform(self._to_widget)
            link_pen = QPen(theme.EDGE, 0)  # width 0: one pixel at any scale
            painter.setPen(link_pen)
            painter.drawLines(overview.links)
            for colour, rects in overview.boxes:
                # A cosmetic outline in the fill colour keeps a far-away card one pixel wide.
                painter.setPen(QPen(colour, 0))
                painter.setBrush(colour)
                painter.drawRects(rects)
        finally:
            painter.end()
        self._pixmap = pixmap
        self.place()
        self.show()
        self.raise_()
        self.update()

    # ----------------------------------------------------------------- geometry
    def place(self) -> None:
        """Stay in the view's bottom-right corner (the view calls this when it resizes)."""
        self.move(
            self._view.width() - self.width() - self.CORNER_MARGIN,
            self._view.height() - self.height() - self.CORNER_MARGIN,
        )

    def visible_rect(self) -> QRectF:
        """The part of the scene the view shows, in this widget's coordinates."""
        viewport = self._view.viewport().rect()
        scene_rect = self._view.mapToScene(viewport).boundingRect()
        return self._to_widget.mapRect(scene_rect)

    def widget_point(self, point: QPointF) -> QPointF:
        """Where a scene point lies in this widget."""
        return self._to_widget.map(point)

    def scene_point(self, point: QPointF) -> QPointF:
        """The scene point under a point of this widget."""
        inverse, invertible = self._to_widget.inverted()
        return inverse.map(point) if invertible else QPointF()

    # ----------------------------------------------------------------- events
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        background = QColor(theme.BASE)
        background.setAlpha(225)
        painter.setPen(QPen(theme.CARD_BORDER, 1))
        painter.setBrush(background)
        painter.drawRoundedRect(frame, 6, 6)
        if not self._pixmap.isNull():
            painter.drawPixmap(0, 0, self._pixmap)
        painter.setClipRect(frame.adjusted(1, 1, -1, -1))
        visible = self.visible_rect()
        fill = QColor(theme.CARD_SELECTED)
        fill.setAlpha(40)
        painter.setPen(QPen(theme.CARD_SELECTED, 1.2))
        painter.setBrush(fill)
        painter.drawRect(visible)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self._view.centerOn(self.scene_point(event.position()))
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self._view.centerOn(self.scene_point(event.position()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._dragging:
            self._dragging = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.accept()  # the canvas underneath is not zoomed through the overview
