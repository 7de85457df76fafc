"""Import an ONNX model (``model.onnx``): operator by operator onto catalog layers.

onnxruntime runs the model once on random inputs with every intermediate value exposed
(`onnx_run.record_values`), which gives each value its shape (and the value of any constant the
layers need) without relying on symbolic shape inference. Values split in two kinds:
*activations* (computed from the model's inputs by real operators) must each come from a mapped
catalog layer; everything else (weights, ``Constant`` nodes, ``Shape``/``Gather``/``Concat``
arithmetic feeding a ``Reshape``) is read as a constant where a layer needs one. An operator
producing an activation with no catalog layer becomes an `UnmappedConstruct` naming the ONNX
node and its op_type.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import FileReadError
from studio.core.graph import is_weight_tie
from studio.core.registry import LayerRegistry
from studio.core.safe_files import open_regular, size_text
from studio.importers.decoder_blocks import fold_decoder_layers
from studio.importers.encoder_blocks import fold_encoder_layers
from studio.importers.mapping import (
    GraphDraft,
    ImportedModel,
    ImportFailure,
    Unmappable,
    UnmappedConstruct,
    UnsupportedModelError,
    Value,
    node_name,
)
from studio.importers.onnx_branches import inline_constant_ifs
from studio.importers.onnx_checks import (
    check_before_running,
    check_weights,
    import_memory_budget,
)
from studio.importers.onnx_nodes import attributes, layer_name
from studio.importers.onnx_patterns import Pattern, find_patterns, layer_difference
from studio.importers.onnx_run import example_feeds, example_shapes, record_values
from studio.importers.wide_joins import join


def import_onnx_file(
    path: Path,
    registry: LayerRegistry,
    *,
    input_shapes: Sequence[Sequence[int]] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ImportedModel:
    """Map an ONNX file to a project with its weights; see the module docstring.

    Nothing of the model runs before `onnx_checks` has passed it; external weights are read
    only after their declared sizes have.

    Raises:
        ImportFailure: the file cannot be read or run, or the checks refuse it.
        ImportStopped: `cancelled` turned true while onnxruntime ran the model.
        UnsupportedModelError: some operators have no catalog layer (all are listed).
        KeyboardInterrupt: Ctrl-C, which also stops onnxruntime.
    """
    import onnx
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data

    data = _read_model_file(path)
    try:
        model = onnx.load_model_from_string(data)
        del data
        check_weights(model, str(path), path.parent)
        if any(uses_external_data(t) for t in model.graph.initializer):
            load_external_data_for_model(model, str(path.parent))
        onnx.checker.check_model(model)
    except ImportFailure:
        raise
    except Exception as exc:
        raise ImportFailure(
            f"{path}: not a valid ONNX model ({(str(exc).splitlines() or [type(exc).__name__])[0]})"
        ) from None
    return import_onnx_model(
        model, registry, input_shapes=input_shapes, source=str(path), cancelled=cancelled
    )


def _read_model_file(path: Path) -> bytes:
    """The file's bytes: a regular file (never a FIFO, which would block) within the budget.

    Read to its size, not to the budget: a read of the budget's length would reserve that
    much memory for any file.
    """
    limit, origin = import_memory_budget()
    try:
        with open_regular(path, what="ONNX model") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise ImportFailure(
                    f"{path}: the ONNX model is {size_text(size)}, more than the "
                    f"{size_text(limit)} the import may use ({origin}); not read"
                )
            return handle.read(size)
    except FileReadError as exc:
        raise ImportFailure(str(exc)) from None
    except OSError as exc:
        raise ImportFailure(
            f"{path}: the ONNX model cannot be read ({exc.strerror or exc})"
        ) from None


def import_onnx_model(
    model: Any,
    registry: LayerRegistry,
    *,
    input_shapes: Sequence[Sequence[int]] | None = None,
    source: str = "model.onnx",
    cancelled: Callable[[], bool] | None = None,
) -> ImportedModel:
    """Map an `onnx.ModelProto`; `input_shapes` (batch included) override the graph's."""
    graph = model.graph
    weight_names = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in weight_names]
    shapes = example_shapes(inputs, input_shapes)
    check_before_running(model, inputs, shapes, source)
    # After the checks, which name a refused node inside its branch.
    model = inline_constant_ifs(model)
    graph = model.graph
    initializers = {init.name: _to_array(init, source) for init in graph.initializer}
    feeds = example_feeds(inputs, shapes)
    values = record_values(model, feeds, source, cancelled)
    values.update(initializers)
    mapper = _OnnxMapper(GraphDraft(registry), values, initializers, _opset(model))
    mapper.map_graph(graph, inputs)
    if mapper.constructs:
        name = Path(source).stem
        partial = mapper.draft.partial_project(name, source, mapper.constructs)
        raise UnsupportedModelError(source, mapper.constructs, partial)
    fold_decoder_layers(mapper.draft)  # first: its self-attention half looks like an encoder's
    fold_encoder_layers(mapper.draft)
    mapper.draft.check_shapes(source)
    name = graph.name if graph.name and graph.name != "main_graph" else Path(source).stem
    project = mapper.draft.to_project(name, description=f"Imported from {source}.")
    import torch

    # float64 inputs import as float Inputs: the project is checked on them rounded to float32.
    examples = tuple(_float32(torch.from_numpy(feeds[i.name])) for i in inputs)
    expected = [torch.from_numpy(np.asarray(values[o.name])) for o in graph.output]
    return ImportedModel(project, mapper.draft.state_dict(), examples, expected, source)


