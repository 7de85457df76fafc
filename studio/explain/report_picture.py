"""One explanation as a picture without Qt, for `studio explain --out FILE.png`.

The Explain tab draws each input kind its own way: a heatmap over an image, signed bars per
table feature, a series coloured step by step, tokens highlighted. This module draws the same
views from the same arrays with Pillow, under a title (method, class, sample) and above the
sanity checks the tab shows beside each result, so a picture made headless says as much as
the window.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from studio.core.project import atomic_write_bytes
from studio.explain.errors import ExplainError
from studio.explain.render import attribution_map, explanation_panels

WIDTH = 720
MARGIN = 16
LINE = 18
BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
MUTED = (110, 110, 110)
WARNING = (180, 60, 20)
POSITIVE = (178, 24, 43)
NEGATIVE = (33, 102, 172)


@dataclass
class PictureText:
    """The words around the view: a title, and the checks (text, is it a warning)."""

    title: str
    checks: list[tuple[str, bool]] = field(default_factory=list)


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    # Pillow's bundled default font: no font file to find on the user's machine.
    try:
        return ImageFont.load_default(size=13)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _signed_colour(value: float, scale: float) -> tuple[int, int, int]:
    """White at zero, red for positive and blue for negative, stronger with |value|."""
    strength = min(1.0, abs(value) / scale) if scale > 0 else 0.0
    end = POSITIVE if value >= 0 else NEGATIVE
    return tuple(round(255 + (c - 255) * strength) for c in end)  # type: ignore[return-value]


def _scale(values: np.ndarray) -> float:
    magnitude = np.abs(values)
    return float(np.percentile(magnitude, 99)) or float(magnitude.max()) or 1.0


def _image_view(inputs: np.ndarray, values: np.ndarray) -> Image.Image:
    panels = explanation_panels(inputs, values)
    factor = max(1, (WIDTH - 2 * MARGIN) // panels.shape[1])
    picture = Image.fromarray(panels, mode="RGB")
    size = (panels.shape[1] * factor, panels.shape[0] * factor)
    return picture.resize(size, Image.Resampling.NEAREST)


def _table_view(values: np.ndarray, inputs: np.ndarray, names: Sequence[str]) -> Image.Image:
    """Signed horizontal bars, one per feature, largest |attribution| first."""
    values, inputs = np.ravel(values).astype(float), np.ravel(inputs).astype(float)
    names = list(names) if len(names) == len(values) else [f"x{i}" for i in range(len(values))]
    order = np.argsort(-np.abs(values))[:30]
    font = _font()
    height = LINE * len(order) + 8
    picture = Image.new("RGB", (WIDTH - 2 * MARGIN, height), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    label_width, centre = 200, (WIDTH - 2 * MARGIN + 200) // 2
    half = (WIDTH - 2 * MARGIN - label_width) // 2 - 60
    scale = float(np.abs(values).max()) or 1.0
    for row, index in enumerate(order):
        y = 4 + row * LINE
        draw.text((0, y), f"{names[index][:22]} = {inputs[index]:.3g}", fill=INK, font=font)
        length = int(half * abs(values[index]) / scale)
        colour = POSITIVE if values[index] >= 0 else NEGATIVE
        left = centre if values[index] >= 0 else centre - length
        draw.rectangle((left, y + 2, left + max(length, 1), y + LINE - 4), fill=colour)
        label_x = centre + length + 4 if values[index] >= 0 else centre + 4
        draw.text((label_x, y), f"{values[index]:+.3g}", fill=MUTED, font=font)
    draw.line((centre, 0, centre, height), fill=MUTED)
    return picture


def _sequence_view(values: np.ndarray, inputs: np.ndarray) -> Image.Image:
    """The series (each channel a line) over columns coloured by each step's attribution."""
    values = np.asarray(values, dtype=float).reshape(len(values), -1).sum(axis=1)
    series = np.asarray(inputs, dtype=float).reshape(len(values), -1)
    width, height = WIDTH - 2 * MARGIN, 200
    picture = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    steps = len(values)
    column = width / steps
    scale = _scale(values)
    for step, value in enumerate(values):
        x0 = int(step * column)
        draw.rectangle((x0, 0, int((step + 1) * column), height), fill=_signed_colour(value, scale))
    low, high = float(series.min()), float(series.max())
    span = high - low or 1.0
    for channel in range(series.shape[1]):
        points = [
            ((step + 0.5) * column, height - 10 - (height - 20) * (v - low) / span)
            for step, v in enumerate(series[:, channel])
        ]
        draw.line(points, fill=INK, width=2)
    return picture


