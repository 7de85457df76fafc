"""Rules for RNN, LSTM and GRU on (N, L, F), with optional starting and final states.

States read batch first, (N, num_layers·directions, H), like every other canvas tensor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import ShapeError, TensorShape, warn
from studio.layers.rules.checks import expect_float, expect_layout


def rnn(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _recurrent("RNN", params, inputs)


def lstm(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _recurrent("LSTM", params, inputs)


def gru(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return _recurrent("GRU", params, inputs)


def _recurrent(
    layer: str, params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """(N, L, H·directions) for the whole sequence, (N, H·directions) for the last step, then
    the final state(s) (N, layers·directions, H) when `return_state` is on."""
    shape = _sequence_input(layer, inputs)
    expect_float(layer, shape)
    expect_layout(
        layer,
        shape,
        "L, F",
        fix="Insert Reshape before it (or Permute for (N, F, L) from a Conv1d).",
    )
    if params["dropout"] > 0 and params["num_layers"] == 1:
        # torch only warns and ignores it; so do we, on the node, saying what to do.
        warn(
            f"{layer}'s dropout acts between stacked layers, so it does nothing with num_layers "
            "1. Set num_layers to 2 or more, or dropout to 0 (add a Dropout layer after it "
            "instead)."
        )
    directions = 2 if params["bidirectional"] else 1
    state = TensorShape((params["num_layers"] * directions, params["hidden_size"]))
    for given in inputs[1:]:
        _check_state(layer, given, state)
    features = params["hidden_size"] * directions
    out = (
        TensorShape((features,))
        if params["output"] == "last"
        else TensorShape((shape.dims[0], features))
    )
    if not params.get("return_state", False):
        return [out]
    return [out, state, state] if layer == "LSTM" else [out, state]


def _sequence_input(layer: str, inputs: Sequence[TensorShape]) -> TensorShape:
    """The sequence, after checking the state inputs' count: an LSTM needs h0 and c0 together.

    The rule sees only the connected inputs, so one extra input of an LSTM is h0 or c0 alone.
    """
    allowed = (1, 3) if layer == "LSTM" else (1, 2)
    if len(inputs) not in allowed:
        if layer == "LSTM" and len(inputs) == 2:
            raise ShapeError(
                "LSTM expects its starting states h0 and c0 together; it receives only one. "
                "Connect both (an encoder LSTM's h and c), or neither."
            )
        raise ShapeError(
            f"{layer} expects at most {allowed[-1]} inputs; it receives {len(inputs)}."
        )
    return inputs[0]


def _check_state(layer: str, given: TensorShape, state: TensorShape) -> None:
    """A starting state must match (N, layers·directions, H) and hold one state per sample."""
    if given.dims != state.dims or given.dtype != "float" or not given.batched:
        raise ShapeError(
            f"{layer} expects a starting state {state} (batch first: N, "
            f"num_layers·directions, hidden_size); it receives {given}. Connect the final "
            "state of a recurrent layer with the same num_layers, bidirectional and "
            "hidden_size, or Reshape to that shape."
        )
