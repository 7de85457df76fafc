"""Undoable edits and the undo stack."""

from __future__ import annotations

import math
from typing import Any

import pytest

from studio.core.commands import (
    AddNodeCommand,
    Command,
    ConnectCommand,
    DisconnectCommand,
    MacroCommand,
    MoveNodesCommand,
    RemoveNodeCommand,
    RenameNodeCommand,
    SetParamCommand,
    UndoStack,
)
from studio.core.errors import CycleError, GraphEditError, PortOccupiedError, UnknownNodeError
from studio.core.graph import Graph

from .event_log import EventLog

Sample = tuple[Graph, dict[str, str]]


def do_undo_redo(graph: Graph, stack: UndoStack, command: Command) -> dict[str, Any]:
    """Push, undo, redo; check the document at each step. Returns the document after."""
    before = graph.to_dict()
    stack.push(command)
    after = graph.to_dict()
    assert after != before
    assert stack.undo()
    assert graph.to_dict() == before
    assert stack.redo()
    assert graph.to_dict() == after
    return after


def test_add_node_command(graph: Graph, stack: UndoStack) -> None:
    command = AddNodeCommand(graph, "test.Conv", params={"channels": 4}, position=(3, 4))
    assert command.text == "Add Conv"
    log = EventLog(graph)
    do_undo_redo(graph, stack, command)
    added, removed, readded = log.events
    assert added[0] == "node_added" and removed[0] == "node_removed"
    assert readded[0] == "node_added"
    # Redo makes the very same node: same id, same (auto-chosen) name.
    assert added[1][0].id == readded[1][0].id == command.node_id
    assert readded[1][0].name == "Conv" == command.name
    assert graph.node(command.node_id).params["channels"] == 4


def test_add_node_redo_keeps_the_auto_name_even_if_it_became_ambiguous(
    graph: Graph, stack: UndoStack
) -> None:
    stack.push(AddNodeCommand(graph, "test.Conv"))
    second = AddNodeCommand(graph, "test.Conv")
    stack.push(second)
    assert second.name == "Conv_2"
    stack.undo()
    stack.undo()
    stack.redo()
    stack.redo()
    assert graph.node(second.node_id).name == "Conv_2"


def test_failed_push_records_nothing(sample: Sample, stack: UndoStack) -> None:
    graph, _ = sample
    stack.push(AddNodeCommand(graph, "test.Input", name="extra"))
    stack.undo()
    before = graph.to_dict()
    with pytest.raises(GraphEditError):
        stack.push(AddNodeCommand(graph, "test.Conv", params={"channels": -1}))
    with pytest.raises(GraphEditError):
        stack.push(AddNodeCommand(graph, "test.Conv", name="stem"))
    assert graph.to_dict() == before
    assert not stack.can_undo
    assert stack.can_redo  # a refused edit does not throw away the redo history
    assert stack.redo()
    assert graph.node_by_name("extra") is not None


