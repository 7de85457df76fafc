"""torch.fx rules for the tensor operations: functions, operators and tensor methods.

`studio.importers.fx_import` merges `FUNCTION_RULES` and `METHOD_RULES` into its own tables
(`install`). Where it already maps a call in a special form (``x[:, -1]`` as SelectLast, a mean
over the spatial dims as pooling, ``a + b`` of equal shapes as Add), its rule is tried first and
these take what it refuses: broadcasting, a number operand (Scale, Shift), several dims, general
indexing. A parameter or buffer used directly in ``forward`` (a class token) becomes a Parameter
or Constant node carrying its values (`attribute_tensor`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx
from torch.fx.passes.shape_prop import TensorMetadata

from studio.importers.mapping import Unmappable, Value
from studio.importers.onnx_ops_tensor import per_sample_equation

Rule = Callable[[Any, fx.Node], Value | None]


# --- helpers ------------------------------------------------------------------------------------


def _arg(node: fx.Node, index: int, name: str, default: object = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _shape(node: object) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    shape = getattr(meta, "shape", None)
    if shape is None:
        raise Unmappable(f"{node} is not a tensor")
    return tuple(int(d) for d in shape)


def _dim(dim: object, rank: int) -> int:
    """A torch dim as the catalog's (the same number), refusing the batch."""
    if not isinstance(dim, int):
        raise Unmappable(f"dim={dim!r}: the catalog's layer needs one dimension")
    if dim % rank == 0:
        raise Unmappable(f"dim={dim} works across the batch; the catalog's layers keep it")
    return dim


_INT_OPS: dict[object, Callable[[Any, Any], Any]] = {
    operator.add: operator.add,
    operator.sub: operator.sub,
    operator.mul: operator.mul,
    operator.floordiv: operator.floordiv,
    operator.truediv: operator.truediv,
    operator.neg: lambda a, _: -a,
}


def static(value: object, depth: int = 0) -> Any:
    """A plain number the trace computed from sample sizes (``x.shape[-1] // 2``), or the value
    itself; None where it depends on the batch or on tensor values."""
    if not isinstance(value, fx.Node):
        return value
    if depth > 16 or value.op not in ("call_function", "call_method"):
        return None
    if isinstance(value.meta.get("tensor_meta"), TensorMetadata):
        return None  # a tensor, not a size
    args = [static(a, depth + 1) for a in value.args]
    if value.target is operator.getitem and isinstance(value.args[0], fx.Node):
        sizes = _sizes_of(value.args[0])
        index = args[1]
        if sizes is None or not isinstance(index, int) or index % len(sizes) == 0:
            return None
        return sizes[index]
    if value.target == "size" and len(value.args) == 2 and isinstance(args[1], int):
        sizes = _sizes_of_tensor(value.args[0])
        return None if sizes is None or args[1] % len(sizes) == 0 else sizes[args[1]]
    operation = _INT_OPS.get(value.target)
    if operation is None or any(a is None or isinstance(a, fx.Node) for a in args):
        return None
    return operation(args[0], args[1] if len(args) > 1 else None)


def _sizes_of(node: fx.Node) -> tuple[int, ...] | None:
    """The sizes behind ``x.shape`` or ``x.size()``."""
    if node.op == "call_function" and node.target is getattr and node.args[1] == "shape":
        return _sizes_of_tensor(node.args[0])
    if node.op == "call_method" and node.target == "size" and len(node.args) == 1:
        return _sizes_of_tensor(node.args[0])
    return None


def _sizes_of_tensor(node: object) -> tuple[int, ...] | None:
    try:
        return _shape(node)
    except Unmappable:
        return None


def _pieces(m: Any) -> dict[fx.Node, list[Value | None]]:
    """Calls with several results (split, chunk, max with a dim) → the value of each result."""
    return m.__dict__.setdefault("pieces", {})  # type: ignore[no-any-return]


