"""The graph document: mutators, their events, and refusals that change nothing."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from studio.core.errors import (
    CycleError,
    GraphEditError,
    IncompatiblePortError,
    PortOccupiedError,
    StudioError,
    UnknownLayerError,
    UnknownNodeError,
    UnknownPortError,
)
from studio.core.graph import Edge, Graph, Node

from .event_log import EventLog

Sample = tuple[Graph, dict[str, str]]


@contextmanager
def unchanged(graph: Graph, error: type[Exception], match: str | None = None) -> Iterator[None]:
    """The block must raise `error`, leave the document as it was, and emit nothing."""
    before = graph.to_dict()
    order = [n.id for n in graph.nodes]
    log = EventLog(graph)
    with pytest.raises(error, match=match):
        yield
    assert graph.to_dict() == before
    assert [n.id for n in graph.nodes] == order
    assert log.events == []


# ----------------------------------------------------------------- add / remove
def test_add_node_fills_defaults_and_emits(graph: Graph) -> None:
    log = EventLog(graph)
    node = graph.add_node("test.Conv", params={"channels": 16}, position=(1, 2))
    assert isinstance(node, Node)
    assert uuid.UUID(node.id).version == 4
    assert node.name == "Conv"
    assert node.params == {
        "channels": 16,
        "dropout": 0.0,
        "bias": True,
        "padding": "same",
        "kernel_size": (3, 3),
        "note": "",
        "groups": None,
    }
    assert node.position == (1.0, 2.0) and all(type(v) is float for v in node.position)
    assert log.events == [("node_added", (node,))]
    assert graph.node(node.id) is node
    assert graph.spec(node.id).type_id == "test.Conv"
    assert node.id in graph and len(graph) == 1


def test_listeners_see_the_change_already_made(graph: Graph) -> None:
    seen: list[object] = []
    graph.node_added.connect(lambda node: seen.append(graph.node(node.id).name))
    graph.edge_added.connect(lambda edge: seen.append(graph.incoming(edge.dst)[edge.dst_port]))
    graph.node_removed.connect(lambda node: seen.append(node.id in graph))
    a = graph.add_node("test.Input")
    b = graph.add_node("test.Output")
    edge = graph.connect(a.id, "out", b.id, "in")
    graph.disconnect(edge.id)
    graph.remove_node(b.id)
    assert seen == ["Input", "Output", edge, False]


def test_names_are_made_unique(graph: Graph) -> None:
    names = [graph.add_node("test.Conv").name for _ in range(3)]
    assert names == ["Conv", "Conv_2", "Conv_3"]
    assert graph.unique_name("Conv_2") == "Conv_4"
    assert graph.unique_name("free") == "free"
    graph.remove_node(graph.node_by_name("Conv_2").id)  # type: ignore[union-attr]
    assert graph.add_node("test.Conv").name == "Conv_2"


class _CountedNames(dict[str, str]):
    """The graph's name index, counting membership tests: how many names a search probes."""

    probes = 0

    def __contains__(self, key: object) -> bool:
        self.probes += 1
        return super().__contains__(key)


def test_unique_name_does_not_probe_every_taken_name(graph: Graph) -> None:
    # One probe per taken name made 200k auto-named nodes quadratic (issue 15: > 10 minutes).
    names = _CountedNames(graph._names)
    graph._names = names
    count = 2_000
    for _ in range(count):
        graph.add_node("test.Conv")
    assert graph.node_by_name(f"Conv_{count}") is not None
    assert names.probes <= 5 * count, f"{names.probes} name probes for {count} nodes"


def _first_free(taken: set[str], base: str) -> str:
    """The documented rule, by brute force: `base`, else the stem's first free `_<i>`."""
    if base not in taken:
        return base
    stem = re.sub(r"_\d+$", "", base)
    i = 2
    while f"{stem}_{i}" in taken:
        i += 1
    return f"{stem}_{i}"


