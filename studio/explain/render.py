"""Pictures and files from attributions, without Qt: numpy for arrays, Pillow for PNGs.

The CLI (`studio explain ... --out FILE.png`) and the Explain tab draw the same arrays, so the
headless picture matches what the window shows.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from studio.core.project import atomic_write_bytes
from studio.explain.errors import ExplainError

# Diverging map for signed attributions (blue negative, white zero, red positive) and a
# sequential one for magnitudes (black → red → yellow → white), as (position, RGB) stops.
_Stops = tuple[tuple[float, tuple[int, int, int]], ...]
_DIVERGING: _Stops = ((0.0, (33, 102, 172)), (0.5, (247, 247, 247)), (1.0, (178, 24, 43)))
_SEQUENTIAL: _Stops = (
    (0.0, (0, 0, 0)),
    (0.4, (190, 30, 30)),
    (0.75, (250, 200, 40)),
    (1.0, (255, 255, 255)),
)


def attribution_map(values: np.ndarray) -> np.ndarray:
    """One sample's image attribution (C, H, W) or (H, W) → a single (H, W) map (channel sum)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 3:
        return values.sum(axis=0)
    if values.ndim == 2:
        return values
    raise ExplainError(f"An image attribution is (C, H, W) or (H, W), not {values.shape}.")


def heatmap_rgba(attribution: np.ndarray, *, opacity: float = 0.6) -> np.ndarray:
    """(H, W) map → (H, W, 4) uint8 heatmap whose alpha grows with the attribution's magnitude.

    Signed maps use a diverging palette centred at zero; non-negative maps a sequential one.
    Scaling uses the 99th percentile of |values| so one extreme pixel does not wash out the rest.
    """
    values = np.asarray(attribution, dtype=np.float64)
    scale = float(np.percentile(np.abs(values), 99)) or float(np.abs(values).max()) or 1.0
    signed = bool((values < 0).any())
    if signed:
        position = np.clip(values / scale, -1.0, 1.0) * 0.5 + 0.5
        stops = _DIVERGING
    else:
        position = np.clip(values / scale, 0.0, 1.0)
        stops = _SEQUENTIAL
    xs = np.array([stop for stop, _ in stops])
    rgb = np.stack(
        [np.interp(position, xs, [colour[i] for _, colour in stops]) for i in range(3)], axis=-1
    )
    magnitude = np.clip(np.abs(values) / scale, 0.0, 1.0)
    alpha = 255.0 * opacity * magnitude
    return np.concatenate([rgb, alpha[..., None]], axis=-1).round().astype(np.uint8)


def image_rgb(image: np.ndarray) -> np.ndarray:
    """A model input (C, H, W) with 1 or 3 channels → (H, W, 3) uint8, stretched to its range."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ExplainError(
            f"Only 1- or 3-channel images (C, H, W) can be drawn, not {image.shape}."
        )
    low, high = float(image.min()), float(image.max())
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    rgb = np.repeat(scaled, 3, axis=0) if image.shape[0] == 1 else scaled
    return (255 * rgb.transpose(1, 2, 0)).round().astype(np.uint8)


def overlay(image: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """Alpha-composite an RGBA heatmap over an (H, W, 3) uint8 image → (H, W, 3) uint8."""
    alpha = heatmap[..., 3:4].astype(np.float64) / 255.0
    mixed = image.astype(np.float64) * (1 - alpha) + heatmap[..., :3].astype(np.float64) * alpha
    return mixed.round().astype(np.uint8)


def explanation_panels(
    image: np.ndarray, attribution: np.ndarray, *, opacity: float = 0.6
) -> np.ndarray:
    """Input | heatmap | overlay side by side as one (H, 3W + 2 gaps, 3) uint8 picture."""
    picture = image_rgb(image)
    heat = heatmap_rgba(attribution_map(attribution), opacity=1.0)
    # The heatmap panel shows colour at full strength on white; the overlay uses `opacity`.
    white = np.full_like(picture, 255)
    heat_panel = overlay(white, heat)
    overlay_panel = overlay(picture, heatmap_rgba(attribution_map(attribution), opacity=opacity))
    gap = np.full((picture.shape[0], 2, 3), 255, dtype=np.uint8)
    return np.concatenate([picture, gap, heat_panel, gap, overlay_panel], axis=1)


def save_explanation_png(
    path: str | Path,
    image: np.ndarray,
    attribution: np.ndarray,
    *,
    opacity: float = 0.6,
    min_height: int = 192,
) -> Path:
    """Write input | heatmap | overlay as a PNG, enlarged (nearest) so small images stay legible."""
    from PIL import Image

    panels = explanation_panels(image, attribution, opacity=opacity)
    factor = max(1, -(-min_height // panels.shape[0]))
    picture = Image.fromarray(panels, mode="RGB")
    if factor > 1:
        picture = picture.resize(
            (panels.shape[1] * factor, panels.shape[0] * factor), Image.Resampling.NEAREST
        )
    target = Path(path)
    picture.save(target, format="PNG")
    return target


def save_attributions(path: str | Path, values: np.ndarray) -> Path:
    """Save attributions as `.npy` (any shape) or `.csv` (one row per sample, flattened)."""
    target = Path(path)
    values = np.asarray(values)
    suffix = target.suffix.lower()
    # Encoded in memory, then written atomically: a missing folder or a full disk is a
    # sentence naming the file, and never leaves half an array behind.
    encoded = io.BytesIO()
    if suffix == ".npy":
        np.save(encoded, values)
    elif suffix == ".csv":
        rows = values.reshape(values.shape[0], -1) if values.ndim > 1 else values[:, None]
        header = ",".join(f"a{i}" for i in range(rows.shape[1]))
        np.savetxt(encoded, rows, delimiter=",", header=header, comments="", fmt="%.8g")
    else:
        raise ExplainError(f"Attributions are saved as .npy or .csv, not {suffix or 'no suffix'}.")
    atomic_write_bytes(target, encoded.getvalue())
    return target
