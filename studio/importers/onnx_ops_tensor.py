"""ONNX op rules for the tensor operations, merged by `studio.importers.onnx_import.op_rules`.

Where `studio.importers.onnx_import` already maps an op in a special form (MatMul with a constant
weight is a Linear, Add of a bias folds into it, Gather from a table is an Embedding, x[:, -1] a
SelectLast, ReduceMean over the spatial dims a pooling), its rule is tried first and these take
what it refuses: elementwise math of two computed tensors or with a constant, MatMul of two
computed tensors, Einsum, Split, general Slice and Gather, Squeeze, Unsqueeze, Expand and
reductions over several axes. A constant operand that is not a single number becomes a Constant
node holding its values (`constant_node`, which the mapper's ``tensor`` calls).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from studio.importers.mapping import Unmappable, Value
from studio.importers.onnx_nodes import attributes, layer_name
from studio.importers.onnx_patterns import masked_fill

Rule = Callable[[Any, Any], Value | None]


def constant_node(m: Any, name: str) -> Value | None:
    """A Constant node (kind "values") for a float constant used as an operand, made once.

    Its shape gains a leading 1 where the batch goes, unless it already has one: under
    broadcasting both are the same numbers. None for other values (integers, shapes).
    """
    cache: dict[str, Value] = m.__dict__.setdefault("constant_nodes", {})
    if name in cache:
        return cache[name]
    if name not in m.values or "studio.Constant" not in m.draft.registry:
        return None
    array = np.asarray(m.values[name])
    if not np.issubdtype(array.dtype, np.floating):
        return None
    batch = _example_batch(m) or 1
    if array.ndim >= 2 and array.shape[0] == batch > 1 and (array == array[:1]).all():
        array = array[:1]  # a per-model tensor expanded to the example's batch (a class token)
    table = array if array.ndim >= 2 and array.shape[0] == 1 else array[np.newaxis]
    if table.ndim == 1:
        table = table.reshape(1, 1)
    if table.ndim > 9:
        return None
    import torch

    value = m.draft.add_layer(
        "studio.Constant",
        layer_name_of(name),
        {"shape": tuple(int(d) for d in table.shape[1:]), "kind": "values"},
        [],
        where=f"ONNX constant {name!r}",
        weights={"value": torch.from_numpy(np.array(table, dtype=np.float32))},
    )
    cache[name] = value
    return value


def _example_batch(m: Any) -> int | None:
    """The batch of the example the import ran, read from its first input."""
    for name in m.tensors:
        return int(np.shape(m.values[name])[0]) if name in m.values else None
    return None


def layer_name_of(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    return f"constant_{cleaned}" if cleaned else "constant"


# --- helpers ------------------------------------------------------------------------------------


def _base(op: str) -> Rule:
    """The rule `op` would have without this family: another family's, else the base one."""
    import importlib

    from studio.importers import onnx_import

    for name in reversed(onnx_import._FAMILY_RULES):
        if name != __name__:
            found = importlib.import_module(name).RULES.get(op)
            if found is not None:
                return found  # type: ignore[no-any-return]
    return onnx_import._RULES[op]  # type: ignore[no-any-return]


def _dim(axis: int, rank: int) -> int:
    """An ONNX axis as the catalog's dim (a torch dim, never the batch)."""
    if axis % rank == 0:
        raise Unmappable(f"axis={axis} works across the batch; the catalog's layers keep it")
    return axis % rank


def _scalar(m: Any, name: str) -> float | None:
    """The number a constant operand holds when it is one number (any shape of size 1)."""
    if name in m.tensors or name not in m.values:
        return None
    array = np.asarray(m.values[name])
    if array.size != 1 or not np.issubdtype(array.dtype, np.floating):
        return None
    return float(array.reshape(-1)[0])


def _ints(m: Any, node: Any, index: int, attribute: str) -> list[int] | None:
    """An int list given as an attribute (older opsets) or as a constant input (newer)."""
    found = attributes(node).get(attribute)
    if found is not None:
        return [int(v) for v in found]
    given = m.constant(node, index, attribute)
    return None if given is None else [int(v) for v in np.asarray(given).reshape(-1)]


def _fallback(first: Rule, second: Rule) -> Rule:
    """`first` (the special forms), else `second` (the general one)."""

    def rule(m: Any, node: Any) -> Value | None:
        try:
            return first(m, node)
        except Unmappable:
            return second(m, node)

    return rule


# --- elementwise --------------------------------------------------------------------------------

