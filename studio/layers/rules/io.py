"""The rule for Identity (and any layer that passes its input through)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.shapes import TensorShape
from studio.layers.rules.checks import only_input


def identity(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [only_input("Identity", inputs)]
