"""ONNX patterns of many operators that are one catalog layer: attention, spelled-out activations.

Exporters spell some layers as many small operators. torch's multi-head attention becomes
MatMul, Reshape, Transpose, Gather, Mul, Softmax and Gemm nodes, and GELU before opset 20
becomes Div, Erf, Add and Mul. None of those operators has a catalog layer of its own, so the
operator-by-operator walk would list dozens of them and import nothing.

A pattern is found here by its structure (a Softmax between two MatMuls of activations; a Mul
of x by a function of x alone); the catalog layer's parameters and weights are read from its
constants; and the layer is then run on the value onnxruntime recorded for the pattern's input.
Only a layer that reproduces the recorded output (to `_TOLERANCE`) claims the nodes, so a
misread structure can never import a wrong model. A structure that matches while the numbers do
not (a mask other than the causal one, another scale) is reported as one construct saying so,
in place of the dozens its operators would give.

Attention may add a constant mask to its scores: torch's causal mask (-inf above the diagonal)
becomes the layer's `causal` setting, and the verdict above still decides. Keys and values
projected from another tensor than the query (cross-attention) become the layer's `memory`
input.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.core.registry import LayerRegistry
from studio.core.shapes import TensorShape
from studio.importers.onnx_nodes import attributes, layer_name

_TOLERANCE = 1e-4
"""Largest difference, relative to the output's size (at least 1), a claimed layer may show."""

_CONSTANT_SOURCES = ("Shape", "Size")
_LAYOUT = frozenset({"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Flatten"})
_PICKS = frozenset({"Gather", "Split", "Slice"})
_ELEMENTWISE = frozenset(
    {"Add", "Sub", "Mul", "Div", "Pow", "Erf", "Tanh", "Sigmoid", "Exp", "Log", "Sqrt", "Neg"}
    | {"Abs", "Reciprocal", "Softplus", "Cast"}
)
_WALK_LIMIT = 24


@dataclass(frozen=True)
class Pattern:
    """ONNX nodes that together compute `result` = one catalog layer applied to `source`.

    `problem` is set when the structure matched but the catalog layer does not reproduce the
    recorded values; the nodes are then reported once, as `anchor`, instead of one by one.
    """

    nodes: frozenset[int]
    source: str
    result: str
    anchor: Any
    name: str
    type_id: str
    params: Mapping[str, object]
    weights: Mapping[str, np.ndarray]
    problem: str | None = None
    memory: str | None = None  # the second input of a cross-attention
    more: tuple[str, ...] = ()  # the inputs after those two, of a layer of several (Stack)
    more_results: tuple[str, ...] = ()  # the layer's other outputs, ports out2, out3, ...


def find_patterns(
    nodes: Sequence[Any],
    values: Mapping[str, Any],
    activations: set[str],
    graph_outputs: Sequence[str],
    registry: LayerRegistry,
) -> list[Pattern]:
    """Every attention and composite activation in `nodes`; no node is in two patterns."""
    index = _Index(nodes, values, activations, graph_outputs, registry)
    found: list[Pattern] = []
    taken: set[int] = set()
    for candidate in (
        *_attentions(index),
        *_activations(index),
        *_where_activations(index),
        *_unary_activations(index),
        *_rms_norms(index),
        *_glus(index),
        *_instance_norms(index),
        *_group_norms(index),
        *_stacks(index),
        *_chunks(index),
        *_local_response_norms(index),
        *_two_input_layers(index),
    ):
        if candidate.nodes & taken:
            continue
        taken |= candidate.nodes
        found.append(candidate)
    return found


class _Index:
    """Who makes and who reads each ONNX value, and the values onnxruntime recorded."""

    def __init__(
        self,
        nodes: Sequence[Any],
        values: Mapping[str, Any],
        activations: set[str],
        graph_outputs: Sequence[str],
        registry: LayerRegistry,
    ) -> None:
        self.nodes = nodes
        self.values = values
        self.activations = activations
        self.graph_outputs = set(graph_outputs)
        self.registry = registry
        self.producer = {o: i for i, node in enumerate(nodes) for o in node.output if o}
        self.consumers: dict[str, list[int]] = defaultdict(list)
        for i, node in enumerate(nodes):
            for name in node.input:
                if name:
                    self.consumers[name].append(i)

    def made_by(self, name: str) -> Any | None:
        i = self.producer.get(name)
        return None if i is None else self.nodes[i]

    def readers(self, name: str) -> list[int]:
        """Nodes computing activations from `name` (a Shape of it only reads a constant)."""
        return [i for i in self.consumers[name] if self.nodes[i].op_type not in _CONSTANT_SOURCES]

    def is_activation(self, name: str) -> bool:
        return name in self.activations

    def constant(self, name: str) -> np.ndarray | None:
        if not name or name in self.activations or name not in self.values:
            return None
        return np.asarray(self.values[name])

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(d) for d in np.shape(self.values[name]))

    def between(self, sources: str | set[str], result: str) -> frozenset[int] | None:
        """The nodes on activation paths from `sources` to `result`, if nothing leaks.

        None when `result` also depends on another activation, or when a value inside is read
        outside (other than by a Shape) or is a graph output.
        """
        starts = {sources} if isinstance(sources, str) else sources
        region: set[int] = set()
        stack: list[str] = [result]
        seen: set[str] = set()
        reached: set[str] = set()
        while stack:
            name = stack.pop()
            if name in starts:
                reached.add(name)
                continue
            if name in seen:
                continue
            seen.add(name)
            i = self.producer.get(name)
            if i is None:
                return None
            region.add(i)
            stack.extend(n for n in self.nodes[i].input if n in self.activations)
        if reached != starts:
            return None
        for i in region:
            for out in self.nodes[i].output:
                if not out or out == result:
                    continue
                if out in self.graph_outputs or any(c not in region for c in self.readers(out)):
                    return None
        return frozenset(region)

    def reproduces(
        self,
        type_id: str,
        params: Mapping[str, object],
        weights: Mapping[str, np.ndarray],
        source: str,
        result: str,
        memory: str | None = None,
    ) -> float:
        """How far the catalog layer built from `params` and `weights` lands from `result`."""
        return layer_difference(
            self.registry,
            type_id,
            params,
            weights,
            self.values[source],
            self.values[result],
            None if memory is None else self.values[memory],
        )