_CONSTANT_FORMS: dict[str, Callable[[float, bool], tuple[str, str, float] | None]] = {
    # op → (x op c, or c op x when `first`) → (type id, param, value) of one-input layer.
    "Add": lambda c, first: ("studio.Shift", "offset", c),
    "Mul": lambda c, first: ("studio.Scale", "factor", c),
    "Sub": lambda c, first: None if first else ("studio.Shift", "offset", -c),
    "Div": lambda c, first: None if first or c == 0 else ("studio.Scale", "factor", 1.0 / c),
}
_TYPES = {
    "Add": "studio.Add",
    "Mul": "studio.Multiply",
    "Sub": "studio.Subtract",
    "Div": "studio.Divide",
}


def _binary(m: Any, node: Any) -> Value:
    """Two tensors broadcast as torch does; one number becomes Scale or Shift, a constant
    tensor a Constant node."""
    left, right = node.input[0], node.input[1]
    for constant, other, first in ((right, left, False), (left, right, True)):
        number = _scalar(m, constant)
        if number is not None and other in m.tensors:
            form = _CONSTANT_FORMS[node.op_type](number, first)
            if form is not None:
                type_id, param, value = form
                return m.layer(node, type_id, {param: value}, [other])  # type: ignore[no-any-return]
    params = {"inputs": 2} if node.op_type in ("Add", "Mul") else {}
    return m.layer(node, _TYPES[node.op_type], params, [left, right])  # type: ignore[no-any-return]


class _Operands:
    """What `onnx_patterns.masked_fill` asks of the mapper: constants and activations."""

    def __init__(self, m: Any) -> None:
        self.m = m

    def constant(self, name: str) -> np.ndarray | None:
        if not name or name in self.m.tensors or name not in self.m.values:
            return None
        return np.asarray(self.m.values[name])

    def is_activation(self, name: str) -> bool:
        return name in self.m.tensors


def _where(m: Any, node: Any) -> Value:
    """`masked_fill(mask, -inf)` on a constant mask (a causal mask outside an attention the
    patterns recognise) is the addition of a constant: -inf where filled, 0 elsewhere."""
    filled = masked_fill(_Operands(m), node)
    if filled is None:
        raise Unmappable(
            "a Where other than filling a constant mask with -inf (masked_fill) has no catalog "
            "layer"
        )
    source, mask = filled
    name = f"{node.output[0]}_mask"
    m.values[name] = mask
    return m.layer(node, "studio.Add", {"inputs": 2}, [source, name])  # type: ignore[no-any-return]


def _pow(m: Any, node: Any) -> Value:
    exponent = _scalar(m, node.input[1])
    if exponent is None:
        raise Unmappable("a Pow whose exponent is not one constant number has no catalog layer")
    return m.layer(node, "studio.Pow", {"exponent": exponent})  # type: ignore[no-any-return]


def _unary(type_id: str) -> Rule:
    def rule(m: Any, node: Any) -> Value:
        return m.layer(node, type_id, {})  # type: ignore[no-any-return]

    return rule


def _clip(m: Any, node: Any) -> Value:
    """Clip with both bounds finite is the elementwise family's (ReLU6, Hardtanh); a Clip open
    on one side is a Clamp."""
    a = attributes(node)
    if m.opset < 11:
        low, high = a.get("min"), a.get("max")
    else:
        low, high = (_bound(m, node, i) for i in (1, 2))
    low = None if low is None or math.isinf(float(low)) else float(f"{float(low):.7g}")
    high = None if high is None or math.isinf(float(high)) else float(f"{float(high):.7g}")
    if low is not None and high is not None:
        from studio.importers.onnx_ops_elementwise import RULES as ELEMENTWISE

        return ELEMENTWISE["Clip"](m, node)  # type: ignore[no-any-return]
    if low is None and high is None:
        return m.tensor(node.input[0])  # type: ignore[no-any-return]
    return m.layer(node, "studio.Clamp", {"min": low, "max": high})  # type: ignore[no-any-return]


def _bound(m: Any, node: Any, index: int) -> float | None:
    given = m.constant(node, index, "bound")
    return None if given is None else float(np.asarray(given).reshape(-1)[0])


# --- products -----------------------------------------------------------------------------------


def _matmul(m: Any, node: Any) -> Value:
    """A constant second operand is a Linear (the base rule); two computed tensors a MatMul."""
    if node.input[1] not in m.tensors:
        return _base("MatMul")(m, node)  # type: ignore[return-value]
    return m.layer(node, "studio.MatMul", {}, [node.input[0], node.input[1]])  # type: ignore[no-any-return]


def _einsum(m: Any, node: Any) -> Value:
    text = attributes(node).get("equation", b"")
    equation = text.decode() if isinstance(text, bytes) else str(text)
    params = {"equation": per_sample_equation(equation)}
    return m.layer(node, "studio.Einsum", params, list(node.input))  # type: ignore[no-any-return]


