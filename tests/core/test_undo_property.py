"""Random edit sequences through the undo stack: history always replays exactly.

After every step: undoing everything gives back the first document, redoing everything gives
back the last one, each single undo gives back the document from before that step, refused
edits change nothing, and a mirror fed only by the graph's events (as the canvas is) always
equals the graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from studio.core.commands import (
    AddNodeCommand,
    Command,
    ConnectCommand,
    DisconnectCommand,
    MoveNodesCommand,
    RemoveNodeCommand,
    RenameNodeCommand,
    SetParamCommand,
    UndoStack,
)
from studio.core.errors import StudioError
from studio.core.graph import Edge, Graph, Node
from studio.core.project import Project
from studio.core.specs import ParamSpec

from .fake_layers import SPECS, build_sample_graph, make_registry

Document = dict[str, Any]
MakeCommand = Callable[[], Command]

NAMES = ["a", "b", "Conv", "Conv_2", "Input", "x_1", "Add"]
BAD_NAMES = ["bad name", "9lives", "", "x" * 65]
good_coordinates = st.floats(-1e7, 1e7, allow_nan=False)
bad_coordinates = st.sampled_from([math.nan, math.inf, -2e7])
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2000),
    st.floats(),
    st.text(max_size=3),
    st.lists(st.integers(-1, 40), max_size=3),
)


def rarely(data: st.DataObject, label: str) -> bool:
    """True about one time in eight (shrinks to False): for edits meant to be refused."""
    return data.draw(st.integers(0, 7), label=label) == 7


def valid_values(spec: ParamSpec) -> st.SearchStrategy[Any]:
    low = None if spec.minimum is None else int(spec.minimum)
    high = None if spec.maximum is None else int(spec.maximum)
    strategy: st.SearchStrategy[Any]
    if spec.kind == "int":
        strategy = st.integers(low, high)
    elif spec.kind == "float":
        strategy = st.floats(spec.minimum, spec.maximum, allow_nan=False, allow_infinity=False)
    elif spec.kind == "bool":
        strategy = st.booleans()
    elif spec.kind == "choice":
        strategy = st.sampled_from(spec.choices)
    elif spec.kind == "str":
        strategy = st.text(max_size=20)
    else:
        size = spec.length
        strategy = st.lists(
            st.integers(low, high),
            min_size=size or spec.min_length,
            max_size=size or 8,
        ).map(tuple)
    return st.one_of(st.none(), strategy) if spec.nullable else strategy


class Mirror:
    """What a canvas knows: only what the graph's events told it (copied, never shared)."""

    def __init__(self, graph: Graph) -> None:
        self.nodes: dict[str, Document] = {}
        self.edges: dict[str, Document] = {}
        graph.node_added.connect(self._node_added)
        graph.node_removed.connect(self._node_removed)
        graph.node_moved.connect(self._node_moved)
        graph.node_renamed.connect(self._node_renamed)
        graph.param_changed.connect(self._param_changed)
        graph.edge_added.connect(self._edge_added)
        graph.edge_removed.connect(self._edge_removed)

    def _node_added(self, node: Node) -> None:
        assert node.id not in self.nodes
        self.nodes[node.id] = node.to_dict()

    def _node_removed(self, node: Node) -> None:
        del self.nodes[node.id]

    def _node_moved(self, node_id: str, position: tuple[float, float]) -> None:
        self.nodes[node_id]["position"] = list(position)

    def _node_renamed(self, node_id: str, name: str) -> None:
        self.nodes[node_id]["name"] = name

    def _param_changed(self, node_id: str, name: str, value: Any) -> None:
        self.nodes[node_id]["params"][name] = list(value) if isinstance(value, tuple) else value

    def _edge_added(self, edge: Edge) -> None:
        assert edge.id not in self.edges
        self.edges[edge.id] = edge.to_dict()

    def _edge_removed(self, edge: Edge) -> None:
        del self.edges[edge.id]

    def check(self, document: Document) -> None:
        assert self.nodes == {n["id"]: n for n in document["nodes"]}
        assert self.edges == {e["id"]: e for e in document["edges"]}


class Abort(Exception):
    """Raised inside a macro to abandon it."""


class UndoMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.registry = make_registry()
        self.graph = Graph(self.registry)
        self.mirror = Mirror(self.graph)
        self.stack = UndoStack()
        # The model of the history: states[i] is the document after i recorded steps.
        self.states: list[Document] = [self.graph.to_dict()]
        self.pos = 0
        self.clean: int | None = 0

    # ------------------------------------------------------------- drawing edits
    def _node_id(self, data: st.DataObject) -> str:
        ids = [n.id for n in self.graph.nodes]
        if not ids or rarely(data, "unknown node"):
            return "ghost"
        return data.draw(st.sampled_from(ids), label="node")

    def _position(self, data: st.DataObject) -> tuple[float, float]:
        bad = rarely(data, "bad position")
        coordinate = bad_coordinates if bad else good_coordinates
        return data.draw(st.tuples(coordinate, good_coordinates), label="position")

    def _value(self, data: st.DataObject, param: ParamSpec) -> Any:
        return data.draw(junk if rarely(data, "bad value") else valid_values(param), label="value")

    def _name(self, data: st.DataObject) -> str:
        if rarely(data, "bad name"):
            return data.draw(st.sampled_from(BAD_NAMES), label="name")
        return data.draw(st.sampled_from(NAMES), label="name")

    def draw_add(self, data: st.DataObject) -> MakeCommand:
        spec = data.draw(st.sampled_from(SPECS), label="layer")
        type_id = "test.Nope" if rarely(data, "unknown layer") else spec.type_id
        params: dict[str, Any] = {}
        for param in spec.params:
            if data.draw(st.booleans(), label=f"set {param.name}"):
                params[param.name] = self._value(data, param)
        name = self._name(data) if data.draw(st.booleans(), label="named") else None
        position = self._position(data)
        return lambda: AddNodeCommand(
            self.graph, type_id, name=name, params=params, position=position
        )

    def draw_remove(self, data: st.DataObject) -> MakeCommand:
        node_id = self._node_id(data)
        return lambda: RemoveNodeCommand(self.graph, node_id)

    def draw_connect(self, data: st.DataObject) -> MakeCommand:
        src, dst = self._node_id(data), self._node_id(data)
        src_ports = dst_ports = ["out", "in"]
        if src in self.graph:
            src_ports = self.graph.output_ports(src)
            if not src_ports or rarely(data, "from an input"):
                src_ports = [*self.graph.input_ports(src), "bogus"]
        if dst in self.graph:
            dst_ports = self.graph.input_ports(dst)
            if not dst_ports or rarely(data, "to an output"):
                dst_ports = [*self.graph.output_ports(dst), "in9"]
        src_port = data.draw(st.sampled_from(src_ports), label="src_port")
        dst_port = data.draw(st.sampled_from(dst_ports), label="dst_port")
        return lambda: ConnectCommand(self.graph, src, src_port, dst, dst_port)

    def draw_disconnect(self, data: st.DataObject) -> MakeCommand:
        edge_ids = [e.id for e in self.graph.edges]
        if not edge_ids or rarely(data, "unknown edge"):
            return lambda: DisconnectCommand(self.graph, "no-such-edge")
        edge_id = data.draw(st.sampled_from(edge_ids), label="edge")
        return lambda: DisconnectCommand(self.graph, edge_id)

    def draw_set_param(self, data: st.DataObject) -> MakeCommand:
        node_id = self._node_id(data)
        params = list(self.graph.spec(node_id).params) if node_id in self.graph else []
        if not params or rarely(data, "unknown param"):
            return lambda: SetParamCommand(self.graph, node_id, "nope", 1)
        param = data.draw(st.sampled_from(params), label="param")
        value = self._value(data, param)
        return lambda: SetParamCommand(self.graph, node_id, param.name, value)

    def draw_rename(self, data: st.DataObject) -> MakeCommand:
        node_id = self._node_id(data)
        name = self._name(data)
        return lambda: RenameNodeCommand(self.graph, node_id, name)

    def draw_move(self, data: st.DataObject) -> MakeCommand:
        count = data.draw(st.integers(1, 3), label="moved")
        moves = {self._node_id(data): self._position(data) for _ in range(count)}
        return lambda: MoveNodesCommand(self.graph, moves)

    def draw_any(self, data: st.DataObject) -> MakeCommand:
        draw = data.draw(
            st.sampled_from(
                [
                    self.draw_add,
                    self.draw_connect,
                    self.draw_set_param,
                    self.draw_remove,
                    self.draw_disconnect,
                    self.draw_rename,
                    self.draw_move,
                ]
            ),
            label="edit",
        )
        return draw(data)

    # ------------------------------------------------------------- applying edits
    def attempt(self, make: MakeCommand) -> bool:
        """Make and push a command; a refusal must leave the document as it was."""
        before = self.graph.to_dict()
        try:
            self.stack.push(make())
        except StudioError:
            assert self.graph.to_dict() == before
            return False
        return True

    def recorded(self, before: Document) -> None:
        """A step was recorded: check that one undo and one redo replay it, then model it."""
        after = self.graph.to_dict()
        assert self.stack.undo()
        assert self.graph.to_dict() == before
        assert self.stack.redo()
        assert self.graph.to_dict() == after
        del self.states[self.pos + 1 :]
        self.states.append(after)
        self.pos += 1
        if self.clean is not None and self.clean >= self.pos:
            self.clean = None  # the saved state was on the branch just thrown away

    def edit(self, make: MakeCommand) -> None:
        before = self.graph.to_dict()
        if self.attempt(make):
            self.recorded(before)

    # ------------------------------------------------------------- rules
    @initialize(start_with_sample=st.booleans())
    def start(self, start_with_sample: bool) -> None:
        """Start empty or from the five-node sample graph (built outside the history)."""
        if start_with_sample:
            build_sample_graph(self.graph)
            self.states = [self.graph.to_dict()]

    @rule(data=st.data())
    def add_node(self, data: st.DataObject) -> None:
        self.edit(self.draw_add(data))

    @rule(data=st.data())
    def remove_node(self, data: st.DataObject) -> None:
        self.edit(self.draw_remove(data))

    @rule(data=st.data())
    def connect(self, data: st.DataObject) -> None:
        self.edit(self.draw_connect(data))

    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        self.edit(self.draw_disconnect(data))

    @rule(data=st.data())
    def set_param(self, data: st.DataObject) -> None:
        self.edit(self.draw_set_param(data))

    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        self.edit(self.draw_rename(data))

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        self.edit(self.draw_move(data))

    @rule(data=st.data(), size=st.integers(1, 5), abort=st.booleans())
    def macro(self, data: st.DataObject, size: int, abort: bool) -> None:
        before = self.graph.to_dict()
        pushed = 0
        try:
            with self.stack.macro("random edits"):
                for _ in range(size):
                    pushed += self.attempt(self.draw_any(data))
                if abort:
                    raise Abort
        except Abort:
            assert self.graph.to_dict() == before
            return
        if pushed:
            self.recorded(before)
        else:
            assert self.graph.to_dict() == before  # an empty macro records nothing

    @rule()
    def undo(self) -> None:
        assert self.stack.undo() == (self.pos > 0)
        self.pos = max(0, self.pos - 1)

    @rule()
    def redo(self) -> None:
        assert self.stack.redo() == (self.pos < len(self.states) - 1)
        self.pos = min(len(self.states) - 1, self.pos + 1)

    @rule()
    def set_clean(self) -> None:
        self.stack.set_clean()
        self.clean = self.pos

    # ------------------------------------------------------------- checks
    @invariant()
    def history_replays_exactly(self) -> None:
        graph, stack, states = self.graph, self.stack, self.states
        assert graph.to_dict() == states[self.pos]
        self.mirror.check(states[self.pos])
        assert stack.is_clean == (self.clean == self.pos)
        assert stack.can_undo == (self.pos > 0)
        assert stack.can_redo == (self.pos < len(states) - 1)
        for i in reversed(range(self.pos)):
            assert stack.undo()
            assert graph.to_dict() == states[i]
        assert not stack.undo()
        assert graph.to_dict() == states[0]
        self.mirror.check(states[0])
        for i in range(1, len(states)):
            assert stack.redo()
            assert graph.to_dict() == states[i]
        assert not stack.redo()
        self.mirror.check(states[-1])
        for _ in range(len(states) - 1 - self.pos):
            stack.undo()
        assert graph.to_dict() == states[self.pos]
        self.mirror.check(states[self.pos])
        assert stack.is_clean == (self.clean == self.pos)

    def teardown(self) -> None:
        # Every document the edits can reach saves and loads back unchanged.
        project = Project("fuzz", self.registry, graphs={"model": self.graph})
        loaded = Project.from_json(project.to_json(), self.registry, source="fuzz.strata")
        assert loaded.to_dict() == project.to_dict()


UndoMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestUndoHistory = UndoMachine.TestCase