def _float32(tensor: Any) -> Any:
    return tensor.float() if tensor.dtype.is_floating_point else tensor


def _to_array(tensor: Any, source: str) -> np.ndarray:
    from onnx import numpy_helper

    try:
        return np.asarray(numpy_helper.to_array(tensor))
    except Exception as exc:  # data that does not fill the declared shape, an unknown type
        raise ImportFailure(
            f"{source}: the weight {tensor.name!r} cannot be read "
            f"({(str(exc).splitlines() or [type(exc).__name__])[0]})"
        ) from None


def _opset(model: Any) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)


OnnxRule = Callable[["_OnnxMapper", Any], Value | None]


class _OnnxMapper:
    """Turns the ONNX nodes that compute activations into draft nodes."""

    def __init__(
        self,
        draft: GraphDraft,
        values: dict[str, Any],
        initializers: dict[str, np.ndarray],
        opset: int,
    ) -> None:
        self.draft = draft
        self.values = values
        self.initializers = initializers
        self.opset = opset
        self.tensors: dict[str, Value] = {}
        self.consumers: dict[str, int] = {}  # readers of each value, a Shape of it not counted
        # MatMul outputs mapped to a bias-free Linear, which a following Add may complete.
        self.matmuls: dict[str, str] = {}
        # Recurrent operators read sequences time-major, (L, N, F): the Transpose into that
        # layout, the operator's (L, directions, N, H) output, its (L, N, directions, H)
        # transpose, and the Squeeze or Reshape back to (L, N, directions·H) are tracked here
        # (ONNX value → the batch-first draft value) instead of becoming layers.
        self.time_major: dict[str, Value] = {}
        self.recurrent_outputs: dict[str, Value] = {}
        self.recurrent_steps: dict[str, Value] = {}
        self.hidden_states: set[str] = set()
        # A recurrent operator's used Y_h / Y_c, (directions, N, H) as torch's state, or the
        # same layout made from a batch-first tensor → the batch-first draft value (its h or c
        # port): another recurrent operator's initial state, or transposed back to batch first.
        self.states: dict[str, Value] = {}
        # A stacked operator's share of those: layer k's initial state sliced out of the whole
        # (value, first row, end row), and its Y_h / Y_c (value, layer k) that a Concat joins.
        self.state_slices: dict[str, tuple[Value, int, int]] = {}
        self.state_pieces: dict[str, tuple[Value, int]] = {}
        # A bidirectional layer's last output, out[:, -1, :H] joined with out[:, 0, H:], read
        # in pieces (the Gathers, then the Slices): ONNX value → (draft value, which piece).
        self.end_pieces: dict[str, tuple[Value, str]] = {}
        # (N, C, H, W) → (N, C, H·W) Reshape outputs: with a mean over the last axis after
        # them, the two are the catalog's GlobalAvgPool (x.flatten(2).mean(2)).
        self.flattened_spatial: set[str] = set()
        self.failed: set[str] = set()
        self.constructs: list[UnmappedConstruct] = []
        # (layer type, the initializers a layer read) → its draft node, for ties.
        self.weight_readers: dict[tuple[str, tuple[str, ...]], str] = {}
        # (layer type, draft node, weight) of each Linear and Embedding, for weight ties.
        self.tables: list[tuple[str, str, Any]] = []

    def map_graph(self, graph: Any, inputs: Sequence[Any]) -> None:
        activations = {i.name for i in inputs}
        for value in inputs:
            dims = tuple(int(d) for d in np.shape(self.values[value.name])[1:])
            dtype = "float" if np.issubdtype(self.values[value.name].dtype, np.floating) else "long"
            try:
                self.tensors[value.name] = self.draft.add_input(
                    node_name(value.name, "input"), dims, dtype
                )
            except Unmappable as exc:
                raise ImportFailure(f"input {value.name!r}: {exc}") from None
        for node in graph.node:
            if node.op_type in ("Shape", "Size"):
                continue  # reads only a value's shape, which the import keeps
            for name in node.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1
        nodes = list(graph.node)
        outputs = [o.name for o in graph.output]
        live = _live_nodes(nodes, outputs)
        _spread_activations(nodes, activations)
        patterns = find_patterns(nodes, self.values, activations, outputs, self.draft.registry)
        pattern_of = {i: p for p in patterns for i in p.nodes}
        for index, node in enumerate(nodes):
            if index not in live or not any(o in activations for o in node.output):
                continue
            pattern = pattern_of.get(index)
            if pattern is not None:
                if pattern.result in node.output:
                    self.map_pattern(pattern)
                continue
            if any(i in self.failed for i in node.input):
                self.failed.update(node.output)
                continue
            try:
                rule = op_rules().get(node.op_type)
                if rule is None:
                    raise Unmappable(
                        f"the catalog has no layer for the ONNX operator {node.op_type}"
                    )
                value = rule(self, node)
            except Unmappable as exc:
                self.constructs.append(
                    UnmappedConstruct(
                        node.name or node.output[0], node.op_type, _where(node), str(exc)
                    )
                )
                # Not for recurrent operators: their time-major output would only mislead.
                recurrent = node.op_type in _RECURRENT
                value = None if recurrent else self.stand_in(node.output[0], node.name)
                if value is None:
                    self.failed.update(node.output)
                    continue
            if value is not None:
                self.tensors[node.output[0]] = value
        for i, output in enumerate(graph.output):
            if output.name in self.failed:
                continue
            try:
                self.draft.add_output(self.tensor(output.name), node_name(output.name, "output"))
            except Unmappable as exc:
                self.constructs.append(
                    UnmappedConstruct(output.name, "graph output", f"output {i + 1}", str(exc))
                )

    def map_pattern(self, pattern: Pattern) -> None:
        """The one catalog layer for a pattern of operators, or one construct naming it."""
        anchor = pattern.anchor
        if any(n in self.failed for n in (pattern.source, pattern.memory, *pattern.more)):
            self.failed.add(pattern.result)
            return
        try:
            if pattern.problem is not None:
                raise Unmappable(pattern.problem)
            self.tensors[pattern.result] = self.draft.add_layer(
                pattern.type_id,
                pattern.name,
                pattern.params,
                [
                    self.tensor(name)
                    for name in (pattern.source, pattern.memory, *pattern.more)
                    if name
                ],
                where=_where(anchor),
                weights={k: _torch(v) for k, v in pattern.weights.items()},
            )
            for port, name in enumerate(pattern.more_results, start=2):
                self.tensors[name] = (self.tensors[pattern.result][0], f"out{port}")
        except Unmappable as exc:
            kind = pattern.type_id.removeprefix("studio.") or "attention"
            self.constructs.append(
                UnmappedConstruct(anchor.name or anchor.output[0], kind, _where(anchor), str(exc))
            )
            self.failed.update(pattern.more_results)  # reported once, with the layer
            value = self.stand_in(pattern.result, pattern.name)
            if value is None:
                self.failed.add(pattern.result)
            else:
                self.tensors[pattern.result] = value

    def stand_in(self, value: str, name: str) -> Value | None:
        """An Input in place of an unmapped value, so the walk reports everything after it."""
        if value not in self.values:
            return None
        shape = np.shape(self.values[value])
        if not 2 <= len(shape) <= 5:
            return None
        try:
            return self.draft.add_input(f"{node_name(name, 'node')}_stand_in", shape[1:])
        except Unmappable:
            return None

    # ------------------------------------------------------------ helpers for rules
    def tensor(self, name: str) -> Value:
        if name in self.tensors:
            return self.tensors[name]
        if (
            name in self.time_major
            or name in self.recurrent_outputs
            or name in self.recurrent_steps
            or name in self.state_slices
        ):
            raise Unmappable(
                f"uses {name!r}, a time-major sequence (L, N, ...); the catalog's layers take "
                "the batch first"
            )
        if name in self.end_pieces:
            raise Unmappable(
                f"uses {name!r}, a piece of a bidirectional recurrent layer's ends; the catalog's "
                "layer gives them only joined (output 'last': out[:, -1, :H] with out[:, 0, H:])"
            )
        if name in self.hidden_states or name in self.states:
            raise Unmappable(
                f"uses {name!r}, a recurrent layer's final state (directions, N, H), other than "
                "to start another recurrent layer or transposed to batch first; the catalog's "
                "state port is (N, layers·directions, H) (use out[:, -1] for the last step)"
            )
        from studio.importers.onnx_ops_tensor import constant_node

        constant = constant_node(self, name)  # a float constant operand: a Constant node
        if constant is not None:
            return constant
        raise Unmappable(
            f"uses {name!r} as a layer input, but it is a constant the catalog cannot hold "
            "(not a float tensor)"
        )

    def constant(self, node: Any, index: int, what: str) -> np.ndarray | None:
        """Input `index` as an array (None when absent); refuses a computed activation."""
        if len(node.input) <= index or not node.input[index]:
            return None
        name = node.input[index]
        if name in self.tensors:
            raise Unmappable(f"its {what} is computed by the model; the catalog needs a constant")
        return np.asarray(self.values[name])

    def stack_consumed_once(self, node_id: str) -> bool:
        """Whether the recurrent node's sequence feeds nothing but the next stacked layer."""
        tracked = (self.recurrent_outputs, self.recurrent_steps, self.time_major)
        names = [o for values in tracked for o, v in values.items() if v[0] == node_id]
        return all(self.consumers.get(o, 0) == 1 for o in names)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(d) for d in np.shape(self.values[name]))

    def layer(
        self,
        node: Any,
        type_id: str,
        params: Mapping[str, object],
        inputs: Sequence[str] | None = None,
        weights: Mapping[str, Any] | None = None,
    ) -> Value:
        import torch

        sources = [self.tensor(i) for i in (inputs if inputs is not None else node.input[:1])]
        tensors = {
            k: torch.from_numpy(
                np.array(v, dtype=np.float32 if k != "num_batches_tracked" else np.int64)
            )
            for k, v in (weights or {}).items()
        }
        # A layer whose weights are the very initializers an earlier one of its type read is
        # the same module called again (a siamese tower): tie it instead of copying them.
        key = (type_id, tuple(i for i in node.input if i in self.initializers))
        first = self.weight_readers.get(key) if key[1] and tensors else None
        if first is not None:
            settings = self.draft.params_of(first)
            if any(settings.get(name) != value for name, value in params.items()):
                first = None  # the same numbers used another way: a copy, not a tie
        if first is None and "weight" in tensors:
            first = self.weight_tie_partner(type_id, tensors["weight"])
        value = self.draft.add_layer(
            type_id,
            layer_name(node),
            params,
            sources,
            where=_where(node),
            weights=tensors,
            shares=first,
        )
        if key[1] and tensors and key not in self.weight_readers:
            self.weight_readers[key] = value[0]
        if first is None and "weight" in tensors and type_id in _TIED_TYPES:
            self.tables.append((type_id, value[0], tensors["weight"]))
        return value

    def weight_tie_partner(self, type_id: str, weight: Any) -> str | None:
        """The Embedding (or Linear) mapped before whose table is this layer's weight.

        Tied embeddings reach ONNX as a Gather on the table and a MatMul on its transpose,
        which the exporter folds into a second initializer of the same numbers. Equal to the
        last bit, and not one repeated value (a fresh zero bias is no tie), they are one
        tensor in the source: the later layer is weight-tied to the first.
        """
        if type_id not in _TIED_TYPES or weight.ndim != 2 or not weight.numel():
            return None
        if bool((weight == weight.flatten()[0]).all()):
            return None
        for other_type, node_id, table in self.tables:
            if (
                is_weight_tie(type_id, other_type)
                and table.shape == weight.shape
                and bool((table == weight).all())
            ):
                return node_id
        return None


