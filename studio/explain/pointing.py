"""The pointing game (Zhang et al., 2016): do a method's maps point at the object?

For each correctly classified image, the strongest attribution pixel (summed over channels)
is a hit when it lies on the object's mask grown by one pixel, the tolerance for a maximum on
the object's outline. The share of hits is the figure. The shapes dataset ships its masks,
so this is a check of what the maps show, not of how they look.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from studio.explain.engine import explain
from studio.explain.methods import get_method


def grow_masks(masks: np.ndarray) -> np.ndarray:
    """(N, H, W) boolean masks grown by one pixel in the four directions."""
    grown = masks.copy()
    grown[:, 1:] |= masks[:, :-1]
    grown[:, :-1] |= masks[:, 1:]
    grown[:, :, 1:] |= masks[:, :, :-1]
    grown[:, :, :-1] |= masks[:, :, 1:]
    return grown


def correctly_classified(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """A boolean per sample: the model's top class is the label."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(inputs).argmax(1) == labels
    finally:
        model.train(was_training)


def pointing_share(
    model: nn.Module,
    images: torch.Tensor,
    masks: np.ndarray,
    method: str,
    *,
    layer: str | None = None,
    n_steps: int = 32,
    batch_size: int = 64,
) -> float:
    """The share of `images` (N, C, H, W) whose attribution maximum falls on `masks` (N, H, W).

    `layer` is the layer a layer method (Grad-CAM) explains; input-space methods only.
    """
    spec = get_method(method)
    if spec.space != "input":
        raise ValueError(f"{spec.title} attributes a layer's units, not pixels")
    magnitudes = []
    for batch in images.split(batch_size):
        result = explain(
            model, batch, method=method, layer=layer if spec.needs_layer else None, n_steps=n_steps
        )
        magnitudes.append(np.abs(result.values).sum(axis=1).reshape(len(batch), -1))
    strongest = np.concatenate(magnitudes).argmax(axis=1)
    grown = grow_masks(masks.astype(bool)).reshape(len(masks), -1)
    return float(grown[np.arange(len(grown)), strongest].mean())
