"""Shape inference over a graph: every node's output shape, or a problem that names it.

Two ways to learn a layer's output shape:

* its spec's pure-Python ``shape_rule`` (microseconds, no torch: the window can show shapes
  before torch has loaded), held equal to the real module by the layer tests;
* otherwise its builder is run on ``meta`` tensors (no memory, no compute, but a fraction of
  a millisecond per layer because torch's meta kernels run through Python).

Results are kept per node, and an edit re-infers only the edited nodes and what lies
downstream of them (`ShapeInference.mark_dirty` / `refresh`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from studio.core.graph import Edge, Graph, Node, is_weight_tie
from studio.core.shapes import ShapeError, TensorShape, collect_warnings, describe
from studio.core.specs import LayerSpec
from studio.layers import load_builder, load_shape_rule

Severity = Literal["error", "warning"]
META_BATCH = 2


@dataclass(frozen=True)
class Problem:
    """Something the user must fix (error) or may want to look at (warning)."""

    message: str
    node_id: str | None = None
    port: str | None = None
    severity: Severity = "error"

    def format(self, graph: Graph) -> str:
        """``node: message`` as `studio validate` prints it."""
        if self.node_id is None or self.node_id not in graph:
            where = "graph"
        else:
            where = graph.node(self.node_id).name
            if self.port:
                where += f".{self.port}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{where}: {self.message}"


@dataclass
class NodeShapes:
    """What inference learned about one node."""

    inputs: list[TensorShape | None] = field(default_factory=list)
    outputs: dict[str, TensorShape] = field(default_factory=dict)
    problem: Problem | None = None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None and all(s is not None for s in self.inputs)


class ShapeInference:
    """Keeps the shapes of one graph up to date as it is edited.

    Connects to the graph's events so edits mark nodes dirty; `refresh()` re-infers the
    dirty nodes and their descendants in topological order and returns the ids it touched.
    """

    def __init__(self, graph: Graph, *, listen: bool = True) -> None:
        self.graph = graph
        self.results: dict[str, NodeShapes] = {}
        self._dirty: set[str] = {n.id for n in graph.nodes}
        self._listening = listen
        if listen:
            graph.node_added.connect(self._on_node_added)
            graph.node_removed.connect(self._on_node_removed)
            graph.param_changed.connect(self._on_param_changed)
            graph.edge_added.connect(self._on_edge)
            graph.edge_removed.connect(self._on_edge)
            graph.shares_changed.connect(self._on_shares_changed)

    def close(self) -> None:
        """Stop listening to the graph (the view that owned this inference closed)."""
        if self._listening:
            self.graph.node_added.disconnect(self._on_node_added)
            self.graph.node_removed.disconnect(self._on_node_removed)
            self.graph.param_changed.disconnect(self._on_param_changed)
            self.graph.edge_added.disconnect(self._on_edge)
            self.graph.edge_removed.disconnect(self._on_edge)
            self.graph.shares_changed.disconnect(self._on_shares_changed)
            self._listening = False

    # ----------------------------------------------------------------- events
    def _on_node_added(self, node: Node) -> None:
        self._dirty.add(node.id)
        self._dirty.update(self.graph.sharers(node.id))

    def _on_node_removed(self, node: Node) -> None:
        self.results.pop(node.id, None)
        self._dirty.discard(node.id)
        self._dirty.update(self.graph.sharers(node.id))
        if node.shares is not None and node.shares in self.graph:
            self._dirty.add(node.shares)  # a Linear checks the tables tied to its weight

    def _on_param_changed(self, node_id: str, name: str, value: object) -> None:
        self._dirty.add(node_id)
        self._dirty.update(self.graph.sharers(node_id))
        shares = self.graph.node(node_id).shares
        if shares is not None and shares in self.graph:
            self._dirty.add(shares)

    def _on_shares_changed(self, node_id: str, owner: object) -> None:
        self._dirty.add(node_id)
        if isinstance(owner, str) and owner in self.graph:
            self._dirty.add(owner)
        # An untied Linear may still show the problem of a tie it no longer has.
        self._dirty.update(n for n, r in self.results.items() if r.problem and n in self.graph)

    def _on_edge(self, edge: Edge) -> None:
        self._dirty.add(edge.dst)

    def mark_dirty(self, node_ids: Iterable[str]) -> None:
        self._dirty.update(node_ids)

    # ----------------------------------------------------------------- running
    def run_all(self) -> dict[str, NodeShapes]:
        """Forget everything and infer every node."""
        self.results.clear()
        self._dirty = {n.id for n in self.graph.nodes}
        self.refresh()
        return self.results

    def refresh(self) -> set[str]:
        """Re-infer dirty nodes and everything downstream; return the ids recomputed."""
        if not self._dirty:
            return set()
        todo = self.graph.descendants(self._dirty)
        self._dirty.clear()
        order = [n for n in self.graph.topological_order() if n in todo]
        for node_id in order:
            self.results[node_id] = self._infer_node(node_id)
        return todo

    def _infer_node(self, node_id: str) -> NodeShapes:
        graph = self.graph
        node = graph.node(node_id)
        spec = graph.spec(node_id)
        if spec.role == "input":
            shape = TensorShape(tuple(node.params["shape"]), node.params["dtype"])  # type: ignore[arg-type]
            return NodeShapes([], {spec.outputs[0].name: shape})
        incoming = graph.incoming(node_id)
        inputs: list[TensorShape | None] = []
        missing: str | None = None
        waiting = False  # a connected input without a shape: its upstream node has the problem
        for port in spec.input_ports(node.params):
            edge = incoming.get(port.name)
            if edge is None:
                if not port.optional:
                    missing = missing or port.name
                inputs.append(None)
                continue
            upstream = self.results.get(edge.src)
            found = None if upstream is None else upstream.outputs.get(edge.src_port)
            waiting = waiting or found is None
            inputs.append(found)
        if missing is not None:
            problem = Problem(
                f"input {missing!r} is not connected; connect a layer's output to it",
                node_id,
                missing,
            )
            return NodeShapes(inputs, {}, problem)
        if waiting:
            return NodeShapes(inputs, {})  # an upstream node has the problem
        present = [s for s in inputs if s is not None]
        if spec.role == "output":
            return NodeShapes(inputs, {})
        with collect_warnings() as noted:
            try:
                shapes = output_shapes(spec, node.params, present)
            except ShapeError as exc:
                return NodeShapes(inputs, {}, Problem(str(exc), node_id))
            except Exception as exc:  # a builder or torch refused in its own words
                message = f"{spec.title} cannot process {describe(present)}: {first_line(exc)}"
                return NodeShapes(inputs, {}, Problem(message, node_id))
        if present and not any(shape.batched for shape in present):
            # Only per-model tensors (parameters, constants) come in: so does the result.
            shapes = [replace(shape, batched=False) for shape in shapes]
        tie = self._tie_problem(node, present) or self._tied_table_problem(node, present)
        if tie is not None:
            return NodeShapes(inputs, {}, Problem(tie, node_id))
        ports = spec.output_ports(node.params)
        warnings = [Problem(text, node_id, severity="warning") for text in noted]
        return NodeShapes(
            inputs, {p.name: s for p, s in zip(ports, shapes, strict=True)}, None, warnings
        )

    def _tie_problem(self, node: Node, present: Sequence[TensorShape] = ()) -> str | None:
        """Why `node` cannot use the weights it is tied to, or None (no tie, or it holds).

        A module tie holds when the other node exists, is of the same type, keeps its own
        weights and has the same settings; whether both inputs build weights of the same sizes
        is checked by the compiler, which builds both. A weight tie (a Linear and an
        Embedding) holds when the table and the Linear's weight have the same sizes.
        """
        if node.shares is None:
            return None
        if node.shares not in self.graph:
            return (
                "it uses the weights of a layer that is no longer in the graph; untie it in the "
                "inspector or undo the removal"
            )
        owner = self.graph.node(node.shares)
        if is_weight_tie(node.type_id, owner.type_id):
            if owner.shares is not None:
                return f"it uses the weights of {owner.name}, which uses another layer's weights"
            return self._weight_tie_problem(node, owner, present)
        if owner.type_id != node.type_id:
            return f"it uses the weights of {owner.name}, which is not a {node.type_id} layer"
        if owner.shares is not None:
            return f"it uses the weights of {owner.name}, which uses another layer's weights"
        differing = [name for name, value in node.params.items() if owner.params[name] != value]
        if differing:
            name = differing[0]
            return (
                f"it uses the weights of {owner.name}, so its settings must be the same; "
                f"{name} is {node.params[name]!r} here and {owner.params[name]!r} there"
            )
        return None

    def _weight_tie_problem(
        self, node: Node, owner: Node, present: Sequence[TensorShape]
    ) -> str | None:
        """Why a Linear and an Embedding cannot hold one weight tensor, or None.

        The tensor is the Embedding's table, (num_embeddings × embedding_dim), and the
        Linear's weight, (out_features × its input's features). A tied Linear is checked
        here in full; a tied Embedding only for the rows, since the Linear's input lies
        downstream of it: the Linear checks the width (`_tied_table_problem`).
        """
        if node.type_id == "studio.Linear":
            rows, width = owner.params["num_embeddings"], owner.params["embedding_dim"]
            features = present[0].dims[-1] if present and present[0].dims else None
            out = node.params["out_features"]
            if out != rows or (features is not None and features != width):
                would = f"{out} × {features if features is not None else '?'}"
                return (
                    f"its weight is tied to {owner.name}'s table ({rows} × {width}), but its "
                    f"weight would be {would} (out_features × input features); make them "
                    "agree or untie it"
                )
            return None
        rows, out = node.params["num_embeddings"], owner.params["out_features"]
        if rows != out:
            return (
                f"its table is tied to {owner.name}'s weight, which has {out} rows "
                f"(out_features), but its table would have {rows} (num_embeddings); make "
                "them agree or untie it"
            )
        return None

    def _tied_table_problem(self, node: Node, present: Sequence[TensorShape]) -> str | None:
        """For a Linear whose weight an Embedding uses: why its input's width does not fit."""
        if node.type_id != "studio.Linear" or not present:
            return None
        features = present[0].dims[-1] if present[0].dims else None
        for sharer_id in self.graph.sharers(node.id):
            sharer = self.graph.node(sharer_id)
            if sharer.type_id != "studio.Embedding":
                continue
            rows, width = sharer.params["num_embeddings"], sharer.params["embedding_dim"]
            if features != width:
                return (
                    f"its weight is {sharer.name}'s table ({rows} × {width}), but its input has "
                    f"{features} features, so its weight would be "
                    f"{node.params['out_features']} × {features}; make them agree or untie it"
                )
        return None

    # ----------------------------------------------------------------- problems
    def problems(self) -> list[Problem]:
        """Every problem in the graph, in document order, after a refresh."""
        self.refresh()
        graph = self.graph
        found: list[Problem] = []
        roles = [graph.spec(n.id).role for n in graph.nodes]
        if "input" not in roles:
            found.append(Problem("the graph has no Input layer; add one from Input/Output"))
        if "output" not in roles:
            found.append(Problem("the graph has no Output layer; add one from Input/Output"))
        for node in graph.nodes:
            result = self.results.get(node.id)
            if result is not None and result.problem is not None:
                found.append(result.problem)
            if result is not None:
                found.extend(result.warnings)
            spec = graph.spec(node.id)
            if spec.role != "output" and not graph.outgoing(node.id):
                found.append(
                    Problem(
                        "its output is not used; connect it to another layer or an Output",
                        node.id,
                        spec.outputs[0].name if spec.outputs else None,
                        severity="warning",
                    )
                )
        return found

    def errors(self) -> list[Problem]:
        return [p for p in self.problems() if p.severity == "error"]

    def output_shape(self, node_id: str, port: str | None = None) -> TensorShape | None:
        result = self.results.get(node_id)
        if result is None or not result.outputs:
            return None
        if port is None:
            return next(iter(result.outputs.values()))
        return result.outputs.get(port)

    def input_shapes(self, node_id: str) -> list[TensorShape]:
        result = self.results.get(node_id)
        if result is None:
            return []
        return [s for s in result.inputs if s is not None]


