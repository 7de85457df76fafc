"""Live plots: curves fed from growing numpy buffers, redrawn on a timer only when changed.

Appending a point costs a store into an array (which doubles when full, so appends are
amortised O(1) and memory is bounded by the arrays); nothing is drawn per point. A plot
that received points redraws at most `REDRAW_HZ` times a second, and only while on screen;
pyqtgraph then draws a peak-downsampled slice clipped to the visible x range, so a curve of
100,000+ points costs about as much to draw as one of a few thousand.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Sequence

import numpy as np

# This module is pyqtgraph; it is imported only when the first live plot is built.
import pyqtgraph as pg  # noqa: TID253
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QShowEvent
from PySide6.QtWidgets import QApplication, QGraphicsItem, QWidget

from studio.ui import theme

REDRAW_HZ = 25
# The scheduler redraws one plot per slot, so the plots of a window paint one at a time.
SLOT_MS = 8
AUTO_DOWNSAMPLE_FACTOR = 1.5
INITIAL_CAPACITY = 1024
# Curve colours by role, per theme: the first few are the theme's own, then category colours.
CURVE_COLOURS = ("accent", "warning", "ok", "error")
CATEGORY_COLOURS = ("Attention", "Pooling", "Convolution", "Merge", "Recurrent", "Reshape")


class GrowingBuffer:
    """x and y values in two float64 arrays that double their capacity when full."""

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        self._x = np.empty(max(capacity, 1), dtype=np.float64)
        self._y = np.empty(max(capacity, 1), dtype=np.float64)
        self._size = 0
        self.y_max = -np.inf  # the largest finite y so far
        self.y_min = np.inf

    def __len__(self) -> int:
        return self._size

    @property
    def capacity(self) -> int:
        return len(self._x)

    @property
    def x(self) -> np.ndarray:
        """The x values so far (a view: valid until the next append)."""
        return self._x[: self._size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self._size]

    @property
    def nbytes(self) -> int:
        return self._x.nbytes + self._y.nbytes

    def _reserve(self, size: int) -> None:
        if size <= len(self._x):
            return
        capacity = len(self._x)
        while capacity < size:
            capacity *= 2
        for name in ("_x", "_y"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=np.float64)
            new[: self._size] = old[: self._size]
            setattr(self, name, new)

    def append(self, x: float, y: float | None) -> None:
        """One point; a missing or non-finite y is stored as NaN (a gap in the curve)."""
        self._reserve(self._size + 1)
        self._x[self._size] = x
        value = np.nan if y is None else float(y)
        self._y[self._size] = value
        self._size += 1
        if np.isfinite(value):
            self.y_max = max(self.y_max, value)
            self.y_min = min(self.y_min, value)

    def extend(self, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray) -> None:
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        if xs.shape != ys.shape:
            raise ValueError("x and y must have the same length")
        end = self._size + len(xs)
        self._reserve(end)
        self._x[self._size : end] = xs
        self._y[self._size : end] = ys
        self._size = end
        finite = ys[np.isfinite(ys)]
        if len(finite):
            self.y_max = max(self.y_max, float(finite.max()))
            self.y_min = min(self.y_min, float(finite.min()))

    def clear(self) -> None:
        """Forget the points and give the memory back."""
        self._x = np.empty(INITIAL_CAPACITY, dtype=np.float64)
        self._y = np.empty(INITIAL_CAPACITY, dtype=np.float64)
        self._size = 0
        self.y_max = -np.inf
        self.y_min = np.inf


class LiveCurve:
    """One named curve of a `LivePlot`: its buffer and its pyqtgraph item."""

    def __init__(self, key: str, item: pg.PlotDataItem, colour_index: int, symbols: bool) -> None:
        self.key = key
        self.item = item
        self.buffer = GrowingBuffer()
        self.colour_index = colour_index
        self.symbols = symbols
        self.drawn = 0  # points handed to the item at the last redraw


def curve_colour(index: int) -> QColor:
    """The n-th curve colour of the current theme."""
    if index < len(CURVE_COLOURS):
        return theme.colour(CURVE_COLOURS[index])
    category = CATEGORY_COLOURS[(index - len(CURVE_COLOURS)) % len(CATEGORY_COLOURS)]
    return theme.category_colour(category)


class RedrawScheduler(QObject):
    """Redraws dirty plots round-robin, one per `SLOT_MS` slot, each at most `REDRAW_HZ`.

    Five plots redrawn from the same timer tick would paint together in one pass of the
    window (tens of milliseconds with 100,000 points each); one plot per slot keeps every
    turn of the event loop short while each plot still refreshes at the full rate.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue: deque[LivePlot] = deque()
        self.timer = QTimer(self)
        self.timer.setInterval(SLOT_MS)
        self.timer.timeout.connect(self._slot)

    def request(self, plot: LivePlot) -> None:
        self.queue.append(plot)
        if not self.timer.isActive():
            self.timer.start()

    def _slot(self) -> None:
        now = time.monotonic()
        for _ in range(len(self.queue)):
            plot = self.queue.popleft()
            try:
                due = now - plot.last_redraw >= 1.0 / REDRAW_HZ
                if not due:
                    self.queue.append(plot)
                    continue
                plot.queued = False
                plot.redraw()
            except RuntimeError:  # the plot's widget is gone
                continue
            break
        if not self.queue:
            self.timer.stop()


