"""ONNX op rules for recurrent layers (RNN, LSTM, GRU), merged by
`studio.importers.onnx_import.op_rules`: each operator becomes the catalog's layer, stacked
operators one layer of several, with its initial and final states as the layer's ports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.importers.mapping import Unmappable, Value
from studio.importers.onnx_import import _RECURRENT, _OnnxMapper, _text, _torch, _where
from studio.importers.onnx_nodes import attributes, layer_name

# Where each torch gate block sits in ONNX's order (torch LSTM: i f g o, ONNX: i o f c;
# torch GRU: r z n, ONNX: z r h).
_GATE_ORDER = {"RNN": [0], "LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2]}
_DEFAULT_ACTIVATIONS = {
    "RNN": ["Tanh"],
    "LSTM": ["Sigmoid", "Tanh", "Tanh"],
    "GRU": ["Sigmoid", "Tanh"],
}


def _recurrent(m: _OnnxMapper, node: Any) -> None:
    """RNN/LSTM/GRU: one layer; a stack of them becomes one node with num_layers."""
    kind = node.op_type
    a = attributes(node)
    direction = _text(a.get("direction", "forward"))
    if direction not in ("forward", "bidirectional"):
        raise Unmappable("a reverse-only recurrent operator has no catalog setting")
    directions = 2 if direction == "bidirectional" else 1
    activations = [x.decode() if isinstance(x, bytes) else x for x in a.get("activations", [])]
    if activations and activations != _DEFAULT_ACTIVATIONS[kind] * directions:
        raise Unmappable(f"activations {activations} differ from torch's {kind}")
    if "clip" in a or a.get("input_forget", 0):
        raise Unmappable("clip and input_forget have no catalog setting")
    if kind == "GRU" and not a.get("linear_before_reset", 0):
        raise Unmappable("linear_before_reset=0 differs from torch's GRU")
    if len(node.input) > 4 and node.input[4]:
        raise Unmappable("sequence lengths have no catalog setting")
    starts = _initial_states(m, node)
    layout = int(a.get("layout", 0))
    source = node.input[0]
    if layout == 0 and source in m.time_major:
        value = m.time_major[source]
    elif layout == 1 and source in m.tensors:
        value = m.tensors[source]
    else:
        raise Unmappable("the sequence must come from a layer, batch first or time-major")
    weight = m.constant(node, 1, "weights")
    recurrence = m.constant(node, 2, "recurrent weights")
    bias = m.constant(node, 3, "bias")
    assert weight is not None and recurrence is not None
    hidden = int(a.get("hidden_size") or recurrence.shape[-1])
    gates = len(_GATE_ORDER[kind])
    if bias is None:
        bias = np.zeros((directions, 2 * gates * hidden), dtype=np.float32)

    def torch_order(array: np.ndarray) -> np.ndarray:
        blocks = np.split(array, gates, axis=0)
        return np.concatenate([blocks[i] for i in _GATE_ORDER[kind]], axis=0)

    # One set per direction; torch names the backward one's with a "_reverse" suffix.
    weights = {
        (key, suffix): array
        for d, suffix in enumerate(("", "_reverse")[:directions])
        for key, array in (
            ("weight_ih", torch_order(weight[d])),
            ("weight_hh", torch_order(recurrence[d])),
            ("bias_ih", torch_order(bias[d][: gates * hidden])),
            ("bias_hh", torch_order(bias[d][gates * hidden :])),
        )
    }

    def named(layer: int) -> dict[str, Any]:
        return {f"rnn.{k}_l{layer}{suffix}": _torch(v) for (k, suffix), v in weights.items()}

    previous = value[0]
    stacked = (
        layout == 0
        and _continues_state(m, previous, starts, directions)
        and m.draft.type_of(previous) == _RECURRENT[kind]
        and m.draft.params_of(previous)["hidden_size"] == hidden
        and m.draft.params_of(previous)["bidirectional"] == (directions == 2)
        and m.draft.params_of(previous)["output"] == "sequence"
        and m.consumers.get(source) == 1
        and m.stack_consumed_once(previous)
    )
    if stacked:
        layers = m.draft.params_of(previous)["num_layers"]
        assert isinstance(layers, int)
        # The previous layer's Y_h alone is no longer the node's whole state, only a piece.
        m.states = {k: v for k, v in m.states.items() if v[0] != previous}
        m.draft.set_param(previous, "num_layers", layers + 1)
        m.draft.add_weights(previous, named(layers))
        result = value
    else:
        params = {
            "hidden_size": hidden,
            "num_layers": 1,
            "bidirectional": directions == 2,
            "output": "sequence",
        }
        result = m.draft.add_layer(
            _RECURRENT[kind],
            layer_name(node),
            params,
            [value, *_first_layer_starts(starts)],
            where=_where(node),
            weights=named(0),
        )
    m.recurrent_outputs[node.output[0]] = result
    m.hidden_states.update(o for o in node.output[1:] if o)
    _final_states(m, node, result[0], stacked)
    if layout == 1:
        raise Unmappable("layout=1 recurrent outputs (N, L, 1, H) are not supported yet")
    return None


def _initial_states(m: _OnnxMapper, node: Any) -> list[tuple[Value, int]]:
    """initial_h (and initial_c) computed by the model: the draft values for h0 (and c0), each
    with the first of its rows this operator reads (layer k of a stack reads k·directions).

    Zeros (torch's default, written out by the exporters) are no starting state at all; a
    computed one must be another operator's final state or a batch-first tensor transposed
    into torch's (directions, N, H), which are the values `m.states` and `m.time_major` hold.
    """
    found: list[tuple[Value, int]] = []
    for index in (5, 6)[: 2 if node.op_type == "LSTM" else 1]:
        if len(node.input) <= index or not node.input[index]:
            continue
        name = node.input[index]
        value = m.states.get(name) or m.time_major.get(name)
        if value is not None:
            found.append((value, 0))
        elif name in m.state_slices:
            whole, start, _ = m.state_slices[name]
            found.append((whole, start))
        elif name in m.tensors or np.any(np.asarray(m.values[name]) != 0):
            raise Unmappable(
                "its initial state is neither another recurrent layer's final state nor a "
                "batch-first (N, directions, H) tensor transposed to (directions, N, H)"
            )
    if len(found) not in (0, 2 if node.op_type == "LSTM" else 1):
        raise Unmappable("an LSTM's initial h and c must both be computed, or both be zeros")
    return found


def _first_layer_starts(starts: list[tuple[Value, int]]) -> list[Value]:
    if any(first != 0 for _, first in starts):
        raise Unmappable(
            "its initial state is a later layer's piece of a state, but the operator is no "
            "next layer of a stack"
        )
    return [value for value, _ in starts]


def _continues_state(
    m: _OnnxMapper, previous: str, starts: list[tuple[Value, int]], directions: int
) -> bool:
    """Whether a next stacked operator may join `previous` as far as starting states go: both
    start at zero, or it reads the rows of previous's h0 (and c0) that follow previous's."""
    incoming = m.draft.graph.incoming(previous)
    given = [incoming[p] for p in ("h0", "c0") if p in incoming]
    if not starts:
        return not given
    layers = m.draft.params_of(previous).get("num_layers")
    if len(given) != len(starts) or not isinstance(layers, int):
        return False
    return all(
        (edge.src, edge.src_port) == value and first == layers * directions
        for edge, (value, first) in zip(given, starts, strict=True)
    )


def _final_states(m: _OnnxMapper, node: Any, layer: str, stacked: bool) -> None:
    """Y_h (and Y_c) that something reads become the layer's h (and c) ports."""
    outputs = zip(node.output[1:3], ("h", "c"), strict=False)
    used = [(o, port) for o, port in outputs if o and m.consumers.get(o)]
    if not used:
        return
    m.draft.set_param(layer, "return_state", True)
    layers = m.draft.params_of(layer)["num_layers"]
    assert isinstance(layers, int)
    for name, port in used:
        if not stacked:
            m.states[name] = (layer, port)  # until a next layer stacks onto this one
        m.state_pieces[name] = ((layer, port), layers - 1)
        m.hidden_states.discard(name)


RULES: dict[str, Any] = {"RNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent}