@pytest.mark.timeout(60)
def test_unique_name_stays_first_free_through_removals_and_renames(graph: Graph) -> None:
    # 20k nodes: the old probing took minutes here; the rule itself must not change.
    nodes = [graph.add_node("test.Conv") for _ in range(20_000)]
    assert [n.name for n in nodes[:3]] == ["Conv", "Conv_2", "Conv_3"]
    assert nodes[-1].name == "Conv_20000"
    for i in (17_000, 40, 9_999, 3):
        graph.remove_node(nodes[i].id)
    graph.rename_node(nodes[12_000].id, "elsewhere")
    graph.rename_node(nodes[5].id, "Conv_20001")  # taken out of order: skipped later
    taken = {n.name for n in graph.nodes}
    for base in ("Conv", "Conv_7", "Conv", "Conv", "Conv", "Conv", "Conv", "Conv", "other"):
        expected = _first_free(taken, base)
        assert graph.unique_name(base) == expected
        graph.add_node("test.Conv", name=expected)
        taken.add(expected)
    assert {"Conv_4", "Conv_6", "Conv_41", "Conv_10000", "Conv_12001", "Conv_17001"} <= taken


def test_numbered_names_fit_the_name_length(graph: Graph) -> None:
    long = "a" * 64
    graph.add_node("test.Conv", name=long)
    second = graph.add_node("test.Conv", name=graph.unique_name(long))
    assert second.name != long and len(second.name) <= 64
    assert graph.unique_name(long) != second.name