_TIED_TYPES = ("studio.Linear", "studio.Embedding")


def _spread_activations(nodes: Sequence[Any], activations: set[str]) -> None:
    """Add every value computed from the inputs (a Shape of one is a constant, not one).

    An If, Loop or Scan reads outer values inside its branches without listing them as inputs;
    those count too, or an If on a shape test would pass for a constant (its example result).
    """
    for node in nodes:
        read = [*node.input, *_branch_reads(node)]
        if node.op_type not in ("Shape", "Size") and any(i in activations for i in read):
            activations.update(o for o in node.output if o)


def _branch_reads(node: Any) -> list[str]:
    """The names a node's subgraphs read (their own results included, which is harmless)."""
    names: list[str] = []
    for attribute in node.attribute:
        graphs = [attribute.g] if attribute.HasField("g") else list(attribute.graphs)
        for graph in graphs:
            for inner in graph.node:
                names.extend(inner.input)
                names.extend(_branch_reads(inner))
    return names


def _live_nodes(nodes: Sequence[Any], outputs: Sequence[str]) -> set[int]:
    """Indices of the nodes the graph outputs depend on."""
    producer = {o: i for i, node in enumerate(nodes) for o in node.output if o}
    live: set[int] = set()
    stack = [producer[o] for o in outputs if o in producer]
    while stack:
        index = stack.pop()
        if index in live:
            continue
        live.add(index)
        stack.extend(producer[i] for i in nodes[index].input if i in producer)
    return live


