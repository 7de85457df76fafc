"""What an ONNX model would do when the importer runs it, checked before any of it runs.

The importer runs the model once in onnxruntime to record every value. A small file can make
that run take the machine: a `Loop` with a trip count of 10¹² never ends, an input declared
1×30000×30000 is 3.4 GiB before the first operator, a `ConstantOfShape` or `Expand` can make
gigabytes out of a few bytes, a weight stored outside the file can be a file of any size. So
before anything runs, and before external weights are read, this module checks:

- the weights' declared sizes (and the bytes external data would read);
- each input's size, at the shape the example run will use;
- every operator, subgraphs included: standard ONNX operators only (or the model's own
  functions); `Loop` only with a constant trip count, and loops nested in loops counted
  together, so no loop runs more than `MAX_LOOP_NODE_RUNS` operator runs; `Scan` only over a
  length known in advance; no operator whose output size depends on values computed at run
  time when shape inference cannot tell that size;
- the memory the example run holds at once (every value is kept, to be read by the mapping):
  the sum of all sizes ONNX shape inference finds, at the example inputs' shapes.

Each refusal is an `ImportFailure` naming the file, the node or input, and the size. The
memory the import may take is `STRATA_IMPORT_MEMORY` (bytes, or with a K/M/G suffix), by
default 2 GiB or half the machine's memory, whichever is less.
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.memory import machine_memory, size_from_environment
from studio.core.safe_files import size_text
from studio.importers.mapping import ImportFailure

MEMORY_VARIABLE = "STRATA_IMPORT_MEMORY"
DEFAULT_MEMORY = 2 * 2**30
MAX_LOOP_NODE_RUNS = 1_000_000
"""Operator runs all loops together may make (a body of 10 operators run 100,000 times)."""
MAX_NESTING = 16
_STANDARD_DOMAINS = ("", "ai.onnx")
_SUBGRAPH_OPS = ("Loop", "Scan", "If")
# Operators whose output size comes from the values of their inputs, not only from their
# shapes: without an inferred output shape, their size is unknown until they have run.
_SIZE_FROM_VALUES = frozenset(
    {
        "ConstantOfShape",
        "Expand",
        "Tile",
        "Range",
        "Resize",
        "Upsample",
        "Pad",
        "OneHot",
        "MaxUnpool",
        "CenterCropPad",
        "Col2Im",
        "RandomNormal",
        "RandomUniform",
        "Multinomial",
        "EyeLike",
        "ConcatFromSequence",
        "SequenceConstruct",
        "SequenceInsert",
        "SplitToSequence",
    }
)
# Bytes per element of ONNX element types (TensorProto.DataType); strings are counted as a
# pointer each, their text unknown before the run.
_ITEM_SIZES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 8: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8}
_ITEM_SIZES |= {14: 8, 15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 21: 1, 22: 1, 23: 1}


def import_memory_budget() -> tuple[int, str]:
    """(bytes the import's example run may hold, where that figure comes from)."""
    budget = size_from_environment(MEMORY_VARIABLE)
    if budget is not None:
        return budget, f"set by {MEMORY_VARIABLE}"
    memory = machine_memory()
    if memory is not None and memory // 2 < DEFAULT_MEMORY:
        return memory // 2, f"half of this machine's {size_text(memory)}; set {MEMORY_VARIABLE}"
    return DEFAULT_MEMORY, f"the default; set {MEMORY_VARIABLE} to allow more"


def _refuse_over_budget(source: str, what: str, size: int, advice: str = "") -> None:
    budget, origin = import_memory_budget()
    if size > budget:
        raise ImportFailure(
            f"{source}: {what} would take {size_text(size)} of memory, more than the "
            f"{size_text(budget)} the import may use ({origin}){advice}; nothing was run"
        )


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape) or "a scalar"


def _elements(shape: Sequence[int]) -> int:
    count = 1
    for dim in shape:
        count *= max(int(dim), 0)
    return count


def _item_size(elem_type: int) -> int:
    return _ITEM_SIZES.get(int(elem_type), 8)


# ----------------------------------------------------------------------------- weights


def check_weights(model: Any, source: str, base_dir: Path | None = None) -> int:
    """Refuse weights whose declared sizes (external data: the bytes it reads) exceed the
    budget, before external data is read or any weight is converted; returns their bytes."""
    total = 0
    largest: tuple[int, str] = (0, "")
    for tensor in model.graph.initializer:
        size = _elements(tensor.dims) * _item_size(tensor.data_type)
        if tensor.data_location == 1:  # EXTERNAL: what will be read, if more than declared
            size = max(size, _external_bytes(tensor, base_dir))
        total += size
        if size > largest[0]:
            largest = (size, f"{tensor.name!r} ({_shape_text(tensor.dims)})")
        _refuse_over_budget(
            source, f"the weight {tensor.name!r} ({_shape_text(tensor.dims)})", size
        )
    _refuse_over_budget(
        source, f"the model's weights (the largest {largest[1]}, {size_text(largest[0])})", total
    )
    return total


