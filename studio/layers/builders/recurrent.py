"""Builders for RNN, LSTM and GRU, wrapped so that each returns the tensors its ports show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.modules import Recurrent
from studio.layers.rules import recurrent as rules


def build_rnn(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """A plain (tanh) RNN on (N, L, F)."""
    rules.rnn(params, inputs)
    return _recurrent("RNN", params, inputs[0])


def build_lstm(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """An LSTM on (N, L, F)."""
    rules.lstm(params, inputs)
    return _recurrent("LSTM", params, inputs[0])


def build_gru(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """A GRU on (N, L, F)."""
    rules.gru(params, inputs)
    return _recurrent("GRU", params, inputs[0])


def _recurrent(mode: str, params: Mapping[str, Any], shape: TensorShape) -> nn.Module:
    return construct_concise(
        Recurrent,
        mode,
        shape.dims[-1],
        params["hidden_size"],
        num_layers=params["num_layers"],
        bidirectional=params["bidirectional"],
        dropout=params["dropout"],
        output=params["output"],
        return_state=bool(params.get("return_state", False)),
    )
