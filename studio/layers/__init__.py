"""The built-in layer catalog, registered through the same entry point plugins use.

This package, `catalog` and `rules` stay free of torch, so listing layers and inferring shapes
is cheap; a builder (and torch with it) is imported by `load_builder` only when a graph is
compiled.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from studio.core.errors import StudioError
from studio.core.registry import LayerRegistry
from studio.core.specs import LayerSpec
from studio.layers.catalog import CATALOG

if TYPE_CHECKING:
    from torch import nn

    from studio.core.shapes import TensorShape

    Builder = Callable[[Mapping[str, Any], Sequence[TensorShape]], nn.Module]
    ShapeRule = Callable[[Mapping[str, Any], Sequence[TensorShape]], list[TensorShape]]

__all__ = ["CATALOG", "BuilderLoadError", "load_builder", "load_shape_rule", "register"]


class BuilderLoadError(StudioError):
    """A layer's builder or shape rule path names no importable function (a broken plugin)."""


def register(registry: LayerRegistry) -> None:
    """Add every built-in layer to `registry` (the ``studio.layers`` entry point)."""
    for spec in CATALOG:
        registry.register(spec, origin="studio")


def load_builder(spec: LayerSpec) -> Builder:
    """Import and return the builder that `spec.builder` (``"module:function"``) names."""
    return _load(spec, spec.builder)


def load_shape_rule(spec: LayerSpec) -> ShapeRule | None:
    """Import and return the spec's torch-free shape rule, or None when it has none."""
    return None if spec.shape_rule is None else _load(spec, spec.shape_rule)


def _load(spec: LayerSpec, path: str) -> Any:
    try:
        return _import_callable(path)
    except (ImportError, AttributeError) as exc:
        raise BuilderLoadError(f"layer {spec.type_id}: cannot load {path!r} ({exc})") from exc


@functools.cache
def _import_callable(path: str) -> Callable[..., Any]:
    module_name, _, function_name = path.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    if not callable(function):
        raise AttributeError(f"{function_name!r} in {module_name} is not a function")
    return function  # type: ignore[no-any-return]