def test_add_node_at_index_and_ids(graph: Graph) -> None:
    a = graph.add_node("test.Input", name="a")
    c = graph.add_node("test.Input", name="c")
    b = graph.add_node("test.Input", name="b", index=1, node_id="my-id")
    assert [n.name for n in graph.nodes] == ["a", "b", "c"]
    assert b.id == "my-id" and graph.index_of("my-id") == 1
    assert [n.id for n in graph] == [a.id, "my-id", c.id]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"type_id": "test.Nope"}, UnknownLayerError, "test.Nope"),
        ({"params": {"channels": 0}}, GraphEditError, "channels: must be between 1 and 1024"),
        ({"params": {"channel": 3}}, GraphEditError, "channel: Conv has no parameter"),
        ({"params": {"bias": 1}}, GraphEditError, "bias: must be true or false"),
        ({"name": "stem"}, GraphEditError, "already used"),
        ({"name": "2stem"}, GraphEditError, "not a valid node name"),
        ({"name": "has space"}, GraphEditError, "not a valid node name"),
        ({"name": "x" * 65}, GraphEditError, "not a valid node name"),
        ({"name": "conv\n"}, GraphEditError, "not a valid node name"),
        ({"node_id": "node-stem"}, GraphEditError, "already exists"),
        ({"position": (math.nan, 0)}, GraphEditError, "finite"),
        ({"position": (0, math.inf)}, GraphEditError, "finite"),
        ({"position": (1e8, 0)}, GraphEditError, "too far"),
        ({"position": (1, 2, 3)}, GraphEditError, "two numbers"),
        ({"position": ("a", 0)}, GraphEditError, "two numbers"),
    ],
)
def test_add_node_refusals_change_nothing(
    sample: Sample, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    graph, _ = sample
    kwargs = {"type_id": "test.Conv", **kwargs}
    with unchanged(graph, error, match):
        graph.add_node(**kwargs)


def test_remove_node_emits_and_frees_the_name(graph: Graph) -> None:
    node = graph.add_node("test.Conv", name="c")
    log = EventLog(graph)
    assert graph.remove_node(node.id) is node
    assert log.events == [("node_removed", (node,))]
    assert node.id not in graph and len(graph) == 0
    assert graph.node_by_name("c") is None
    assert graph.to_dict() == {"nodes": [], "edges": []}


def test_remove_connected_node_refused(sample: Sample) -> None:
    graph, ids = sample
    with unchanged(graph, GraphEditError, "still has connections"):
        graph.remove_node(ids["merge"])


def test_unknown_node_refused_everywhere(sample: Sample) -> None:
    graph, ids = sample
    calls: list[Callable[[], object]] = [
        lambda: graph.remove_node("ghost"),
        lambda: graph.set_param("ghost", "channels", 3),
        lambda: graph.rename_node("ghost", "x"),
        lambda: graph.move_node("ghost", (0, 0)),
        lambda: graph.connect("ghost", "out", ids["out"], "in"),
        lambda: graph.connect(ids["head"], "out", "ghost", "in"),
        lambda: graph.node("ghost"),
        lambda: graph.edges_of("ghost"),
    ]
    for call in calls:
        with unchanged(graph, UnknownNodeError, "ghost"):
            call()


# ----------------------------------------------------------------- connect / disconnect
def test_connect_and_disconnect_emit(graph: Graph) -> None:
    a = graph.add_node("test.Input")
    b = graph.add_node("test.Conv")
    log = EventLog(graph)
    edge = graph.connect(a.id, "out", b.id, "in")
    assert edge == Edge(edge.id, a.id, "out", b.id, "in")
    assert uuid.UUID(edge.id).version == 4
    assert log.take() == [("edge_added", (edge,))]
    assert graph.incoming(b.id) == {"in": edge}
    assert graph.outgoing(a.id) == [edge]
    assert graph.edge(edge.id) is edge
    assert graph.disconnect(edge.id) is edge
    assert log.take() == [("edge_removed", (edge,))]
    assert graph.incoming(b.id) == {} and graph.edges == []
    with unchanged(graph, GraphEditError, "no connection"):
        graph.disconnect(edge.id)


def test_edge_to_a_merge_frees_the_port_on_disconnect(sample: Sample) -> None:
    graph, ids = sample
    graph.disconnect("edge-image-merge")
    edge = graph.connect(ids["stem"], "out", ids["merge"], "in2", edge_id="again")
    # Two parallel edges between the same nodes, on different ports (a MultiDiGraph).
    assert sorted(e.id for e in graph.edges_of(ids["merge"])[:2]) == ["again", "edge-stem-merge"]
    assert graph.incoming(ids["merge"])["in2"] is edge


def test_self_loop_is_a_cycle(sample: Sample) -> None:
    graph, ids = sample
    with unchanged(graph, CycleError, "cannot feed itself"):
        graph.connect(ids["stem"], "out", ids["stem"], "in")


def test_longer_cycle_refused(sample: Sample) -> None:
    graph, ids = sample
    graph.set_param(ids["merge"], "inputs", 3)
    with unchanged(graph, CycleError, "would make a cycle"):
        graph.connect(ids["head"], "out", ids["merge"], "in3")


def test_occupied_port_refused(sample: Sample) -> None:
    graph, ids = sample
    with unchanged(graph, PortOccupiedError, r"head\.in is already fed by merge"):
        graph.connect(ids["image"], "out", ids["head"], "in")


@pytest.mark.parametrize(
    ("src", "src_port", "dst", "dst_port", "error", "match"),
    [
        ("image", "output", "head", "in", UnknownPortError, "no output port 'output'"),
        ("head", "out", "out", "input", UnknownPortError, "no input port 'input'"),
        ("stem", "out", "merge", "in3", UnknownPortError, "no input port 'in3'"),
        ("stem", "out", "head", "out", IncompatiblePortError, "is an output"),
        ("stem", "in", "out", "in", IncompatiblePortError, "is an input"),
        ("out", "in", "head", "in", IncompatiblePortError, "is an input"),
    ],
)
def test_port_refusals_change_nothing(
    sample: Sample,
    src: str,
    src_port: str,
    dst: str,
    dst_port: str,
    error: type[Exception],
    match: str,
) -> None:
    graph, ids = sample
    graph.disconnect("edge-merge-head")  # head.in is free: only the port is wrong
    graph.disconnect("edge-head-out")
    with unchanged(graph, error, match):
        graph.connect(ids[src], src_port, ids[dst], dst_port)
    with unchanged(graph, error, match):
        graph.check_connect(ids[src], src_port, ids[dst], dst_port)


def test_duplicate_edge_id_refused(sample: Sample) -> None:
    graph, ids = sample
    graph.disconnect("edge-head-out")
    with unchanged(graph, GraphEditError, "already exists"):
        graph.connect(ids["head"], "out", ids["out"], "in", edge_id="edge-image-stem")


def test_typed_errors_share_a_base() -> None:
    for error in (CycleError, PortOccupiedError, UnknownPortError, IncompatiblePortError):
        assert issubclass(error, GraphEditError)
    assert issubclass(GraphEditError, StudioError)


# ----------------------------------------------------------------- params
def test_set_param_emits_normalised_value_and_returns_old(sample: Sample) -> None:
    graph, ids = sample
    log = EventLog(graph)
    assert graph.set_param(ids["head"], "kernel_size", [7, 1]) == (5, 5)
    assert graph.node(ids["head"]).params["kernel_size"] == (7, 1)
    assert graph.set_param(ids["head"], "dropout", 1) == 0.25
    assert log.take() == [
        ("param_changed", (ids["head"], "kernel_size", (7, 1))),
        ("param_changed", (ids["head"], "dropout", 1.0)),
    ]
    assert type(graph.node(ids["head"]).params["dropout"]) is float


def test_setting_the_same_value_emits_nothing(sample: Sample) -> None:
    graph, ids = sample
    log = EventLog(graph)
    graph.set_param(ids["head"], "kernel_size", [5, 5])
    graph.set_param(ids["head"], "padding", "valid")
    assert log.events == []


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("channels", 0, "head: channels: must be between 1 and 1024"),
        ("channels", 2.0, "head: channels: must be an integer"),
        ("channels", True, "head: channels: must be an integer"),
        ("dropout", math.nan, "head: dropout: must be a finite number"),
        ("kernel_size", [3], "head: kernel_size: must have exactly 2 integers"),
        ("padding", "full", "head: padding: must be one of same, valid"),
        ("nope", 1, "head has no parameter 'nope'"),
    ],
)
def test_bad_param_refused(sample: Sample, name: str, value: object, match: str) -> None:
    graph, ids = sample
    with unchanged(graph, GraphEditError, match):
        graph.set_param(ids["head"], name, value)


