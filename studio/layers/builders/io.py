"""The builder behind Input, Output and Identity.

The compiler turns Input and Output nodes into graph placeholders and outputs and never calls
their builder; the spec still names one so every layer has the same shape of description.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.construct import construct


def build_identity(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """A module that returns its input unchanged."""
    return construct(nn.Identity)
