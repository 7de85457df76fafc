"""Rules for RNN, LSTM and GRU on (N, L, F)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import TensorShape, warn
from studio.layers.rules.checks import expect_float, expect_layout, only_input


def rnn(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_recurrent("RNN", params, inputs)]


def lstm(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_recurrent("LSTM", params, inputs)]


def gru(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_recurrent("GRU", params, inputs)]


def _recurrent(layer: str, params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> TensorShape:
    """(N, L, H * directions) for the whole sequence, (N, H * directions) for the last state."""
    shape = only_input(layer, inputs)
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
    features = params["hidden_size"] * (2 if params["bidirectional"] else 1)
    if params["output"] == "last":
        return TensorShape((features,))
    return TensorShape((shape.dims[0], features))
