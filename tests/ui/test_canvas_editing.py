"""Editing on the canvas, driven through the real window with mouse and keyboard events.

Connections drawn by mouse (and refused ones), moves, rubber-band and click selection,
delete, copy/paste/duplicate, layers dropped from the palette, auto-layout, the minimap and
the Edit menu; each edit is one undoable step.
"""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QMouseEvent
from PySide6.QtWidgets import QApplication, QToolTip

from studio.core.graph import Graph
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.ui.canvas import LAYER_MIME, NODES_MIME, GraphScene, GraphView, NodeItem
from studio.ui.main_window import MainWindow

from .conftest import chain_graph

LEFT = Qt.MouseButton.LeftButton
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


# ----------------------------------------------------------------- helpers
def show(qtbot, window: MainWindow, graph: Graph, centre: tuple[float, float]) -> GraphScene:
    """Open `graph` in the window at zoom 1 centred on `centre` (scene coordinates)."""
    window.set_project(Project("editing", graph.registry, graphs={"model": graph}))
    scene = window.current.scene
    qtbot.waitUntil(lambda: scene.is_populated, timeout=60_000)
    qtbot.wait(10)  # the window frames a newly shown graph on the next turn of the loop
    window.view.set_zoom(1.0)
    window.view.centerOn(QPointF(*centre))
    return scene


def at(view: GraphView, point: QPointF) -> QPoint:
    return view.mapFromScene(point)


def send_mouse(widget, kind: QEvent.Type, pos: QPoint, button, buttons, modifiers) -> None:
    event = QMouseEvent(
        kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers
    )
    QApplication.sendEvent(widget, event)


def move(view: GraphView, pos: QPoint, buttons=LEFT, modifiers=NO_MODIFIER) -> None:
    """A mouse move with buttons held (QTest's own moves may carry none)."""
    send_mouse(
        view.viewport(), QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, buttons, modifiers
    )


def press(qtbot, view: GraphView, pos: QPoint, modifiers=NO_MODIFIER) -> None:
    qtbot.mousePress(view.viewport(), LEFT, modifiers, pos)


def release(qtbot, view: GraphView, pos: QPoint, modifiers=NO_MODIFIER) -> None:
    qtbot.mouseRelease(view.viewport(), LEFT, modifiers, pos)


def drag(qtbot, view: GraphView, start: QPoint, end: QPoint, modifiers=NO_MODIFIER) -> None:
    press(qtbot, view, start, modifiers)
    for step in range(1, 7):
        move(view, start + (end - start) * step / 6, modifiers=modifiers)
    release(qtbot, view, end, modifiers)


def heartbeat_while(qtbot, done) -> list[float]:
    """Wait until `done()`; the gaps between beats of a 2 ms timer meanwhile (seconds)."""
    beats = [time.perf_counter()]
    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    try:
        qtbot.waitUntil(done, timeout=30_000)
    finally:
        timer.stop()
    beats.append(time.perf_counter())
    return [b - a for a, b in itertools.pairwise(beats)]


def thaw() -> None:
    """Undo `gc.freeze()`, and collect now: not in the middle of a later test's timing."""
    gc.unfreeze()
    gc.collect()


def click(qtbot, view: GraphView, pos: QPoint, modifiers=NO_MODIFIER) -> None:
    press(qtbot, view, pos, modifiers)
    release(qtbot, view, pos, modifiers)


def names(graph: Graph, node_ids: Iterator[str] | list[str]) -> set[str]:
    return {graph.node(node_id).name for node_id in node_ids}


def edge_names(graph: Graph) -> set[tuple[str, str, str]]:
    return {(graph.node(e.src).name, graph.node(e.dst).name, e.dst_port) for e in graph.edges}