def _where(node: Any) -> str:
    return f"ONNX node {node.name!r}" if node.name else f"ONNX node making {node.output[0]!r}"


def _single(values: Sequence[int] | None, what: str, default: int) -> int:
    items = list(values) if values is not None else []
    if not items:
        return default
    if all(v == items[0] for v in items):
        return int(items[0])
    raise Unmappable(f"{what}={items}: the catalog's layer takes one {what} for every direction")


def _dim(axis: int, rank: int) -> int:
    if axis % rank == 0:
        raise Unmappable(f"axis={axis} works across the batch; the catalog's layers keep it")
    return axis


# --------------------------------------------------------------------------------- rules


def _gemm(m: _OnnxMapper, node: Any) -> Value:
    a = attributes(node)
    if a.get("transA", 0):
        raise Unmappable("transA=1 has no catalog layer")
    weight = m.constant(node, 1, "weight")
    bias = m.constant(node, 2, "bias")
    assert weight is not None
    weight = (weight if a.get("transB", 0) else weight.T) * float(a.get("alpha", 1.0))
    out_features = int(weight.shape[0])
    weights: dict[str, Any] = {"weight": weight}
    if bias is not None and bias.size not in (1, out_features):
        raise Unmappable(f"a bias of shape {bias.shape} differs per sample; Linear's is a vector")
    if bias is not None:
        weights["bias"] = np.broadcast_to(bias * float(a.get("beta", 1.0)), (1, out_features))[0]
    params = {"out_features": out_features, "bias": bias is not None}
    return m.layer(node, "studio.Linear", params, weights=weights)