def _number(value: object) -> float | None:
    value = static(value)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _fallback(first: Rule | None, second: Rule) -> Rule:
    if first is None:
        return second

    def rule(m: Any, node: fx.Node) -> Value | None:
        try:
            return first(m, node)
        except Unmappable:
            return second(m, node)

    return rule


# --- parameters and buffers used directly -------------------------------------------------------


def attribute_tensor(m: Any, node: fx.Node) -> Value:
    """A parameter (learned) or buffer (fixed) read in forward, as one node made once.

    Both store (1, *shape), the 1 broadcasting over the batch: a leading 1 of the tensor is
    that 1; any other tensor gains it, which broadcasting reads as the same numbers.
    """
    made: dict[str, Value] = m.__dict__.setdefault("attribute_nodes", {})
    target = str(node.target)
    if target in made:
        return made[target]
    try:
        tensor = m.root.get_parameter(target)
        learned = True
    except AttributeError:
        try:
            tensor = m.root.get_buffer(target)
        except AttributeError:
            raise Unmappable(f"uses self.{target}, which is not a tensor") from None
        learned = False
    if not tensor.dtype.is_floating_point:
        raise Unmappable(f"uses self.{target}, a {tensor.dtype} tensor, as a layer input")
    values = tensor.detach().clone().float()
    if values.dim() >= 2 and values.shape[0] == 1:
        shape = tuple(values.shape[1:])
    else:
        shape, values = tuple(values.shape), values.unsqueeze(0)
    if not shape:
        shape, values = (1,), values.reshape(1, 1)
    params: dict[str, object] = {"shape": shape}
    if learned:
        type_id, weights = "studio.Parameter", {"weight": values}
    else:
        type_id, weights = "studio.Constant", {"value": values}
        params["kind"] = "values"
    value: Value = m.draft.add_layer(
        type_id, target.replace(".", "_"), params, [], where=f"self.{target}", weights=weights
    )
    made[target] = value
    return value


# --- elementwise --------------------------------------------------------------------------------

# op symbol → (x op c, or c op x when `first`) → (type id, param, value), or None.
_NUMBER_FORMS: dict[str, Callable[[float, bool], tuple[str, str, float] | None]] = {
    "+": lambda c, first: ("studio.Shift", "offset", c),
    "*": lambda c, first: ("studio.Scale", "factor", c),
    "-": lambda c, first: None if first else ("studio.Shift", "offset", -c),
    "/": lambda c, first: None if first or c == 0 else ("studio.Scale", "factor", 1.0 / c),
}
# c - x is Shift(c) after Scale(-1); c / x is Scale(c) after Pow(-1).
_NUMBER_FIRST: dict[str, tuple[tuple[str, str, float], str, str]] = {
    "-": (("studio.Scale", "factor", -1.0), "studio.Shift", "offset"),
    "/": (("studio.Pow", "exponent", -1.0), "studio.Scale", "factor"),
}


def _binary(type_id: str, symbol: str) -> Rule:
    """Two tensors broadcast as torch does, or a tensor and a number (Scale or Shift)."""

    def rule(m: Any, node: fx.Node) -> Value | None:
        if not isinstance(node.meta.get("tensor_meta"), TensorMetadata):
            return None  # arithmetic on sizes (h * w); a layer that needs the result reports it
        if len(node.args) != 2 or set(node.kwargs) - {"alpha"} or node.kwargs.get("alpha", 1) != 1:
            raise Unmappable(f"only `a {symbol} b` of two values has a catalog layer")
        a, b = node.args
        for number, other, first in ((_number(b), a, False), (_number(a), b, True)):
            if number is not None and isinstance(other, fx.Node):
                form = _NUMBER_FORMS[symbol](number, first)
                if form is None:
                    return _number_first(m, node, symbol, number, other)
                kind, param, value = form
                return m.layer(node, kind, {param: value}, [other])  # type: ignore[no-any-return]
        if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)):
            raise Unmappable(f"{symbol} of {a!r} and {b!r} has no catalog layer")
        params = {"inputs": 2} if type_id in ("studio.Add", "studio.Multiply") else {}
        return m.layer(node, type_id, params, [a, b])  # type: ignore[no-any-return]

    return rule


