"""Plugins for the discovery tests: good ones, one that raises, ones that break a rule.

This module is what their entry points name, so it stays free of torch: discovery imports it,
and only a builder imports torch, when it is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from studio.core.registry import LayerRegistry
from studio.core.shapes import TensorShape
from studio.core.specs import LayerSpec, ParamSpec

HERE = "tests.plugins.fixture_plugins"


def _layer(type_id: str, builder: str = f"{HERE}:build_swish", **fields: Any) -> LayerSpec:
    title = type_id.rsplit(".", 1)[-1]
    return LayerSpec(type_id, title, "Activation", f"{title}, for the tests.", builder, **fields)


def build_swish(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> Any:
    from torch import nn

    return nn.SiLU()


def register_good(registry: LayerRegistry) -> None:
    beta = ParamSpec("beta", "float", 1.0, "Steepness.", minimum=0.0, maximum=10.0)
    registry.register(_layer("acme.Swish", params=(beta,)))


def register_broken(registry: LayerRegistry) -> None:
    raise RuntimeError("this plugin is broken on purpose")


def register_clash(registry: LayerRegistry) -> None:
    registry.register(_layer("studio.Linear"))
    registry.register(_layer("acme.Gelu2"))


def register_unresolved(registry: LayerRegistry) -> None:
    """Layers whose builder or shape rule names nothing importable, around one that is fine."""
    registry.register(_layer("acme.NoModule", "acme_builders:build_swish"))
    registry.register(_layer("acme.NoFunction", f"{HERE}:build_nothing"))
    registry.register(_layer("acme.NoRule", shape_rule="acme_rules_xyz:swish"))
    registry.register(_layer("acme.Fine"))


def register_in_studio_namespace(registry: LayerRegistry) -> None:
    registry.register(_layer("studio.Impostor"))
    registry.register(_layer("Studio.Shouting"))
    registry.register(_layer("acme.Own"))


# ---- the other groups: stand-ins carrying only the id their registry reads
@dataclass(frozen=True)
class StubExporter:
    """An exporter as far as `ExporterRegistry.register` looks: its format id."""

    format: str
    title: str = "Stub"
    suffix: str = ".stub"


def register_exporters(registry: Any) -> None:
    for format_id in ("npz2", "studio.npz", "acme.npz"):
        registry.register(StubExporter(format_id))


def register_datasets(registry: Any) -> None:
    from studio.data.catalog import BUNDLED

    for name in ("spirals", "studio.spirals", "acme.spirals"):
        registry.register(replace(BUNDLED[0], name=name))


def register_explainers(registry: Any) -> None:
    from studio.explain.methods import BUILTIN_METHODS

    for name in ("Lime", "studio.Anchors", "acme.Lime"):
        registry.register(replace(BUILTIN_METHODS[0], name=name))