def _external_bytes(tensor: Any, base_dir: Path | None) -> int:
    """What reading a tensor's external data would read: its `length`, else the file's rest."""
    info = {entry.key: entry.value for entry in tensor.external_data}
    try:
        if "length" in info:
            return max(int(info["length"]), 0)
        offset = max(int(info.get("offset", 0)), 0)
    except ValueError:
        return 0  # onnx refuses it when it reads it
    if base_dir is None or not info.get("location"):
        return 0
    try:
        return max(os.stat(base_dir / info["location"]).st_size - offset, 0)
    except (OSError, ValueError):
        return 0  # onnx names the missing file when it reads it


# ------------------------------------------------------------------------------ inputs


def check_inputs(inputs: Sequence[Any], shapes: Sequence[Sequence[int]], source: str) -> int:
    """Refuse an input the example run could not hold, before it is made; returns the bytes
    the inputs take."""
    total = 0
    for value, shape in zip(inputs, shapes, strict=True):
        elem_type = int(value.type.tensor_type.elem_type)
        size = _elements(shape) * max(_item_size(elem_type), 4)
        total += size
        _refuse_over_budget(
            source,
            f"the input {value.name!r} at {_shape_text(shape)}",
            size,
            "; pass --input-shape with smaller sizes (batch included)",
        )
    _refuse_over_budget(source, "the model's inputs together", total)
    return total


# --------------------------------------------------------------------------- operators


@dataclass
class _Scope:
    """One graph being walked: its values' types and constants, the enclosing ones' too."""

    types: ChainMap[str, Any]
    constants: ChainMap[str, Any]
    where: str  # "" for the main graph, else "in the body of node 'loop' (Loop), "
    runs: int  # how many times the graph runs (loops multiply)
    depth: int


def check_before_running(
    model: Any, inputs: Sequence[Any], shapes: Sequence[Sequence[int]], source: str
) -> None:
    """Refuse a model the importer cannot run safely; see the module docstring.

    Raises:
        ImportFailure: naming the node (or input) and the size or count that is refused.
    """
    held = check_weights(model, source) + check_inputs(inputs, shapes, source)
    inferred = _inferred(model, inputs, shapes)
    functions = {(f.domain, f.name): f for f in model.functions}
    walk = _Walk(source, functions)
    graph = inferred.graph
    walk.graph(graph, walk.scope(graph, None, where="", runs=1, depth=0))
    _check_memory(graph, source, held)


def _inferred(model: Any, inputs: Sequence[Any], shapes: Sequence[Sequence[int]]) -> Any:
    """A copy of the model's graph without its large weights, its inputs at the example
    shapes, with every shape ONNX inference finds (the model itself unless it fails)."""
    import onnx
    from onnx import helper

    slim = onnx.ModelProto()
    slim.ir_version = model.ir_version
    slim.opset_import.extend(model.opset_import)
    slim.functions.extend(model.functions)
    graph = slim.graph
    graph.name = model.graph.name
    graph.node.extend(model.graph.node)
    graph.output.extend(model.graph.output)
    for value, shape in zip(inputs, shapes, strict=True):
        elem_type = int(value.type.tensor_type.elem_type)
        graph.input.append(helper.make_tensor_value_info(value.name, elem_type, list(shape)))
    for tensor in model.graph.initializer:
        small = _elements(tensor.dims) <= 4096 and tensor.data_location != 1
        if small:
            graph.initializer.append(tensor)  # its values may decide shapes (Reshape, Expand)
        else:
            graph.input.append(
                helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims))
            )
    _fold_small_constants(slim, {value.name: _known_shape(value.type) for value in graph.input})
    try:
        inferred = onnx.shape_inference.infer_shapes(
            slim, check_type=False, strict_mode=False, data_prop=True
        )
    except Exception:  # shapes stay unknown: what needs them is refused by the walk
        return slim
    # A Shape of a computed value (`x.shape[0]` after a layer, under a dynamic batch) is known
    # now; folding it once more lets the sizes built from it (an Expand's) be known too.
    sizes = {v.name: _known_shape(v.type) for v in (*graph.input, *inferred.graph.value_info)}
    if not any(n.op_type == "Shape" and sizes.get(n.input[0]) for n in inferred.graph.node):
        return inferred
    _fold_small_constants(inferred, sizes)
    try:
        return onnx.shape_inference.infer_shapes(
            inferred, check_type=False, strict_mode=False, data_prop=True
        )
    except Exception:
        return inferred