def test_variadic_count_changes_the_ports(sample: Sample) -> None:
    graph, ids = sample
    assert graph.input_ports(ids["merge"]) == ["in1", "in2"]
    graph.set_param(ids["merge"], "inputs", 4)
    assert graph.input_ports(ids["merge"]) == ["in1", "in2", "in3", "in4"]
    graph.connect(ids["head"], "out", graph.add_node("test.Add", name="tail").id, "in2")
    graph.set_param(ids["merge"], "inputs", 2)
    assert graph.input_ports(ids["merge"]) == ["in1", "in2"]


def test_reducing_variadic_count_below_a_connected_port_refused(sample: Sample) -> None:
    graph, ids = sample
    tail = graph.add_node("test.Add", name="tail", params={"inputs": 4})
    graph.connect(ids["head"], "out", tail.id, "in3")
    with unchanged(graph, GraphEditError, r"tail\.in3 is connected"):
        graph.set_param(tail.id, "inputs", 2)
    graph.set_param(tail.id, "inputs", 3)  # in3 survives
    assert graph.input_ports(tail.id) == ["in1", "in2", "in3"]
    with unchanged(graph, GraphEditError, "disconnect it"):
        graph.check_param(tail.id, "inputs", 2)


# ----------------------------------------------------------------- rename / move
def test_rename_emits_and_moves_the_name(sample: Sample) -> None:
    graph, ids = sample
    log = EventLog(graph)
    assert graph.rename_node(ids["head"], "classifier") == "head"
    assert log.take() == [("node_renamed", (ids["head"], "classifier"))]
    assert graph.node_by_name("classifier") is graph.node(ids["head"])
    assert graph.node_by_name("head") is None
    graph.rename_node(ids["stem"], "head")  # the old name is free again
    graph.rename_node(ids["stem"], "head")  # same name: nothing happens
    assert log.take() == [("node_renamed", (ids["stem"], "head"))]


@pytest.mark.parametrize(
    ("name", "match"),
    [("image", "already used"), ("", "not a valid"), ("a-b", "not a valid"), ("_" * 65, "valid")],
)
def test_bad_rename_refused(sample: Sample, name: str, match: str) -> None:
    graph, ids = sample
    with unchanged(graph, GraphEditError, match):
        graph.rename_node(ids["head"], name)


def test_move_emits_floats_and_returns_old(sample: Sample) -> None:
    graph, ids = sample
    log = EventLog(graph)
    assert graph.move_node(ids["stem"], (5, -7)) == (100.0, 0.0)
    assert log.take() == [("node_moved", (ids["stem"], (5.0, -7.0)))]
    graph.move_node(ids["stem"], (5.0, -7.0))
    assert log.events == []
    assert graph.node(ids["stem"]).position == (5.0, -7.0)