def _text_view(values: np.ndarray, tokens: Sequence[str]) -> Image.Image:
    """Tokens in reading order, each on a box coloured by its attribution."""
    font = _font()
    scale = _scale(np.asarray(values, dtype=float))
    width = WIDTH - 2 * MARGIN
    boxes: list[tuple[int, int, str, tuple[int, int, int]]] = []
    x = y = 0
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    for token, value in zip(tokens, np.ravel(values), strict=False):
        word_width = int(probe.textlength(token, font=font)) + 8
        if x + word_width > width and x > 0:
            x, y = 0, y + LINE + 4
        boxes.append((x, y, token, _signed_colour(float(value), scale)))
        x += word_width + 4
    picture = Image.new("RGB", (width, y + LINE + 8), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    for left, top, token, colour in boxes:
        right = left + int(probe.textlength(token, font=font)) + 8
        draw.rectangle((left, top, right, top + LINE), fill=colour)
        draw.text((left + 4, top + 2), token, fill=INK, font=font)
    return picture


def explanation_picture(
    kind: str,
    inputs: np.ndarray,
    values: np.ndarray,
    text: PictureText,
    *,
    feature_names: Sequence[str] = (),
    tokens: Sequence[str] = (),
) -> Image.Image:
    """Title, the view for `kind` (one sample's input and attribution), then the checks."""
    inputs, values = np.asarray(inputs), np.asarray(values)
    if kind == "image":
        attribution_map(values)  # refuses what is not an image attribution, with a reason
        view = _image_view(inputs, values)
    elif kind == "table":
        view = _table_view(values, inputs, feature_names)
    elif kind == "sequence":
        view = _sequence_view(values, inputs)
    elif kind == "text":
        view = _text_view(values, tokens or [f"#{int(t)}" for t in np.ravel(inputs)])
    else:
        raise ExplainError(f"no picture for {kind} inputs")
    font = _font()
    width = max(WIDTH, view.width + 2 * MARGIN)
    lines = [(text.title, INK)] + [
        (part, WARNING if warning else MUTED)
        for line, warning in text.checks
        for part in _wrapped(line, font, width - 2 * MARGIN)
    ]
    header = LINE + 8
    footer = LINE * (len(lines) - 1) + (8 if text.checks else 0)
    picture = Image.new("RGB", (width, MARGIN + header + view.height + footer + MARGIN), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    draw.text((MARGIN, MARGIN), lines[0][0], fill=lines[0][1], font=font)
    picture.paste(view, (MARGIN, MARGIN + header))
    y = MARGIN + header + view.height + 8
    for line, colour in lines[1:]:
        draw.text((MARGIN, y), line, fill=colour, font=font)
        y += LINE
    return picture


def _wrapped(
    line: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int
) -> list[str]:
    """`line` broken at spaces into pieces no wider than `width` pixels."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    pieces: list[str] = []
    current = ""
    for word in line.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and probe.textlength(candidate, font=font) > width:
            pieces.append(current)
            current = word
        else:
            current = candidate
    return [*pieces, current] if current else pieces


def save_explanation_picture(path: str | Path, picture: Image.Image) -> Path:
    """Write the picture as a PNG, atomically: a full disk leaves no half picture behind and
    any previous one whole (a `ProjectError` names the file)."""
    target = Path(path)
    encoded = io.BytesIO()
    picture.save(encoded, format="PNG")
    atomic_write_bytes(target, encoded.getvalue())
    return target
