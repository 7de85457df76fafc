"""Live plots: growing buffers, redraws only when changed, peak-downsampled and clipped."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from studio.ui import theme
from studio.ui.live_plot import GrowingBuffer, LivePlot

POINTS = 100_000


def test_a_buffer_grows_by_doubling_and_keeps_every_point() -> None:
    buffer = GrowingBuffer(capacity=16)
    capacities = set()
    for i in range(POINTS):
        buffer.append(float(i), float(i) * 0.5)
        capacities.add(buffer.capacity)
    assert len(buffer) == POINTS
    assert np.array_equal(buffer.x, np.arange(POINTS, dtype=np.float64))
    assert np.array_equal(buffer.y, np.arange(POINTS) * 0.5)
    # Doubling: a handful of reallocations, and never more than twice the memory needed.
    assert sorted(capacities) == [16 * 2**k for k in range(len(capacities))]
    assert POINTS <= buffer.capacity < 2 * POINTS
    assert buffer.nbytes == 2 * 8 * buffer.capacity


def test_a_buffer_extends_and_stores_gaps_as_nan() -> None:
    buffer = GrowingBuffer(capacity=4)
    buffer.append(0.0, None)
    buffer.extend([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, float("inf"), 3.0, 4.0, 5.0])
    assert len(buffer) == 6 and buffer.capacity == 8
    assert np.isnan(buffer.y[0]) and np.isinf(buffer.y[2])
    assert buffer.y_max == 5.0  # the largest finite value
    with pytest.raises(ValueError):
        buffer.extend([1.0], [1.0, 2.0])
    buffer.clear()
    assert len(buffer) == 0


@pytest.fixture
def plot(qtbot) -> LivePlot:
    widget = LivePlot("Loss", y_label="loss")
    qtbot.addWidget(widget)
    widget.resize(500, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_a_plot_draws_100k_points_downsampled_and_clipped(qtbot, plot: LivePlot) -> None:
    rng = np.random.default_rng(0)
    xs = np.arange(POINTS, dtype=np.float64)
    ys = np.cumsum(rng.normal(size=POINTS))
    half = POINTS // 2
    plot.extend("loss", xs[:half], ys[:half])
    for x, y in zip(xs[half:], ys[half:], strict=True):
        plot.append("loss", float(x), float(y))
    curve = plot.curves["loss"]
    assert np.array_equal(curve.buffer.x, xs) and np.array_equal(curve.buffer.y, ys)
    assert plot.dirty and curve.drawn == 0  # nothing is drawn per point
    qtbot.waitUntil(lambda: curve.drawn == POINTS)
    assert plot.redraws == 1

    def shown() -> int:
        x, _ = curve.item.getData()
        return POINTS if x is None else len(x)

    # Once the view has ranged over the data: peak-downsampled to about the plot's width.
    qtbot.waitUntil(lambda: shown() < POINTS // 10)
    x_shown, y_shown = curve.item.getData()
    assert x_shown is not None and y_shown is not None
    # Peak downsampling keeps the extremes.
    assert np.nanmax(y_shown) == pytest.approx(ys.max())
    assert np.nanmin(y_shown) == pytest.approx(ys.min())

    plot.setXRange(40_000, 41_000, padding=0)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: shown() < 2_000)
    x_clipped, _ = curve.item.getData()
    assert x_clipped is not None
    assert x_clipped.min() >= 39_000 and x_clipped.max() <= 42_000  # clipped to the view

    redraws = plot.redraws
    plot.redraw()  # nothing new: nothing to do
    assert plot.redraws == redraws


def test_a_hidden_plot_waits_and_redraws_when_shown(qtbot, plot: LivePlot) -> None:
    plot.hide()
    plot.append("loss", 0.0, 1.0)
    plot.redraw()
    assert plot.curves["loss"].drawn == 0 and plot.dirty
    plot.show()
    qtbot.waitUntil(lambda: plot.curves["loss"].drawn == 1)
    plot.clear_curves()
    assert plot.point_count == 0 and not plot.curves


def test_plots_follow_the_theme(qtbot, plot: LivePlot) -> None:
    plot.append("loss", 0.0, 1.0)
    before = theme.current().name
    try:
        for name in ("light", "dark"):
            theme.set_theme(name)
            assert plot.backgroundBrush().color() == theme.colour("base")
            pen = plot.curves["loss"].item.opts["pen"]
            assert pen.color() == theme.colour("accent")
    finally:
        theme.set_theme(before)


def test_nice_bounds() -> None:
    from studio.ui.live_plot import nice_ceiling, nice_step

    assert [nice_ceiling(v) for v in (0.9, 1.0, 1.1, 7.0, 9.5, 1234.0)] == [
        1.0,
        1.0,
        1.2,
        8.0,
        10.0,
        1500.0,
    ]
    assert [nice_step(v) for v in (0.03, 0.1, 0.15, 0.4, 7.0)] == [0.05, 0.1, 0.2, 0.5, 10.0]
    assert nice_ceiling(0.0) == nice_step(-1.0) == nice_ceiling(float("nan")) == 1.0


def test_a_growing_run_moves_the_range_rarely_and_always_shows_every_point(qtbot) -> None:
    """Each range change redraws the axes (tick texts), which costs several times the curve:
    the bounds move in steps, so a run of 10,000 steps changes the range a few dozen times."""
    plot = LivePlot("Loss")
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.show()
    qtbot.waitExposed(plot)
    view = plot.getPlotItem().getViewBox()
    changes = []
    view.sigRangeChanged.connect(lambda *_: changes.append(1))
    rng = np.random.default_rng(0)
    for step in range(1, 10_001):
        plot.append("loss", float(step), float(np.exp(-step / 3000) + rng.normal(0, 0.01)))
        if step % 20 == 0:
            plot.redraw()
            (x_low, x_high), (y_low, y_high) = view.viewRange()
            buffer = plot.curves["loss"].buffer
            assert x_low <= buffer.x[0] and buffer.x[-1] <= x_high
            assert y_low < buffer.y_min and buffer.y_max < y_high
    assert len(changes) < 60, len(changes)
