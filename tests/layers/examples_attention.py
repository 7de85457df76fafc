"""Examples for the attention family of layers (merged into `layer_examples.EXAMPLES`)."""

from __future__ import annotations

from typing import Any


def examples(ex: Any) -> dict[str, list[Any]]:
    """Type id → examples, written with `layer_examples.ex` (passed in: loaded by path)."""
    return {}