_scheduler: RedrawScheduler | None = None

NICE_MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is at least `value`."""
    if value <= 0 or not np.isfinite(value):
        return 1.0
    scale = 10.0 ** np.floor(np.log10(value))
    return next(m * scale for m in NICE_MANTISSAS if m * scale >= value * (1 - 1e-12))


def nice_step(value: float) -> float:
    """A round step near `value` (1, 2 or 5 × 10^k), for bounds that move in steps."""
    if value <= 0 or not np.isfinite(value):
        return 1.0
    scale = 10.0 ** np.floor(np.log10(value))
    return next(m * scale for m in (1.0, 2.0, 5.0, 10.0) if m * scale >= value * (1 - 1e-12))


def redraw_scheduler() -> RedrawScheduler:
    """The one scheduler of the application (made on first use)."""
    global _scheduler
    if _scheduler is None:
        _scheduler = RedrawScheduler(QApplication.instance())
    return _scheduler


class LivePlot(pg.PlotWidget):
    """A plot of named curves that grow while training runs; one class for every plot."""

    def __init__(
        self,
        title: str,
        *,
        x_label: str = "step",
        y_label: str = "",
        legend_at_bottom: bool = False,
        y_from_zero: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent=parent)
        self.title = title
        self.curves: dict[str, LiveCurve] = {}
        self.redraws = 0
        self.dirty = False
        # Rates and sizes read best from zero; a constant (a fixed learning rate) then sits
        # at a sensible height instead of in a ±0.5 band that pyqtgraph gives a flat line.
        self.y_from_zero = y_from_zero
        self.last_redraw = 0.0  # time.monotonic() of the last redraw
        self.queued = False  # waiting in the redraw scheduler
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        view = item.getViewBox()
        view.setMouseEnabled(x=True, y=False)
        # The plot sets its own range from the buffers at each redraw (see `_follow`):
        # pyqtgraph's auto-range would settle inside the paint and ask for two more.
        view.disableAutoRange()
        view.sigRangeChangedManually.connect(self._stop_following)
        self.following = True
        self._range: tuple[tuple[float, float], tuple[float, float]] | None = None
        for side in ("left", "bottom"):
            item.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # In the corner the curves leave free: a loss falls, a metric like accuracy rises.
        corner = (-8, -8) if legend_at_bottom else (-8, 8)
        self.legend = item.addLegend(offset=corner, labelTextSize="8pt")
        self.legend.setColumnCount(1)
        self.x_label = x_label
        self.y_label = y_label
        self.setMinimumSize(200, 140)
        self.apply_theme()
        theme.notifier().theme_changed.connect(self.apply_theme)
        self.destroyed.connect(self._forget_theme)

    def _forget_theme(self, *_: object) -> None:
        with contextlib.suppress(RuntimeError, TypeError):
            theme.notifier().theme_changed.disconnect(self.apply_theme)

    # ---------------------------------------------------------------- curves
    def curve(self, key: str, name: str | None = None, *, symbols: bool = False) -> LiveCurve:
        """The curve called `key`, made on first use (legend text `name`)."""
        found = self.curves.get(key)
        if found is not None:
            return found
        index = len(self.curves)
        item = self.getPlotItem().plot(name=name or key, connect="finite")
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        # pyqtgraph keeps ~5 samples per pixel; peak mode draws a min and a max per bucket,
        # so 1.5 buckets per pixel look the same and cost a third of the drawing.
        item.opts["autoDownsampleFactor"] = AUTO_DOWNSAMPLE_FACTOR
        made = LiveCurve(key, item, index, symbols)
        self.curves[key] = made
        self.legend.setVisible(len(self.curves) > 1)  # one curve: the title names it
        self._style_curve(made)
        return made

    def append(self, key: str, x: float, y: float | None, name: str | None = None) -> None:
        """Add a point to a curve; it is drawn at the next redraw."""
        self.curve(key, name).buffer.append(x, y)
        self.mark_dirty()

    def extend(
        self, key: str, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray
    ) -> None:
        self.curve(key).buffer.extend(xs, ys)
        self.mark_dirty()

    def mark_dirty(self) -> None:
        self.dirty = True
        if not self.queued:
            self.queued = True
            redraw_scheduler().request(self)

    def redraw(self) -> None:
        """Hand every changed buffer to its item (off screen, wait until shown)."""
        if not self.dirty or not self.isVisible():
            return
        self.dirty = False
        self.redraws += 1
        self.last_redraw = time.monotonic()
        for curve in self.curves.values():
            size = len(curve.buffer)
            if size != curve.drawn:
                curve.drawn = size
                curve.item.setData(curve.buffer.x, curve.buffer.y, connect="finite")
        if self.following:
            self._follow()

    def _follow(self) -> None:
        """Show every point: x from the first to the last, y from the lowest to the highest
        (from zero for `y_from_zero`), with a little room.

        The bounds move in steps (x to the next "nice" number, y to a tenth of its span), so
        the range, and with it the axes, change only now and then as a run grows: the axes
        are cached pixmaps, and redrawing them (tick texts) costs several times the curves.
        """
        curves = [c for c in self.curves.values() if len(c.buffer)]
        if not curves:
            return
        x_low = min(float(c.buffer.x[0]) for c in curves)
        x_high = max(float(c.buffer.x[-1]) for c in curves)
        y_low = min(c.buffer.y_min for c in curves)
        y_high = max(c.buffer.y_max for c in curves)
        if not np.isfinite(y_low) or not np.isfinite(y_high):
            return
        if self.y_from_zero:
            y_low = min(0.0, y_low)
        if y_high - y_low <= abs(y_high) * 1e-9:  # flat: give it a band of its own size
            y_low, y_high = (0.0, 2 * y_high) if y_high > 0 else (y_low - 1, y_high + 1)
        if x_high <= x_low:
            x_low, x_high = x_low - 1, x_high + 1
        y_step = nice_step((y_high - y_low) / 10)
        y_range = (
            0.0 if self.y_from_zero and y_low == 0.0 else np.floor(y_low / y_step) * y_step,
            np.ceil(y_high / y_step) * y_step,
        )
        if y_range[0] >= y_low and not (self.y_from_zero and y_low == 0.0):
            y_range = (y_range[0] - y_step / 2, y_range[1])
        if y_range[1] <= y_high:
            y_range = (y_range[0], y_range[1] + y_step / 2)
        x_range = (x_low, x_low + nice_ceiling(x_high - x_low))
        if (x_range, y_range) == self._range:
            return
        self._range = (x_range, y_range)
        self.getPlotItem().getViewBox().setRange(xRange=x_range, yRange=y_range, padding=0)

    def _stop_following(self, *_: object) -> None:
        """The person panned or zoomed: leave the range to them (double-click follows again)."""
        self.following = False

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.following = True
        self._range = None
        self._follow()
        event.accept()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.dirty:
            self.mark_dirty()

    def clear_curves(self, keep: Sequence[str] = ()) -> None:
        """Empty the plot for a new run: the curves named in `keep` stay (empty, with their
        legend entry), the others go."""
        item = self.getPlotItem()
        for key in list(self.curves):
            curve = self.curves[key]
            if key in keep:
                curve.buffer.clear()
                curve.drawn = 0
                curve.item.setData([], [])
                continue
            item.removeItem(curve.item)
            self.legend.removeItem(curve.item)
            del self.curves[key]
        self.dirty = False
        self.legend.setVisible(len(self.curves) > 1)
        self._range = None
        self.following = True

    @property
    def point_count(self) -> int:
        return sum(len(c.buffer) for c in self.curves.values())

    # ---------------------------------------------------------------- theme
    def _style_curve(self, curve: LiveCurve) -> None:
        colour = curve_colour(curve.colour_index)
        # A one-pixel pen is Qt's fast path: dense per-step curves use it; the few
        # per-epoch points get a wider line and dots.
        curve.item.setPen(pg.mkPen(colour, width=1.8 if curve.symbols else 1))
        if curve.symbols:
            curve.item.setSymbol("o")
            curve.item.setSymbolSize(5)
            curve.item.setSymbolPen(pg.mkPen(colour))
            curve.item.setSymbolBrush(pg.mkBrush(colour))

    def apply_theme(self, *_: object) -> None:
        """Background, axes, title and curve colours from the current theme."""
        item = self.getPlotItem()
        if item is None:  # closed, not yet deleted
            self._forget_theme()
            return
        text = theme.colour("text_muted")
        self.setBackground(theme.colour("base"))
        item.setTitle(self.title, color=theme.colour("text").name(), size="9pt")
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(theme.colour("separator")))
            axis.setTextPen(pg.mkPen(text))
        item.setLabel("bottom", self.x_label, color=text.name(), size="8pt")
        if self.y_label:
            item.setLabel("left", self.y_label, color=text.name(), size="8pt")
        self.legend.setLabelTextColor(theme.colour("text"))
        backdrop = QColor(theme.colour("base"))
        backdrop.setAlpha(200)
        self.legend.setBrush(pg.mkBrush(backdrop))
        self.legend.setPen(pg.mkPen(theme.colour("separator")))
        for curve in self.curves.values():
            self._style_curve(curve)
