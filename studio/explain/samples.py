"""Samples from outside the data set: an image file or a CSV row, checked against the model.

The Explain tab lets a person drop a file to explain; this turns it into one model input (no
batch dimension) on the same scale as the encoded training data, or says in a sentence what
is wrong with it. No Qt and no torch: numpy and Pillow only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from studio.core.errors import FileReadError
from studio.core.safe_files import read_text_bounded
from studio.explain.errors import ExplainError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
TABLE_SUFFIXES = (".csv", ".txt", ".tsv")
ROW_FILE_LIMIT = 16 * 1024 * 1024


def load_sample_file(
    path: str | Path,
    shape: tuple[int, ...],
    *,
    names: Sequence[str] = (),
    value_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """One model input read from `path`: an image for (C, H, W) inputs, a row for (F,) inputs.

    Args:
        path: an image file or a CSV/TSV/text file holding the row (a header line is allowed).
        shape: the model input's shape for one sample.
        names: the table's feature names, to pick columns from a file with a header.
        value_range: (low, high) of the encoded training images, where black and white go.

    Raises:
        ExplainError: the file is missing, unreadable, of the wrong kind or the wrong size.
    """
    path = Path(path)
    if not path.is_file():
        raise ExplainError(f"{path.name}: no such file.")
    suffix = path.suffix.lower()
    if len(shape) == 3:
        if suffix not in IMAGE_SUFFIXES:
            raise ExplainError(
                f"{path.name}: this model takes images {shape}; open a picture "
                f"({', '.join(IMAGE_SUFFIXES)}), not a {suffix or 'file without suffix'}."
            )
        return image_from_file(path, shape, value_range=value_range)
    if len(shape) == 1:
        if suffix in IMAGE_SUFFIXES:
            raise ExplainError(
                f"{path.name}: this model takes a table row of {shape[0]} numbers, not a picture."
            )
        try:
            # A row of numbers is small; a FIFO or a file of gigabytes is refused, not read.
            text = read_text_bounded(path, ROW_FILE_LIMIT, what="table row file")
        except FileReadError as error:
            raise ExplainError(str(error)) from None
        text = text.removeprefix("\ufeff")  # a byte-order mark, as Excel writes it
        return parse_table_row(text, shape[0], names=names)
    raise ExplainError(
        f"Samples of shape {shape} can only be explained from the test split, not from a file."
    )


def image_from_file(
    path: str | Path, shape: tuple[int, ...], *, value_range: tuple[float, float] = (0.0, 1.0)
) -> np.ndarray:
    """An image file resized to (C, H, W) (grey for 1 channel, RGB for 3), black→low, white→high."""
    from studio.data.errors import DataError
    from studio.data.sources.images import decode_image

    channels, height, width = shape
    if channels not in (1, 3):
        raise ExplainError(f"Only 1- or 3-channel images can be read from a file, not {channels}.")
    color = "grayscale" if channels == 1 else "rgb"
    try:
        # The data's own decoder: the same pixel limit, decompression-bomb check and resizing.
        decoded = decode_image(Path(path), (height, width), color, name=Path(path).name)
    except DataError as error:
        raise ExplainError(str(error)) from None
    pixels = decoded.astype(np.float32) / 255.0
    low, high = value_range
    return (low + pixels * (high - low)).astype(np.float32)


def parse_table_row(text: str, width: int, *, names: Sequence[str] = ()) -> np.ndarray:
    """The last row of CSV text as `width` numbers; a header naming the features picks columns.

    Raises:
        ExplainError: no row, a value that is not a number, or the wrong number of values.
    """
    sample = text.strip()
    if not sample:
        raise ExplainError("The file is empty: give one row of numbers separated by commas.")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            sample.splitlines()[0], delimiters=",;\t "
        )
    except csv.Error:
        dialect = csv.excel
    rows = [
        [cell.strip() for cell in row]
        for row in csv.reader(io.StringIO(sample), dialect)
        if any(cell.strip() for cell in row)
    ]
    header: list[str] | None = None
    if len(rows) > 1 and not all(_is_number(cell) for cell in rows[0]):
        header, rows = rows[0], rows[1:]
    row = rows[-1]
    if header is not None and names and all(name in header for name in names):
        row = [row[header.index(name)] if header.index(name) < len(row) else "" for name in names]
    described = f" ({', '.join(names)})" if names else ""
    if len(row) != width:
        raise ExplainError(
            f"The row has {len(row)} value{'s' if len(row) != 1 else ''}; the model takes "
            f"{width} numbers{described}."
        )
    values = []
    for column, cell in enumerate(row, start=1):
        if not _is_number(cell):
            label = names[column - 1] if len(names) == width else f"column {column}"
            raise ExplainError(f"{cell!r} in {label} is not a number.")
        values.append(float(cell))
    return np.asarray(values, dtype=np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
