"""Image augmentation with torch ops: each change does what it says, reproducibly."""

from __future__ import annotations

import torch

from studio.core.data_settings import AugmentationSettings
from studio.data.augment import ImageAugmenter


def augmenter(seed: int = 0, **settings: object) -> ImageAugmenter:
    return ImageAugmenter(
        AugmentationSettings(**settings),  # type: ignore[arg-type]
        pixel_std=torch.ones(1),
        seed=seed,
    )


def images(count: int = 64) -> torch.Tensor:
    ramp = torch.arange(16, dtype=torch.float32).repeat(16, 1)  # brighter to the right
    return ramp.expand(count, 1, 16, 16).clone()


def test_nothing_enabled_changes_nothing() -> None:
    batch = images()
    assert torch.equal(augmenter()(batch), batch)
    assert not AugmentationSettings().enabled


def test_horizontal_flip_mirrors_about_half_the_images_exactly() -> None:
    batch = images()
    out = augmenter(flip_horizontal=True)(batch)
    flipped = [torch.equal(o, b.flip(-1)) for o, b in zip(out, batch, strict=True)]
    kept = [torch.equal(o, b) for o, b in zip(out, batch, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 16 < sum(flipped) < 48


def test_vertical_flip() -> None:
    batch = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4).repeat(32, 1, 1, 1)
    out = augmenter(flip_vertical=True)(batch)
    assert any(torch.equal(o, batch[0].flip(-2)) for o in out)


def test_rotation_by_up_to_ten_degrees_keeps_the_centre_and_the_shape() -> None:
    batch = images(8)
    out = augmenter(rotation=10)(batch)
    assert out.shape == batch.shape
    assert not torch.equal(out, batch)
    centre = (slice(None), 0, slice(6, 10), slice(6, 10))
    assert (out[centre] - batch[centre]).abs().max() < 2.0


def test_crop_zooms_in_without_leaving_the_image() -> None:
    batch = images(32)
    out = augmenter(crop=0.5)(batch)
    assert out.shape == batch.shape
    assert out.min() >= 0 and out.max() <= 15  # no zero padding from outside the image
    assert (out[:, 0, :, -1] - out[:, 0, :, 0]).mean() < 15  # a window narrower than the whole


def test_brightness_and_noise() -> None:
    batch = torch.full((200, 1, 4, 4), 100.0)
    bright = augmenter(brightness=0.2)(batch)
    factors = bright[:, 0, 0, 0] / 100
    assert factors.min() >= 0.8 and factors.max() <= 1.2 and factors.std() > 0.05
    noisy = augmenter(noise=0.5)(batch)
    assert abs(float((noisy - batch).std()) - 0.5) < 0.05


def test_the_same_seed_gives_the_same_augmentation() -> None:
    settings = {
        "flip_horizontal": True,
        "rotation": 15,
        "crop": 0.2,
        "brightness": 0.3,
        "noise": 0.1,
    }
    a = augmenter(3, **settings)(images(16))
    b = augmenter(3, **settings)(images(16))
    c = augmenter(4, **settings)(images(16))
    assert torch.equal(a, b) and not torch.equal(a, c)
    again = augmenter(9, **settings)
    again.reseed(3)
    assert torch.equal(again(images(16)), a)