def per_sample_equation(equation: str) -> str:
    """An einsum equation over whole tensors as the catalog's, over one sample: the batch
    letter (the same first letter everywhere) or a leading ``...`` taken off every term."""
    text = equation.replace(" ", "")
    if "->" not in text:
        raise Unmappable(f"einsum {equation!r} names no result; the catalog's needs '->'")
    left, result = text.split("->")
    terms = [*left.split(","), result]
    if all(term.startswith("...") for term in terms):
        stripped = [term[3:] for term in terms]
    elif len({term[:1] for term in terms}) == 1 and terms[0][:1].isalpha():
        batch = terms[0][0]
        stripped = [term[1:] for term in terms]
        if any(batch in term for term in stripped):
            raise Unmappable(f"einsum {equation!r} uses its batch letter {batch!r} twice")
    else:
        raise Unmappable(
            f"einsum {equation!r} does not keep the batch first in every operand and the result"
        )
    if any("." in term for term in stripped):
        raise Unmappable(f"einsum {equation!r} uses '...' after the batch")
    return ",".join(stripped[:-1]) + "->" + stripped[-1]


# --- splitting, indexing, rearranging -----------------------------------------------------------


def _split(m: Any, node: Any) -> Value:
    """One Split node with a port per piece; the sizes are those the pieces really have."""
    rank = len(m.shape(node.input[0]))
    axis = _dim(int(attributes(node).get("axis", 0)), rank)
    outputs = [o for o in node.output if o]
    sizes = tuple(m.shape(o)[axis] for o in outputs)
    value = m.layer(node, "studio.Split", {"sizes": sizes, "dim": axis})
    for i, output in enumerate(outputs[1:], start=2):
        m.tensors[output] = (value[0], f"out{i}")
    return value  # type: ignore[no-any-return]


def _slice(m: Any, node: Any) -> Value | None:
    source = node.input[0]
    if source in m.end_pieces or source in m.states or source in m.time_major:
        # A recurrent layer's ends, or its state (or its hx) split into layers.
        return _base("Slice")(m, node)
    before, after = m.shape(source), m.shape(node.output[0])
    starts, ends = _ints(m, node, 1, "starts"), _ints(m, node, 2, "ends")
    axes = _ints(m, node, 3, "axes") or list(range(len(starts or [])))
    steps = _ints(m, node, 4, "steps") or [1] * len(axes)
    if before == after and all(step > 0 for step in steps):
        # Forwards and keeping every size: the whole tensor (a `x[:, :]`). A backwards step
        # of the same size is a flip, refused below, never read as the input itself.
        return m.tensor(source)  # type: ignore[no-any-return]
    if starts is None or ends is None:
        raise Unmappable("a Slice without constant bounds")
    cut = [
        (axis % len(before), start, end, step)
        for axis, start, end, step in zip(axes, starts, ends, steps, strict=True)
        if after[axis % len(before)] != before[axis % len(before)] or step < 0
    ]
    if len(cut) != 1:
        raise Unmappable("a Slice along several dimensions at once; the catalog's cuts one")
    axis, start, end, step = cut[0]
    if step < 1:
        raise Unmappable(f"a Slice with step {step}; the catalog's steps forwards")
    size = before[axis]
    params = {
        "dim": _dim(axis, len(before)),
        "start": max(min(start, size), -size),
        "end": None if end >= size else max(end, -size),
        "step": step,
    }
    return m.layer(node, "studio.Slice", params)  # type: ignore[no-any-return]


def _gather(m: Any, node: Any) -> Value | None:
    """Positions of a computed tensor: one index is a Select, a list an Index."""
    if node.input[0] not in m.tensors or node.input[1] in m.tensors:
        raise Unmappable("Gather of these operands has no catalog layer")
    rank = len(m.shape(node.input[0]))
    axis = _dim(int(attributes(node).get("axis", 0)), rank)
    indices = np.asarray(m.constant(node, 1, "indices"))
    size = m.shape(node.input[0])[axis]
    if indices.ndim == 0:
        return m.layer(node, "studio.Select", {"dim": axis, "index": int(indices)})  # type: ignore[no-any-return]
    if indices.ndim != 1:
        raise Unmappable("Gather with a table of indices; the catalog's Index takes a list")
    positions = tuple(int(i) % size for i in indices)
    return m.layer(node, "studio.Index", {"dim": axis, "indices": positions})  # type: ignore[no-any-return]


