"""Explainer plugins for the discovery tests: a good one, a broken one, clashing ones."""

from __future__ import annotations

from studio.explain.methods import ALL_FLOAT_KINDS, MethodCall, MethodRegistry, MethodSpec


def _gradient_sign(call: MethodCall) -> tuple[object, dict[str, object]]:
    import torch

    scores = call.model(call.inputs)
    picked = scores if call.target is None else scores.gather(1, call.target.view(-1, 1))
    (gradient,) = torch.autograd.grad(picked.sum(), call.inputs)
    return gradient.sign(), {}


GRADIENT_SIGN = MethodSpec(
    "acme.GradientSign", "Gradient sign", ALL_FLOAT_KINDS, _gradient_sign, summary="Sign only."
)


def register_good(registry: MethodRegistry) -> None:
    registry.register(GRADIENT_SIGN)


def register_broken(registry: MethodRegistry) -> None:
    raise RuntimeError("this explainer plugin is broken on purpose")


def register_unprefixed(registry: MethodRegistry) -> None:
    registry.register(
        MethodSpec("Lime", "LIME", ALL_FLOAT_KINDS, _gradient_sign, summary="No prefix.")
    )


def register_clash(registry: MethodRegistry) -> None:
    registry.register(
        MethodSpec("acme.Other", "Other", ALL_FLOAT_KINDS, _gradient_sign, summary="Fine.")
    )
    registry.register(
        MethodSpec("studio.Saliency", "Fake", ALL_FLOAT_KINDS, _gradient_sign, summary="Clash.")
    )
