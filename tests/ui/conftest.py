"""Window fixtures: like napari's `make_napari_viewer`, they fail a test that leaks windows,
threads or child processes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QWidget

from studio.core.autosave import SETTINGS_ENV
from studio.core.graph import Graph
from studio.core.registry import LayerRegistry
from studio.ui import theme
from studio.ui.main_window import MainWindow
from tests.leaks import children_left, live_children, threads_left

ANALYSIS_TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def settings_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Settings, recent files, autosaves and the error log go to a fresh folder, not home."""
    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv(SETTINGS_ENV, str(folder))
    return folder


def _visible_top_levels() -> set[QWidget]:
    return {w for w in QApplication.topLevelWidgets() if w.isVisible()}


@pytest.fixture
def main_window(qtbot, registry: LayerRegistry) -> Iterator[MainWindow]:
    """A shown `MainWindow`; afterwards it is closed and must leave no window or thread."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    theme.apply_theme(app)
    before = _visible_top_levels()
    threads_before = set(threading.enumerate())
    children_before = live_children()
    window = MainWindow(registry=registry)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.set_modified(False)  # the test's edits are not worth a "save changes?" question
    window.close()
    assert not window.isVisible()
    assert window.tasks.pending == 0, "background tasks outlived the window"
    assert window.tasks.active_threads == 0, "worker threads are still running"
    QApplication.processEvents()
    leaked = _visible_top_levels() - before
    assert not leaked, f"windows left open: {[w.windowTitle() or w for w in leaked]}"
    threads = threads_left(threads_before)
    assert not threads, f"threads outlived the window: {threads}"
    children = children_left(children_before)
    assert not children, f"child processes outlived the window: {sorted(children)}"
    window.deleteLater()
    # Free it now: without a running event loop, deleteLater would wait, and every earlier
    # test's window would weigh on the garbage collector of the tests after it.
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def wait_for_analysis(qtbot) -> Callable[..., None]:
    """Wait until the current graph's shapes (and, by default, summary) have arrived."""

    def wait(window: MainWindow, *, summary: bool = True) -> None:
        def arrived() -> bool:
            page = window.current
            if page is None or page.shapes is None:
                return False
            return not summary or page.summary is not None

        qtbot.waitUntil(arrived, timeout=ANALYSIS_TIMEOUT_MS)

    return wait


def chain_graph(registry: LayerRegistry, layers: int) -> Graph:
    """Input → (Linear, ReLU)* → Output, laid out left to right: `layers` nodes in all."""
    graph = Graph(registry)
    previous = graph.add_node("studio.Input", name="x", params={"shape": [16]})
    for i in range(1, layers - 1):
        kind = "studio.Linear" if i % 2 else "studio.ReLU"
        params = {"out_features": 16} if i % 2 else {}
        node = graph.add_node(kind, params=params, position=(i * 220.0, 0.0))
        graph.connect(previous.id, "out", node.id, "in")
        previous = node
    output = graph.add_node("studio.Output", name="y", position=((layers - 1) * 220.0, 0.0))
    graph.connect(previous.id, "out", output.id, "in")
    return graph
