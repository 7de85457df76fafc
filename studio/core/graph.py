"""The graph document: layer nodes wired port to port, with events for every change.

The graph is the single source of truth; the canvas mirrors it through its signals and the
compiler reads it. Every mutator validates first and changes nothing when it refuses, so a
rejected edit never leaves the document half-changed.
"""

from __future__ import annotations

import heapq
import math
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from psygnal import Signal

from studio.core.errors import (
    CycleError,
    GraphEditError,
    IncompatiblePortError,
    PortOccupiedError,
    UnknownNodeError,
    UnknownPortError,
)
from studio.core.registry import LayerRegistry
from studio.core.specs import LayerSpec, ParamError, ParamValue

Position = tuple[float, float]
# The project file stores coordinates within this bound; the graph refuses others.
MAX_COORDINATE = 1e7
MAX_NAME_LENGTH = 64
# A numbered name keeps at most this much of its stem, so `_<number>` always fits the length.
_STEM_ROOM = MAX_NAME_LENGTH - 10
_NUMBERED = re.compile(r"(.+)_([1-9][0-9]*)")


WEIGHT_TIES: frozenset[frozenset[str]] = frozenset(
    {frozenset({"studio.Linear", "studio.Embedding"})}
)
"""Pairs of layer types that can be weight-tied: each keeps its module, one weight tensor."""


def is_weight_tie(type_id: str, owner_type_id: str) -> bool:
    """Whether a node of `type_id` tied to one of `owner_type_id` is a weight tie."""
    return frozenset({type_id, owner_type_id}) in WEIGHT_TIES


def new_id() -> str:
    """A persistent id: uuid4 text, never `id(obj)`."""
    return str(uuid.uuid4())


@dataclass
class Node:
    """One layer on the canvas. `params` always holds every param of the spec.

    `shares` is the id of another node whose weights this node uses. Two kinds of tie:

    * a *module tie*, with a node of the same layer type (a siamese tower's second branch):
      the compiled model calls that node's module again, so every weight is shared;
    * a *weight tie*, between a Linear and an Embedding in either direction (a language
      model's output head and its token embedding, nanoGPT's ``wte.weight = lm_head.weight``):
      each keeps its own module, and the Linear's weight is the Embedding's table, one
      tensor of (vocabulary × width); the Linear keeps its own bias. See `WEIGHT_TIES`.

    Ties never chain: the other node keeps its own weights. Shape inference reports a tie
    that cannot hold (the other node is gone, of another type, set up differently, or of
    other sizes).
    """

    id: str
    type_id: str
    name: str
    params: dict[str, ParamValue]
    position: Position = (0.0, 0.0)
    shares: str | None = None

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "type": self.type_id,
            "name": self.name,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()},
            "position": [self.position[0], self.position[1]],
        }
        if self.shares is not None:
            document["shares"] = self.shares
        return document


@dataclass(frozen=True)
class Edge:
    """A connection from an output port of `src` to an input port of `dst`."""

    id: str
    src: str
    src_port: str
    dst: str
    dst_port: str

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "src": self.src,
            "src_port": self.src_port,
            "dst": self.dst,
            "dst_port": self.dst_port,
        }


@dataclass
class _Numbering:
    """What `Graph.unique_name` knows of one stem's numbered names (`stem_2`, `stem_3`, ...).

    Every number from 2 below `next` is taken, except those in `freed` (a heap, which may also
    hold numbers taken again since; they are skipped when met).
    """

    next: int = 2
    freed: list[int] = field(default_factory=list)


@dataclass
class _NodeState:
    node: Node
    spec: LayerSpec
    inputs: dict[str, str] = field(default_factory=dict)  # port -> edge id


