"""Errors the user can act on while exporting (a bad output path, an unknown format)."""

from __future__ import annotations

from studio.core.errors import StudioError


class ExportError(StudioError):
    """An export request cannot be carried out; the message says what to change."""
