"""What an autoencoder makes of a few fixed validation images, saved every epoch.

The dashboard shows these beside the loss: a falling reconstruction loss is a number, a
reconstruction that sharpens epoch after epoch is what the person wanted to see. Files go
where a GAN's sample grids go (`samples/epoch-NNNN.npy`), with inputs stacked over outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from studio.training.callbacks import Callback
from studio.training.modes.base import as_args

if TYPE_CHECKING:
    from studio.training.trainer import Trainer

PREVIEW_SAMPLES = 8


def first_inputs(loader: Any, count: int) -> torch.Tensor | None:
    """The first `count` inputs of a (validation) loader, or None if they are not images."""
    taken: list[torch.Tensor] = []
    for inputs, _target in loader:
        if not isinstance(inputs, torch.Tensor):
            return None  # several inputs: nothing to draw as one picture
        taken.append(inputs[: count - sum(len(t) for t in taken)])
        if sum(len(t) for t in taken) >= count:
            break
    if not taken:
        return None
    batch = torch.cat(taken)
    return batch if batch.ndim == 4 and batch.shape[1] in (1, 3) else None


class Reconstructions(Callback):
    """Saves (2, n, C, H, W): n fixed validation images and their reconstructions."""

    def __init__(self, model: nn.Module, loader: Any, folder: Path, device: torch.device) -> None:
        self.model = model
        self.folder = folder
        inputs = first_inputs(loader, PREVIEW_SAMPLES)
        self.inputs = inputs.to(device) if inputs is not None else None

    @torch.no_grad()
    def on_epoch_end(self, trainer: Trainer) -> None:
        if self.inputs is None:
            return
        was_training = self.model.training
        self.model.eval()
        outputs = self.model(*as_args(self.inputs))
        self.model.train(was_training)
        if not isinstance(outputs, torch.Tensor) or outputs.shape != self.inputs.shape:
            return
        pair = torch.stack([self.inputs, outputs]).float().cpu().numpy()
        self.folder.mkdir(exist_ok=True)
        path = self.folder / f"epoch-{trainer.epoch:04d}.npy"
        np.save(path, pair)
        trainer.saved.append(("reconstructions", str(path)))
