"""Which catalog layer a `torch.nn` module is, whatever front end found the module.

A module-level rule reads only the module (its attributes and weights) and the shapes of the
tensors it was called with, so the same table serves the torch.fx importer (a ``call_module``
node) and any front end that finds module calls another way. Each family of layers keeps its
rules in its own ``module_layers_*`` module, registered with `maps`; `module_rule` imports them
on first use, so importing this costs nothing.

The older rules in `studio.importers.fx_import` (convolutions, recurrent layers, attention)
predate this table; a class found in both is mapped by the fx importer's own rule.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from studio.importers.mapping import Unmappable

__all__ = ["LayerOf", "Unmappable", "maps", "maps_named", "module_rule"]

_FAMILIES = (
    "studio.importers.module_layers_spatial",
    "studio.importers.module_layers_elementwise",
    "studio.importers.module_layers_attention",
    "studio.importers.module_layers_ops",
)


@dataclass(frozen=True)
class LayerOf:
    """The catalog layer a module maps to: type id, params, and its weights.

    `weights` are keyed as the state dict of the module the catalog's builder makes, which is
    usually the torch module's own (``weight``, ``bias``). `inputs` says which of the call's
    tensor arguments feed the layer's ports, in port order (default: all, in call order).
    """

    type_id: str
    params: Mapping[str, object] = field(default_factory=dict)
    weights: Mapping[str, Any] = field(default_factory=dict)
    inputs: Sequence[int] | None = None


ModuleRule = Callable[[Any, Sequence[tuple[int, ...]]], LayerOf]
"""(module, full shapes of its tensor arguments, batch included) → the layer it is.

Raises `Unmappable` with the reason when this instance's settings have no catalog equivalent.
"""

_RULES: dict[type[nn.Module], ModuleRule] = {}
# Rules for classes of libraries the app never imports (Hugging Face's Conv1D), keyed by
# "module.QualName" as the class reports itself.
_NAMED_RULES: dict[str, ModuleRule] = {}
_loaded = False


def maps(*classes: type[nn.Module]) -> Callable[[ModuleRule], ModuleRule]:
    """Register the decorated rule for each of `classes` (exact classes, not subclasses)."""
    return _registrar(_RULES, classes)


def maps_named(*names: str) -> Callable[[ModuleRule], ModuleRule]:
    """Register the decorated rule for classes named ``module.QualName`` (see `_NAMED_RULES`)."""
    return _registrar(_NAMED_RULES, names)


def _registrar(
    table: dict[Any, ModuleRule], keys: Sequence[Any]
) -> Callable[[ModuleRule], ModuleRule]:
    def register(rule: ModuleRule) -> ModuleRule:
        for key in keys:
            if key in table:
                name = getattr(key, "__name__", key)
                raise ValueError(f"{name} already has a module rule")
            table[key] = rule
        return rule

    return register


def module_rule(cls: type[nn.Module]) -> ModuleRule | None:
    """The rule for modules of exactly this class, or None."""
    global _loaded
    if not _loaded:
        for name in _FAMILIES:
            importlib.import_module(name)
        _loaded = True
    return _RULES.get(cls) or _NAMED_RULES.get(f"{cls.__module__}.{cls.__qualname__}")


def weights_of(module: nn.Module) -> dict[str, Any]:
    """The module's own state dict, detached."""
    return {key: value.detach().clone() for key, value in module.state_dict().items()}


def only_inputs(count: int, shapes: Sequence[tuple[int, ...]], what: str) -> None:
    """Refuse a call with another number of tensor arguments than the layer has ports."""
    if len(shapes) != count:
        raise Unmappable(f"{what} is called with {len(shapes)} tensors; the layer takes {count}")
