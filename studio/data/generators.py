"""Procedural datasets: shapes on noise (with object masks) and mixtures of sines.

Both are deterministic from their seed, so the bundled "shapes" and "sine" datasets are the
same on every machine and need no files. The shapes' masks say where the object is, which the
explanation views use to check that an attribution method looks at the object, not the noise.
"""

from __future__ import annotations

import numpy as np

SHAPE_CLASSES = ("circle", "square", "triangle")


def generate_shapes(
    count: int = 3000, *, size: int = 32, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, masks): one bright circle, square or triangle per noisy image.

    Returns:
        images: float32 (count, 1, size, size) in [0, 1];
        labels: int64 (count,), index into `SHAPE_CLASSES`, balanced across classes;
        masks: bool (count, 1, size, size), True on the object's pixels.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(SHAPE_CLASSES)
    rng.shuffle(labels)
    # Radius of the circle that encloses the object; centres keep it wholly inside.
    radius = rng.uniform(0.2, 0.34, count) * size
    cx = rng.uniform(radius + 1, size - radius - 1)
    cy = rng.uniform(radius + 1, size - radius - 1)
    angle = rng.uniform(0, 2 * np.pi, count)
    brightness = rng.uniform(0.6, 1.0, count)

    grid = np.arange(size) + 0.5
    dx = grid[np.newaxis, np.newaxis, :] - cx[:, None, None]
    dy = grid[np.newaxis, :, np.newaxis] - cy[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u = dx * cos + dy * sin
    v = -dx * sin + dy * cos
    r = radius[:, None, None]

    circle = dx**2 + dy**2 <= (0.85 * r) ** 2
    half = r / np.sqrt(2)
    square = (np.abs(u) <= half) & (np.abs(v) <= half)
    triangle = np.ones_like(circle)
    for k in range(3):
        # Inside an equilateral triangle: on the inner side of each of its three edges.
        theta = 2 * np.pi * k / 3
        triangle &= u * np.cos(theta) + v * np.sin(theta) <= r / 2
    masks = np.where(
        (labels == 0)[:, None, None],
        circle,
        np.where((labels == 1)[:, None, None], square, triangle),
    )

    noise = rng.normal(0.2, 0.1, (count, size, size))
    fill = brightness[:, None, None] + rng.normal(0.0, 0.05, (count, size, size))
    images = np.clip(np.where(masks, fill, noise), 0.0, 1.0).astype(np.float32)
    return images[:, np.newaxis], labels.astype(np.int64), masks[:, np.newaxis]


def generate_sine_series(
    series: int = 8, *, length: int = 600, channels: int = 1, noise: float = 0.05, seed: int = 0
) -> np.ndarray:
    """float32 (series, length, channels): each channel a sum of two sines plus noise.

    Periods lie between 12 and 60 steps, so a window of 32 steps sees at least half a cycle.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)[None, :, None, None]
    shape = (series, 1, channels, 2)
    period = rng.uniform(12, 60, shape)
    amplitude = rng.uniform(0.4, 1.0, shape)
    phase = rng.uniform(0, 2 * np.pi, shape)
    waves = (amplitude * np.sin(2 * np.pi * t / period + phase)).sum(axis=-1)
    waves += rng.normal(0.0, noise, waves.shape)
    return waves.astype(np.float32)