def _matmul(m: _OnnxMapper, node: Any) -> Value:
    weight = m.constant(node, 1, "second operand")
    assert weight is not None
    if weight.ndim != 2:
        raise Unmappable("a batched MatMul with a constant; the catalog's Linear takes a matrix")
    value = m.layer(
        node,
        "studio.Linear",
        {"out_features": int(weight.shape[1]), "bias": False},
        weights={"weight": weight.T},
    )
    m.matmuls[node.output[0]] = value[0]
    return value


def _merge(type_id: str) -> OnnxRule:
    def rule(m: _OnnxMapper, node: Any) -> Value:
        left, right = node.input[0], node.input[1]
        constants = [n for n in (left, right) if n not in m.tensors]
        if type_id == "studio.Add" and len(constants) == 1:
            other = right if constants[0] == left else left
            linear = m.matmuls.get(other)
            bias = np.asarray(m.values[constants[0]])
            out_features = m.shape(other)[-1]
            if linear is not None and m.consumers.get(other) == 1 and bias.size == out_features:
                # MatMul + Add of a vector: the bias of the Linear made for the MatMul.
                m.draft.set_param(linear, "bias", True)
                m.draft.add_weights(linear, {"bias": _torch(bias.reshape(out_features))})
                return m.tensors[other]
        if type_id == "studio.Add" and len(constants) == 1:
            other = right if constants[0] == left else left
            encoding = _positional_encoding(m, node, other, np.asarray(m.values[constants[0]]))
            if encoding is not None:
                return encoding
        if constants:
            raise Unmappable(
                f"{node.op_type} with a constant; the catalog's {type_id[7:]} combines "
                "layer outputs"
            )
        if m.shape(left) != m.shape(right):
            raise Unmappable(
                f"broadcasts {m.shape(left)} with {m.shape(right)}; the catalog's {type_id[7:]} "
                "needs equal shapes"
            )
        return m.layer(node, type_id, {}, [left, right])

    return rule


def _positional_encoding(
    m: _OnnxMapper, node: Any, sequence: str, table: np.ndarray
) -> Value | None:
    """x + table[:L] on a sequence (N, L, E): sinusoidal if the numbers are those, else learned."""
    shape = m.shape(sequence)
    rows = table.reshape(table.shape[1:]) if table.ndim == 3 and table.shape[0] == 1 else table
    if len(shape) != 3 or rows.shape != shape[1:]:
        return None
    length = shape[1]
    x, y = m.values[sequence], m.values[node.output[0]]
    sinusoidal = {"kind": "sinusoidal", "max_len": length}
    registry = m.draft.registry
    if layer_difference(registry, "studio.PositionalEncoding", sinusoidal, {}, x, y) <= 1e-6:
        return m.layer(node, "studio.PositionalEncoding", sinusoidal, inputs=[sequence])
    learned = {"kind": "learned", "max_len": length}
    return m.layer(
        node, "studio.PositionalEncoding", learned, inputs=[sequence], weights={"table": rows}
    )


def _torch(array: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.array(array, dtype=np.float32))


def _plain(type_id: str, **sources: tuple[str, float]) -> OnnxRule:
    """An activation whose params come from attributes: param → (attribute, default)."""

    def rule(m: _OnnxMapper, node: Any) -> Value:
        a = attributes(node)
        params = {
            p: _float_attribute(a.get(attr, default)) for p, (attr, default) in sources.items()
        }
        return m.layer(node, type_id, params)

    return rule


def _softmax(type_id: str) -> OnnxRule:
    def rule(m: _OnnxMapper, node: Any) -> Value:
        rank = len(m.shape(node.input[0]))
        axis = int(attributes(node).get("axis", -1 if m.opset >= 13 else 1))
        if m.opset < 13 and axis % rank != rank - 1:
            raise Unmappable("before opset 13 Softmax flattens from its axis; no catalog layer")
        return m.layer(node, type_id, {"dim": _dim(axis, rank)})

    return rule


def _alias(m: _OnnxMapper, node: Any) -> Value:
    return m.tensor(node.input[0])


def _cast(m: _OnnxMapper, node: Any) -> Value:
    """A cast between float types (a float64 input made float32) keeps the values."""
    values = (m.values.get(node.input[0]), m.values.get(node.output[0]))
    if not all(v is not None and np.issubdtype(np.asarray(v).dtype, np.floating) for v in values):
        raise Unmappable("casts to or from integers; the catalog's layers compute in float")
    return m.tensor(node.input[0])