def _squeeze_or_unsqueeze(m: Any, node: Any) -> Value | None:
    """One axis of a plain computed tensor: a Squeeze or Unsqueeze node (else a Reshape)."""
    source = node.input[0]
    axes = _ints(m, node, 1, "axes") if source in m.tensors else None
    if axes is None or len(axes) != 1:
        return _base(node.op_type)(m, node)
    rank = len(m.shape(node.output[0] if node.op_type == "Unsqueeze" else source))
    type_id = f"studio.{node.op_type}"
    return m.layer(node, type_id, {"dim": _dim(axes[0], rank)})  # type: ignore[no-any-return]


def _reshape(m: Any, node: Any) -> Value | None:
    """(N, 1) into one value per sample (N), as `.view(-1)` writes a score per sample: a
    Squeeze; any other reshape is the importer's own rule."""
    source = node.input[0]
    before, after = m.shape(source), m.shape(node.output[0])
    if source in m.tensors and len(before) == 2 and before[1] == 1 and after == before[:1]:
        return m.layer(node, "studio.Squeeze", {"dim": 1})  # type: ignore[no-any-return]
    return _base("Reshape")(m, node)


def _expand(m: Any, node: Any) -> Value:
    before, after = m.shape(node.input[0]), m.shape(node.output[0])
    if before == after:
        return m.tensor(node.input[0])  # type: ignore[no-any-return]
    if len(before) != len(after) or before[0] != after[0]:
        raise Unmappable(
            f"expands {before} to {after}, adding dimensions or repeating the batch; the "
            "catalog's Expand repeats sample dimensions of size 1"
        )
    sizes = tuple(-1 if b == a else a for b, a in zip(before[1:], after[1:], strict=True))
    return m.layer(node, "studio.Expand", {"sizes": sizes})  # type: ignore[no-any-return]


def _reduce(type_id: str) -> Rule:
    def rule(m: Any, node: Any) -> Value:
        rank = len(m.shape(node.input[0]))
        axes = _ints(m, node, 1, "axes")
        if not axes:
            raise Unmappable("reduces over every dimension, the batch included")
        dims = sorted({_dim(int(a), rank) for a in axes})
        keepdim = bool(attributes(node).get("keepdims", 1))
        params: dict[str, object] = {"dim": dims[0], "keepdim": keepdim}
        if len(dims) > 1:
            params["dims"] = tuple(dims)
        return m.layer(node, type_id, params)  # type: ignore[no-any-return]

    return rule


def _base_then(op: str, general: Rule) -> Rule:
    def first(m: Any, node: Any) -> Value | None:
        return _base(op)(m, node)

    return _fallback(first, general)


def _gather_nd(m: Any, node: Any) -> Value | None:
    """torch's dynamo export of ``x[:, [i, j], :]``: Transpose to time-major, GatherND of
    fixed positions along that leading axis, Transpose back; an Index along dim 1."""
    from studio.importers.onnx_import import _where

    source = node.input[0]
    a = attributes(node)
    if source not in m.time_major or int(a.get("batch_dims", 0)) != 0:
        raise Unmappable("GatherND of these operands has no catalog layer")
    indices = np.asarray(m.constant(node, 1, "indices"))
    if indices.ndim != 2 or indices.shape[1] != 1:
        raise Unmappable("GatherND of a table of positions; the catalog's Index takes a list")
    size = m.shape(source)[0]
    positions = tuple(int(i) % size for i in indices[:, 0])
    value = m.draft.add_layer(
        "studio.Index",
        layer_name(node),
        {"dim": 1, "indices": positions},
        [m.time_major[source]],
        where=_where(node),
    )
    m.time_major[node.output[0]] = value  # still time-major until the Transpose back
    return None


RULES: dict[str, Any] = {
    "GatherND": _gather_nd,
    "Add": _base_then("Add", _binary),
    "Mul": _base_then("Mul", _binary),
    "Sub": _binary,
    "Div": _binary,
    "Pow": _pow,
    "Exp": _unary("studio.Exp"),
    "Log": _unary("studio.Log"),
    "Sqrt": _unary("studio.Sqrt"),
    "Abs": _unary("studio.Abs"),
    "Clip": _clip,
    "MatMul": _matmul,
    "Einsum": _einsum,
    "Split": _split,
    "Slice": _slice,
    "Gather": _base_then("Gather", _gather),
    "Squeeze": _squeeze_or_unsqueeze,
    "Unsqueeze": _squeeze_or_unsqueeze,
    "Expand": _expand,
    "Reshape": _reshape,
    "ReduceMean": _base_then("ReduceMean", _reduce("studio.Mean")),
    "ReduceSum": _base_then("ReduceSum", _reduce("studio.Sum")),
    "ReduceMax": _reduce("studio.Max"),
    "ReduceMin": _reduce("studio.Min"),
    "Where": _where,
}

__all__ = ["RULES", "constant_node", "per_sample_equation"]