def layer_difference(
    registry: LayerRegistry,
    type_id: str,
    params: Mapping[str, object],
    weights: Mapping[str, np.ndarray],
    source: np.ndarray,
    result: np.ndarray,
    memory: np.ndarray | None = None,
) -> float:
    """The largest difference, relative to `result`'s size (at least 1), between `result` and
    the catalog layer run on `source` (and `memory`, its second input, if given); infinite
    when the layer cannot be built or run."""
    import torch

    from studio.layers import load_builder

    spec = registry.get(type_id)
    x = np.asarray(source, dtype=np.float32)
    want = np.asarray(result, dtype=np.float64)
    arrays = [x] if memory is None else [x, np.asarray(memory, dtype=np.float32)]
    if any(a.ndim < 2 or a.shape[:1] != want.shape[:1] for a in arrays):
        return float("inf")
    try:
        module = load_builder(spec)(
            spec.validate_params(params),
            [TensorShape(tuple(int(d) for d in a.shape[1:])) for a in arrays],
        )
        module.load_state_dict(
            {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in weights.items()},
            strict=True,
        )
        with torch.no_grad():
            got = module.eval()(*(torch.from_numpy(a) for a in arrays)).double().numpy()
    except Exception:
        return float("inf")
    if got.shape != want.shape:
        return float("inf")
    if not want.size:
        return 0.0
    return float(np.abs(got - want).max()) / max(1.0, float(np.abs(want).max()))


# ------------------------------------------------------------------------------ attention


@dataclass(frozen=True)
class _Projection:
    """A linear map y = x Wᵀ + b found behind an attention operand."""

    node: int
    source: str
    weight: np.ndarray  # (out, in), torch's layout
    bias: np.ndarray  # (out,)


def _attentions(index: _Index) -> Iterator[Pattern]:
    for i, node in enumerate(index.nodes):
        if node.op_type == "Softmax":
            found = _attention(index, i)
            if found is not None:
                yield found


def _attention(index: _Index, softmax: int) -> Pattern | None:
    """Attention around one Softmax: softmax(q kᵀ · scale + mask) v, with its projections."""
    node = index.nodes[softmax]
    scores, masks = _through_scaling_and_masks(index, node.input[0])
    qk = index.made_by(scores)
    readers = index.readers(node.output[0])
    if qk is None or qk.op_type != "MatMul" or len(readers) != 1:
        return None
    av = index.nodes[readers[0]]
    if av.op_type != "MatMul" or av.input[0] != node.output[0]:
        return None
    operands = [qk.input[0], qk.input[1], av.input[1]]
    if not all(index.is_activation(o) for o in operands):
        return None
    projections = [_projection_behind(index, o) for o in operands]
    if any(p is None for p in projections):
        return None
    query, key, value = (p for p in projections if p is not None)
    out = _output_projection(index, av.output[0])
    if out is None:
        return None
    out_projection, result_candidates = out
    name = layer_name(node, "attention")
    if key.source != value.source:
        return _refused(
            index,
            node,
            index.between({query.source, key.source, value.source}, result_candidates[0]),
            result_candidates[0],
            name,
            "multi-head attention whose keys and values come from different tensors; the "
            "catalog's MultiheadAttention takes them from one memory",
        )
    in_projection = _in_projection(query, key, value)
    if in_projection is None:
        return None
    in_weight, in_bias = in_projection
    embed = query.weight.shape[1]
    score_shape = index.shape(qk.output[0])
    weights = {
        "attn.in_proj_weight": in_weight,
        "attn.in_proj_bias": in_bias,
        "attn.out_proj.weight": out_projection.weight,
        "attn.out_proj.bias": out_projection.bias,
    }
    causal = len(masks) == 1 and _is_causal_mask(masks[0])
    cross = key.source != query.source
    memories: list[str | None] = list(_sources_behind(index, key.source)) if cross else [None]
    worst = float("inf")
    for source in _sources_behind(index, query.source):
        batch = index.shape(source)[0]
        if len(score_shape) == 4:
            heads = score_shape[1]
        elif len(score_shape) == 3 and score_shape[0] % batch == 0:
            heads = score_shape[0] // batch
        else:
            continue
        params = {"num_heads": heads, "dropout": 0.0, "causal": causal}
        for result in result_candidates:
            if index.shape(result) != index.shape(source) or index.shape(source)[-1] != embed:
                continue
            for memory in memories:
                nodes = index.between({source} if memory is None else {source, memory}, result)
                if nodes is None:
                    continue
                difference = index.reproduces(
                    "studio.MultiheadAttention", params, weights, source, result, memory
                )
                if difference <= _TOLERANCE:
                    return Pattern(
                        nodes,
                        source,
                        result,
                        node,
                        name,
                        "studio.MultiheadAttention",
                        params,
                        weights,
                        memory=memory,
                    )
                worst = min(worst, difference)
    if worst == float("inf"):
        return None
    return _refused(
        index,
        node,
        index.between({query.source, key.source}, result_candidates[0]),
        result_candidates[0],
        name,
        "multi-head attention that the catalog's MultiheadAttention does not reproduce "
        f"(differs by {worst:.2g}: a mask other than the causal one, another scale or another "
        "split into heads)",
    )


def _in_projection(
    query: _Projection, key: _Projection, value: _Projection
) -> tuple[np.ndarray, np.ndarray] | None:
    """torch's packed (3E, E) input projection: one map for all three, one for the keys and
    values of a memory (2E, E) after the query's, or three maps."""
    embed = query.weight.shape[1]
    if query.node == key.node == value.node:
        if query.weight.shape[0] != 3 * embed:
            return None
        return query.weight, query.bias
    if key.node == value.node:
        if key.weight.shape[0] != 2 * embed or query.weight.shape[0] != embed:
            return None
        return (
            np.concatenate([query.weight, key.weight]),
            np.concatenate([query.bias, key.bias]),
        )
    return (
        np.concatenate([query.weight, key.weight, value.weight]),
        np.concatenate([query.bias, key.bias, value.bias]),
    )


