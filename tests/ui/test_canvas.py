"""The canvas on its own: the scene mirrors graph events; the view zooms, pans and fits."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from studio.core.graph import Graph
from studio.core.registry import LayerRegistry
from studio.core.shapes import TensorShape
from studio.ui.analysis import ShapeReport, analyse_graph, graph_snapshot
from studio.ui.canvas import GraphScene, GraphView, format_param

from .conftest import chain_graph


@pytest.fixture
def graph(registry: LayerRegistry) -> Graph:
    return chain_graph(registry, 5)


@pytest.fixture
def scene(qtbot, graph: Graph):
    scene = GraphScene(graph)
    yield scene
    scene.close()


@pytest.fixture
def view(qtbot, scene: GraphScene) -> GraphView:
    view = GraphView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.setScene(scene)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_the_scene_starts_with_an_item_per_node_and_edge(scene: GraphScene, graph: Graph) -> None:
    assert scene.is_populated
    assert set(scene.nodes) == {n.id for n in graph.nodes}
    assert set(scene.edges) == {e.id for e in graph.edges}
    for node in graph.nodes:
        item = scene.nodes[node.id]
        assert (item.pos().x(), item.pos().y()) == node.position
        assert item.title == node.name
        assert item.subtitle == graph.spec(node.id).title


def test_the_scene_follows_every_graph_event(scene: GraphScene, graph: Graph) -> None:
    last = graph.nodes[-2]
    added = graph.add_node("studio.Linear", name="extra", position=(50.0, 300.0))
    assert scene.nodes[added.id].title == "extra"
    edge = graph.connect(last.id, "out", added.id, "in")
    assert scene.edges[edge.id].source is scene.nodes[last.id]
    graph.move_node(added.id, (80.0, 320.0))
    assert scene.nodes[added.id].pos() == QPointF(80.0, 320.0)
    end = scene.edges[edge.id].path.pointAtPercent(1.0)
    assert end == scene.nodes[added.id].input_port_pos("in")
    graph.rename_node(added.id, "renamed")
    assert scene.nodes[added.id].title == "renamed"
    graph.set_param(added.id, "out_features", 7)
    assert ("out_features", "7") in scene.nodes[added.id].param_lines
    graph.disconnect(edge.id)
    assert edge.id not in scene.edges
    assert edge.id not in {e.edge_id for e in scene.edges_of(last.id)}
    graph.remove_node(added.id)
    assert added.id not in scene.nodes
    assert len(scene.items()) == len(graph.nodes) + len(graph.edges) + len(graph.nodes)  # badges


def test_a_closed_scene_stops_listening(scene: GraphScene, graph: Graph) -> None:
    scene.close()
    node = graph.add_node("studio.ReLU", name="after_close")
    assert node.id not in scene.nodes


def test_a_variadic_node_gets_a_port_per_input(registry: LayerRegistry, qtbot) -> None:
    graph = Graph(registry)
    add = graph.add_node("studio.Add", name="add", params={"inputs": 3})
    scene = GraphScene(graph)
    try:
        item = scene.nodes[add.id]
        ports = [item.input_port_pos(f"in{i}") for i in (1, 2, 3)]
        assert len({p.y() for p in ports}) == 3
        assert all(p.x() == ports[0].x() for p in ports)
        graph.set_param(add.id, "inputs", 5)
        assert item.input_port_pos("in5").y() > ports[-1].y()
    finally:
        scene.close()


def test_return_state_shows_a_recurrent_cards_state_ports(registry: LayerRegistry, qtbot) -> None:
    graph = Graph(registry)
    lstm = graph.add_node("studio.LSTM", name="encoder")
    scene = GraphScene(graph)
    try:
        item = scene.nodes[lstm.id]
        assert set(item.port_positions("out")) == {"out"}
        assert set(item.port_positions("in")) == {"in", "h0", "c0"}
        graph.set_param(lstm.id, "return_state", True)
        assert set(item.port_positions("out")) == {"out", "h", "c"}
    finally:
        scene.close()


def test_an_analysis_report_labels_cards_and_edges(scene: GraphScene, graph: Graph) -> None:
    report = next(analyse_graph(graph_snapshot(graph), graph.registry))
    assert isinstance(report, ShapeReport)
    scene.apply_report(report)
    first, second = graph.nodes[0], graph.nodes[1]
    assert scene.nodes[first.id].shape_text == "(N, 16)"
    edge = graph.outgoing(first.id)[0]
    assert scene.edges[edge.id].label == "16"
    assert not scene.nodes[second.id].badge.isVisible()


def test_a_problem_puts_a_badge_with_the_message(scene: GraphScene, graph: Graph) -> None:
    from studio.compile.inference import Problem

    node = graph.nodes[1]
    problem = Problem("Linear expects (N, F). Insert Flatten before it.", node.id)
    outputs = {graph.nodes[0].id: {"out": TensorShape((16,))}}
    inputs: dict[str, list[TensorShape | None]] = {n.id: [] for n in graph.nodes}
    scene.apply_report(ShapeReport(outputs, inputs, [problem], [problem.format(graph)]))
    item = scene.nodes[node.id]
    assert item.badge.isVisible()
    assert item.badge.toolTip() == problem.message
    assert item.problem is problem
    assert item.shape_text == "shape unknown"


def test_wheel_zoom_stays_within_limits(view: GraphView) -> None:
    def wheel(delta: int) -> None:
        centre = QPointF(view.viewport().rect().center())
        event = QWheelEvent(
            centre,
            view.viewport().mapToGlobal(centre),
            QPoint(0, 0),
            QPoint(0, delta),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(view.viewport(), event)

    start = view.zoom
    wheel(120)
    assert view.zoom > start
    for _ in range(60):
        wheel(120)
    assert view.zoom == pytest.approx(GraphView.MAX_ZOOM)
    for _ in range(120):
        wheel(-120)
    assert view.zoom == pytest.approx(GraphView.MIN_ZOOM)


def test_middle_drag_and_space_drag_pan(qtbot, view: GraphView) -> None:
    viewport = view.viewport()
    centre = viewport.rect().center()

    def scene_centre() -> QPointF:
        return view.mapToScene(centre)

    before = scene_centre()
    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=centre)
    qtbot.mouseMove(viewport, centre + QPoint(100, 50))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=centre + QPoint(100, 50))
    moved = scene_centre()
    assert moved.x() == pytest.approx(before.x() - 100 / view.zoom, abs=1.5)
    assert moved.y() == pytest.approx(before.y() - 50 / view.zoom, abs=1.5)

    view.setFocus()
    qtbot.keyPress(view, Qt.Key.Key_Space)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(viewport, centre + QPoint(-40, 0))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=centre + QPoint(-40, 0))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert scene_centre().x() == pytest.approx(moved.x() + 40 / view.zoom, abs=1.5)
    assert view.scene().selectedItems() == []  # panning selects nothing


def test_fit_to_view_shows_every_item(view: GraphView, scene: GraphScene) -> None:
    view.set_zoom(3.5)
    view.fit_to_view()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(scene.itemsBoundingRect())
    assert GraphView.MIN_ZOOM <= view.zoom <= 1.25


def test_params_are_shown_as_people_write_them() -> None:
    assert format_param((1, 8, 8)) == "[1, 8, 8]"
    assert format_param(True) == "true"
    assert format_param(0.1) == "0.1"
    assert format_param(None) == "—"
    assert format_param("mean") == "mean"


@pytest.mark.parametrize("zoom", [1.0, 0.37])
def test_the_dotted_grid_after_diagonal_pans_is_the_grid_drawn_afresh(
    view: GraphView, zoom: float
) -> None:
    """The grid is drawn only into the strips a pan exposes (Qt hands over their bounding
    rect, the whole viewport, for a diagonal pan); no dot may go missing or double."""
    view.set_zoom(zoom)
    view.viewport().repaint()
    for dx, dy in [(9, 3), (-7, 11), (13, -5), (-2, -17), (31, 29)]:
        view.pan_by(dx, dy)
        view.viewport().repaint()
    panned = view.viewport().grab().toImage()
    view.resetCachedContent()
    view.viewport().repaint()
    afresh = view.viewport().grab().toImage()
    assert panned == afresh