def test_connect_command(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    graph.set_param(ids["merge"], "inputs", 3)
    extra = graph.add_node("test.Input", name="extra")
    command = ConnectCommand(graph, extra.id, "out", ids["merge"], "in3", edge_id="x")
    assert "in3" not in graph.incoming(ids["merge"])  # nothing happens until pushed
    do_undo_redo(graph, stack, command)
    assert graph.incoming(ids["merge"])["in3"].id == "x"


def test_connect_command_validates_when_made(sample: Sample) -> None:
    graph, ids = sample
    before = graph.to_dict()
    with pytest.raises(CycleError):
        ConnectCommand(graph, ids["head"], "out", ids["stem"], "in")
    with pytest.raises(PortOccupiedError):
        ConnectCommand(graph, ids["image"], "out", ids["head"], "in")
    assert graph.to_dict() == before


def test_disconnect_command(sample: Sample, stack: UndoStack) -> None:
    graph, _ = sample
    after = do_undo_redo(graph, stack, DisconnectCommand(graph, "edge-merge-head"))
    assert "edge-merge-head" not in [e["id"] for e in after["edges"]]
    stack.undo()
    assert graph.edge("edge-merge-head").dst_port == "in"  # same id back
    with pytest.raises(GraphEditError):
        DisconnectCommand(graph, "ghost")


def test_remove_node_command_restores_index_and_edges(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    before = graph.to_dict()
    edges_before = {e.id: e for e in graph.edges_of(ids["merge"])}
    assert graph.index_of(ids["merge"]) == 2
    command = RemoveNodeCommand(graph, ids["merge"])
    assert command.text == "Remove merge"
    log = EventLog(graph)
    stack.push(command)
    assert ids["merge"] not in graph
    assert sorted(name for name, _ in log.take()) == ["edge_removed"] * 3 + ["node_removed"]
    assert {e.id for e in graph.edges} == {"edge-image-stem", "edge-head-out"}
    stack.undo()
    assert graph.to_dict() == before
    assert graph.index_of(ids["merge"]) == 2
    assert {e.id: e for e in graph.edges_of(ids["merge"])} == edges_before
    events = log.take()
    assert events[0][0] == "node_added"  # the node is back before its edges
    assert sorted(name for name, _ in events[1:]) == ["edge_added"] * 3
    stack.redo()
    assert ids["merge"] not in graph
    stack.undo()
    assert graph.to_dict() == before


def test_remove_first_and_last_nodes_restore_their_index(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    before = graph.to_dict()
    stack.push(RemoveNodeCommand(graph, ids["image"]))
    stack.push(RemoveNodeCommand(graph, ids["out"]))
    stack.push(RemoveNodeCommand(graph, ids["stem"]))
    assert [n.name for n in graph.nodes] == ["merge", "head"]
    while stack.undo():
        pass
    assert graph.to_dict() == before


def test_removing_a_selection_with_commands_made_up_front(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    before = graph.to_dict()
    # The canvas builds one command per selected node, then pushes them; merge and head
    # share an edge, which only the first command may remove.
    commands = [RemoveNodeCommand(graph, ids[name]) for name in ("merge", "head", "stem")]
    with stack.macro("Delete selection"):
        for command in commands:
            stack.push(command)
    assert [n.name for n in graph.nodes] == ["image", "out"] and graph.edges == []
    stack.undo()
    assert graph.to_dict() == before
    stack.redo()
    stack.undo()
    assert graph.to_dict() == before


def test_set_param_command(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    command = SetParamCommand(graph, ids["head"], "kernel_size", [1, 7])
    assert command.text == "Set head.kernel_size"
    assert command.value == (1, 7) and command.old == (5, 5)
    log = EventLog(graph)
    do_undo_redo(graph, stack, command)
    assert log.events == [
        ("param_changed", (ids["head"], "kernel_size", (1, 7))),
        ("param_changed", (ids["head"], "kernel_size", (5, 5))),
        ("param_changed", (ids["head"], "kernel_size", (1, 7))),
    ]


def test_set_param_command_validates_when_made(sample: Sample) -> None:
    graph, ids = sample
    with pytest.raises(GraphEditError, match="dropout"):
        SetParamCommand(graph, ids["head"], "dropout", math.inf)
    graph.set_param(ids["merge"], "inputs", 3)
    graph.disconnect("edge-image-merge")
    graph.connect(ids["image"], "out", ids["merge"], "in3")
    with pytest.raises(GraphEditError, match=r"merge\.in3 is connected"):
        SetParamCommand(graph, ids["merge"], "inputs", 2)


def test_rename_command(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    command = RenameNodeCommand(graph, ids["head"], "classifier")
    assert command.text == "Rename head to classifier"
    do_undo_redo(graph, stack, command)
    stack.undo()
    assert graph.node_by_name("head") is graph.node(ids["head"])
    assert graph.node_by_name("classifier") is None


def test_move_command_moves_several_nodes(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    command = MoveNodesCommand(graph, {ids["stem"]: (1, 1), ids["head"]: (2, 2)})
    assert command.text == "Move 2 nodes"
    assert MoveNodesCommand(graph, {ids["stem"]: (0, 0)}).text == "Move"
    do_undo_redo(graph, stack, command)
    stack.undo()
    assert graph.node(ids["head"]).position == (300.5, -20.0)


def test_move_command_refuses_a_bad_position_before_moving_anything(sample: Sample) -> None:
    graph, ids = sample
    before = graph.to_dict()
    with pytest.raises(GraphEditError):
        MoveNodesCommand(graph, {ids["stem"]: (1, 1), ids["head"]: (math.nan, 2)})
    with pytest.raises(UnknownNodeError):
        MoveNodesCommand(graph, {ids["stem"]: (1, 1), "ghost": (2, 2)})
    assert graph.to_dict() == before


# ----------------------------------------------------------------- macros
def test_macro_is_one_step(graph: Graph, stack: UndoStack) -> None:
    with stack.macro("Add a pair") as group:
        a = AddNodeCommand(graph, "test.Input")
        stack.push(a)
        b = AddNodeCommand(graph, "test.Output")
        stack.push(b)
        stack.push(ConnectCommand(graph, a.node_id, "out", b.node_id, "in"))
        assert not stack.can_undo  # nothing recorded until the macro closes
        assert not stack.undo()
    assert isinstance(group, MacroCommand) and len(group.children) == 3
    assert stack.undo_text == "Add a pair"
    after = graph.to_dict()
    assert len(after["nodes"]) == 2 and len(after["edges"]) == 1
    assert stack.undo()
    assert graph.to_dict() == {"nodes": [], "edges": []}
    assert not stack.can_undo
    assert stack.redo_text == "Add a pair"
    assert stack.redo()
    assert graph.to_dict() == after


def test_nested_macros_record_one_step(graph: Graph, stack: UndoStack) -> None:
    with stack.macro("outer"):
        stack.push(AddNodeCommand(graph, "test.Input", name="a"))
        with stack.macro("inner"):
            stack.push(AddNodeCommand(graph, "test.Input", name="b"))
        with stack.macro("empty"):
            pass
    assert stack.undo_text == "outer"
    stack.undo()
    assert len(graph) == 0 and not stack.can_undo


def test_exception_in_macro_undoes_and_records_nothing(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    stack.push(RenameNodeCommand(graph, ids["out"], "result"))
    before = graph.to_dict()
    changes: list[int] = []
    stack.changed.connect(lambda: changes.append(1))
    with pytest.raises(ZeroDivisionError), stack.macro("doomed"):
        stack.push(RemoveNodeCommand(graph, ids["merge"]))
        stack.push(SetParamCommand(graph, ids["head"], "channels", 99))
        stack.push(AddNodeCommand(graph, "test.Conv", name="new"))
        assert graph.to_dict() != before
        _ = 1 / 0
    assert graph.to_dict() == before
    assert stack.undo_text == "Rename out to result"
    assert changes == []
    stack.undo()
    assert graph.node(ids["out"]).name == "out"
    assert not stack.can_undo


def test_refused_edit_inside_macro_aborts_it(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    before = graph.to_dict()
    with pytest.raises(PortOccupiedError), stack.macro("doomed"):
        stack.push(DisconnectCommand(graph, "edge-head-out"))
        stack.push(ConnectCommand(graph, ids["image"], "out", ids["out"], "in"))
        stack.push(ConnectCommand(graph, ids["image"], "out", ids["out"], "in"))
    assert graph.to_dict() == before
    assert not stack.can_undo


def test_exception_in_inner_macro_caught_inside_outer(graph: Graph, stack: UndoStack) -> None:
    with stack.macro("outer"):
        stack.push(AddNodeCommand(graph, "test.Input", name="kept"))
        with pytest.raises(RuntimeError), stack.macro("inner"):
            stack.push(AddNodeCommand(graph, "test.Input", name="dropped"))
            raise RuntimeError
    assert [n.name for n in graph.nodes] == ["kept"]
    stack.undo()
    stack.redo()
    assert [n.name for n in graph.nodes] == ["kept"]


def test_empty_macro_records_nothing_and_keeps_redo(graph: Graph, stack: UndoStack) -> None:
    stack.push(AddNodeCommand(graph, "test.Input"))
    stack.undo()
    with stack.macro("nothing"):
        pass
    assert not stack.can_undo and stack.can_redo


def test_macro_command_redo_failure_rolls_back(graph: Graph) -> None:
    good = AddNodeCommand(graph, "test.Input", name="a")
    bad = AddNodeCommand(graph, "test.Input", name="a")  # the same name again
    macro = MacroCommand("both", [good, bad])
    with pytest.raises(GraphEditError):
        macro.do()
    assert len(graph) == 0


# ----------------------------------------------------------------- history
def test_undo_redo_on_empty_stack(stack: UndoStack) -> None:
    assert not stack.undo() and not stack.redo()
    assert not stack.can_undo and not stack.can_redo
    assert stack.undo_text == stack.redo_text == ""


def test_new_edit_drops_the_redo_history(graph: Graph, stack: UndoStack) -> None:
    stack.push(AddNodeCommand(graph, "test.Input", name="a"))
    stack.push(AddNodeCommand(graph, "test.Input", name="b"))
    stack.undo()
    stack.push(AddNodeCommand(graph, "test.Input", name="c"))
    assert not stack.can_redo
    assert not stack.redo()
    assert [n.name for n in graph.nodes] == ["a", "c"]


def test_changed_signal(graph: Graph, stack: UndoStack) -> None:
    count: list[int] = []
    stack.changed.connect(lambda: count.append(1))
    stack.push(AddNodeCommand(graph, "test.Input"))
    stack.undo()
    stack.redo()
    stack.set_clean()
    with stack.macro("m"):
        stack.push(AddNodeCommand(graph, "test.Input"))
        stack.push(AddNodeCommand(graph, "test.Input"))
    assert len(count) == 5


def test_clean_state_tracking(graph: Graph, stack: UndoStack) -> None:
    assert stack.is_clean
    stack.push(AddNodeCommand(graph, "test.Input", name="a"))
    assert not stack.is_clean
    stack.undo()
    assert stack.is_clean
    stack.redo()
    stack.push(AddNodeCommand(graph, "test.Input", name="b"))
    stack.set_clean()  # saved with a and b
    assert stack.is_clean
    stack.undo()
    assert not stack.is_clean
    stack.redo()
    assert stack.is_clean
    stack.undo()
    stack.push(AddNodeCommand(graph, "test.Input", name="c"))  # a, c: the saved state is gone
    assert not stack.is_clean
    stack.undo()
    assert not stack.is_clean
    stack.undo()
    assert not stack.is_clean
    stack.redo()
    stack.redo()
    assert not stack.is_clean
    stack.set_clean()
    assert stack.is_clean


def test_clean_state_survives_an_edit_after_it(graph: Graph, stack: UndoStack) -> None:
    stack.push(AddNodeCommand(graph, "test.Input", name="a"))
    stack.set_clean()
    stack.push(AddNodeCommand(graph, "test.Input", name="b"))
    assert not stack.is_clean
    stack.undo()
    assert stack.is_clean  # the saved state is still in the history


def test_failed_macro_does_not_touch_clean_state(graph: Graph, stack: UndoStack) -> None:
    stack.push(AddNodeCommand(graph, "test.Input", name="a"))
    stack.set_clean()
    with pytest.raises(KeyError), stack.macro("doomed"):
        stack.push(AddNodeCommand(graph, "test.Input", name="b"))
        raise KeyError
    assert stack.is_clean