def _through_scaling_and_masks(index: _Index, name: str) -> tuple[str, list[np.ndarray]]:
    """Back through the constant scaling of attention scores (`_through_scaling`) and the
    constant masks added to them, which are returned for the verdict to judge."""
    masks: list[np.ndarray] = []
    for _ in range(_WALK_LIMIT):
        scaled = _through_scaling(index, name)
        node = index.made_by(scaled)
        filled = None if node is None else masked_fill(index, node)
        if filled is not None:
            name, mask = filled
            masks.append(mask)
            continue
        if node is None or node.op_type != "Add":
            return scaled, masks
        left, right = node.input[0], node.input[1]
        if index.constant(right) is not None and index.is_activation(left):
            masks.append(np.asarray(index.constant(right)))
            name = left
        elif index.constant(left) is not None and index.is_activation(right):
            masks.append(np.asarray(index.constant(left)))
            name = right
        else:
            return scaled, masks
    return name, masks


def masked_fill(index: Any, node: Any) -> tuple[str, np.ndarray] | None:
    """`x.masked_fill(mask, -inf)` (ONNX Where(mask, -inf, x), or Where(keep, x, -inf)) on a
    constant mask, as (x, the additive mask it equals): -inf where filled, 0 elsewhere.

    Only a fill of -inf (or a huge negative number, which a softmax reads as the same) adds up
    to the same thing; any other fill replaces values, which an addition does not. `index`
    is anything with `constant` and `is_activation` (the patterns' index, the op mapper).
    """
    if node.op_type != "Where" or len(node.input) != 3:
        return None
    condition = index.constant(node.input[0])
    if condition is None or condition.dtype != np.bool_:
        return None
    for filled_when, source, fill in (
        (True, node.input[2], node.input[1]),
        (False, *node.input[1:]),
    ):
        values = index.constant(fill)
        if values is None or not index.is_activation(source):
            continue
        if values.size != 1 or float(values.reshape(())) > -1e9:
            return None
        where = condition if filled_when else ~condition
        return source, np.where(where, np.float32(values.reshape(())), np.float32(0))
    return None


def _is_causal_mask(mask: np.ndarray) -> bool:
    """-inf (or a huge negative number) strictly above the diagonal, 0 elsewhere, the same for
    every batch and head it may be repeated over."""
    if mask.ndim < 2 or mask.shape[-1] < 2:
        return False
    rows, cols = mask.shape[-2:]
    above = np.triu(np.ones((rows, cols), dtype=bool), k=1)
    values = np.asarray(mask, dtype=np.float64).reshape(-1, rows, cols)
    return bool(np.all(values[:, above] <= -1e9) and np.all(values[:, ~above] == 0))


def _refused(
    index: _Index,
    anchor: Any,
    nodes: frozenset[int] | None,
    result: str,
    name: str,
    problem: str,
) -> Pattern:
    """A recognised attention the catalog cannot hold: reported once, at its Softmax."""
    if nodes is None:  # its parts are read elsewhere too: only the Softmax is claimed
        result = anchor.output[0]
        nodes = frozenset({index.producer[result]})
    return Pattern(nodes, result, result, anchor, name, "", {}, {}, problem)


def _through_scaling(index: _Index, name: str, *, masks: bool = False) -> str:
    """Back through multiplications and divisions by constants (the 1/√d scale), and with
    `masks` through additions of constants (an attention mask, which the verdict then judges)."""
    for _ in range(_WALK_LIMIT):
        node = index.made_by(name)
        ops = ("Mul", "Div", "Add") if masks else ("Mul", "Div")
        if node is None or node.op_type not in ops:
            return name
        left, right = node.input[0], node.input[1]
        if index.constant(right) is not None and index.is_activation(left):
            name = left
        elif node.op_type != "Div" and index.constant(left) is not None:
            name = right
        else:
            return name
    return name


def _projection_behind(index: _Index, name: str) -> _Projection | None:
    """The linear map an attention operand comes from, back through reshapes and picks."""
    for _ in range(_WALK_LIMIT):
        i = index.producer.get(name)
        if i is None:
            return None
        node = index.nodes[i]
        linear = _linear(index, i)
        if linear is not None:
            return linear
        if node.op_type in _LAYOUT | _PICKS and index.is_activation(node.input[0]):
            name = node.input[0]
            continue
        scaled = _through_scaling(index, name)
        if scaled == name:
            return None
        name = scaled
    return None


def _linear(index: _Index, i: int) -> _Projection | None:
    """Gemm, MatMul by a matrix, or either followed by Add of a vector: as torch's Linear."""
    node = index.nodes[i]
    if node.op_type == "Add":
        for act, const in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
            bias = index.constant(const)
            inner = index.producer.get(act)
            if bias is None or inner is None or len(index.readers(act)) != 1:
                continue
            linear = _linear(index, inner)
            if linear is None or index.nodes[inner].op_type != "MatMul":
                continue
            size = linear.weight.shape[0]
            if bias.size != size:
                return None
            return _Projection(i, linear.source, linear.weight, linear.bias + bias.reshape(size))
        return None
    if node.op_type == "MatMul":
        weight = index.constant(node.input[1])
        if weight is None or weight.ndim != 2 or not index.is_activation(node.input[0]):
            return None
        return _Projection(i, node.input[0], weight.T, np.zeros(weight.shape[1], np.float32))
    if node.op_type == "Gemm":
        a = attributes(node)
        weight = index.constant(node.input[1])
        if weight is None or a.get("transA", 0) or not index.is_activation(node.input[0]):
            return None
        weight = (weight if a.get("transB", 0) else weight.T) * float(a.get("alpha", 1.0))
        size = weight.shape[0]
        bias = index.constant(node.input[2]) if len(node.input) > 2 else None
        if bias is None:
            bias = np.zeros(size, np.float32)
        elif bias.size in (1, size):
            bias = np.broadcast_to(bias.reshape(-1) * float(a.get("beta", 1.0)), (size,))
        else:
            return None
        return _Projection(i, node.input[0], weight, np.array(bias))
    return None


