"""Copy and paste of layers as plain data, so a selection can travel between windows.

`copy_nodes` turns some nodes (and the connections among them) into JSON-able data;
`paste_command` turns such data back into one undoable command that adds fresh copies: new
uuid4 ids, the internal connections remapped onto them, names made unique in the target
graph, positions offset. Connections to nodes that were not copied are dropped, since their
other end is not part of what was copied. The data is validated before any command exists,
because it may come from another program through the system clipboard.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from studio.core.commands import AddNodeCommand, Command, MacroCommand
from studio.core.errors import GraphEditError
from studio.core.graph import MAX_COORDINATE, Edge, Graph, Position, new_id

FORMAT = "strata-nodes"
VERSION = 1
# Names become Python identifiers of the compiled module; the graph refuses longer ones.
MAX_NAME_LENGTH = 64


class ClipboardDataError(GraphEditError):
    """The pasted data is not layers copied from Strata Studio (or is damaged)."""


def copy_nodes(graph: Graph, node_ids: Iterable[str]) -> dict[str, Any]:
    """The given nodes in document order, and every connection that joins two of them."""
    wanted = set(node_ids)
    for node_id in wanted:
        graph.node(node_id)  # an unknown id raises UnknownNodeError
    nodes = [node.to_dict() for node in graph.nodes if node.id in wanted]
    edges = [
        {"src": e.src, "src_port": e.src_port, "dst": e.dst, "dst_port": e.dst_port}
        for e in graph.edges
        if e.src in wanted and e.dst in wanted
    ]
    return {"format": FORMAT, "version": VERSION, "nodes": nodes, "edges": edges}


def dumps(data: Mapping[str, Any]) -> str:
    """Copied data as compact JSON text (what goes on the system clipboard)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes) -> dict[str, Any]:
    """Parse clipboard text; raise `ClipboardDataError` unless it is copied layers."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ClipboardDataError("the clipboard does not hold layers (not valid JSON)") from None
    _check_data(data)
    assert isinstance(data, dict)
    return data


class PasteCommand(MacroCommand):
    """Adds the copies, then connects them; `node_ids` are the new nodes' ids, in order."""

    def __init__(self, text: str, children: list[Command], node_ids: list[str]) -> None:
        super().__init__(text, children)
        self.node_ids = node_ids


class _ConnectCopies(Command):
    """Connects two pasted nodes; checked when done, since neither exists before the paste."""

    def __init__(self, graph: Graph, edge: Edge) -> None:
        self.graph = graph
        self.edge = edge
        self.text = "Connect"

    def do(self) -> None:
        e = self.edge
        self.graph.connect(e.src, e.src_port, e.dst, e.dst_port, edge_id=e.id)

    def undo(self) -> None:
        self.graph.disconnect(self.edge.id)


def paste_command(
    graph: Graph,
    data: Mapping[str, Any],
    offset: Position = (0.0, 0.0),
    *,
    text: str | None = None,
) -> PasteCommand:
    """One command that adds copies of the copied nodes to `graph`; nothing changes until done.

    Raises `ClipboardDataError` for malformed data and `UnknownLayerError` for a layer type
    this installation lacks (a plugin's layer copied in another window).
    """
    _check_data(data)
    dx, dy = _finite_pair(offset, "offset")
    nodes: list[dict[str, Any]] = data["nodes"]
    for node in nodes:
        graph.registry.get(node["type"])
    names = _NameAllocator(graph)
    id_map: dict[str, str] = {}
    children: list[Command] = []
    for node in nodes:
        new = new_id()
        id_map[node["id"]] = new
        name = names.take(node["name"])
        x, y = _finite_pair(node["position"], f"position of {node['name']}")
        children.append(
            AddNodeCommand(
                graph,
                node["type"],
                name=name,
                params=node["params"],
                position=(_clamp(x + dx), _clamp(y + dy)),
                node_id=new,
            )
        )
    for edge in data["edges"]:
        if edge["src"] in id_map and edge["dst"] in id_map:
            copy = Edge(
                new_id(),
                id_map[edge["src"]],
                edge["src_port"],
                id_map[edge["dst"]],
                edge["dst_port"],
            )
            children.append(_ConnectCopies(graph, copy))
    count = len(nodes)
    label = text or ("Paste " + (nodes[0]["name"] if count == 1 else f"{count} layers"))
    return PasteCommand(label, children, list(id_map.values()))


class _NameAllocator:
    """Names free in the graph and not yet given in this paste: `base`, else `base_2`, ...

    Like `Graph.unique_name`, but it remembers where each stem's search stopped, so pasting
    thousands of `Linear_123`-style names does not search from `_2` every time.
    """

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._taken: set[str] = set()
        self._next: dict[str, int] = {}

    def _free(self, name: str) -> bool:
        return name not in self._taken and self._graph.node_by_name(name) is None

    def take(self, base: str) -> str:
        name = base
        if not self._free(name) or len(name) > MAX_NAME_LENGTH:
            stem = re.sub(r"_\d+$", "", base)
            i = self._next.get(stem, 2)
            while True:
                suffix = f"_{i}"
                name = stem[: MAX_NAME_LENGTH - len(suffix)] + suffix
                i += 1
                if self._free(name):
                    break
            self._next[stem] = i
        self._taken.add(name)
        return name


def _clamp(value: float) -> float:
    return max(-MAX_COORDINATE, min(MAX_COORDINATE, value))


def _finite_pair(value: object, what: str) -> tuple[float, float]:
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        x, y = float(value[0]), float(value[1])
        if math.isfinite(x) and math.isfinite(y):
            return x, y
    raise ClipboardDataError(f"the {what} is not two finite numbers")


def _check_data(data: object) -> None:
    """Refuse anything but the structure `copy_nodes` makes, with a sentence saying why."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise ClipboardDataError("the clipboard does not hold layers copied from Strata Studio")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise ClipboardDataError(
            "the copied layers come from a newer Strata Studio; update this one to paste them"
        )
    nodes, edges = data.get("nodes"), data.get("edges")
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise ClipboardDataError("the copied data has no list of layers and connections")
    ids: set[str] = set()
    for node in nodes:
        if not isinstance(node, Mapping):
            raise ClipboardDataError("a copied layer is not an object")
        for key in ("id", "type", "name"):
            if not isinstance(node.get(key), str):
                raise ClipboardDataError(f"a copied layer has no text {key!r}")
        if not isinstance(node.get("params"), Mapping):
            raise ClipboardDataError(f"the copied layer {node['name']} has no params object")
        _finite_pair(node.get("position"), f"position of {node['name']}")
        if node["id"] in ids:
            raise ClipboardDataError(f"the copied data has the layer id {node['id']!r} twice")
        ids.add(node["id"])
    for edge in edges:
        if not isinstance(edge, Mapping) or not all(
            isinstance(edge.get(key), str) for key in ("src", "src_port", "dst", "dst_port")
        ):
            raise ClipboardDataError("a copied connection lacks its ends")