def _dropout(m: _OnnxMapper, node: Any) -> Value:
    if len(node.output) > 1 and node.output[1] and m.consumers.get(node.output[1]):
        raise Unmappable("uses the dropout mask; the catalog's Dropout returns only its output")
    ratio = m.constant(node, 1, "ratio")
    p = float(ratio) if ratio is not None else float(attributes(node).get("ratio", 0.5))
    return m.layer(node, "studio.Dropout", {"p": p})


def _reshape(m: _OnnxMapper, node: Any) -> Value | None:
    """Flatten, Reshape, Squeeze, Unsqueeze: judged by the shapes they really produce."""
    source = node.input[0]
    if source in m.recurrent_outputs or source in m.recurrent_steps:
        before, after = m.shape(source), m.shape(node.output[0])
        if (
            len(before) == 4
            and (
                # (L, 1, N, H) → (L, N, H): one direction's output sequence, still time-major;
                (
                    source in m.recurrent_outputs
                    and before[1] == 1
                    and after == before[:1] + before[2:]
                )
                # (L, N, D, H) → (L, N, D·H): the directions side by side, as torch returns them.
                or (source in m.recurrent_steps and after == (*before[:2], before[2] * before[3]))
            )
        ):
            m.time_major[node.output[0]] = {**m.recurrent_outputs, **m.recurrent_steps}[source]
            return None
        raise Unmappable(
            "a recurrent output reshaped other than into its sequence (L, N, directions·H)"
        )
    before, after = m.shape(node.input[0]), m.shape(node.output[0])
    if node.op_type == "Flatten" and int(attributes(node).get("axis", 1)) == 1 and len(before) > 2:
        return m.layer(node, "studio.Flatten", {})
    if after[:1] != before[:1]:
        raise Unmappable(
            f"reshapes {before} into {after}, mixing the batch with other dimensions; the "
            "catalog's layers keep the batch first"
        )
    if after == before:
        return m.tensor(node.input[0])
    if len(after) == 1:
        raise Unmappable(f"reshapes {before} into one value per sample {after}")
    if len(after) == 2 and len(before) > 2:
        return m.layer(node, "studio.Flatten", {})
    if len(before) >= 4 and after == (*before[:2], int(np.prod(before[2:]))):
        m.flattened_spatial.add(node.output[0])
    return m.layer(node, "studio.Reshape", {"shape": after[1:]})


def _transpose(m: _OnnxMapper, node: Any) -> Value | None:
    rank = len(m.shape(node.input[0]))
    perm = [int(p) for p in attributes(node).get("perm", list(range(rank))[::-1])]
    if node.input[0] in m.states and perm == [1, 0, 2]:
        return m.states[node.input[0]]  # a final state, batch first: the layer's h or c port
    if node.input[0] in m.recurrent_outputs and perm == [0, 2, 1, 3]:
        # (L, D, N, H) → (L, N, D, H), on the way to the joined sequence.
        m.recurrent_steps[node.output[0]] = m.recurrent_outputs[node.input[0]]
        return None
    if rank == 3 and perm == [1, 0, 2]:
        # Into and out of the time-major layout of a recurrent operator.
        source = node.input[0]
        if source in m.time_major:
            return m.time_major[source]
        if source in m.tensors:
            m.time_major[node.output[0]] = m.tensors[source]
            return None
    if perm[0] != 0:
        raise Unmappable("moves the batch dimension; the catalog's Permute keeps it first")
    if perm == list(range(rank)):
        return m.tensor(node.input[0])
    return m.layer(node, "studio.Permute", {"dims": tuple(perm[1:])})


def _concat(m: _OnnxMapper, node: Any) -> Value | None:
    inputs = [i for i in node.input if i]
    if len(inputs) == 1:
        return m.tensor(inputs[0])
    joined = _joined_state(m, node, inputs)
    if joined is not None:
        m.states[node.output[0]] = joined
        return None
    pieces = [m.end_pieces.get(i) for i in inputs]
    if pieces[0] is not None and len(pieces) == 2 and pieces[1] is not None:
        (value, first), (other, second) = pieces[0], pieces[1]
        axis = int(attributes(node).get("axis", 0)) % len(m.shape(node.output[0]))
        if value == other and (first, second) == ("forward", "backward") and axis == 1:
            # out[:, -1, :H] joined with out[:, 0, H:]: the bidirectional layer's "last".
            m.draft.set_param(value[0], "output", "last")
            return value
    axis = _dim(int(attributes(node).get("axis", 0)), len(m.shape(node.output[0])))
    values = [m.tensor(i) for i in inputs]  # a DenseNet block's 25 make a tree of Concats
    return join(
        m.draft, "studio.Concat", layer_name(node), {"dim": axis}, values, where=_where(node)
    )


