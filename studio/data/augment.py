"""Image augmentation with torch ops only (there is no torchvision build for every machine).

A whole batch is augmented at once, each image with its own random flip, rotation, crop,
brightness and noise: rotation and crop are one affine resampling (`affine_grid` +
`grid_sample`), so an image is interpolated once however many of them apply. Randomness comes
from the augmenter's own generator, reseeded per loader worker, so runs are reproducible.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from studio.core.data_settings import AugmentationSettings


class ImageAugmenter:
    """Random changes to a batch of float images (N, C, H, W), in their raw value range."""

    def __init__(
        self, settings: AugmentationSettings, *, pixel_std: torch.Tensor, seed: int = 0
    ) -> None:
        """
        Args:
            settings: which changes, and how strong.
            pixel_std: per-channel standard deviation of the training images, the unit of the
                noise setting.
            seed: the generator's seed (`reseed` changes it in each worker).
        """
        self.settings = settings
        self.pixel_std = pixel_std.reshape(1, -1, 1, 1).float()
        self.generator = torch.Generator().manual_seed(seed)

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(seed)

    def _uniform(self, count: int, low: float, high: float) -> torch.Tensor:
        return torch.rand(count, generator=self.generator) * (high - low) + low

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        s = self.settings
        count = images.shape[0]
        if s.flip_horizontal:
            flip = torch.rand(count, generator=self.generator) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        if s.flip_vertical:
            flip = torch.rand(count, generator=self.generator) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(-2), images)
        if s.rotation or s.crop:
            images = self._affine(images)
        if s.brightness:
            factor = self._uniform(count, 1.0 - s.brightness, 1.0 + s.brightness)
            images = images * factor[:, None, None, None]
        if s.noise:
            noise = torch.randn(images.shape, generator=self.generator)
            images = images + noise * (s.noise * self.pixel_std)
        return images

    def _affine(self, images: torch.Tensor) -> torch.Tensor:
        """Rotate by up to ±rotation degrees and crop a random window of (1 - crop)..1 side."""
        s = self.settings
        count = images.shape[0]
        angle = self._uniform(count, -s.rotation, s.rotation) * (math.pi / 180.0)
        # The sampled window's side, as a fraction of the image; its centre stays inside.
        side = self._uniform(count, 1.0 - s.crop, 1.0)
        room = 1.0 - side
        shift_x = self._uniform(count, -1.0, 1.0) * room
        shift_y = self._uniform(count, -1.0, 1.0) * room
        cos, sin = torch.cos(angle) * side, torch.sin(angle) * side
        theta = torch.stack(
            [torch.stack([cos, -sin, shift_x], dim=1), torch.stack([sin, cos, shift_y], dim=1)],
            dim=1,
        )
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(
            images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
