"""GAN: a generator and a discriminator graph, alternating updates with BCE on logits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from studio.core.project import TrainingSection
from studio.training.callbacks import Callback
from studio.training.modes.base import Batch, TrainingMode, as_args
from studio.training.optim import make_optimizer

if TYPE_CHECKING:
    from studio.training.trainer import Trainer


class GanMode(TrainingMode):
    """Each step: the discriminator learns real vs generated, then the generator fools it."""

    task = "generation"

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        settings: TrainingSection,
        *,
        noise_shape: Sequence[int],
        device: torch.device,
        autocast: torch.dtype | None = None,
    ) -> None:
        super().__init__(device, autocast)
        self.generator = generator.to(device)
        self.discriminator = discriminator.to(device)
        self.noise_shape = tuple(noise_shape)
        self.loss = nn.BCEWithLogitsLoss()
        self.g_optimizer = make_optimizer(self.generator.parameters(), settings)
        self.d_optimizer = make_optimizer(self.discriminator.parameters(), settings)
        for optimizer in (self.g_optimizer, self.d_optimizer):
            for group in optimizer.param_groups:
                if "betas" in group:
                    group["betas"] = (0.5, 0.999)  # the usual GAN setting; 0.9 oscillates

    @property
    def models(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def noise(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn((count, *self.noise_shape), generator=generator).to(self.device)

    def _losses(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with self.autocast():
            fake = self.generator(self.noise(len(real)))
            real_logits = self.discriminator(real)
            fake_logits = self.discriminator(fake.detach())
            d_loss = self.loss(real_logits, torch.ones_like(real_logits)) + self.loss(
                fake_logits, torch.zeros_like(fake_logits)
            )
        return d_loss, fake, real_logits

    def _generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            fooled = self.discriminator(fake)
            return self.loss(fooled, torch.ones_like(fooled))

    def _update(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)

    def training_step(self, batch: Batch) -> dict[str, float]:
        real = as_args(self.to_device(batch[0]))[0]
        d_loss, fake, _ = self._losses(real)
        self._update(d_loss, self.d_optimizer)
        g_loss = self._generator_loss(fake)
        self._update(g_loss, self.g_optimizer)
        if self.scaler is not None:
            self.scaler.update()
        g, d = g_loss.item(), d_loss.item()
        return {"loss": g + d, "g_loss": g, "d_loss": d}

    @torch.no_grad()
    def validate(self, batches: Iterable[Batch]) -> dict[str, float]:
        totals = {"val_g_loss": 0.0, "val_d_loss": 0.0}
        count = 0
        for batch in batches:
            real = as_args(self.to_device(batch[0]))[0]
            d_loss, fake, _ = self._losses(real)
            g_loss = self._generator_loss(fake)
            totals["val_g_loss"] += g_loss.item() * len(real)
            totals["val_d_loss"] += d_loss.item() * len(real)
            count += len(real)
        logs = {k: v / max(count, 1) for k, v in totals.items()}
        logs["val_loss"] = logs["val_g_loss"] + logs["val_d_loss"]
        return logs

    def learning_rate(self) -> float:
        return float(self.g_optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "models": {k: m.state_dict() for k, m in self.models.items()},
            "optimizers": {
                "generator": self.g_optimizer.state_dict(),
                "discriminator": self.d_optimizer.state_dict(),
            },
            "schedulers": {},
        }
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, model in self.models.items():
            model.load_state_dict(state["models"][name])
        self.g_optimizer.load_state_dict(state["optimizers"]["generator"])
        self.d_optimizer.load_state_dict(state["optimizers"]["discriminator"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])


class SampleGrid(Callback):
    """Saves a grid of generated samples each epoch: `samples/epoch-NNNN.npy` (and `.png`).

    The noise is fixed for the whole run, so the grids show the generator improving.
    """

    def __init__(self, mode: GanMode, folder: Path, rows: int = 4, seed: int = 0) -> None:
        self.mode = mode
        self.folder = folder
        self.rows = rows
        self.fixed = torch.Generator().manual_seed(seed)
        self.noise = mode.noise(rows * rows, self.fixed)

    @torch.no_grad()
    def on_epoch_end(self, trainer: Trainer) -> None:
        generator = self.mode.generator
        was_training = generator.training
        generator.eval()
        samples = generator(self.noise).float().cpu().numpy()
        generator.train(was_training)
        self.folder.mkdir(exist_ok=True)
        stem = self.folder / f"epoch-{trainer.epoch:04d}"
        np.save(stem.with_suffix(".npy"), samples)
        if samples.ndim == 4 and samples.shape[1] in (1, 3):
            _save_png(stem.with_suffix(".png"), samples, self.rows)
        trainer.saved.append(("samples", str(stem.with_suffix(".npy"))))


def _save_png(path: Path, samples: np.ndarray, rows: int) -> None:
    from PIL import Image

    count, channels, height, width = samples.shape
    low, high = float(samples.min()), float(samples.max())
    scaled = (samples - low) / (high - low) if high > low else np.zeros_like(samples)
    grid = np.zeros((rows * height, rows * width, channels), dtype=np.float32)
    for i in range(min(count, rows * rows)):
        r, c = divmod(i, rows)
        grid[r * height : (r + 1) * height, c * width : (c + 1) * width] = scaled[i].transpose(
            1, 2, 0
        )
    pixels = (grid * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels)
    image = image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST)
    image.save(path)
