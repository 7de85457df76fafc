"""Copy and paste of layers: plain data out, one undoable command back in."""

from __future__ import annotations

import json
import uuid

import pytest

from studio.core.clipboard import (
    ClipboardDataError,
    PasteCommand,
    copy_nodes,
    dumps,
    loads,
    paste_command,
)
from studio.core.commands import UndoStack
from studio.core.errors import UnknownLayerError, UnknownNodeError
from studio.core.graph import MAX_COORDINATE, Graph

Sample = tuple[Graph, dict[str, str]]


def test_copy_holds_the_nodes_in_document_order_and_only_their_inner_edges(
    sample: Sample,
) -> None:
    graph, ids = sample
    data = copy_nodes(graph, [ids["head"], ids["merge"], ids["stem"]])
    assert [n["name"] for n in data["nodes"]] == ["stem", "merge", "head"]
    pairs = {(e["src"], e["dst_port"], e["dst"]) for e in data["edges"]}
    assert pairs == {(ids["stem"], "in1", ids["merge"]), (ids["merge"], "in", ids["head"])}
    head = data["nodes"][2]
    assert head["params"]["kernel_size"] == [5, 5]
    assert head["position"] == [300.5, -20.0]
    assert loads(dumps(data)) == data  # JSON through and through


def test_copy_refuses_an_unknown_node(sample: Sample) -> None:
    graph, _ = sample
    with pytest.raises(UnknownNodeError):
        copy_nodes(graph, ["nope"])


def test_paste_makes_fresh_ids_unique_names_and_offset_positions(
    sample: Sample, stack: UndoStack
) -> None:
    graph, ids = sample
    old_ids = set(ids.values())
    data = copy_nodes(graph, [ids["stem"], ids["merge"], ids["head"]])
    command = paste_command(graph, data, (40.0, 25.0))
    assert isinstance(command, PasteCommand)
    assert len(graph) == 5  # nothing changes before the command is done
    stack.push(command)
    assert len(graph) == 8
    new = [graph.node(i) for i in command.node_ids]
    assert [n.name for n in new] == ["stem_2", "merge_2", "head_2"]
    for node in new:
        assert node.id not in old_ids
        assert str(uuid.UUID(node.id, version=4)) == node.id
    assert new[2].position == (340.5, 5.0)
    assert new[2].params == graph.node(ids["head"]).params
    pasted = set(command.node_ids)
    inner = [e for e in graph.edges if e.src in pasted or e.dst in pasted]
    assert {(graph.node(e.src).name, graph.node(e.dst).name, e.dst_port) for e in inner} == {
        ("stem_2", "merge_2", "in1"),
        ("merge_2", "head_2", "in"),
    }
    assert all(e.src in pasted and e.dst in pasted for e in inner)  # outside edges dropped
    assert not {e.id for e in inner} & {"edge-stem-merge", "edge-merge-head"}
    after = graph.to_dict()
    stack.undo()
    assert len(graph) == 5
    assert all(i not in graph for i in command.node_ids)
    stack.redo()
    assert graph.to_dict() == after  # redo recreates the same ids and names


def test_pasting_twice_keeps_every_name_unique(sample: Sample, stack: UndoStack) -> None:
    graph, ids = sample
    data = copy_nodes(graph, [ids["head"]])
    stack.push(paste_command(graph, data))
    stack.push(paste_command(graph, data))
    names = [n.name for n in graph.nodes]
    assert names[-2:] == ["head_2", "head_3"]
    assert len(set(names)) == len(names)


def test_names_repeated_inside_the_data_stay_unique(graph: Graph) -> None:
    """Data from another window may hold `conv` and `conv_2` while this graph has `conv`."""
    graph.add_node("test.Conv", name="conv")
    graph.add_node("test.Conv", name="conv_2")
    other = Graph(graph.registry)
    other.add_node("test.Conv", name="conv")
    other.add_node("test.Conv", name="conv_2")
    data = copy_nodes(other, [n.id for n in other.nodes])
    command = paste_command(graph, data)
    command.do()
    assert [graph.node(i).name for i in command.node_ids] == ["conv_3", "conv_4"]


def test_a_long_name_is_shortened_to_stay_valid(graph: Graph) -> None:
    long = "n" * 64
    node = graph.add_node("test.Conv", name=long)
    command = paste_command(graph, copy_nodes(graph, [node.id]))
    command.do()
    name = graph.node(command.node_ids[0]).name
    assert len(name) == 64 and name.endswith("_2")


def test_positions_are_clamped_to_what_a_project_can_store(sample: Sample) -> None:
    graph, ids = sample
    command = paste_command(graph, copy_nodes(graph, [ids["stem"]]), (2 * MAX_COORDINATE, 0.0))
    command.do()
    assert graph.node(command.node_ids[0]).position == (MAX_COORDINATE, 0.0)


def test_pasting_into_another_graph_works(sample: Sample) -> None:
    graph, ids = sample
    data = json.loads(dumps(copy_nodes(graph, list(ids.values()))))
    other = Graph(graph.registry)
    command = paste_command(other, data)
    command.do()
    assert [n.name for n in other.nodes] == [n.name for n in graph.nodes]  # names were free
    assert len(other.edges) == len(graph.edges)
    command.undo()
    assert len(other) == 0 and other.edges == []


def test_a_failing_paste_changes_nothing(sample: Sample) -> None:
    graph, ids = sample
    data = copy_nodes(graph, [ids["stem"], ids["head"]])
    data["nodes"][1]["params"]["channels"] = 0  # out of range: refused by the graph
    before = graph.to_dict()
    command = paste_command(graph, data)
    with pytest.raises(Exception, match="channels"):
        command.do()
    assert graph.to_dict() == before


def test_an_unknown_layer_type_is_refused_up_front(sample: Sample) -> None:
    graph, ids = sample
    data = copy_nodes(graph, [ids["stem"]])
    data["nodes"][0]["type"] = "someplugin.Missing"
    with pytest.raises(UnknownLayerError, match=r"someplugin\.Missing"):
        paste_command(graph, data)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"format": "other"}',
        '{"format": "strata-nodes", "version": 99, "nodes": [], "edges": []}',
        '{"format": "strata-nodes", "version": 1, "nodes": {}, "edges": []}',
        '{"format": "strata-nodes", "version": 1, "nodes": [{"id": "a"}], "edges": []}',
        '{"format": "strata-nodes", "version": 1, "nodes": [], "edges": [{"src": 1}]}',
        '{"format": "strata-nodes", "version": 1, "edges": [], "nodes": [{"id": "a", '
        '"type": "test.Conv", "name": "c", "params": {}, "position": [1e999, 0]}]}',
    ],
)
def test_malformed_clipboard_data_is_refused_with_a_sentence(text: str) -> None:
    with pytest.raises(ClipboardDataError) as info:
        loads(text)
    assert str(info.value)


def test_duplicate_ids_in_the_data_are_refused(sample: Sample) -> None:
    graph, ids = sample
    data = copy_nodes(graph, [ids["stem"]])
    data["nodes"].append(dict(data["nodes"][0]))
    with pytest.raises(ClipboardDataError, match="twice"):
        paste_command(graph, data)