def loose_graph(registry: LayerRegistry) -> Graph:
    """x → dense → act → y in a row, `dense` not yet fed; a second input `z` below."""
    graph = Graph(registry)
    x = graph.add_node("studio.Input", name="x", params={"shape": [16]}, position=(0.0, 0.0))
    dense = graph.add_node(
        "studio.Linear", name="dense", params={"out_features": 8}, position=(260.0, 0.0)
    )
    act = graph.add_node("studio.ReLU", name="act", position=(520.0, 0.0))
    y = graph.add_node("studio.Output", name="y", position=(780.0, 0.0))
    graph.add_node("studio.Input", name="z", params={"shape": [16]}, position=(0.0, 200.0))
    graph.connect(dense.id, "out", act.id, "in")
    graph.connect(act.id, "out", y.id, "in")
    assert x.id
    return graph


def merge_graph(registry: LayerRegistry) -> Graph:
    """x → add.in1 → add → act → y; add.in2 is free (feeding it from act is a cycle)."""
    graph = Graph(registry)
    x = graph.add_node("studio.Input", name="x", params={"shape": [16]}, position=(0.0, 0.0))
    add = graph.add_node("studio.Add", name="add", params={"inputs": 2}, position=(260.0, 0.0))
    act = graph.add_node("studio.ReLU", name="act", position=(520.0, 0.0))
    y = graph.add_node("studio.Output", name="y", position=(780.0, 0.0))
    graph.connect(x.id, "out", add.id, "in1")
    graph.connect(add.id, "out", act.id, "in")
    graph.connect(act.id, "out", y.id, "in")
    return graph


def node(graph: Graph, name: str) -> str:
    found = graph.node_by_name(name)
    assert found is not None, name
    return found.id


def item(scene: GraphScene, graph: Graph, name: str) -> NodeItem:
    return scene.nodes[node(graph, name)]


@pytest.fixture
def window(main_window: MainWindow) -> MainWindow:
    main_window.activateWindow()
    return main_window


