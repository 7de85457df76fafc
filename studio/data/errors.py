"""Errors of the data layer: every message names the file, and the row and column where they apply.

Rows are counted the way a spreadsheet or a text editor shows them: the header is row 1, so
the first sample of a CSV file is row 2. A message ends with what to do about it.
"""

from __future__ import annotations

from studio.core.errors import StudioError


class DataError(StudioError):
    """The data cannot be read or used as it is; the message says where and what to change."""


class DataEncodingError(DataError):
    """A text file is not in the encoding it was read with (a fallback encoding may help)."""


class BadImageError(DataError):
    """An image file cannot be read (choosing to skip unreadable images may help)."""


def where(file: str, row: int | None = None, column: str | None = None) -> str:
    """``file, row 17, column 'petal_width'``: the place a message is about."""
    parts = [file]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts)