def _number_first(m: Any, node: fx.Node, symbol: str, number: float, other: fx.Node) -> Value:
    (kind, param, value), outer, outer_param = _NUMBER_FIRST[symbol]
    inner = m.layer(node, kind, {param: value}, [other], name=f"{node.name}_{kind[7:].lower()}")
    result: Value = m.draft.add_layer(
        outer, node.name, {outer_param: number}, [inner], where=m.where(node)
    )
    return result


def _unary(type_id: str) -> Rule:
    def rule(m: Any, node: fx.Node) -> Value:
        if len(node.args) != 1 or node.kwargs:
            raise Unmappable("called with extra arguments the catalog's layer has no setting for")
        return m.layer(node, type_id, {})  # type: ignore[no-any-return]

    return rule


def _pow(m: Any, node: fx.Node) -> Value:
    exponent = _number(_arg(node, 1, "exponent"))
    if exponent is None or not isinstance(node.args[0], fx.Node):
        raise Unmappable("a power whose exponent is not one number has no catalog layer")
    return m.layer(node, "studio.Pow", {"exponent": exponent})  # type: ignore[no-any-return]


def _clamp(m: Any, node: fx.Node) -> Value:
    low, high = _arg(node, 1, "min"), _arg(node, 2, "max")
    bounds = {"min": _number(low), "max": _number(high)}
    if (low is not None and bounds["min"] is None) or (high is not None and bounds["max"] is None):
        raise Unmappable("clamps to tensor bounds; the catalog's Clamp takes numbers")
    if bounds["min"] is None and bounds["max"] is None:
        return m.tensor(node.args[0])  # type: ignore[no-any-return]
    return m.layer(node, "studio.Clamp", bounds)  # type: ignore[no-any-return]


# --- products -----------------------------------------------------------------------------------


def _matmul(m: Any, node: fx.Node) -> Value:
    a, b = _arg(node, 0, "input"), _arg(node, 1, "other")
    return m.layer(node, "studio.MatMul", {}, [a, b])  # type: ignore[no-any-return]


def _attention(m: Any, node: fx.Node) -> Value:
    """F.scaled_dot_product_attention on heads the model split itself, without a mask."""
    query, key, value = (_arg(node, i, name) for i, name in enumerate(("query", "key", "value")))
    if _arg(node, 3, "attn_mask") is not None:
        raise Unmappable(
            "scaled_dot_product_attention with an attn_mask; the catalog's layer takes "
            "is_causal=True or no mask"
        )
    scale = _arg(node, 6, "scale")
    params = {
        "causal": bool(_arg(node, 5, "is_causal", False)),
        "dropout": float(_arg(node, 4, "dropout_p", 0.0) or 0.0),
        "scale": float(scale) if scale is not None else 0.0,
    }
    return m.layer(node, "studio.ScaledDotProductAttention", params, [query, key, value])  # type: ignore[no-any-return]


def _einsum(m: Any, node: fx.Node) -> Value:
    equation = node.args[0]
    operands = list(node.args[1:])
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = list(operands[0])
    if not isinstance(equation, str):
        raise Unmappable("an einsum whose equation is not text")
    params = {"equation": per_sample_equation(equation), "inputs": len(operands)}
    return m.layer(node, "studio.Einsum", params, operands)  # type: ignore[no-any-return]


# --- splitting and joining ----------------------------------------------------------------------