# Operators that, given small constant inputs, make small constants: torch's legacy exporter
# computes a Pad's pads with a chain of them, which shape inference cannot follow.
# torch's legacy exporter writes `expand(n, -1, -1)` as Where(Equal(sizes, -1), 1, sizes) on
# such constants, with n the batch (a constant, or Shape(x)[0] of an input whose shape the
# example run fixes): the elementwise operators fold too, their broadcast bounded beforehand.
_ELEMENTWISE = frozenset({"Add", "Sub", "Mul", "Div", "Equal", "Less", "Greater", "Not", "Where"})
_FOLDABLE = frozenset(
    {"Constant", "ConstantOfShape", "Concat", "Reshape", "Slice", "Transpose", "Cast"}
    | {"Squeeze", "Unsqueeze", "Gather", "Shape"}
    | _ELEMENTWISE
)
_FOLD_LIMIT = 4096


def _fold_small_constants(slim: Any, fixed: Mapping[str, tuple[int, ...] | None]) -> None:
    """Replace the slim graph's chains of `_FOLDABLE` operators on small constants by the
    constants they make, so shape inference sees the values that decide later sizes.

    `fixed` holds the shapes known before running (the inputs' at the example's sizes, then
    what inference found): a Shape of one of them is a constant too. Nothing large is made: a
    ConstantOfShape is folded only when its shape is small, an elementwise operator only when
    its broadcast is, and the other operators make at most what they read.
    """
    from onnx import numpy_helper

    graph = slim.graph
    known = {t.name: array for t in graph.initializer if (array := _array(t)) is not None}
    kept = []
    for node in graph.node:
        values = _input_shape(node, fixed) or _folded(slim, node, known)
        if values is None:
            kept.append(node)
            continue
        for name, value in zip(node.output, values, strict=True):
            known[name] = value
            graph.initializer.append(numpy_helper.from_array(value, name))
    del graph.node[:]
    graph.node.extend(kept)


def _input_shape(node: Any, fixed: Mapping[str, Any]) -> list[Any] | None:
    """A Shape of a model input, whose sizes the example run fixes (the batch included): a
    few integers, known before anything runs. None for anything else."""
    import numpy as np
    from onnx import helper

    if node.op_type != "Shape" or fixed.get(node.input[0]) is None:
        return None
    sizes = list(fixed[node.input[0]])
    bounds = {a.name: int(helper.get_attribute_value(a)) for a in node.attribute}
    start, end = bounds.get("start", 0), bounds.get("end", len(sizes))
    return [np.asarray(sizes[start:end], dtype=np.int64)]


def _array(tensor: Any) -> Any:
    """The initializer's values, or None for a damaged one (the run reports it)."""
    from onnx import numpy_helper

    try:
        return numpy_helper.to_array(tensor)
    except Exception:
        return None