def _joined_state(m: _OnnxMapper, node: Any, inputs: list[str]) -> Value | None:
    """Every layer's Y_h (or Y_c) of one stacked layer joined along axis 0 in order: its whole
    final state (torch's h_n), which the layer's h (or c) port gives batch first."""
    pieces = [m.state_pieces.get(i) for i in inputs]
    if any(p is None for p in pieces) or int(attributes(node).get("axis", 0)) != 0:
        return None
    values = {p[0] for p in pieces if p is not None}
    layers = [p[1] for p in pieces if p is not None]
    if len(values) != 1:
        return None
    (value,) = values
    if layers != list(range(len(layers))) or layers[-1] + 1 != m.draft.params_of(value[0]).get(
        "num_layers"
    ):
        return None
    return value


def _reduce(type_id: str) -> OnnxRule:
    def rule(m: _OnnxMapper, node: Any) -> Value:
        a = attributes(node)
        rank = len(m.shape(node.input[0]))
        axes = a.get("axes")
        if axes is None:
            given = m.constant(node, 1, "axes")
            axes = None if given is None else [int(v) for v in given.reshape(-1)]
        if not axes:
            raise Unmappable("reduces over every dimension, the batch included")
        keepdims = bool(a.get("keepdims", 1))
        dims = sorted({int(d) % rank for d in axes})
        source = node.input[0]
        pooled = type_id == "studio.Mean" and dims == [2] and rank == 3 and not keepdims
        if pooled and source in m.flattened_spatial and m.consumers.get(source) == 1:
            # x.flatten(2).mean(2): the Reshape made for the flatten becomes the pool.
            reshape = m.tensor(source)[0]
            return m.draft.fuse(
                [reshape], "studio.GlobalAvgPool", {}, name=layer_name(node), weights={}
            )
        if len(dims) == 1:
            return m.layer(node, type_id, {"dim": _dim(dims[0], rank), "keepdim": keepdims})
        if type_id == "studio.Mean" and dims == list(range(2, rank)) and rank in (3, 4):
            if not keepdims:
                return m.layer(node, "studio.GlobalAvgPool", {})
            if rank == 4:
                return m.layer(node, "studio.AdaptiveAvgPool2d", {"output_size": (1, 1)})
        raise Unmappable(f"axes={axes}: the catalog reduces over one dimension (or all spatial)")

    return rule


def _gather(m: _OnnxMapper, node: Any) -> Value | None:
    """Embedding lookups, and x[:, -1] on sequences (a recurrent layer's "last" output)."""
    axis = int(attributes(node).get("axis", 0))
    if node.input[0] not in m.tensors and node.input[1] in m.tensors:
        table = m.constant(node, 0, "table")
        assert table is not None
        if table.ndim != 2 or axis % 2 != 0:
            raise Unmappable("Gather from a constant has a catalog layer only as an Embedding")
        rows, width = table.shape
        params = {"num_embeddings": int(rows), "embedding_dim": int(width)}
        return m.layer(
            node, "studio.Embedding", params, inputs=[node.input[1]], weights={"weight": table}
        )
    indices = m.constant(node, 1, "indices")
    rank = len(m.shape(node.input[0]))
    if rank == 3 and axis % rank == 1 and indices is not None and indices.ndim == 0:
        length = m.shape(node.input[0])[1]
        step = int(indices) % length
        source = m.tensors.get(node.input[0])
        readers = m.consumers.get(node.input[0])
        recurrent = source is not None and _recurrent_sequence(m, source)
        bidirectional = recurrent and source is not None and _is_bidirectional(m, source)
        if bidirectional and source is not None and readers == 2 and step in (0, length - 1):
            # One end of both directions; the Slice and the Concat after it decide.
            m.end_pieces[node.output[0]] = (source, "last" if step else "first")
            return None
        if step == length - 1:
            if recurrent and not bidirectional and source is not None and readers == 1:
                # The last step of the recurrent layer's sequence is its "last" output.
                m.draft.set_param(source[0], "output", "last")
                return source
            return m.layer(node, "studio.SelectLast", {})
    raise Unmappable(
        "Gather has a catalog layer only as an Embedding, or as x[:, -1] on sequences (SelectLast)"
    )


def _recurrent_sequence(m: _OnnxMapper, value: Value) -> bool:
    """Whether `value` is a recurrent layer's whole output sequence."""
    node_id = value[0]
    return (
        m.draft.type_of(node_id) in _RECURRENT.values()
        and m.draft.params_of(node_id)["output"] == "sequence"
    )


def _is_bidirectional(m: _OnnxMapper, value: Value) -> bool:
    return bool(m.draft.params_of(value[0])["bidirectional"])


