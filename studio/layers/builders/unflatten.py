"""Builder for Unflatten, which splits one sample dimension into several."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.rules import unflatten as rules
from studio.layers.rules.checks import sample_dim


def build_unflatten(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """torch's Unflatten with the sample dim turned into torch's (the batch is dim 0)."""
    rules.unflatten(params, inputs)
    dim = sample_dim("Unflatten", inputs[0], params["dim"])
    return construct_concise(nn.Unflatten, dim, tuple(params["sizes"]))