def _fold_size(node: Any, arrays: Sequence[Any]) -> int:
    """The most elements folding `node` makes, known before it runs."""
    import numpy as np
    from onnx import helper

    if node.op_type == "ConstantOfShape":
        return _elements(np.ravel(arrays[0]).tolist())
    if node.op_type == "Concat":
        return sum(int(np.size(a)) for a in arrays)
    if node.op_type in _ELEMENTWISE:
        try:
            return _elements(np.broadcast_shapes(*(np.shape(a) for a in arrays)))
        except ValueError:
            return 0  # shapes that do not broadcast: the run refuses it, nothing large is made
    if node.op_type == "Gather" and len(arrays) == 2 and np.ndim(arrays[0]):
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 0)
        data, indices = arrays
        rows = max(1, int(np.shape(data)[int(axis) % np.ndim(data)]))
        return int(np.size(indices)) * (int(np.size(data)) // rows)
    return max((int(np.size(a)) for a in arrays), default=0)


def _folded(slim: Any, node: Any, known: Mapping[str, Any]) -> list[Any] | None:
    """The node's outputs when it is a `_FOLDABLE` operator on small constants, else None."""
    import numpy as np
    from onnx import helper

    inputs = [name for name in node.input if name]
    if node.op_type not in _FOLDABLE or not all(name in known for name in inputs):
        return None
    if _fold_size(node, [known[name] for name in inputs]) > _FOLD_LIMIT:
        return None
    try:
        from onnx.reference import ReferenceEvaluator

        model = helper.make_model(
            helper.make_graph(
                [node],
                "fold",
                [
                    helper.make_tensor_value_info(
                        name, helper.np_dtype_to_tensor_dtype(known[name].dtype), None
                    )
                    for name in inputs
                ],
                [helper.make_empty_tensor_value_info(name) for name in node.output],
            ),
            opset_imports=list(slim.opset_import),
        )
        outputs = ReferenceEvaluator(model).run(None, {name: known[name] for name in inputs})
    except Exception:  # not folded: the walk judges the node as before
        return None
    arrays = [np.asarray(value) for value in outputs]
    return arrays if all(a.size <= _FOLD_LIMIT for a in arrays) else None


def _value_types(graph: Any) -> dict[str, Any]:
    types = {v.name: v.type for v in (*graph.input, *graph.value_info, *graph.output)}
    for tensor in graph.initializer:
        types.setdefault(tensor.name, _tensor_type(tensor))
    return types


def _tensor_type(tensor: Any) -> Any:
    from onnx import helper

    return helper.make_tensor_type_proto(tensor.data_type, list(tensor.dims))


def _known_shape(value_type: Any) -> tuple[int, ...] | None:
    """The shape if every dimension is a known size, else None."""
    if value_type is None or not value_type.HasField("tensor_type"):
        return None
    tensor_type = value_type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims = []
    for dim in tensor_type.shape.dim:
        if not dim.HasField("dim_value") or dim.dim_value < 0:
            return None
        dims.append(int(dim.dim_value))
    return tuple(dims)


def _label(node: Any) -> str:
    if node.name:
        return f"node {node.name!r} ({node.op_type})"
    made = next((o for o in node.output if o), "")
    return f"the {node.op_type} node making {made!r}"


class _Walk:
    """Every operator of a graph and its subgraphs, refused or passed one by one."""

    def __init__(self, source: str, functions: Mapping[tuple[str, str], Any]) -> None:
        self.source = source
        self.functions = functions
        self.seen_functions: set[tuple[str, str]] = set()

    def scope(
        self, graph: Any, outer: _Scope | None, *, where: str, runs: int, depth: int
    ) -> _Scope:
        constants = {t.name: t for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in _STANDARD_DOMAINS and node.output:
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                if value is not None:
                    constants[node.output[0]] = value
        if outer is None:
            return _Scope(ChainMap(_value_types(graph)), ChainMap(constants), where, runs, depth)
        return _Scope(
            outer.types.new_child(_value_types(graph)),
            outer.constants.new_child(constants),
            where,
            runs,
            depth,
        )

    def refuse(self, scope: _Scope, node: Any, reason: str) -> ImportFailure:
        return ImportFailure(
            f"{self.source}: {scope.where}{_label(node)} {reason}; nothing was run"
        )

    def graph(self, graph: Any, scope: _Scope) -> None:
        for node in graph.node:
            self.node(node, scope)

    def node(self, node: Any, scope: _Scope) -> None:
        key = (node.domain, node.op_type)
        if key in self.functions:
            self.function(node, scope)
            return
        if node.domain not in _STANDARD_DOMAINS:
            raise self.refuse(
                scope,
                node,
                f"is an operator of the domain {node.domain!r}; the importer runs only standard "
                "ONNX operators",
            )
        subgraphs = [a for a in node.attribute if a.type in (5, 10)]  # GRAPH, GRAPHS
        if node.op_type == "Loop":
            self.loop(node, scope)
        elif node.op_type == "Scan":
            self.scan(node, scope)
        elif node.op_type == "If":
            for attribute in subgraphs:
                self.subgraph(node, attribute.g, scope, f"{attribute.name} branch", scope.runs)
        elif subgraphs:
            raise self.refuse(scope, node, "runs a subgraph the importer cannot bound")
        if node.op_type in _SIZE_FROM_VALUES:
            for output in node.output:
                if output and _known_shape(scope.types.get(output)) is None:
                    raise self.refuse(
                        scope,
                        node,
                        f"makes {output!r}, whose size depends on values computed while the "
                        "model runs and cannot be known before; the importer does not run it",
                    )

    def function(self, node: Any, scope: _Scope) -> None:
        key = (node.domain, node.op_type)
        if key in self.seen_functions:
            return
        self.seen_functions.add(key)  # also ends a function that calls itself
        where = f"{scope.where}in the function {node.op_type!r} called by {_label(node)}, "
        inner = _Scope(ChainMap(), ChainMap(), where, scope.runs, scope.depth + 1)
        self.nesting(node, inner)
        for inner_node in self.functions[key].node:
            self.node(inner_node, inner)

    def nesting(self, node: Any, scope: _Scope) -> None:
        if scope.depth > MAX_NESTING:
            raise self.refuse(
                scope, node, f"nests subgraphs more than {MAX_NESTING} deep; the importer stops"
            )

    def subgraph(self, node: Any, graph: Any, scope: _Scope, what: str, runs: int) -> None:
        where = f"{scope.where}in the {what} of {_label(node)}, "
        inner = self.scope(graph, scope, where=where, runs=runs, depth=scope.depth + 1)
        self.nesting(node, inner)
        body_runs = runs * sum(1 for _ in _all_nodes(graph))
        if runs > 1 and body_runs > MAX_LOOP_NODE_RUNS:
            raise self.refuse(
                scope,
                node,
                f"would run operators of its {what} {body_runs:,} times ({runs:,} iterations, "
                f"enclosing loops included); the importer runs at most "
                f"{MAX_LOOP_NODE_RUNS:,} operators in loops to read a model, and the catalog "
                "has no layer for loops",
            )
        self.graph(graph, inner)

    def loop(self, node: Any, scope: _Scope) -> None:
        body = next((a.g for a in node.attribute if a.name == "body"), None)
        trip = node.input[0] if node.input else ""
        if not trip:
            raise self.refuse(
                scope,
                node,
                "has no trip count: it runs until its condition turns false, which cannot be "
                "bounded before it runs",
            )
        tensor = scope.constants.get(trip)
        if tensor is None:
            raise self.refuse(
                scope, node, f"takes its trip count from {trip!r}, computed while the model runs"
            )
        count = _scalar(tensor)
        if count is None:
            raise self.refuse(scope, node, f"has a trip count {trip!r} that is not one integer")
        if body is not None:
            self.subgraph(node, body, scope, "body", scope.runs * max(count, 0))

    def scan(self, node: Any, scope: _Scope) -> None:
        body = next((a.g for a in node.attribute if a.name == "body"), None)
        count_attribute = next((a for a in node.attribute if a.name == "num_scan_inputs"), None)
        scanned = int(count_attribute.i) if count_attribute is not None else 0
        axes = next((list(a.ints) for a in node.attribute if a.name == "scan_input_axes"), [])
        first = node.input[len(node.input) - scanned] if 0 < scanned <= len(node.input) else ""
        shape = _known_shape(scope.types.get(first)) if first else None
        axis = axes[0] if axes else 0
        if shape is None or not -len(shape) <= axis < len(shape):
            raise self.refuse(
                scope, node, "scans a sequence whose length cannot be known before it runs"
            )
        if body is not None:
            self.subgraph(node, body, scope, "body", scope.runs * shape[axis])


def _all_nodes(graph: Any) -> Iterator[Any]:
    """A graph's nodes and those of its subgraphs, at any depth."""
    stack = list(graph.node)
    while stack:
        node = stack.pop()
        yield node
        for attribute in node.attribute:
            if attribute.type == 5:
                stack.extend(attribute.g.node)
            elif attribute.type == 10:
                for inner in attribute.graphs:
                    stack.extend(inner.node)


def _scalar(tensor: Any) -> int | None:
    import numpy as np
    from onnx import numpy_helper

    try:
        array = np.asarray(numpy_helper.to_array(tensor))
    except Exception:  # damaged data: onnxruntime would refuse it too
        return None
    if array.size != 1 or not np.issubdtype(array.dtype, np.integer):
        return None
    return int(array.reshape(()))


# ------------------------------------------------------------------------------ memory


def _check_memory(graph: Any, source: str, held: int) -> None:
    """Refuse an example run whose values (all kept at once, with the `held` bytes of weights
    and inputs) exceed the budget."""
    types = _value_types(graph)
    total = held
    largest: tuple[int, str] = (0, "")
    for node in graph.node:
        for output in node.output:
            value_type = types.get(output)
            shape = _known_shape(value_type)
            if value_type is None or shape is None:
                continue
            size = _elements(shape) * _item_size(value_type.tensor_type.elem_type)
            total += size
            if size > largest[0]:
                largest = (size, f"{_label(node)} making {output!r} ({_shape_text(shape)})")
            _refuse_over_budget(
                source, f"{_label(node)} making {output!r} ({_shape_text(shape)})", size
            )
    _refuse_over_budget(
        source,
        f"running the model once, holding every value (the largest from {largest[1]})",
        total,
    )