def _slice(m: _OnnxMapper, node: Any) -> None:
    """Only the halves of a bidirectional layer's ends: out[:, -1, :H] and out[:, 0, H:], and
    a slice of a final state that keeps all of it (torch's hx split per layer, one layer)."""
    whole = m.states.get(node.input[0]) or m.time_major.get(node.input[0])
    if whole is not None and (rows := _state_rows(m, node)) is not None:
        if rows == (0, m.shape(node.input[0])[0]):
            m.states[node.output[0]] = whole
        else:
            m.state_slices[node.output[0]] = (whole, *rows)
        return None
    piece = m.end_pieces.get(node.input[0])
    if piece is None:
        raise Unmappable(
            "Slice has a catalog layer only as the halves of a bidirectional recurrent layer's ends"
        )
    value, end = piece
    size = m.shape(node.input[0])[-1]
    starts, ends, axes, steps = (m.constant(node, i, "bounds") for i in (1, 2, 3, 4))
    if starts is None or ends is None:
        raise Unmappable("a Slice without constant bounds")
    axis = 1 if axes is None else int(axes.reshape(-1)[0]) % 2
    step = 1 if steps is None else int(steps.reshape(-1)[0])
    start = int(starts.reshape(-1)[0])
    stop = min(int(ends.reshape(-1)[0]), size)
    half = {(0, size // 2): "last", (size // 2, size): "first"}.get((start, stop))
    if axis != 1 or step != 1 or half != end or m.consumers.get(node.input[0]) != 1:
        raise Unmappable(
            "slices a bidirectional recurrent layer's ends other than as its 'last' output "
            "(the forward half of the last step, the backward half of the first)"
        )
    m.end_pieces[node.output[0]] = (value, "forward" if end == "last" else "backward")
    return None


def _state_rows(m: _OnnxMapper, node: Any) -> tuple[int, int] | None:
    """The rows [start, end) a Slice keeps along axis 0 (torch's hx split per layer), else
    None: only a state (or a batch-first tensor transposed into one) is sliced this way."""
    starts, ends, axes, steps = (m.constant(node, i, "bounds") for i in (1, 2, 3, 4))
    if starts is None or ends is None or starts.size != 1:
        return None
    if (axes is not None and int(axes.reshape(-1)[0]) != 0) or (
        steps is not None and int(steps.reshape(-1)[0]) != 1
    ):
        return None
    size = m.shape(node.input[0])[0]
    return max(int(starts.reshape(-1)[0]), 0), min(int(ends.reshape(-1)[0]), size)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _layer_normalization(m: _OnnxMapper, node: Any) -> Value:
    a = attributes(node)
    rank = len(m.shape(node.input[0]))
    if int(a.get("axis", -1)) % rank != rank - 1:
        raise Unmappable("normalizes over several dimensions; the catalog's LayerNorm the last")
    scale = m.constant(node, 1, "scale")
    bias = m.constant(node, 2, "bias")
    assert scale is not None
    size = m.shape(node.input[0])[-1]
    weights = {
        "weight": np.broadcast_to(scale, (size,)),
        "bias": np.zeros(size) if bias is None else np.broadcast_to(bias, (size,)),
    }
    params = {"eps": _float_attribute(a.get("epsilon", 1e-5))}
    return m.layer(node, "studio.LayerNorm", params, weights=weights)


def _float_attribute(value: object) -> float:
    """An ONNX float32 attribute as the number it was written as (1e-05, not 9.99999974e-06)."""
    return float(f"{float(value):.7g}")  # type: ignore[arg-type]


_RECURRENT = {"RNN": "studio.RNN", "LSTM": "studio.LSTM", "GRU": "studio.GRU"}


_RULES: dict[str, OnnxRule] = {
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Add": _merge("studio.Add"),
    "Mul": _merge("studio.Multiply"),
    "Relu": _plain("studio.ReLU"),
    "LeakyRelu": _plain("studio.LeakyReLU", negative_slope=("alpha", 0.01)),
    "Elu": _plain("studio.ELU", alpha=("alpha", 1.0)),
    "Sigmoid": _plain("studio.Sigmoid"),
    "Tanh": _plain("studio.Tanh"),
    "Softmax": _softmax("studio.Softmax"),
    "LogSoftmax": _softmax("studio.LogSoftmax"),
    "Identity": _alias,
    "Cast": _cast,
    "Dropout": _dropout,
    "Flatten": _reshape,
    "Reshape": _reshape,
    "Squeeze": _reshape,
    "Unsqueeze": _reshape,
    "Transpose": _transpose,
    "Concat": _concat,
    "ReduceMean": _reduce("studio.Mean"),
    "ReduceSum": _reduce("studio.Sum"),
    "Gather": _gather,
    "Slice": _slice,
    "LayerNormalization": _layer_normalization,
}


_FAMILY_RULES = (
    "studio.importers.onnx_ops_recurrent",
    "studio.importers.onnx_ops_spatial",
    "studio.importers.onnx_ops_elementwise",
    "studio.importers.onnx_ops_attention",
    "studio.importers.onnx_ops_tensor",
)


@functools.cache
def op_rules() -> dict[str, OnnxRule]:
    """The rules above, with those of each layer family's ``onnx_ops_*`` module (``RULES``).

    A family's rule for an op this module already maps replaces it: the family that owns a
    layer knows its ONNX forms best.
    """
    rules = dict(_RULES)
    for name in _FAMILY_RULES:
        rules.update(importlib.import_module(name).RULES)
    return rules
