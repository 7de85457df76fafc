"""Layers that draw random samples, such as the reparameterised Gaussian of a VAE.

Like `studio.layers.modules`, each class stands alone (only ``math``, ``torch`` and ``nn``),
because the code generator copies its source into standalone code, and survives TorchScript,
torch.fx (as a leaf call) and torch.export with a dynamic batch: ``forward`` branches only on
the module's training flag, never on tensor values.
"""

import torch
from torch import nn


class GaussianSample(nn.Module):
    """A sample of N(mean, exp(logvar)) drawn as mean + exp(logvar / 2) · ε, ε ~ N(0, 1).

    Writing the sample this way (the reparameterisation trick) lets gradients reach the layers
    that computed `mean` and `logvar`. In evaluation the layer returns `mean`, the most likely
    sample, so predictions and exported models are deterministic.
    """

    def forward(self, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return mean
        noise = torch.randn_like(mean)
        return mean + torch.exp(0.5 * logvar) * noise