# ----------------------------------------------------------------- connecting
def test_dragging_from_an_output_to_an_input_connects_them(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    start = at(view, item(scene, graph, "x").output_port_pos("out"))
    end = at(view, item(scene, graph, "dense").input_port_pos("in"))
    items_before = len(scene.items())

    press(qtbot, view, start)
    assert scene.connecting
    targets = set(scene.connection_targets)
    assert (node(graph, "dense"), "in") in targets
    assert (node(graph, "act"), "in") not in targets  # occupied
    move(view, start + QPoint(40, 20))
    move(view, end)
    release(qtbot, view, end)

    assert not scene.connecting
    assert len(scene.items()) == items_before + 1  # the new edge; the preview is gone
    feeder = graph.incoming(node(graph, "dense"))["in"]
    assert feeder.src == node(graph, "x") and feeder.src_port == "out"
    edge_item = scene.edges[feeder.id]
    assert edge_item.path.pointAtPercent(1.0) == item(scene, graph, "dense").input_port_pos("in")
    assert window.undo_stack.count() == 1
    assert window.undo_stack.undoText() == "Connect"
    window.undo_action.trigger()
    assert "in" not in graph.incoming(node(graph, "dense"))
    assert feeder.id not in scene.edges
    window.redo_action.trigger()
    assert graph.incoming(node(graph, "dense"))["in"].id == feeder.id


def test_dragging_from_a_free_input_to_an_output_connects_them_too(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    start = at(view, item(scene, graph, "dense").input_port_pos("in"))
    end = at(view, item(scene, graph, "z").output_port_pos("out"))
    drag(qtbot, view, start, end)
    assert graph.incoming(node(graph, "dense"))["in"].src == node(graph, "z")


def test_a_connection_that_would_make_a_cycle_is_refused_with_a_message(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = merge_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    before = graph.to_dict()
    items_before = len(scene.items())
    start = at(view, item(scene, graph, "act").output_port_pos("out"))
    end = at(view, item(scene, graph, "add").input_port_pos("in2"))

    press(qtbot, view, start)
    assert (node(graph, "add"), "in2") not in scene.connection_targets
    move(view, (start + end) / 2)
    move(view, end)
    with qtbot.waitSignal(window.edit_refused) as refused:
        release(qtbot, view, end)

    message = refused.args[0]
    assert "cycle" in message and "act" in message and "add" in message
    assert QToolTip.text() == message
    assert message in window.statusBar().currentMessage()
    assert graph.to_dict() == before
    assert window.undo_stack.count() == 0
    assert len(scene.items()) == items_before
    QToolTip.hideText()


def test_an_occupied_input_is_refused_and_nothing_changes(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    before = graph.to_dict()
    start = at(view, item(scene, graph, "z").output_port_pos("out"))
    end = at(view, item(scene, graph, "act").input_port_pos("in"))
    with qtbot.waitSignal(window.edit_refused) as refused:
        drag(qtbot, view, start, end)
    assert "already fed by dense" in refused.args[0]
    assert graph.to_dict() == before
    assert window.undo_stack.count() == 0
    QToolTip.hideText()


def test_releasing_on_empty_canvas_or_escape_cancels(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    before, items_before = graph.to_dict(), len(scene.items())
    start = at(view, item(scene, graph, "x").output_port_pos("out"))
    drag(qtbot, view, start, start + QPoint(60, 120))
    press(qtbot, view, start)
    move(view, start + QPoint(30, 30))
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not scene.connecting
    release(qtbot, view, start + QPoint(30, 30))
    assert graph.to_dict() == before
    assert len(scene.items()) == items_before
    assert window.undo_stack.count() == 0


def test_dragging_a_connected_input_moves_the_connection_as_one_step(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    before = graph.to_dict()
    old = graph.incoming(node(graph, "act"))["in"]
    start = at(view, item(scene, graph, "act").input_port_pos("in"))
    end = at(view, item(scene, graph, "y").input_port_pos("in"))

    # Pulling act's input off and letting go on y's input: dense now feeds y. But y is fed
    # already, so that is refused and the connection goes back where it was.
    press(qtbot, view, start)
    assert not scene.edges[old.id].isVisible()
    move(view, end)
    with qtbot.waitSignal(window.edit_refused):
        release(qtbot, view, end)
    assert graph.to_dict() == before
    assert scene.edges[old.id].isVisible()

    # Onto a free input (a new Linear below): one "Reconnect" step.
    spare = graph.add_node("studio.Linear", name="spare", position=(520.0, 200.0))
    end = at(view, scene.nodes[spare.id].input_port_pos("in"))
    drag(qtbot, view, start, end)
    assert "in" not in graph.incoming(node(graph, "act"))
    assert graph.incoming(spare.id)["in"].src == node(graph, "dense")
    assert window.undo_stack.count() == 1
    assert window.undo_stack.undoText() == "Reconnect"
    window.undo_action.trigger()
    assert graph.incoming(node(graph, "act"))["in"] == old
    assert scene.edges[old.id].isVisible()

    # Dropped on empty canvas: the connection is removed, and undo brings it back.
    drag(qtbot, view, start, start + QPoint(-60, 120))
    assert "in" not in graph.incoming(node(graph, "act"))
    assert window.undo_stack.undoText() == "Disconnect"
    window.undo_action.trigger()
    assert graph.incoming(node(graph, "act"))["in"] == old


def test_a_click_on_a_connected_input_changes_nothing(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    before = graph.to_dict()
    pos = at(window.view, item(scene, graph, "act").input_port_pos("in"))
    click(qtbot, window.view, pos)
    assert graph.to_dict() == before
    assert all(edge.isVisible() for edge in scene.edges.values())
    assert window.undo_stack.count() == 0


# ----------------------------------------------------------------- moving
def test_dragging_a_card_is_one_undoable_move(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    dense = item(scene, graph, "dense")
    start = at(view, dense.scenePos())
    drag(qtbot, view, start, start + QPoint(50, 70))
    moved = graph.node(dense.node_id).position
    assert moved == pytest.approx((310.0, 70.0), abs=1.0)
    assert window.undo_stack.count() == 1
    window.undo_action.trigger()
    assert graph.node(dense.node_id).position == (260.0, 0.0)
    assert (dense.pos().x(), dense.pos().y()) == (260.0, 0.0)
    edge = graph.outgoing(dense.node_id)[0]
    assert scene.edges[edge.id].path.pointAtPercent(0.0) == dense.output_port_pos("out")
    window.redo_action.trigger()
    assert graph.node(dense.node_id).position == moved


def test_dragging_a_selection_moves_every_card_in_one_step(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    ids = [node(graph, n) for n in ("dense", "act", "y")]
    scene.select(ids)
    start = at(view, scene.nodes[ids[1]].scenePos())
    drag(qtbot, view, start, start + QPoint(0, 90))
    assert [graph.node(i).position[1] for i in ids] == pytest.approx([90.0] * 3, abs=1.0)
    assert window.undo_stack.count() == 1
    assert window.undo_stack.undoText() == "Move 3 nodes"
    window.undo_action.trigger()
    assert [graph.node(i).position[1] for i in ids] == [0.0, 0.0, 0.0]


# ----------------------------------------------------------------- selecting
def test_rubber_band_and_modifier_clicks_select(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    # A band from above-left of dense to below-right of act, on empty canvas.
    start = at(view, QPointF(150.0, -90.0))
    end = at(view, QPointF(600.0, 90.0))
    drag(qtbot, view, start, end)
    assert names(graph, scene.selected_node_ids()) == {"dense", "act"}
    between = graph.outgoing(node(graph, "dense"))[0].id
    assert scene.selected_edge_ids() == [between]  # the band covers its middle
    assert window.undo_stack.count() == 0  # selecting is no edit

    y_pos = at(view, item(scene, graph, "y").scenePos())
    click(qtbot, view, y_pos, Qt.KeyboardModifier.ShiftModifier)
    assert names(graph, scene.selected_node_ids()) == {"dense", "act", "y"}
    dense_pos = at(view, item(scene, graph, "dense").scenePos())
    click(qtbot, view, dense_pos, Qt.KeyboardModifier.ControlModifier)
    assert names(graph, scene.selected_node_ids()) == {"act", "y"}
    click(qtbot, view, dense_pos, Qt.KeyboardModifier.ShiftModifier)
    assert names(graph, scene.selected_node_ids()) == {"dense", "act", "y"}
    click(qtbot, view, at(view, QPointF(400.0, 300.0)))  # empty canvas clears
    assert scene.selectedItems() == []


def test_an_edge_can_be_clicked_and_select_all_takes_everything(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    edge = graph.outgoing(node(graph, "act"))[0]
    click(qtbot, view, at(view, scene.edges[edge.id].middle))
    assert scene.selected_edge_ids() == [edge.id]
    assert scene.selected_node_ids() == []
    assert window.delete_action.isEnabled() and not window.copy_action.isEnabled()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert set(scene.selected_node_ids()) == {n.id for n in graph.nodes}
    assert set(scene.selected_edge_ids()) == {e.id for e in graph.edges}


# ----------------------------------------------------------------- deleting
def test_delete_removes_the_selection_in_one_step_and_undo_restores_it_exactly(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = merge_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    before = graph.to_dict()
    # Two connected nodes, the edge between them (removed with them anyway) and an edge
    # elsewhere: nothing may be disconnected twice.
    add, act = node(graph, "add"), node(graph, "act")
    between = graph.outgoing(add)[0].id
    elsewhere = graph.incoming(node(graph, "y"))["in"].id
    scene.select([add, act], [between, elsewhere])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert names(graph, [n.id for n in graph.nodes]) == {"x", "y"}
    assert graph.edges == []
    assert window.undo_stack.count() == 1
    assert window.undo_stack.undoText() == "Delete 2 layers"
    assert not scene.edges and set(scene.nodes) == {node(graph, "x"), node(graph, "y")}
    window.undo_action.trigger()
    assert graph.to_dict() == before
    assert set(scene.edges) == {e.id for e in graph.edges}
    window.redo_action.trigger()
    assert len(graph) == 2
    window.undo_action.trigger()

    # A lone edge, with Backspace.
    scene.select(edge_ids=[elsewhere])
    qtbot.keyClick(view, Qt.Key.Key_Backspace)
    assert window.undo_stack.undoText() == "Delete 1 connection"
    assert "in" not in graph.incoming(node(graph, "y"))
    window.undo_action.trigger()
    assert graph.to_dict() == before


# ----------------------------------------------------------------- clipboard
def test_copy_and_paste_remap_ids_and_names_and_undo_removes_them(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    before = graph.to_dict()
    originals = [node(graph, "dense"), node(graph, "act")]
    scene.select(originals)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasFormat(NODES_MIME)
    assert window.paste_action.isEnabled()
    assert window.undo_stack.count() == 0  # copying is no edit

    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    pasted = scene.selected_node_ids()
    assert len(pasted) == 2 and not set(pasted) & set(originals)
    assert names(graph, pasted) == {"dense_2", "act_2"}
    assert ("dense_2", "act_2", "in") in edge_names(graph)  # the inner edge, remapped
    assert ("act_2", "y", "in") not in edge_names(graph)  # an edge out of the copy is dropped
    copy = graph.node_by_name("dense_2")
    assert copy is not None
    assert copy.position == (300.0, 40.0)  # one step down and right of the original
    assert copy.params == graph.node(originals[0]).params
    assert window.undo_stack.count() == 1

    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert names(graph, scene.selected_node_ids()) == {"dense_3", "act_3"}
    third = graph.node_by_name("dense_3")
    assert third is not None and third.position == (340.0, 80.0)
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert graph.to_dict() == before


def test_cut_then_paste_into_another_project(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    scene.select([node(graph, "dense"), node(graph, "act")])
    window.cut_action.trigger()
    assert graph.node_by_name("dense") is None
    assert window.undo_stack.undoText() == "Cut 2 layers"

    # Where they were copied from is out of sight here: they land in the middle of the view.
    other = chain_graph(registry, 3)
    other_scene = show(qtbot, window, other, (5000.0, 3000.0))
    window.paste_action.trigger()
    pasted = other_scene.selected_node_ids()
    assert names(other, pasted) == {"dense", "act"}  # the names are free here
    xs = [other.node(i).position[0] for i in pasted]
    ys = [other.node(i).position[1] for i in pasted]
    assert (min(xs) + max(xs)) / 2 == pytest.approx(5000.0, abs=1)
    assert (min(ys) + max(ys)) / 2 == pytest.approx(3000.0, abs=1)
    assert ("dense", "act", "in") in edge_names(other)


def test_duplicate_copies_next_to_the_originals_and_leaves_the_clipboard(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    QGuiApplication.clipboard().clear()
    scene.select([node(graph, "act")])
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert names(graph, scene.selected_node_ids()) == {"act_2"}
    assert graph.node(scene.selected_node_ids()[0]).position == (560.0, 40.0)
    assert window.undo_stack.undoText() == "Duplicate act"
    assert not window.paste_action.isEnabled()


def test_pasting_something_else_is_refused_with_a_sentence(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    show(qtbot, window, graph, (400.0, 0.0))
    before = graph.to_dict()
    mime = QMimeData()
    mime.setData(NODES_MIME, b'{"format": "something else"}')
    QGuiApplication.clipboard().setMimeData(mime)
    with qtbot.waitSignal(window.edit_refused) as refused:
        window.paste_action.trigger()
    assert "Strata Studio" in refused.args[0]
    assert graph.to_dict() == before


# ----------------------------------------------------------------- palette drops
def drop_event(view: GraphView, mime: QMimeData, pos: QPoint):
    from PySide6.QtGui import QDropEvent

    return QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, LEFT, NO_MODIFIER)


def test_a_layer_dropped_from_the_palette_is_added_where_it_lands(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    from PySide6.QtGui import QDragEnterEvent

    from studio.ui.palette import LAYER_MIME_TYPE

    assert LAYER_MIME_TYPE == LAYER_MIME  # the palette drags what the canvas takes
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    mime = QMimeData()
    mime.setData(LAYER_MIME, b"studio.Dropout")
    pos = at(view, QPointF(400.0, 250.0))
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, LEFT, NO_MODIFIER)
    view.dragEnterEvent(enter)
    assert enter.isAccepted()
    event = drop_event(view, mime, pos)
    view.dropEvent(event)
    assert event.isAccepted()
    added = graph.nodes[-1]
    assert added.type_id == "studio.Dropout" and added.name == "Dropout"
    expected = view.mapToScene(pos)
    assert added.position == pytest.approx((expected.x(), expected.y()), abs=0.01)
    assert scene.selected_node_ids() == [added.id]
    assert window.undo_stack.undoText() == "Add Dropout"
    window.undo_action.trigger()
    assert added.id not in graph and added.id not in scene.nodes


def test_other_drops_are_rejected(qtbot, window: MainWindow, registry: LayerRegistry) -> None:
    from PySide6.QtGui import QDragEnterEvent

    graph = loose_graph(registry)
    show(qtbot, window, graph, (400.0, 0.0))
    view = window.view
    before = graph.to_dict()
    text = QMimeData()
    text.setText("studio.ReLU")
    pos = at(view, QPointF(400.0, 250.0))
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, text, LEFT, NO_MODIFIER)
    view.dragEnterEvent(enter)
    assert not enter.isAccepted()
    event = drop_event(view, text, pos)
    view.dropEvent(event)
    assert not event.isAccepted()
    unknown = QMimeData()
    unknown.setData(LAYER_MIME, b"someplugin.Missing")
    with qtbot.waitSignal(window.edit_refused) as refused:
        view.dropEvent(drop_event(view, unknown, pos))
    assert "someplugin.Missing" in refused.args[0]
    assert graph.to_dict() == before


# ----------------------------------------------------------------- auto-layout
def test_auto_layout_is_one_step_and_undo_restores_every_position(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = merge_graph(registry)
    scattered = {"x": (30.0, 400.0), "add": (-200.0, 90.0), "act": (640.0, -300.0)}
    for name, position in scattered.items():
        graph.move_node(node(graph, name), position)
    show(qtbot, window, graph, (0.0, 0.0))
    before = {n.id: n.position for n in graph.nodes}

    window.auto_layout_action.trigger()
    chain = [graph.node(node(graph, n)).position for n in ("x", "add", "act", "y")]
    assert [p[0] for p in chain] == sorted(p[0] for p in chain)  # left to right
    assert len({p[0] for p in chain}) == 4 and len({p[1] for p in chain}) == 1
    assert window.undo_stack.count() == 1
    assert window.undo_stack.undoText() == "Auto-layout left to right"
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.current.scene.itemsBoundingRect())  # fitted

    window.undo_action.trigger()
    assert {n.id: n.position for n in graph.nodes} == before
    scene = window.current.scene
    assert all((i.pos().x(), i.pos().y()) == before[k] for k, i in scene.nodes.items())

    window.auto_layout_tb_action.trigger()
    chain = [graph.node(node(graph, n)).position for n in ("x", "add", "act", "y")]
    assert [p[1] for p in chain] == sorted(p[1] for p in chain)  # top to bottom
    assert len({p[0] for p in chain}) == 1
    window.undo_action.trigger()
    assert {n.id: n.position for n in graph.nodes} == before


# ----------------------------------------------------------------- minimap
def test_the_minimap_shows_the_graph_and_a_click_pans_the_view(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    view = window.view
    assert not view.minimap.isVisible()  # nothing to show yet
    graph = chain_graph(registry, 40)  # 40 cards in a row, far wider than the view
    show(qtbot, window, graph, (0.0, 0.0))
    minimap = view.minimap
    qtbot.waitUntil(minimap.isVisible)
    corner = view.rect().bottomRight()
    assert minimap.geometry().bottomRight().x() <= corner.x()
    assert minimap.geometry().bottomRight().y() <= corner.y()
    assert minimap.geometry().right() > view.width() - 60

    last = graph.nodes[-1].position
    target = minimap.widget_point(QPointF(*last))
    qtbot.mouseClick(minimap, LEFT, NO_MODIFIER, target.toPoint())
    centre = view.mapToScene(view.viewport().rect().center())
    assert centre.x() == pytest.approx(last[0], abs=40)
    # Dragging in the minimap keeps panning.
    first = graph.nodes[0].position
    start = minimap.widget_point(QPointF(*first)).toPoint()
    qtbot.mousePress(minimap, LEFT, NO_MODIFIER, start)
    end = start + QPoint(10, 0)
    send_mouse(minimap, QEvent.Type.MouseMove, end, Qt.MouseButton.NoButton, LEFT, NO_MODIFIER)
    qtbot.mouseRelease(minimap, LEFT, NO_MODIFIER, end)
    centre = view.mapToScene(view.viewport().rect().center())
    assert centre.x() == pytest.approx(minimap.scene_point(QPointF(end)).x(), abs=2)

    # A change is drawn again after a pause, not at once.
    graph.add_node("studio.ReLU", name="extra", position=(0.0, 600.0))
    assert minimap.render_pending
    qtbot.waitUntil(lambda: not minimap.render_pending)


# ----------------------------------------------------------------- the Edit menu
def test_edit_actions_apply_only_when_they_can(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    editing = [
        window.cut_action,
        window.copy_action,
        window.duplicate_action,
        window.delete_action,
        window.select_all_action,
        window.auto_layout_action,
    ]
    assert not any(action.isEnabled() for action in editing)
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    assert window.select_all_action.isEnabled() and window.auto_layout_action.isEnabled()
    assert not window.copy_action.isEnabled() and not window.delete_action.isEnabled()
    scene.select([node(graph, "dense")])
    assert all(action.isEnabled() for action in editing)
    entries = [a.text().replace("&", "") for a in window.edit_menu.actions() if a.text()]
    for wanted in (
        "Undo History",
        "Cut",
        "Copy",
        "Paste",
        "Duplicate",
        "Delete",
        "Select All",
        "Auto-layout Left to Right",
        "Auto-layout Top to Bottom",
    ):
        assert wanted in entries
    shortcuts = {
        window.duplicate_action: "Ctrl+D",
        window.auto_layout_action: "Ctrl+L",
        window.auto_layout_tb_action: "Ctrl+Shift+L",
    }
    for action, key in shortcuts.items():
        assert action.shortcut().toString() == key


def test_the_undo_history_lists_every_step(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    assert not window.undo_history_dock.isVisible()
    window.undo_history_action.trigger()
    assert window.undo_history_dock.isVisible()
    scene.select([node(graph, "act")])
    window.duplicate_action.trigger()
    window.auto_layout_action.trigger()
    model = window.undo_view.model()
    rows = [model.index(i, 0).data() for i in range(model.rowCount())]
    assert rows[1:] == ["Duplicate act", "Auto-layout left to right"]
    window.undo_view.setCurrentIndex(model.index(1, 0))  # clicking a step goes back to it
    assert window.undo_stack.index() == 1


# ----------------------------------------------------------------- themes
def test_a_theme_switch_repaints_the_canvas_in_its_colours(
    qtbot, window: MainWindow, registry: LayerRegistry
) -> None:
    from studio.ui import theme

    graph = loose_graph(registry)
    scene = show(qtbot, window, graph, (400.0, 0.0))
    dense = item(scene, graph, "dense")
    dark = theme.current().name
    other = next(name for name in theme.THEMES if name != dark)
    try:
        theme.set_theme(other)
        assert scene.backgroundBrush().color() == theme.BACKGROUND
        assert dense.colour == theme.category_colour(graph.spec(dense.node_id).category)
        shot = window.view.grab().toImage()
        corner = shot.pixelColor(5, 5)  # bare canvas
        assert corner.lightness() == pytest.approx(theme.BACKGROUND.lightness(), abs=12)
    finally:
        theme.set_theme(dark)
    assert dense.colour == theme.category_colour(graph.spec(dense.node_id).category)


# ----------------------------------------------------------------- large graphs
def test_editing_a_2000_node_graph_works_in_slices(
    qtbot,
    window: MainWindow,
    registry: LayerRegistry,
    wait_for_analysis,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    graph = chain_graph(registry, 2000)
    scene = show(qtbot, window, graph, (0.0, 0.0))
    view = window.view
    # Timed without the analysis worker competing for the GIL.
    wait_for_analysis(window)
    qtbot.waitUntil(lambda: window.tasks.pending == 0, timeout=120_000)
    # Nor a full garbage collection over every object earlier tests left (and torch's): its
    # pause depends on the whole heap, not on the canvas.
    gc.collect()
    gc.freeze()
    request.addfinalizer(thaw)
    # Only the canvas is timed: the re-analysis after each edit (its snapshot of the graph is
    # taken on the Qt thread) is the window's, not the canvas's, and is left out.
    monkeypatch.setattr(window, "_analyse", lambda page: None)
    # A free input drawn from: every one of the 1,999 outputs upstream of nothing is a target.
    extra = graph.add_node("studio.ReLU", name="extra", position=(219_000.0, 300.0))
    view.centerOn(scene.nodes[extra.id])
    start = at(view, scene.nodes[extra.id].input_port_pos("in"))

    qtbot.wait(50)  # let the view paint first: only the press itself is timed
    began = time.perf_counter()
    send_mouse(view.viewport(), QEvent.Type.MouseButtonPress, start, LEFT, LEFT, NO_MODIFIER)
    pressed = time.perf_counter() - began
    assert scene.connecting and len(scene.connection_targets) == 1999
    moves = []
    for step in range(1, 11):
        began = time.perf_counter()
        move(view, start + QPoint(step * 8, step * 5))
        moves.append(time.perf_counter() - began)
    release(qtbot, view, start + QPoint(80, 50))

    overview = scene.overview()
    assert sum(len(rects) for _, rects in overview.boxes) == 2001
    assert len(overview.links) == 1999
    minimap = view.minimap
    qtbot.waitUntil(lambda: not minimap.render_pending)
    minimap.longest_slice = 0.0
    graph.move_node(extra.id, (219_000.0, 500.0))
    assert minimap.render_pending
    qtbot.waitUntil(lambda: not minimap.render_pending)
    rendered = minimap.longest_slice  # the longest turn of the event loop it took
    assert rendered > 0  # it rendered in slices; how fast is for benchmarks/ui_editor.py

    # Laying out 2,000 cards: the document at once, the cards in slices; fitted at the end.
    began = time.perf_counter()
    window.auto_layout_tb_action.trigger()
    laid_out = time.perf_counter() - began
    assert graph.nodes[5].position[0] == graph.nodes[6].position[0]
    assert scene.moves_pending
    gaps = heartbeat_while(qtbot, lambda: not scene.moves_pending)
    fifth = scene.nodes[graph.nodes[5].id]
    assert (fifth.pos().x(), fifth.pos().y()) == graph.nodes[5].position
    # Fitted once the cards were in place: a column of 2,000 is centred at the widest zoom.
    qtbot.wait(10)
    centre = view.mapToScene(view.viewport().rect().center())
    middle = scene.itemsBoundingRect().center()
    assert view.zoom == pytest.approx(GraphView.MIN_ZOOM)
    assert (centre.x(), centre.y()) == pytest.approx((middle.x(), middle.y()), abs=20)
    began = time.perf_counter()
    window.undo_action.trigger()
    undone = time.perf_counter() - began
    assert graph.nodes[5].position == (5 * 220.0, 0.0)
    gaps += heartbeat_while(qtbot, lambda: not scene.moves_pending)
    assert (fifth.pos().x(), fifth.pos().y()) == (5 * 220.0, 0.0)
    edge = scene.edges[graph.outgoing(graph.nodes[5].id)[0].id]
    assert edge.path.pointAtPercent(0.0) == fifth.output_port_pos("out")

    # Duplicating all 2,000: the document at once, the cards in slices, then all selected.
    scene.select_all()
    began = time.perf_counter()
    window.duplicate_action.trigger()
    duplicated = time.perf_counter() - began
    gaps = heartbeat_while(qtbot, lambda: len(scene.selected_node_ids()) == 2001)
    assert len(graph) == 4002 and len(scene.nodes) == 4002
    assert len(scene.edges) == len(graph.edges) == 2 * 1999
    window.undo_action.trigger()
    assert len(graph) == len(scene.nodes) == 2001
    print(
        f"2,000 nodes: connect press {pressed * 1000:.1f} ms, worst move "
        f"{max(moves) * 1000:.1f} ms, minimap slice {rendered * 1000:.1f} ms, auto-layout "
        f"{laid_out * 1000:.0f} ms, undo {undone * 1000:.0f} ms, slices <= "
        f"{max(gaps) * 1000:.0f} ms, duplicate {duplicated * 1000:.0f} ms"
    )