def _split(m: Any, node: fx.Node) -> None:
    """One Split (or Chunk) node with a port per piece, read by the getitem nodes after it."""
    source = node.args[0]
    shape = _shape(source)
    dim = _dim(_arg(node, 2, "dim", 0), len(shape))
    size = shape[dim]
    how = _arg(node, 1, "split_size_or_sections", node.kwargs.get("split_size"))
    chunks = None
    if _is_chunk(node):
        chunks = _arg(node, 1, "chunks")
        step = -(-size // int(chunks))
        sizes = [min(step, size - start) for start in range(0, size, step)]
    elif isinstance(how, int):
        sizes = [min(how, size - start) for start in range(0, size, how)]
    elif isinstance(how, list | tuple) and all(isinstance(s, int) for s in how):
        sizes = [int(s) for s in how]
    else:
        raise Unmappable("splits into sizes that are not numbers")
    if _is_chunk(node) and len(sizes) == chunks:
        value = m.layer(node, "studio.Chunk", {"chunks": int(chunks), "dim": dim}, [source])
    else:
        value = m.layer(node, "studio.Split", {"sizes": tuple(sizes), "dim": dim}, [source])
    _pieces(m)[node] = [(value[0], f"out{i + 1}") for i in range(len(sizes))]
    return None


def _is_chunk(node: fx.Node) -> bool:
    return node.target in (torch.chunk, "chunk")


def _stack(m: Any, node: fx.Node) -> Value:
    tensors = list(_arg(node, 0, "tensors"))
    dim = _arg(node, 1, "dim", 0)
    rank = len(_shape(node))
    return m.layer(node, "studio.Stack", {"dim": _dim(dim, rank)}, tensors)  # type: ignore[no-any-return]


# --- indexing -----------------------------------------------------------------------------------


def _narrow(m: Any, node: fx.Node) -> Value:
    shape = _shape(node.args[0])
    dim = _dim(_arg(node, 1, "dim"), len(shape))
    start, length = int(_arg(node, 2, "start")), int(_arg(node, 3, "length"))
    start %= shape[dim]
    params = {"dim": dim, "start": start, "end": start + length, "step": 1}
    return m.layer(node, "studio.Slice", params)  # type: ignore[no-any-return]


def _select(m: Any, node: fx.Node) -> Value:
    shape = _shape(node.args[0])
    dim = _dim(_arg(node, 1, "dim"), len(shape))
    return m.layer(node, "studio.Select", {"dim": dim, "index": int(_arg(node, 2, "index"))})  # type: ignore[no-any-return]


def _index_select(m: Any, node: fx.Node) -> Value:
    shape = _shape(node.args[0])
    dim = _dim(_arg(node, 1, "dim"), len(shape))
    index = _arg(node, 2, "index")
    if not (isinstance(index, fx.Node) and index.op == "get_attr"):
        raise Unmappable("index_select with computed indices; the catalog's Index lists them")
    positions = m.root.get_buffer(str(index.target))
    indices = tuple(int(i) % shape[dim] for i in positions.reshape(-1).tolist())
    return m.layer(node, "studio.Index", {"dim": dim, "indices": indices})  # type: ignore[no-any-return]


def _getitem(m: Any, node: fx.Node) -> Value | None:
    """A piece of a split, or x[:, a:b] / x[:, i] along one sample dimension."""
    source, index = node.args
    pieces = _pieces(m).get(source)  # type: ignore[arg-type]
    if pieces is not None:
        if not isinstance(index, int) or not -len(pieces) <= index < len(pieces):
            raise Unmappable(f"takes result {index!r} of {source}")
        found = pieces[index]
        if found is None:
            raise Unmappable("uses the positions max/min return; the catalog's give values only")
        return found
    if not isinstance(source, fx.Node) or "tensor_meta" not in source.meta:
        return None
    shape = _shape(source)
    items = [_static_item(i) for i in (index if isinstance(index, tuple) else [index])]
    cut = [(d, item) for d, item in enumerate(items) if item != slice(None)]
    if len(cut) != 1 or Ellipsis in items or None in items:
        raise Unmappable(f"indexing [{index}] along several dimensions has no catalog layer")
    dim, item = cut[0]
    dim = _dim(dim, len(shape))
    if isinstance(item, int):
        return m.layer(node, "studio.Select", {"dim": dim, "index": item}, [source])  # type: ignore[no-any-return]
    if isinstance(item, slice) and all(v is None or isinstance(v, int) for v in _parts(item)):
        return _slice_layer(m, node, source, dim, item.start, item.stop, item.step)
    raise Unmappable(f"indexing [{index}] has no catalog layer")


def _slice_layer(
    m: Any, node: fx.Node, source: fx.Node, dim: int, start: Any, end: Any, step: Any
) -> Value:
    size = _shape(source)[dim]
    step = 1 if step is None else step
    if step < 1:
        raise Unmappable("a slice with a negative step has no catalog layer")
    if end is not None and end >= size:
        end = None  # torch's "to the end" (aten.slice writes it as a huge number)
    params = {"dim": dim, "start": start or 0, "end": end, "step": step}
    return m.layer(node, "studio.Slice", params, [source])  # type: ignore[no-any-return]


def _aten_slice(m: Any, node: fx.Node) -> Value:
    """``torch.ops.aten.slice(x, dim, start, end, step)``, as the Slice module writes it."""
    source = node.args[0]
    parts = [static(_arg(node, i, name, default)) for i, name, default in _SLICE_ARGS]
    if not isinstance(source, fx.Node) or any(
        p is not None and not isinstance(p, int) for p in parts
    ):
        raise Unmappable("a slice with bounds that are not numbers has no catalog layer")
    dim = _dim(parts[0], len(_shape(source)))
    return _slice_layer(m, node, source, dim, *parts[1:])


_SLICE_ARGS = ((1, "dim", 0), (2, "start", None), (3, "end", None), (4, "step", 1))


def _static_item(item: object) -> object:
    """An index with the sizes the trace computed (``x[:, : x.shape[1] // 2]``) as numbers."""
    if isinstance(item, slice):
        parts = [static(p) if isinstance(p, fx.Node) else p for p in _parts(item)]
        return slice(*(p if p is not None else o for p, o in zip(parts, _parts(item), strict=True)))
    found = static(item)
    return item if found is None else found


def _parts(item: slice) -> tuple[object, object, object]:
    return item.start, item.stop, item.step


# --- rearranging --------------------------------------------------------------------------------


def _transpose(m: Any, node: fx.Node) -> Value:
    rank = len(_shape(node.args[0]))
    a, b = _dim(_arg(node, 1, "dim0"), rank), _dim(_arg(node, 2, "dim1"), rank)
    if a % rank == b % rank:
        return m.tensor(node.args[0])  # type: ignore[no-any-return]
    return m.layer(node, "studio.Transpose", {"dim0": a, "dim1": b})  # type: ignore[no-any-return]


def _squeeze(m: Any, node: fx.Node) -> Value:
    dim = _arg(node, 1, "dim")
    if not isinstance(dim, int):
        raise Unmappable("squeezes every dimension of size 1; the catalog's Squeeze takes one dim")
    return m.layer(node, "studio.Squeeze", {"dim": _dim(dim, len(_shape(node.args[0])))})  # type: ignore[no-any-return]


def _unflatten(m: Any, node: fx.Node) -> Value:
    """`x.unflatten(d, sizes)` past the batch keeps each sample's values in order: a Reshape
    of the whole sample to the result (our Reshape module is `x.flatten(1).unflatten(1, s)`)."""
    source = node.args[0]
    _dim(_arg(node, 1, "dim"), len(_shape(source)))
    return m.layer(node, "studio.Reshape", {"shape": _shape(node)[1:]})  # type: ignore[no-any-return]


def _unsqueeze(m: Any, node: fx.Node) -> Value:
    dim = _arg(node, 1, "dim")
    return m.layer(node, "studio.Unsqueeze", {"dim": _dim(dim, len(_shape(node)))})  # type: ignore[no-any-return]


def _expand(m: Any, node: fx.Node) -> Value:
    before, after = _shape(node.args[0]), _shape(node)
    if len(before) == len(after) and before[0] == 1 < after[0]:
        # A per-model tensor (a class token) spread over the batch: the catalog's layers
        # broadcast it, and Concat and Stack repeat it, so only the sample sizes matter.
        after = (1, *after[1:])
    if before == after:
        return m.tensor(node.args[0])  # type: ignore[no-any-return]
    if len(before) != len(after) or before[0] != after[0]:
        raise Unmappable(
            f"expands {before} to {after}, adding dimensions or repeating the batch; the "
            "catalog's Expand repeats sample dimensions of size 1"
        )
    sizes = tuple(-1 if b == a else a for b, a in zip(before[1:], after[1:], strict=True))
    return m.layer(node, "studio.Expand", {"sizes": sizes}, [node.args[0]])  # type: ignore[no-any-return]


# --- reductions ---------------------------------------------------------------------------------


def _reduce(type_id: str, pair: bool = False) -> Rule:
    """amax/amin/mean/sum over one or several dims; max/min with a dim give (values, indices)."""

    def rule(m: Any, node: fx.Node) -> Value | None:
        rank = len(_shape(node.args[0]))
        dims = _arg(node, 1, "dim")
        if pair and (dims is None or isinstance(dims, fx.Node)):
            raise Unmappable("max/min of everything, or of two tensors, has no catalog layer")
        if node.kwargs.get("dtype") is not None:
            raise Unmappable("a dtype argument has no catalog setting")
        chosen = list(dims) if isinstance(dims, tuple | list) else [dims]
        if not chosen or any(not isinstance(d, int) for d in chosen):
            raise Unmappable("reduces over every dimension, the batch included")
        picked = sorted({_dim(d, rank) % rank for d in chosen})
        params: dict[str, object] = {
            "dim": picked[0],
            "keepdim": bool(_arg(node, 2, "keepdim", False)),
        }
        if len(picked) > 1:
            params["dims"] = tuple(picked)
        value: Value = m.layer(node, type_id, params)
        if pair:
            _pieces(m)[node] = [value, None]
            return None
        return value

    return rule


def _values(m: Any, node: fx.Node) -> Value | None:
    """``torch.max(x, dim).values``."""
    pieces = _pieces(m).get(node.args[0])  # type: ignore[arg-type]
    if pieces is not None and node.args[1] == "values":
        return pieces[0]
    if isinstance(node.meta.get("tensor_meta"), TensorMetadata):
        raise Unmappable(f"reads .{node.args[1]}, which has no catalog layer")
    return None  # x.shape and other plain values


# --- the tables ---------------------------------------------------------------------------------

_SUB = _binary("studio.Subtract", "-")
_DIV = _binary("studio.Divide", "/")
_MATMUL: Rule = _matmul
_SPLIT: Rule = _split  # type: ignore[assignment]

FUNCTION_RULES: dict[object, Rule] = {
    operator.sub: _SUB,
    operator.isub: _SUB,
    torch.sub: _SUB,
    torch.subtract: _SUB,
    operator.truediv: _DIV,
    operator.itruediv: _DIV,
    torch.div: _DIV,
    torch.true_divide: _DIV,
    operator.pow: _pow,
    torch.pow: _pow,
    operator.matmul: _MATMUL,
    torch.matmul: _MATMUL,
    torch.bmm: _MATMUL,
    torch.einsum: _einsum,
    F.scaled_dot_product_attention: _attention,
    torch.exp: _unary("studio.Exp"),
    torch.log: _unary("studio.Log"),
    torch.sqrt: _unary("studio.Sqrt"),
    torch.abs: _unary("studio.Abs"),
    torch.clamp: _clamp,
    torch.clip: _clamp,
    torch.split: _SPLIT,
    torch.chunk: _SPLIT,
    torch.stack: _stack,
    torch.narrow: _narrow,
    torch.select: _select,
    torch.index_select: _index_select,
    torch.ops.aten.slice: _aten_slice,
    torch.ops.aten.slice.Tensor: _aten_slice,
    torch.transpose: _transpose,
    torch.amax: _reduce("studio.Max"),
    torch.amin: _reduce("studio.Min"),
    torch.max: _reduce("studio.Max", pair=True),
    torch.min: _reduce("studio.Min", pair=True),
}
METHOD_RULES: dict[str, Rule] = {
    "sub": _SUB,
    "div": _DIV,
    "pow": _pow,
    "matmul": _MATMUL,
    "exp": _unary("studio.Exp"),
    "log": _unary("studio.Log"),
    "sqrt": _unary("studio.Sqrt"),
    "abs": _unary("studio.Abs"),
    "clamp": _clamp,
    "clip": _clamp,
    "split": _SPLIT,
    "chunk": _SPLIT,
    "narrow": _narrow,
    "select": _select,
    "index_select": _index_select,
    "transpose": _transpose,
    "expand": _expand,
    "unflatten": _unflatten,
    "amax": _reduce("studio.Max"),
    "amin": _reduce("studio.Min"),
    "max": _reduce("studio.Max", pair=True),
    "min": _reduce("studio.Min", pair=True),
}
# The fx importer's own rule first (special forms), then these (the general ones).
_AFTER_FUNCTIONS: dict[object, Rule] = {
    operator.add: _binary("studio.Add", "+"),
    operator.iadd: _binary("studio.Add", "+"),
    torch.add: _binary("studio.Add", "+"),
    operator.mul: _binary("studio.Multiply", "*"),
    operator.imul: _binary("studio.Multiply", "*"),
    torch.mul: _binary("studio.Multiply", "*"),
    torch.mean: _reduce("studio.Mean"),
    torch.sum: _reduce("studio.Sum"),
    getattr: _values,
}
_AFTER_METHODS: dict[str, Rule] = {
    "add": _binary("studio.Add", "+"),
    "mul": _binary("studio.Multiply", "*"),
    "mean": _reduce("studio.Mean"),
    "sum": _reduce("studio.Sum"),
}
# These first, the fx importer's own rule (a Reshape) for what they refuse.
_BEFORE_FUNCTIONS: dict[object, Rule] = {torch.squeeze: _squeeze, torch.unsqueeze: _unsqueeze}
_BEFORE_METHODS: dict[str, Rule] = {"squeeze": _squeeze, "unsqueeze": _unsqueeze}


def install(functions: dict[object, Rule], methods: dict[str, Rule]) -> None:
    """Add these rules to the fx importer's tables (called once, where they are defined)."""
    for key, rule in FUNCTION_RULES.items():
        functions[key] = rule
    for name, rule in METHOD_RULES.items():
        methods[name] = rule
    for key, rule in _AFTER_FUNCTIONS.items():
        functions[key] = _fallback(functions.get(key), rule)
    for name, rule in _AFTER_METHODS.items():
        methods[name] = _fallback(methods.get(name), rule)
    for key, rule in _BEFORE_FUNCTIONS.items():
        functions[key] = _fallback(rule, functions[key]) if key in functions else rule
    for name, rule in _BEFORE_METHODS.items():
        methods[name] = _fallback(rule, methods[name]) if name in methods else rule
    functions[operator.getitem] = _pieces_first(functions.get(operator.getitem))


def _pieces_first(own: Rule | None) -> Rule:
    """A piece of a split or max is ours; other indexing is the fx importer's (x[:, -1] after a
    recurrent layer), then the general Select or Slice."""
    general = _fallback(own, _getitem)

    def rule(m: Any, node: fx.Node) -> Value | None:
        if node.args[0] in _pieces(m):
            return _getitem(m, node)
        return general(m, node)

    return rule