def _output_projection(index: _Index, name: str) -> tuple[_Projection, list[str]] | None:
    """The linear map after the heads are joined, and the values it may end in (last first)."""
    for _ in range(_WALK_LIMIT):
        readers = index.readers(name)
        if len(readers) != 1:
            return None
        i = readers[0]
        node = index.nodes[i]
        projection = _linear(index, i)
        if node.op_type == "MatMul" and projection is not None:
            # A following Add of a vector is this projection's bias.
            after = index.readers(node.output[0])
            if len(after) == 1 and index.nodes[after[0]].op_type == "Add":
                projection = _linear(index, after[0]) or projection
        if projection is not None:
            return projection, _layout_chain(index, index.nodes[projection.node].output[0])
        if node.op_type not in _LAYOUT:
            return None
        name = node.output[0]
    return None


def _layout_chain(index: _Index, name: str) -> list[str]:
    """`name` and the values reshapes and transposes make of it, the last first."""
    chain = [name]
    for _ in range(_WALK_LIMIT):
        readers = index.readers(chain[-1])
        if len(readers) != 1 or index.nodes[readers[0]].op_type not in _LAYOUT:
            break
        if chain[-1] in index.graph_outputs:
            break
        chain.append(index.nodes[readers[0]].output[0])
    return chain[::-1]


def _sources_behind(index: _Index, name: str) -> list[str]:
    """`name` and what it was reshaped or transposed from: the attention's possible inputs."""
    chain = [name]
    for _ in range(_WALK_LIMIT):
        node = index.made_by(chain[-1])
        if node is None or node.op_type not in _LAYOUT or not index.is_activation(node.input[0]):
            break
        chain.append(node.input[0])
    return [c for c in chain if len(index.shape(c)) == 3]


# -------------------------------------------------------------------- composite activations

# Catalog activations (type id, params) that exporters spell out as x · g(x).
_SPELLED_ACTIVATIONS: tuple[tuple[str, dict[str, object]], ...] = (
    ("studio.GELU", {}),
    ("studio.SiLU", {}),
    ("studio.Mish", {}),
    ("studio.GELU", {"approximate": "tanh"}),
)


def _activations(index: _Index) -> Iterator[Pattern]:
    """x · g(x), with g made of elementwise operators on x alone: GELU, SiLU or Mish spelled
    out."""
    for node in index.nodes:
        if node.op_type != "Mul":
            continue
        left, right = node.input[0], node.input[1]
        if not (index.is_activation(left) and index.is_activation(right)) or left == right:
            continue
        for x, g in ((left, right), (right, left)):
            if not _elementwise_of(index, g, x):
                continue
            found = _claim_activation(index, node, x)
            if found is not None:
                yield found
            break


def _claim_activation(index: _Index, product: Any, source: str) -> Pattern | None:
    results = [product.output[0]]
    for _ in range(4):  # x · g(x) may still be scaled by constants: (x · Φ) · 0.5
        readers = index.readers(results[-1])
        if len(readers) != 1:
            break
        nxt = index.nodes[readers[0]]
        scaled = nxt.op_type in ("Mul", "Div") and index.constant(nxt.input[1]) is not None
        if not scaled and not (nxt.op_type == "Mul" and index.constant(nxt.input[0]) is not None):
            break
        results.append(nxt.output[0])
    for result in reversed(results):
        nodes = index.between(source, result)
        if nodes is None:
            continue
        for type_id, params in _SPELLED_ACTIVATIONS:
            if index.reproduces(type_id, params, {}, source, result) <= _TOLERANCE:
                name = layer_name(product, type_id.removeprefix("studio.").lower())
                return Pattern(nodes, source, result, product, name, type_id, params, {})
    return None


def _elementwise_of(index: _Index, name: str, source: str) -> bool:
    """Whether `name` is computed from `source` alone by elementwise operators and constants."""
    stack, seen = [name], set()
    while stack:
        current = stack.pop()
        if current == source or current in seen:
            continue
        seen.add(current)
        node = index.made_by(current)
        if node is None or node.op_type not in _ELEMENTWISE or len(seen) > _WALK_LIMIT:
            return False
        stack.extend(n for n in node.input if index.is_activation(n))
    return True


# Catalog activations that exporters spell as x / g(x) (Softsign) or log(g(x)) (LogSigmoid);
# softplus(beta · x) / beta, Softplus with its beta, is tried with the divisor as beta.
_SPELLED_UNARY: tuple[tuple[str, dict[str, object]], ...] = (
    ("studio.Softsign", {}),
    ("studio.LogSigmoid", {}),
)


def _unary_activations(index: _Index) -> Iterator[Pattern]:
    """x / g(x), g(x) / beta and log(g(x)), g made of elementwise operators on x alone."""
    for node in index.nodes:
        sources: list[str] = []
        candidates = _SPELLED_UNARY
        if node.op_type == "Div" and all(index.is_activation(n) for n in node.input[:2]):
            x, g = node.input[0], node.input[1]
            if x != g and _elementwise_of(index, g, x):
                sources = [x]
        elif node.op_type == "Div" and index.is_activation(node.input[0]):
            # softplus(beta · x) / beta: torch's Softplus with a beta other than 1.
            beta = _scalar(index, node.input[1])
            if beta is not None and beta > 0:
                sources = _sources_behind_chain(index, node.output[0])
                candidates = (("studio.Softplus", {"beta": beta}),)
        elif node.op_type == "Log" and index.is_activation(node.input[0]):
            sources = _sources_behind_chain(index, node.output[0])
        found = _claim_unary(index, node, sources, candidates)
        if found is not None:
            yield found


