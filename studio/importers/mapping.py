"""What both importers share: the draft graph they fill and the report of what did not map.

An importer walks a foreign model (a traced PyTorch module or an ONNX graph) one operation at a
time and adds a catalog node for each through `GraphDraft`, together with the tensors that
node's module will hold. An operation with no catalog layer is never dropped: it becomes an
`UnmappedConstruct` naming it and where it comes from, and the import fails with all of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.core.errors import GraphEditError, StudioError
from studio.core.graph import MAX_COORDINATE, Graph, Position, is_weight_tie
from studio.core.layout import LAYER_GAP, NODE_GAP, layered_layout
from studio.core.project import Project
from studio.core.registry import LayerRegistry

Value = tuple[str, str]
"""An output port of a draft node: (node id, port name)."""

_MAX_NAME = 64


@dataclass
class ImportedModel:
    """An imported model: the project, its weights, and what the source computed.

    `state_dict` fits the module `compile_graph` makes of the project's main graph;
    `expected` holds the source model's outputs on `example_inputs` (eval mode), so the import
    can be checked by running the compiled model on the same inputs.
    """

    project: Project
    state_dict: dict[str, Any]
    example_inputs: tuple[Any, ...]
    expected: list[Any]
    source: str
    front_end: str = ""  # how a Python module was read: "torch.export" or "torch.fx (...)"


class ImportFailure(StudioError):
    """The source cannot be read at all (missing file, bad class name, wrong input shape)."""


class ImportStopped(ImportFailure):
    """The import was cancelled (the window's dialog closed) while the source model ran."""


@dataclass(frozen=True)
class UnmappedConstruct:
    """One operation of the source model that no catalog layer reproduces."""

    name: str
    kind: str
    where: str
    reason: str

    def format(self) -> str:
        return f"{self.name} ({self.kind}) at {self.where}: {self.reason}"


class UnsupportedModelError(StudioError):
    """The model holds constructs the catalog cannot express; nothing was written."""

    def __init__(
        self,
        source: str,
        constructs: Sequence[UnmappedConstruct],
        partial: Project | None = None,
    ) -> None:
        self.source = source
        self.constructs = list(constructs)
        # What did map, each unmapped construct's result an Input named *_stand_in (see
        # `GraphDraft.partial_project`); `studio import --partial` writes it.
        self.partial = partial
        count = len(self.constructs)
        lines = "\n".join(f"  - {c.format()}" for c in self.constructs)
        super().__init__(
            f"{source}: {count} construct{'s' if count != 1 else ''} cannot be imported "
            f"(no file was written):\n{lines}"
        )


class Unmappable(Exception):
    """Raised by a mapping rule: this one operation has no catalog equivalent (the reason)."""


def node_name(raw: str, fallback: str = "layer") -> str:
    """A valid node name from a module path or an ONNX node name (``/conv1/Conv`` → conv1_Conv)."""
    name = re.sub(r"\W+", "_", raw).strip("_")
    if not name:
        name = fallback
    if not (name[0].isalpha() or name[0] == "_"):
        name = f"{fallback}_{name}"
    return name[:_MAX_NAME]


@dataclass
class _DraftNode:
    node_id: str
    where: str
    weights: dict[str, Any] = field(default_factory=dict)


class GraphDraft:
    """A graph being built from a foreign model, with each node's weights and origin.

    Weights are keyed as the state dict of the module the node's builder makes (``weight``,
    ``rnn.weight_ih_l0``), so `state_dict` can name them as the compiled model does.
    """

    def __init__(self, registry: LayerRegistry) -> None:
        self.registry = registry
        self.graph = Graph(registry)
        self._nodes: dict[str, _DraftNode] = {}  # node name -> draft

    def add_input(self, name: str, dims: Sequence[int], dtype: str = "float") -> Value:
        """An Input node; `dims` is one sample's shape, without the batch."""
        node = self._add("studio.Input", name, {"shape": tuple(dims), "dtype": dtype}, "input")
        return (node, "out")

    def add_layer(
        self,
        type_id: str,
        name: str,
        params: Mapping[str, object],
        inputs: Sequence[Value],
        *,
        where: str,
        weights: Mapping[str, Any] | None = None,
        shares: str | None = None,
    ) -> Value:
        """A layer fed by `inputs` in port order; raises `Unmappable` if the catalog refuses.

        `shares` is the node whose weights this layer uses: the node of a module called
        before (a module called twice), whose module it calls again, so it holds no weights
        of its own; or, for a Linear and an Embedding holding one tensor (tied embeddings),
        the layer whose weight it is: it keeps its other weights (the Linear's bias).
        """
        spec = self.registry.get(type_id)
        full = dict(params)
        if spec.variadic_inputs is not None:
            full[spec.variadic_inputs] = len(inputs)
        kept = weights
        if shares is not None:
            # A module tie holds none of its own; a weight tie all but the shared weight.
            weight_tie = is_weight_tie(type_id, self.graph.node(shares).type_id)
            kept = (
                {k: v for k, v in (weights or {}).items() if k != "weight"} if weight_tie else None
            )
        node_id = self._add(type_id, name, full, where, kept)
        if shares is not None:
            try:
                self.graph.set_shares(node_id, shares)
            except GraphEditError as exc:
                raise Unmappable(str(exc)) from None
        ports = [p.name for p in spec.input_ports(self.graph.node(node_id).params)]
        # Optional ports come last (MultiheadAttention's memory): fewer inputs leave them open.
        required = sum(not p.optional for p in spec.input_ports(self.graph.node(node_id).params))
        if not required <= len(inputs) <= len(ports):
            raise Unmappable(f"{spec.title} takes {len(ports)} inputs, not {len(inputs)}")
        for port, (src, src_port) in zip(ports[: len(inputs)], inputs, strict=True):
            self.graph.connect(src, src_port, node_id, port)
        return (node_id, spec.output_ports(self.graph.node(node_id).params)[0].name)

    def add_output(self, value: Value, name: str = "output") -> None:
        node_id = self._add("studio.Output", name, {}, "output")
        self.graph.connect(value[0], value[1], node_id, "in")

    def set_param(self, node_id: str, name: str, value: object) -> None:
        self.graph.set_param(node_id, name, value)

    def add_weights(self, node_id: str, weights: Mapping[str, Any]) -> None:
        self._nodes[self.graph.node(node_id).name].weights.update(weights)

    def params_of(self, node_id: str) -> Mapping[str, object]:
        return self.graph.node(node_id).params

    def type_of(self, node_id: str) -> str:
        return self.graph.node(node_id).type_id

    def weights_of(self, node_id: str) -> Mapping[str, Any]:
        return self._nodes[self.graph.node(node_id).name].weights

    def readers(self, node_id: str) -> list[str]:
        """The nodes reading `node_id`'s outputs, one entry per connection."""
        return [edge.dst for edge in self.graph.outgoing(node_id)]

    def sources(self, node_id: str) -> list[str]:
        """The nodes feeding `node_id`, in port order."""
        incoming = self.graph.incoming(node_id)
        return [incoming[p].src for p in self.graph.input_ports(node_id) if p in incoming]

    def fuse(
        self,
        node_ids: Sequence[str],
        type_id: str,
        params: Mapping[str, object],
        *,
        name: str,
        weights: Mapping[str, Any],
    ) -> Value:
        """Replace `node_ids`, in the order they compute, by one `type_id` node.

        The new node reads what the first node read, feeds whatever the last node fed, and
        takes the earliest node's place in the document and its origin.
        """
        graph = self.graph
        feed = graph.incoming(node_ids[0])[graph.input_ports(node_ids[0])[0]]
        first = min(node_ids, key=graph.index_of)
        where = self.where(first)
        position = graph.index_of(first)
        readers = [(e.dst, e.dst_port) for e in graph.outgoing(node_ids[-1])]
        edges = {edge.id for node_id in node_ids for edge in graph.edges_of(node_id)}
        for edge_id in edges:
            graph.disconnect(edge_id)
        for node_id in node_ids:
            del self._nodes[graph.remove_node(node_id).name]
        node = graph.add_node(type_id, name=graph.unique_name(name), params=params, index=position)
        self._nodes[node.name] = _DraftNode(node.id, where, dict(weights))
        spec = self.registry.get(type_id)
        graph.connect(feed.src, feed.src_port, node.id, spec.inputs[0].name)
        out = spec.output_ports(node.params)[0].name
        for dst, port in readers:
            graph.connect(node.id, out, dst, port)
        return (node.id, out)

    def where(self, node_id: str) -> str:
        return self._nodes[self.graph.node(node_id).name].where

    def state_dict(self) -> dict[str, Any]:
        """Every node's weights, named as in the module `compile_graph` makes."""
        from studio.compile.compiler import attribute_names

        names = attribute_names(self.graph)
        state = {
            f"{names[draft.node_id]}.{key}": tensor
            for draft in self._nodes.values()
            for key, tensor in draft.weights.items()
        }
        for draft in self._nodes.values():
            # A weight tie's one tensor under both names, as the compiled model holds it.
            owner = self.graph.node(draft.node_id).shares
            if owner is not None and self.graph.is_weight_tied(draft.node_id):
                table = self.weights_of(owner).get("weight")
                if table is not None:
                    state[f"{names[draft.node_id]}.weight"] = table
        return state

    def check_shapes(self, source: str) -> None:
        """Raise `UnsupportedModelError` if the catalog's shape rules refuse the imported graph."""
        from studio.compile.inference import infer_shapes

        errors = infer_shapes(self.graph).errors()
        if errors:
            constructs = []
            for problem in errors:
                node = self.graph.node(problem.node_id) if problem.node_id else None
                name = node.name if node else "graph"
                kind = node.type_id.removeprefix("studio.") if node else "graph"
                where = self._nodes[node.name].where if node else source
                constructs.append(UnmappedConstruct(name, kind, where, problem.message))
            raise UnsupportedModelError(source, constructs)

    def partial_project(
        self, name: str, source: str, constructs: Sequence[UnmappedConstruct]
    ) -> Project | None:
        """The part of the model that mapped, as a project without weights, or None.

        Each construct that did not map left an Input named ``*_stand_in`` in its place (where
        its result had a tensor shape), so what follows it is there to see and edit. Weights
        are left out: without the missing parts the outputs cannot be checked against the
        source. The description lists every construct, so the file says what it lacks.
        """
        if not any(self.graph.spec(n.id).role == "layer" for n in self.graph.nodes):
            return None
        lines = "\n".join(f"- {c.format()}" for c in constructs)
        description = (
            f"Partly imported from {source}: {len(constructs)} construct(s) had no catalog "
            f"layer, and an Input named *_stand_in stands where each result was. No weights "
            f"were imported.\n{lines}"
        )
        try:
            return self.to_project(name, description=description[:10_000])
        except StudioError:
            return None

    def to_project(self, name: str, description: str = "") -> Project:
        """A project holding the draft as its model graph, laid out left to right."""
        for node_id, position in _within_bounds(layered_layout(self.graph)).items():
            self.graph.move_node(node_id, position)
        return Project(
            name[:128] or "Imported model",
            self.registry,
            graphs={"model": self.graph},
            description=description,
        )

    def _add(
        self,
        type_id: str,
        name: str,
        params: Mapping[str, object],
        where: str,
        weights: Mapping[str, Any] | None = None,
    ) -> str:
        unique = self.graph.unique_name(node_name(name))
        try:
            node = self.graph.add_node(type_id, name=unique, params=params)
        except GraphEditError as exc:
            raise Unmappable(str(exc)) from None
        self._nodes[unique] = _DraftNode(node.id, where, dict(weights or {}))
        return node.id


# Columns per band when a deep model is laid out in bands (a million units wide each).
_BAND_COLUMNS = int(1e6 // LAYER_GAP)


def _within_bounds(positions: dict[str, Position]) -> dict[str, Position]:
    """A left-to-right layout within the coordinates a project stores (±`MAX_COORDINATE`).

    A chain deeper than about 45,000 layers runs past the bound; its columns are then laid in
    bands one under the other, like lines of text, and scaled down only if even that is too
    tall.
    """
    if not positions or max(max(abs(x), abs(y)) for x, y in positions.values()) <= MAX_COORDINATE:
        return positions
    tops = [y for _, y in positions.values()]
    height = max(tops) - min(tops) + 4 * NODE_GAP
    banded = {}
    for node_id, (x, y) in positions.items():
        band, column = divmod(round(x / LAYER_GAP), _BAND_COLUMNS)
        banded[node_id] = (column * LAYER_GAP, y + band * height)
    largest = max(max(abs(x), abs(y)) for x, y in banded.values())
    scale = min(1.0, MAX_COORDINATE / largest)
    return {node_id: (x * scale, y * scale) for node_id, (x, y) in banded.items()}