class Graph:
    """A directed acyclic graph of layer nodes on a `networkx.MultiDiGraph`.

    Node order is part of the document: the order of Input and Output nodes is the order of
    the compiled module's arguments and results, so removing and re-adding (undo) restores it.
    """

    node_added = Signal(object)  # Node
    node_removed = Signal(object)  # Node
    node_moved = Signal(str, object)  # node id, Position
    node_renamed = Signal(str, str)  # node id, new name
    param_changed = Signal(str, str, object)  # node id, param name, value
    shares_changed = Signal(str, object)  # node id, id of the node whose weights it uses, or None
    edge_added = Signal(object)  # Edge
    edge_removed = Signal(object)  # Edge

    def __init__(self, registry: LayerRegistry) -> None:
        self.registry = registry
        self._nx: nx.MultiDiGraph = nx.MultiDiGraph()
        self._nodes: dict[str, _NodeState] = {}
        self._order: list[str] = []
        self._edges: dict[str, Edge] = {}
        self._names: dict[str, str] = {}  # name -> node id
        self._numbering: dict[str, _Numbering] = {}  # stem -> its `stem_<i>` names' index

    # ----------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    @property
    def nodes(self) -> list[Node]:
        return [self._nodes[i].node for i in self._order]

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges.values())

    def node(self, node_id: str) -> Node:
        return self._state(node_id).node

    def spec(self, node_id: str) -> LayerSpec:
        return self._state(node_id).spec

    def node_by_name(self, name: str) -> Node | None:
        node_id = self._names.get(name)
        return None if node_id is None else self._nodes[node_id].node

    def index_of(self, node_id: str) -> int:
        return self._order.index(node_id)

    def edge(self, edge_id: str) -> Edge:
        try:
            return self._edges[edge_id]
        except KeyError:
            raise GraphEditError(f"no connection with id {edge_id!r}") from None

    def input_ports(self, node_id: str) -> list[str]:
        state = self._state(node_id)
        return [p.name for p in state.spec.input_ports(state.node.params)]

    def output_ports(self, node_id: str) -> list[str]:
        state = self._state(node_id)
        return [p.name for p in state.spec.output_ports(state.node.params)]

    def incoming(self, node_id: str) -> dict[str, Edge]:
        """Input port name -> the edge that feeds it."""
        state = self._state(node_id)
        return {port: self._edges[eid] for port, eid in state.inputs.items()}

    def edges_of(self, node_id: str) -> list[Edge]:
        """Every edge touching the node, incoming first."""
        self._state(node_id)
        ins = [self._edges[k] for _, _, k in self._nx.in_edges(node_id, keys=True)]
        outs = [self._edges[k] for _, _, k in self._nx.out_edges(node_id, keys=True)]
        return ins + outs

    def outgoing(self, node_id: str) -> list[Edge]:
        self._state(node_id)
        return [self._edges[k] for _, _, k in self._nx.out_edges(node_id, keys=True)]

    def topological_order(self) -> list[str]:
        """Node ids with every node after its inputs; ties keep document order."""
        position = {node_id: i for i, node_id in enumerate(self._order)}
        return list(nx.lexicographical_topological_sort(self._nx, key=position.__getitem__))

    def descendants(self, node_ids: Iterable[str]) -> set[str]:
        """The given nodes and everything downstream of them."""
        found: set[str] = set()
        for node_id in node_ids:
            if node_id in self._nodes and node_id not in found:
                found.add(node_id)
                found |= nx.descendants(self._nx, node_id)
        return found

    def has_path(self, src: str, dst: str) -> bool:
        return bool(nx.has_path(self._nx, src, dst))

    def unique_name(self, base: str) -> str:
        """`base` if free, else the first free of `base_2`, `base_3`, ... (numbered from the
        stem: `Conv_2` taken gives `Conv_3`).

        Amortised O(log n), not a probe per taken name: each stem remembers how far its numbers
        are known to be taken and which numbers below that were freed since, so importing a
        200k-node model does not search from `_2` for every node.
        """
        if base not in self._names:
            return base
        stem = re.sub(r"_\d+$", "", base)[:_STEM_ROOM]
        numbering = self._numbering.setdefault(stem, _Numbering())
        while numbering.freed:
            number = heapq.heappop(numbering.freed)
            if f"{stem}_{number}" not in self._names:
                heapq.heappush(numbering.freed, number)  # still free until a node takes it
                return f"{stem}_{number}"
        while f"{stem}_{numbering.next}" in self._names:
            numbering.next += 1
        return f"{stem}_{numbering.next}"

    def _name_freed(self, name: str) -> None:
        """Keep the numbering's promise: every free number below `next` is in `freed`."""
        numbered = _NUMBERED.fullmatch(name)
        if numbered is None:
            return
        numbering = self._numbering.get(numbered.group(1))
        number = int(numbered.group(2))
        if numbering is not None and number < numbering.next:
            heapq.heappush(numbering.freed, number)

    # ----------------------------------------------------------------- checks
    def check_connect(self, src: str, src_port: str, dst: str, dst_port: str) -> None:
        """Raise a typed `GraphEditError` if the connection cannot be made; change nothing."""
        src_state, dst_state = self._state(src), self._state(dst)
        if src == dst:
            raise CycleError(f"{src_state.node.name} cannot feed itself")
        if src_port not in self.output_ports(src):
            if src_port in self.input_ports(src):
                raise IncompatiblePortError(
                    f"{src_state.node.name}.{src_port} is an input; drag from an output port"
                )
            raise UnknownPortError(f"{src_state.node.name} has no output port {src_port!r}")
        if dst_port not in self.input_ports(dst):
            if dst_port in self.output_ports(dst):
                raise IncompatiblePortError(
                    f"{dst_state.node.name}.{dst_port} is an output; connect to an input port"
                )
            raise UnknownPortError(f"{dst_state.node.name} has no input port {dst_port!r}")
        # A node that feeds nothing yet (each node an importer adds) cannot close a cycle; the
        # search is skipped, as it costs more than the rest of a connection.
        if self._nx.out_degree(dst) and nx.has_path(self._nx, dst, src):
            raise CycleError(
                f"connecting {src_state.node.name} to {dst_state.node.name} would make a "
                f"cycle: {dst_state.node.name} already feeds {src_state.node.name}"
            )
        if dst_port in dst_state.inputs:
            feeder = self._edges[dst_state.inputs[dst_port]]
            raise PortOccupiedError(
                f"{dst_state.node.name}.{dst_port} is already fed by "
                f"{self.node(feeder.src).name}; remove that connection first"
            )

    def check_param(self, node_id: str, name: str, value: object) -> ParamValue:
        """Validate a new param value; refuse a port count that would drop a connection."""
        state = self._state(node_id)
        if not state.spec.has_param(name):
            raise GraphEditError(f"{state.node.name} has no parameter {name!r}")
        try:
            normalised = state.spec.param(name).validate(value)
        except ParamError as exc:
            raise GraphEditError(f"{state.node.name}: {exc}") from None
        if name == state.spec.variadic_inputs:
            new_params = {**state.node.params, name: normalised}
            kept = {p.name for p in state.spec.input_ports(new_params)}
            lost = sorted(set(state.inputs) - kept)
            if lost:
                raise GraphEditError(
                    f"{state.node.name}.{lost[0]} is connected; disconnect it before "
                    "reducing the number of inputs"
                )
        if name == state.spec.variadic_outputs:
            new_params = {**state.node.params, name: normalised}
            kept = {p.name for p in state.spec.output_ports(new_params)}
            used = sorted({edge.src_port for edge in self.outgoing(node_id)} - kept)
            if used:
                raise GraphEditError(
                    f"{state.node.name}.{used[0]} is connected; disconnect it before "
                    "reducing the number of outputs"
                )
        if any(p.when == name for p in (*state.spec.inputs, *state.spec.outputs)):
            self._check_gated_ports(node_id, {**state.node.params, name: normalised}, name)
        return normalised

    def _check_gated_ports(self, node_id: str, new_params: dict[str, Any], name: str) -> None:
        """Refuse turning off a param (a recurrent layer's return_state) whose ports are used."""
        state = self._state(node_id)
        kept = {p.name for p in state.spec.output_ports(new_params)}
        kept |= {p.name for p in state.spec.input_ports(new_params)}
        used = {edge.src_port for edge in self.outgoing(node_id)} | set(state.inputs)
        lost = sorted(used - kept)
        if lost:
            raise GraphEditError(
                f"{state.node.name}.{lost[0]} is connected; disconnect it before turning {name} off"
            )

    # ----------------------------------------------------------------- mutators
    def add_node(
        self,
        type_id: str,
        *,
        name: str | None = None,
        params: Mapping[str, object] | None = None,
        position: Position = (0.0, 0.0),
        node_id: str | None = None,
        index: int | None = None,
        shares: str | None = None,
    ) -> Node:
        """Add a layer; params are validated and completed with defaults.

        `shares` may name a node not added yet (a document is read in order): whether the tie
        holds is for shape inference to say, as it says for every other setting.
        """
        spec = self.registry.get(type_id)
        try:
            full_params = spec.validate_params(params or {})
        except ParamError as exc:
            raise GraphEditError(f"{name or spec.title}: {exc}") from None
        node_id = node_id or new_id()
        if node_id in self._nodes:
            raise GraphEditError(f"a node with id {node_id!r} already exists")
        if name is None:
            name = self.unique_name(spec.type_id.rsplit(".", 1)[1])
        elif name in self._names:
            raise GraphEditError(f"the name {name!r} is already used by another node")
        _check_name(name)
        if shares == node_id:
            raise GraphEditError(f"{name}: a layer cannot share weights with itself")
        node = Node(node_id, type_id, name, full_params, check_position(position), shares)
        self._nodes[node_id] = _NodeState(node, spec)
        self._nx.add_node(node_id)
        if index is None or not 0 <= index <= len(self._order):
            self._order.append(node_id)
        else:
            self._order.insert(index, node_id)
        self._names[name] = node_id
        self.node_added.emit(node)
        return node

    def remove_node(self, node_id: str) -> Node:
        """Remove a node that has no connections (commands remove its edges first)."""
        state = self._state(node_id)
        if self._nx.degree(node_id):
            raise GraphEditError(f"{state.node.name} still has connections; remove them first")
        del self._nodes[node_id]
        self._nx.remove_node(node_id)
        self._order.remove(node_id)
        del self._names[state.node.name]
        self._name_freed(state.node.name)
        self.node_removed.emit(state.node)
        return state.node

    def connect(
        self, src: str, src_port: str, dst: str, dst_port: str, *, edge_id: str | None = None
    ) -> Edge:
        self.check_connect(src, src_port, dst, dst_port)
        edge = Edge(edge_id or new_id(), src, src_port, dst, dst_port)
        if edge.id in self._edges:
            raise GraphEditError(f"a connection with id {edge.id!r} already exists")
        self._edges[edge.id] = edge
        self._nx.add_edge(src, dst, key=edge.id)
        self._nodes[dst].inputs[dst_port] = edge.id
        self.edge_added.emit(edge)
        return edge

    def disconnect(self, edge_id: str) -> Edge:
        edge = self.edge(edge_id)
        del self._edges[edge_id]
        self._nx.remove_edge(edge.src, edge.dst, key=edge_id)
        del self._nodes[edge.dst].inputs[edge.dst_port]
        self.edge_removed.emit(edge)
        return edge

    def set_param(self, node_id: str, name: str, value: object) -> ParamValue:
        """Set one param; returns the previous value."""
        normalised = self.check_param(node_id, name, value)
        node = self._nodes[node_id].node
        old = node.params[name]
        if old != normalised:
            node.params[name] = normalised
            self.param_changed.emit(node_id, name, normalised)
        return old

    def set_shares(self, node_id: str, owner: str | None) -> str | None:
        """Make `node_id` use `owner`'s weights (None: its own); returns the previous owner.

        Refused unless `owner` is another node that keeps its own weights (ties never
        chain), of the same layer type (a module tie) or forming a weight tie with this one
        (a Linear and an Embedding, `WEIGHT_TIES`); whether the sizes agree is for shape
        inference to say.
        """
        node = self._state(node_id).node
        if owner is not None:
            other = self._state(owner).node
            if owner == node_id:
                raise GraphEditError(f"{node.name}: a layer cannot share weights with itself")
            if other.type_id != node.type_id and not is_weight_tie(node.type_id, other.type_id):
                raise GraphEditError(
                    f"{node.name} can share weights only with a layer of its own type (or a "
                    f"Linear with an Embedding); {other.name} is a {self.spec(owner).title}"
                )
            if other.shares is not None:
                raise GraphEditError(
                    f"{other.name} itself uses the weights of another layer; share with that one"
                )
            if self.sharers(node_id):
                raise GraphEditError(
                    f"other layers use {node.name}'s weights; it cannot use another's in turn"
                )
        old = node.shares
        if old != owner:
            node.shares = owner
            self.shares_changed.emit(node_id, owner)
        return old

    def is_weight_tied(self, node_id: str) -> bool:
        """Whether `node_id` shares only the weight tensor of its owner (a weight tie)."""
        shares = self._state(node_id).node.shares
        if shares is None or shares not in self._nodes:
            return False
        return is_weight_tie(self._nodes[node_id].node.type_id, self._nodes[shares].node.type_id)

    def sharers(self, node_id: str) -> list[str]:
        """The nodes that use `node_id`'s weights, in document order."""
        return [n for n in self._order if self._nodes[n].node.shares == node_id]

    def rename_node(self, node_id: str, name: str) -> str:
        """Rename a node; names are unique because they name the compiled submodules."""
        node = self._state(node_id).node
        if name == node.name:
            return name
        _check_name(name)
        if name in self._names:
            raise GraphEditError(f"the name {name!r} is already used by another node")
        old = node.name
        del self._names[old]
        self._name_freed(old)
        self._names[name] = node_id
        node.name = name
        self.node_renamed.emit(node_id, name)
        return old

    def move_node(self, node_id: str, position: Position) -> Position:
        node = self._state(node_id).node
        old = node.position
        node.position = check_position(position)
        if old != node.position:
            self.node_moved.emit(node_id, node.position)
        return old

    # ----------------------------------------------------------------- files
    def to_dict(self) -> dict[str, Any]:
        """Plain data for the project file: nodes in document order, edges by target."""
        order = {node_id: i for i, node_id in enumerate(self._order)}
        edges = sorted(self._edges.values(), key=lambda e: (order[e.dst], e.dst_port))
        return {
            "nodes": [self._nodes[i].node.to_dict() for i in self._order],
            "edges": [e.to_dict() for e in edges],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], registry: LayerRegistry) -> Graph:
        """Rebuild a graph from `to_dict` output (ids kept), e.g. a copy for a worker thread.

        The data is trusted to come from `to_dict`; files go through the project loader,
        which names the JSON path of anything wrong.
        """
        graph = cls(registry)
        for node in data["nodes"]:
            x, y = node["position"]
            graph.add_node(
                node["type"],
                name=node["name"],
                params=node["params"],
                position=(x, y),
                node_id=node["id"],
                shares=node.get("shares"),
            )
        for edge in data["edges"]:
            graph.connect(
                edge["src"], edge["src_port"], edge["dst"], edge["dst_port"], edge_id=edge["id"]
            )
        return graph

    def _state(self, node_id: str) -> _NodeState:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise UnknownNodeError(f"no node with id {node_id!r}") from None

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)


NAME_PATTERN = re.compile(rf"^[A-Za-z_][A-Za-z0-9_]{{0,{MAX_NAME_LENGTH - 1}}}$")


def _check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):  # match() with `$` also takes a trailing newline
        raise GraphEditError(
            f"{name!r} is not a valid node name: use letters, digits and _ (at most 64), "
            "starting with a letter"
        )


def check_position(position: Position) -> Position:
    """Refuse what the project file cannot store, so a graph that saves always loads again."""
    try:
        x, y = (float(v) for v in position)
    except (TypeError, ValueError, OverflowError):
        raise GraphEditError(f"{position!r} is not a position: give two numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise GraphEditError(f"{position!r} is not a position: both numbers must be finite")
    if abs(x) > MAX_COORDINATE or abs(y) > MAX_COORDINATE:
        raise GraphEditError(
            f"{position!r} is too far out: each coordinate must be within ±{MAX_COORDINATE:g}"
        )
    return (x, y)