def _claim_unary(
    index: _Index,
    anchor: Any,
    sources: Sequence[str],
    candidates: Sequence[tuple[str, dict[str, object]]],
) -> Pattern | None:
    """The first candidate layer that computes `anchor`'s output from one of `sources`
    (tried nearest first, so an activation after another claims only its own operators)."""
    result = anchor.output[0]
    for source in sources:
        nodes = index.between(source, result)
        if nodes is None:
            continue
        for type_id, params in candidates:
            if index.reproduces(type_id, params, {}, source, result) <= _TOLERANCE:
                name = layer_name(anchor, type_id.removeprefix("studio.").lower())
                return Pattern(nodes, source, result, anchor, name, type_id, params, {})
    return None


def _sources_behind_chain(index: _Index, name: str, limit: int = 6) -> list[str]:
    """The activations behind `name`, nearest first, along elementwise operators that each
    read one activation (constants aside)."""
    found: list[str] = []
    for _ in range(limit):
        node = index.made_by(name)
        if node is None or node.op_type not in _ELEMENTWISE:
            break
        inputs = {n for n in node.input if index.is_activation(n)}
        if len(inputs) != 1:
            break
        name = inputs.pop()
        found.append(name)
    return found


_GLU_OPS = ("Sigmoid", "Split")


def _glus(index: _Index) -> Iterator[Pattern]:
    """a · sigmoid(b), a and b the two halves a Split cuts x into: GLU spelled out."""
    for node in index.nodes:
        if node.op_type != "Mul":
            continue
        for half, gated in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
            gate, split = index.made_by(gated), index.made_by(half)
            if gate is None or split is None or (gate.op_type, split.op_type) != _GLU_OPS:
                continue
            if list(split.output) != [half, gate.input[0]]:
                continue
            source = split.input[0]
            rank = len(index.shape(source))
            axis = int(attributes(split).get("axis", 0))
            nodes = index.between(source, node.output[0])
            if axis % rank == 0 or nodes is None or not index.is_activation(source):
                continue
            params = {"dim": axis}
            if index.reproduces("studio.GLU", params, {}, source, node.output[0]) <= _TOLERANCE:
                name = layer_name(node, "glu")
                yield Pattern(nodes, source, node.output[0], node, name, "studio.GLU", params, {})
                break


def _instance_norms(index: _Index) -> Iterator[Pattern]:
    """InstanceNorm with running statistics as the legacy exporter writes it for evaluation.

    The batch is folded into the channels (a Reshape to (1, N·C, ...)), BatchNormalization
    normalizes with the statistics tiled N times, and a Reshape unfolds the batch again.
    """
    for node in index.nodes:
        before = index.made_by(node.input[0]) if node.op_type == "BatchNormalization" else None
        if (
            before is None
            or before.op_type != "Reshape"
            or not index.is_activation(before.input[0])
        ):
            continue
        source = before.input[0]
        shape = index.shape(source)
        readers = index.readers(node.output[0])
        if len(shape) not in (3, 4) or len(readers) != 1:
            continue
        after = index.nodes[readers[0]]
        folded = (1, shape[0] * shape[1], *shape[2:])
        if index.shape(node.input[0]) != folded or after.op_type != "Reshape":
            continue
        result = after.output[0]
        nodes = index.between(source, result)
        stats = [index.constant(name) for name in node.input[1:5]]
        if index.shape(result) != shape or nodes is None or any(s is None for s in stats):
            continue
        scale, bias, mean, var = (np.asarray(s).reshape(-1)[: shape[1]] for s in stats)  # type: ignore[arg-type]
        a = attributes(node)
        affine = not (np.all(scale == 1) and np.all(bias == 0))
        params = {
            "eps": float(f"{float(a.get('epsilon', 1e-5)):.7g}"),
            "momentum": round(1.0 - float(a.get("momentum", 0.9)), 7),
            "affine": affine,
            "track_running_stats": True,
        }
        weights = {"running_mean": mean, "running_var": var, "num_batches_tracked": np.array(0)}
        if affine:
            weights |= {"weight": scale, "bias": bias}
        type_id = f"studio.InstanceNorm{len(shape) - 2}d"
        if index.reproduces(type_id, params, weights, source, result) <= _TOLERANCE:
            name = layer_name(node, type_id.removeprefix("studio.").lower())
            yield Pattern(nodes, source, result, node, name, type_id, params, weights)


def _stacks(index: _Index) -> Iterator[Pattern]:
    """torch.stack as ONNX writes it: each tensor unsqueezed at one axis, then concatenated
    along it, the unsqueezed values read by nothing else."""
    for i, node in enumerate(index.nodes):
        inputs = [name for name in node.input if name]
        if node.op_type != "Concat" or len(inputs) < 2:
            continue
        axis = int(attributes(node).get("axis", 0)) % len(index.shape(node.output[0]))
        made = [index.made_by(name) for name in inputs]
        if axis == 0 or any(
            m is None
            or m.op_type != "Unsqueeze"
            or not index.is_activation(m.input[0])
            or _unsqueeze_axis(index, m) != axis
            or index.readers(m.output[0]) != [i]
            for m in made
        ):
            continue
        sources = [m.input[0] for m in made if m is not None]
        nodes = frozenset({i, *(index.producer[name] for name in inputs)})
        first, *rest = sources
        yield Pattern(
            nodes,
            first,
            node.output[0],
            node,
            layer_name(node, "stack"),
            "studio.Stack",
            {"dim": axis},
            {},
            memory=rest[0],
            more=tuple(rest[1:]),
        )


