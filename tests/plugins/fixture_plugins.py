"""Plugins for the discovery tests: one good, one that raises, one that clashes."""

from __future__ import annotations

from studio.core.registry import LayerRegistry
from studio.core.specs import LayerSpec, ParamSpec


def register_good(registry: LayerRegistry) -> None:
    registry.register(
        LayerSpec(
            "acme.Swish",
            "Swish",
            "Activation",
            "x * sigmoid(beta * x).",
            "acme_builders:build_swish",
            params=(ParamSpec("beta", "float", 1.0, "Steepness.", minimum=0.0, maximum=10.0),),
        )
    )


def register_broken(registry: LayerRegistry) -> None:
    raise RuntimeError("this plugin is broken on purpose")


def register_clash(registry: LayerRegistry) -> None:
    registry.register(
        LayerSpec("studio.Linear", "Linear", "Dense", "An impostor.", "acme:build_linear")
    )
    registry.register(
        LayerSpec("acme.Gelu2", "Gelu2", "Activation", "Another GELU.", "acme:build_gelu")
    )