def infer_shapes(graph: Graph) -> ShapeInference:
    """Infer every node once, without listening to later edits."""
    inference = ShapeInference(graph, listen=False)
    inference.run_all()
    return inference


def output_shapes(
    spec: LayerSpec, params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """A layer's output shapes: its pure shape rule when it has one, else a meta run."""
    rule = load_shape_rule(spec)
    if rule is not None:
        return list(rule(params, inputs))
    return meta_output_shapes(spec, params, inputs)


def meta_output_shapes(
    spec: LayerSpec, params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """Build the layer on the meta device and run it on empty tensors of the given shapes."""
    import torch

    builder = load_builder(spec)
    with torch.device("meta"), torch.no_grad():
        module = builder(params, inputs)
        tensors = [meta_tensor(shape) for shape in inputs]
        result = module(*tensors)
    outputs = result if isinstance(result, (tuple, list)) else (result,)
    # Without a batched input (a parameter, a constant) the result is the same for every sample.
    batched = any(shape.batched for shape in inputs)
    return [replace(shape_of(t), batched=batched) for t in outputs]


def meta_tensor(shape: TensorShape) -> Any:
    import torch

    dtype = torch.long if shape.dtype == "long" else torch.float32
    batch = META_BATCH if shape.batched else 1
    return torch.empty((batch, *shape.dims), dtype=dtype, device="meta")


def shape_of(tensor: Any) -> TensorShape:
    dims = tuple(int(d) for d in tensor.shape[1:])
    return TensorShape(dims, "float" if tensor.dtype.is_floating_point else "long")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