def _chunks(index: _Index) -> Iterator[Pattern]:
    """torch.chunk as the legacy exporter writes it: one Slice per piece, of one source along
    one axis, in order from 0, each ceil(size / pieces) long but the last, which ends it."""
    pieces: dict[tuple[str, int], list[tuple[int, int, int]]] = defaultdict(list)
    for i, node in enumerate(index.nodes):
        cut = _one_axis_slice(index, node) if node.op_type == "Slice" else None
        if cut is not None and index.is_activation(node.input[0]):
            axis, start, length = cut
            pieces[node.input[0], axis].append((start, length, i))
    for (source, axis), found in pieces.items():
        found.sort()
        count, size = len(found), index.shape(source)[axis]
        starts = [start for start, _, _ in found]
        lengths = [length for _, length, _ in found]
        step = -(-size // count) if count > 1 else 0
        if (
            axis == 0
            or count < 2
            or len(index.readers(source)) != count
            or lengths[:-1] != [step] * (count - 1)
            or starts != [k * step for k in range(count)]
            or starts[-1] + lengths[-1] != size
        ):
            continue
        order = [i for _, _, i in found]
        if _near_recurrent(index, source, [index.nodes[i].output[0] for i in order]):
            continue  # a recurrent layer's states or ends: the op rules keep them together
        if order != sorted(order):
            continue  # the walk maps the layer at the first piece; the others come after it
        outputs = [index.nodes[i].output[0] for i in order]
        anchor = index.nodes[order[0]]
        yield Pattern(
            frozenset(order),
            source,
            anchor.output[0],
            anchor,
            layer_name(anchor, "chunk"),
            "studio.Chunk",
            {"chunks": count, "dim": axis},
            {},
            more_results=tuple(outputs[1:]),
        )


_RECURRENT = frozenset({"RNN", "GRU", "LSTM"})
_LAYOUT = frozenset({"Transpose", "Squeeze", "Unsqueeze", "Reshape", "Gather", "Slice", "Concat"})


def _near_recurrent(index: _Index, source: str, pieces: Sequence[str]) -> bool:
    """Whether the source comes from a recurrent operator through layout operators, or a
    piece feeds one (an initial state cut per layer)."""
    if any(index.nodes[r].op_type in _RECURRENT for p in pieces for r in index.readers(p)):
        return True
    name = source
    for _ in range(_WALK_LIMIT):
        node = index.made_by(name)
        if node is None:
            return False
        if node.op_type in _RECURRENT:
            return True
        if node.op_type not in _LAYOUT:
            return False
        name = node.input[0]
    return False


def _one_axis_slice(index: _Index, node: Any) -> tuple[int, int, int] | None:
    """(axis, start, length) of a step-1 Slice along one axis with constant bounds."""
    bounds = [index.constant(name) if name else None for name in node.input[1:5]]
    starts, _, axes, steps = (*bounds, None, None, None)[:4]
    if starts is None or np.size(starts) != 1 or len(node.input) < 4 or axes is None:
        return None
    if steps is not None and np.ravel(steps).tolist() != [1]:
        return None
    shape = index.shape(node.input[0])
    axis = int(np.ravel(axes)[0]) % len(shape)
    start = int(np.ravel(starts)[0])
    start = max(0, start + shape[axis] if start < 0 else min(start, shape[axis]))
    return axis, start, index.shape(node.output[0])[axis]


def _unsqueeze_axis(index: _Index, node: Any) -> int | None:
    """The one axis an Unsqueeze adds, counted in its output (None for several)."""
    axes = index.constant(node.input[1]) if len(node.input) > 1 else None
    listed = attributes(node).get("axes") if axes is None else np.ravel(axes).tolist()
    if listed is None or len(listed) != 1:
        return None
    return int(listed[0]) % len(index.shape(node.output[0]))


def _group_norms(index: _Index) -> Iterator[Pattern]:
    """GroupNorm as torch's legacy exporter writes it: x reshaped to (N, G, rest),
    InstanceNormalization with unit scale and zero shift, reshaped back to x's shape, then
    times a per-channel weight and plus a per-channel bias (both absent without affine)."""
    for node in index.nodes:
        before = index.made_by(node.input[0]) if node.op_type == "InstanceNormalization" else None
        if (
            before is None
            or before.op_type != "Reshape"
            or not index.is_activation(before.input[0])
        ):
            continue
        source = before.input[0]
        shape, grouped = index.shape(source), index.shape(node.input[0])
        readers = index.readers(node.output[0])
        if len(shape) < 3 or len(grouped) != 3 or grouped[0] != shape[0] or len(readers) != 1:
            continue
        groups, channels = grouped[1], shape[1]
        scale, shift = index.constant(node.input[1]), index.constant(node.input[2])
        if scale is None or shift is None or np.any(scale != 1) or np.any(shift != 0):
            continue
        after = index.nodes[readers[0]]
        if after.op_type != "Reshape" or index.shape(after.output[0]) != shape:
            continue
        result, weight, bias = after.output[0], np.ones(channels), np.zeros(channels)
        for op, neutral in (("Mul", weight), ("Add", bias)):
            step = _affine_step(index, result, op, channels)
            if step is not None:
                result, values = step
                neutral[:] = values
        nodes = index.between(source, result)
        if nodes is None:
            continue
        eps = float(f"{float(attributes(node).get('epsilon', 1e-5)):.7g}")
        params = {"num_groups": groups, "eps": eps}
        weights = {"weight": weight, "bias": bias}
        if index.reproduces("studio.GroupNorm", params, weights, source, result) <= _TOLERANCE:
            name = layer_name(node, "groupnorm")
            yield Pattern(nodes, source, result, node, name, "studio.GroupNorm", params, weights)


def _affine_step(index: _Index, name: str, op: str, channels: int) -> tuple[str, Any] | None:
    """The one `op` reading `name` with a per-channel constant (C, 1, ...): its result and the
    constant's C values."""
    readers = index.readers(name)
    if len(readers) != 1 or index.nodes[readers[0]].op_type != op:
        return None
    node = index.nodes[readers[0]]
    other = node.input[1] if node.input[0] == name else node.input[0]
    values = index.constant(other)
    if values is None or values.size != channels or values.shape[:1] != (channels,):
        return None
    return node.output[0], values.reshape(-1)


def _local_response_norms(index: _Index) -> Iterator[Pattern]:
    """x / (k + alpha · avg_pool(x²))^beta, LocalResponseNorm as torch computes (and exports) it.

    The exporter squares x, pads and average-pools it across the channels (an If squeezes the
    result, reading the pooled value inside its branches, where no input names it), then
    scales, shifts and raises it: `size` is the pool's first kernel size, and alpha, k and
    beta are the constants of the Mul, Add and Pow before the final Div.
    """
    for div in index.nodes:
        if div.op_type != "Div" or not index.is_activation(div.input[0]):
            continue
        source = div.input[0]
        constants = _scaled_power_chain(index, div.input[1])
        squares = {i for i in index.readers(source) if index.nodes[i].input[:2] == [source] * 2}
        square = squares.pop() if len(squares) == 1 else None
        if constants is None or square is None or index.nodes[square].op_type != "Mul":
            continue
        region = _forward_region(index, square, stop=div)
        pools = [index.nodes[i] for i in region or () if index.nodes[i].op_type == "AveragePool"]
        if region is None or len(pools) != 1:
            continue
        alpha, k, beta, chain = constants
        size = int(next(iter(attributes(pools[0]).get("kernel_shape", [0]))))
        params = {"size": size, "alpha": alpha, "beta": beta, "k": k}
        if (
            size < 1
            or index.reproduces("studio.LocalResponseNorm", params, {}, source, div.output[0])
            > _TOLERANCE
        ):
            continue
        nodes = frozenset(region | chain | {index.producer[div.output[0]]})
        name = layer_name(div, "localresponsenorm")
        yield Pattern(
            nodes, source, div.output[0], div, name, "studio.LocalResponseNorm", params, {}
        )


def _scaled_power_chain(index: _Index, name: str) -> tuple[float, float, float, set[int]] | None:
    """(alpha, k, beta, the nodes) when `name` is Pow(Add(Mul(·, alpha), k), beta).

    The values inside may not count as activations (the exporter's If hides where they come
    from), so each operator's number is the operand holding one value, Pow's the exponent.
    """
    found: list[float] = []
    chain: set[int] = set()
    for op in ("Pow", "Add", "Mul"):
        i = index.producer.get(name)
        node = None if i is None else index.nodes[i]
        if i is None or node is None or node.op_type != op or len(node.input) != 2:
            return None
        sizes = [np.size(index.values[n]) if n in index.values else 0 for n in node.input]
        scalar = 1 if sizes[1] == 1 else (0 if op != "Pow" and sizes[0] == 1 else None)
        if scalar is None or index.is_activation(node.input[scalar]):
            return None
        found.append(float(f"{float(np.asarray(index.values[node.input[scalar]])):.7g}"))
        name = node.input[1 - scalar]
        chain.add(i)
    beta, k, alpha = found
    return alpha, k, beta, chain


def _forward_region(index: _Index, start: int, stop: Any) -> set[int] | None:
    """`start` and every node reading what the region makes, up to `stop` (None past 48)."""
    region, stack = set(), [start]
    while stack:
        i = stack.pop()
        if i in region or index.nodes[i] is stop:
            continue
        region.add(i)
        if len(region) > 2 * _WALK_LIMIT:
            return None
        for out in index.nodes[i].output:
            if out in index.graph_outputs:
                return None
            stack.extend(index.consumers[out])
    return region


_COMPARISONS = frozenset({"Greater", "GreaterOrEqual", "Less", "LessOrEqual"})


def _scalar(index: _Index, name: str) -> float | None:
    """The one number a constant operand holds (None for an activation or a larger tensor)."""
    if not name or index.is_activation(name) or name not in index.values:
        return None
    value = np.asarray(index.values[name])
    return float(f"{float(value.reshape(())):.7g}") if value.size == 1 else None


def _where_activations(index: _Index) -> Iterator[Pattern]:
    """Where(compare(x, c), ...) of x alone: Threshold, or Softplus with its threshold.

    The dynamo exporter writes Threshold as Where(x <= threshold, value, x) and Softplus as
    Where(beta · x > threshold, x, softplus(beta · x) / beta).
    """
    for node in index.nodes:
        if node.op_type != "Where" or not index.is_activation(node.output[0]):
            continue
        compare = index.made_by(node.input[0])
        if compare is None or compare.op_type not in _COMPARISONS:
            continue
        limits = [_scalar(index, name) for name in compare.input]
        limit = next((v for v in limits if v is not None), None)
        tested = [name for name in compare.input if index.is_activation(name)]
        if limit is None or len(tested) != 1:
            continue
        operands = [_scalar(index, name) for name in node.input[1:]]
        value = next((v for v in operands if v is not None), None)
        branches = [index.made_by(name) for name in node.input[1:]]
        divisors = [_scalar(index, b.input[1]) for b in branches if b and b.op_type == "Div"]
        beta = next((v for v in divisors if v), 1.0)  # softplus(beta · x) / beta
        candidates: list[tuple[str, dict[str, object]]] = [
            ("studio.Softplus", {"beta": beta, "threshold": limit})
        ]
        if value is not None:
            candidates.insert(0, ("studio.Threshold", {"threshold": limit, "value": value}))
        sources = [tested[0], *_sources_behind_chain(index, tested[0])]
        found = _claim_unary(index, node, sources, candidates)
        if found is not None:
            yield found


_FLOAT32_EPS = 1.1920928955078125e-07  # torch's RMSNorm eps when none is given


def _rms_norms(index: _Index) -> Iterator[Pattern]:
    """x · 1 / sqrt(mean(x²) + eps), times a weight: RMSNorm as the dynamo exporter writes it."""
    for node in index.nodes:
        if node.op_type != "Mul" or not all(index.is_activation(n) for n in node.input[:2]):
            continue
        for source, scale in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
            eps = _inverse_root_mean_square(index, scale, source)
            if eps is None:
                continue
            result, weights = node.output[0], {}
            readers = index.readers(result)
            after = index.nodes[readers[0]] if len(readers) == 1 else None
            if after is not None and after.op_type == "Mul" and result in after.input:
                other = after.input[1] if after.input[0] == result else after.input[0]
                weight = index.constant(other)
                if weight is not None and weight.shape == index.shape(source)[-1:]:
                    result, weights = after.output[0], {"weight": weight}
            nodes = index.between(source, result)
            if nodes is None:
                continue
            params = {
                "eps": 0.0 if abs(eps - _FLOAT32_EPS) < 1e-12 else eps,
                "elementwise_affine": bool(weights),
            }
            if index.reproduces("studio.RMSNorm", params, weights, source, result) <= _TOLERANCE:
                name = layer_name(node, "rmsnorm")
                yield Pattern(nodes, source, result, node, name, "studio.RMSNorm", params, weights)
                break


def _inverse_root_mean_square(index: _Index, name: str, source: str) -> float | None:
    """eps, when `name` is 1 / sqrt(ReduceMean(source²) + eps) (Reciprocal or 1 / ·)."""
    node = index.made_by(name)
    if node is not None and node.op_type == "Div" and _scalar(index, node.input[0]) == 1.0:
        name = node.input[1]
    elif node is not None and node.op_type == "Reciprocal":
        name = node.input[0]
    else:
        return None
    ops = []
    for op in ("Sqrt", "Add", "ReduceMean"):
        node = index.made_by(name)
        if node is None or node.op_type != op:
            return None
        ops.append(node)
        name = node.input[0]
    eps = _scalar(index, ops[1].input[1])
    square = index.made_by(name)
    if eps is None or square is None or square.input[0] != source:
        return None
    if square.op_type == "Pow" and _scalar(index, square.input[1]) == 2.0:
        return float(f"{eps:.7g}")
    if square.op_type == "Mul" and square.input[1] == source:
        return float(f"{eps:.7g}")
    return None


# ------------------------------------------------------------ two-input distances and angles

_TWO_INPUT_OPS = frozenset(
    {"Mul", "ReduceSum", "Max", "Sqrt", "Div", "Sub", "Add", "Pow", "Abs", "Clip", "Cast"}
    | {"Unsqueeze", "Squeeze", "Expand", "Reciprocal", "Neg", "Identity", "ReduceL2"}
)


def _two_input_layers(index: _Index) -> Iterator[Pattern]:
    """CosineSimilarity and PairwiseDistance, which exporters spell as products, sums and
    powers of two inputs: claimed only when the layer reproduces the recorded result."""
    for node in index.nodes:
        if node.op_type not in ("Div", "Pow") or not index.is_activation(node.output[0]):
            continue
        found = _two_input_layer(index, node)
        if found is not None:
            yield found


def _two_input_layer(index: _Index, end: Any) -> Pattern | None:
    result = end.output[0]
    region = _region_of(index, result)
    if region is None:
        return None
    sources, ops = region
    if len(sources) != 2 or ("ReduceSum" not in ops and "ReduceL2" not in ops):
        return None
    first, second = sources
    shape, out = index.shape(first), index.shape(result)
    if index.shape(second) != shape or len(shape) < 2 or out[:1] != shape[:1]:
        return None
    nodes = index.between(set(sources), result)
    if nodes is None:
        return None
    for type_id, params in _two_input_candidates(index, nodes, shape, out):
        difference = index.reproduces(type_id, params, {}, first, result, second)
        if difference <= _TOLERANCE:
            name = layer_name(end, type_id.removeprefix("studio.").lower())
            return Pattern(nodes, first, result, end, name, type_id, params, {}, memory=second)
    return None


def _region_of(index: _Index, result: str) -> tuple[list[str], set[str]] | None:
    """The activations `result` is computed from through `_TWO_INPUT_OPS` (in the order the
    computation first reads them) and the operators on the way; None past `_WALK_LIMIT`."""
    stack, seen, ops = [result], set(), set()
    leaves: dict[str, int] = {}
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        i = index.producer.get(name)
        node = None if i is None else index.nodes[i]
        if node is None or node.op_type not in _TWO_INPUT_OPS:
            first_reader = min(index.consumers[name], default=len(index.nodes))
            leaves[name] = first_reader
            continue
        if len(seen) > _WALK_LIMIT:
            return None
        ops.add(node.op_type)
        stack.extend(n for n in node.input if n and index.is_activation(n))
    return sorted(leaves, key=lambda n: (leaves[n], n)), ops


def _two_input_candidates(
    index: _Index, nodes: frozenset[int], shape: tuple[int, ...], out: tuple[int, ...]
) -> list[tuple[str, dict[str, object]]]:
    """The settings the structure suggests: the summed axis, the norm's order, the eps."""
    region = [index.nodes[i] for i in sorted(nodes)]
    candidates: list[tuple[str, dict[str, object]]] = []
    axes = [_reduced_axis(index, n) for n in region if n.op_type == "ReduceSum"]
    axis = axes[0] if axes and axes[0] is not None else -1
    if axis != 0 and len(out) == len(shape) - 1:
        eps = _constant_of(index, region, "Max")
        eps = 1e-8 if eps is None or not 1e-12 <= eps <= 1.0 else eps
        # torch's axis is the catalog's dim: both count the first sample dim as 1.
        candidates.append(("studio.CosineSimilarity", {"dim": axis, "eps": eps}))
    keepdim = len(out) == len(shape)
    if axis in (-1, len(shape) - 1) and (not keepdim or out[-1] == 1):
        powers = [n for n in region if n.op_type == "Pow"]
        p = _constant_of(index, powers[:1], "Pow") if powers else 2.0
        p = 2.0 if p is None or not 0.0 <= p <= 1e6 else p
        candidates.append(("studio.PairwiseDistance", {"p": p, "eps": 1e-6, "keepdim": keepdim}))
    return candidates


def _reduced_axis(index: _Index, node: Any) -> int | None:
    axes = index.constant(node.input[1]) if len(node.input) > 1 else None
    if axes is None:
        axes = attributes(node).get("axes")
    flat = [] if axes is None else np.asarray(axes).reshape(-1).tolist()
    return int(flat[0]) if len(flat) == 1 else None


def _constant_of(index: _Index, region: Sequence[Any], op_type: str) -> float | None:
    """The scalar constant operand of the first `op_type` node in `region`, if any."""
    for node in region:
        if node.op_type != op_type:
            continue
        for name in node.input[1:]:
            value = index.constant(name)
            if value is not None and value.size == 1:
                return float(value.reshape(-1)[0])
    return None
