"""Noise drawn in forward, the way VAEs written from the paper draw it: one GaussianSample.

``mu + torch.randn_like(std) * std`` with ``std = torch.exp(0.5 * logvar)`` is the
reparameterisation trick; the operands may come in either order, ``logvar / 2`` may stand for
``0.5 * logvar``, and the noise may be drawn like mu, std or logvar. The catalog's
GaussianSample computes exactly that while training and returns mu in evaluation, as most
published VAEs do at inference. Some (PyTorch's own VAE example) draw noise in eval too: their
outputs are random, so the import is checked against the source run with its noise at its mean,
0 (`noise_at_zero`), which is what the imported layer returns in eval.

Only this shape of sampling is read; any other random op still has no catalog layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx
from torch.overrides import TorchFunctionMode

from studio.importers.export_ops import op_name


@dataclass(frozen=True)
class NoiseSample:
    """One reparameterised sample: the add node that yields it, and what it is made of."""

    mean: fx.Node
    logvar: fx.Node
    # The randn_like, the product and (when nothing else reads them) the exp and the halving:
    # nodes the GaussianSample replaces, mapped to nothing.
    claimed: frozenset[fx.Node]


def find_noise_samples(graph: fx.Graph) -> dict[fx.Node, NoiseSample]:
    """Each add node that is ``mean + randn_like(·) * exp(logvar / 2)``, keyed by that add."""
    samples: dict[fx.Node, NoiseSample] = {}
    for noise in graph.nodes:
        if op_name(noise) != "aten.randn_like" or len(noise.users) != 1:
            continue
        product = next(iter(noise.users))
        std = _other_operand(product, noise, "aten.mul")
        if std is None or op_name(std) != "aten.exp" or len(product.users) != 1:
            continue
        half = std.args[0]
        logvar = _halved(half)
        total = next(iter(product.users))
        mean = _other_operand(total, product, "aten.add")
        if logvar is None or mean is None or total.kwargs.get("alpha", 1) != 1:
            continue
        claimed = {noise, product}
        if set(std.users) <= {noise, product}:
            claimed.add(std)
            if isinstance(half, fx.Node) and set(half.users) == {std}:
                claimed.add(half)
        samples[total] = NoiseSample(mean, logvar, frozenset(claimed))
    return samples


def _other_operand(node: fx.Node, known: fx.Node, op: str) -> fx.Node | None:
    """The operand of a two-tensor `op` node other than `known`, if that is what `node` is."""
    if op_name(node) != op or len(node.args) != 2:
        return None
    a, b = node.args
    other = b if a is known else a if b is known else None
    return other if isinstance(other, fx.Node) else None


def _halved(node: object) -> fx.Node | None:
    """x for ``x * 0.5``, ``0.5 * x`` or ``x / 2``; None for anything else."""
    if not isinstance(node, fx.Node) or len(node.args) != 2:
        return None
    a, b = node.args
    if op_name(node) == "aten.mul":
        if isinstance(a, fx.Node) and b == 0.5:
            return a
        if isinstance(b, fx.Node) and a == 0.5:
            return b
    if op_name(node) == "aten.div" and isinstance(a, fx.Node) and b == 2:
        return a
    return None


class _NoiseAtZero(TorchFunctionMode):
    """``torch.randn_like`` returns zeros: the noise at its mean."""

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Sequence[type],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func is torch.randn_like:
            return torch.zeros_like(*args, **kwargs)
        return func(*args, **kwargs)


def noise_at_zero(module: torch.nn.Module, examples: Sequence[Any]) -> Any:
    """The module's outputs on `examples` with every ``randn_like`` draw at 0."""
    with torch.no_grad(), _NoiseAtZero():
        return module(*examples)