@pytest.mark.parametrize(
    "position", [(math.nan, 0), (0, -math.inf), (1e7 + 1, 0), (0, -2e7), (1,), None]
)
def test_bad_move_refused(sample: Sample, position: Any) -> None:
    graph, ids = sample
    with unchanged(graph, GraphEditError):
        graph.move_node(ids["stem"], position)


# ----------------------------------------------------------------- reading
def test_topological_order_keeps_document_order_for_ties(graph: Graph) -> None:
    # Added in an order where a consumer comes before its producer.
    out = graph.add_node("test.Output", name="out")
    b = graph.add_node("test.Conv", name="b")
    x = graph.add_node("test.Input", name="x")
    a = graph.add_node("test.Conv", name="a")
    graph.add_node("test.Input", name="y")
    merge = graph.add_node("test.Add", name="merge")
    graph.connect(x.id, "out", a.id, "in")
    graph.connect(x.id, "out", b.id, "in")
    graph.connect(a.id, "out", merge.id, "in1")
    graph.connect(b.id, "out", merge.id, "in2")
    graph.connect(merge.id, "out", out.id, "in")
    order = [graph.node(i).name for i in graph.topological_order()]
    assert order == ["x", "b", "a", "y", "merge", "out"]
    position = {name: i for i, name in enumerate(order)}
    for edge in graph.edges:
        assert position[graph.node(edge.src).name] < position[graph.node(edge.dst).name]


def test_descendants_and_paths(sample: Sample) -> None:
    graph, ids = sample
    name = {v: k for k, v in ids.items()}
    assert {name[i] for i in graph.descendants([ids["stem"]])} == {"stem", "merge", "head", "out"}
    assert {name[i] for i in graph.descendants([ids["head"], ids["out"]])} == {"head", "out"}
    assert graph.descendants([ids["image"]]) == set(ids.values())
    assert graph.descendants(["ghost"]) == set()
    assert graph.has_path(ids["image"], ids["out"])
    assert not graph.has_path(ids["out"], ids["image"])


def test_incoming_outgoing_edges_of(sample: Sample) -> None:
    graph, ids = sample
    assert {p: e.id for p, e in graph.incoming(ids["merge"]).items()} == {
        "in1": "edge-stem-merge",
        "in2": "edge-image-merge",
    }
    assert sorted(e.id for e in graph.outgoing(ids["image"])) == [
        "edge-image-merge",
        "edge-image-stem",
    ]
    edges = [e.id for e in graph.edges_of(ids["merge"])]
    assert sorted(edges[:2]) == ["edge-image-merge", "edge-stem-merge"]
    assert edges[2:] == ["edge-merge-head"]
    assert graph.output_ports(ids["out"]) == [] and graph.input_ports(ids["image"]) == []


def test_to_dict_is_plain_json_data(sample: Sample) -> None:
    graph, ids = sample
    data = graph.to_dict()
    assert [n["name"] for n in data["nodes"]] == ["image", "stem", "merge", "head", "out"]
    head = data["nodes"][3]
    assert head == {
        "id": ids["head"],
        "type": "test.Conv",
        "name": "head",
        "params": {
            "channels": 8,
            "dropout": 0.25,
            "bias": True,
            "padding": "valid",
            "kernel_size": [5, 5],
            "note": "héad ✓",
            "groups": None,
        },
        "position": [300.5, -20.0],
    }
    # Edges sorted by target node, then port: independent of the order they were made in.
    assert [e["id"] for e in data["edges"]] == [
        "edge-image-stem",
        "edge-stem-merge",
        "edge-image-merge",
        "edge-merge-head",
        "edge-head-out",
    ]
    assert data["edges"][0] == {
        "id": "edge-image-stem",
        "src": ids["image"],
        "src_port": "out",
        "dst": ids["stem"],
        "dst_port": "in",
    }


def test_from_dict_rebuilds_what_to_dict_wrote(sample, registry) -> None:
    graph, _ = sample
    assert graph.edges, "the sample graph has connections to rebuild"
    copy = Graph.from_dict(graph.to_dict(), registry)
    assert copy is not graph
    assert copy.to_dict() == graph.to_dict()
    assert [n.id for n in copy.nodes] == [n.id for n in graph.nodes]
