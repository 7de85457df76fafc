"""Specs of the ops family of layers (see `studio.layers.catalog`, which gathers them)."""

from __future__ import annotations

from studio.core.specs import LayerSpec

SPECS: tuple[LayerSpec, ...] = ()
