"""Errors the explain engine reports as sentences instead of tracebacks."""

from __future__ import annotations

from studio.core.errors import StudioError


class ExplainError(StudioError):
    """An explanation cannot be computed as asked: unknown method, wrong input kind, no layer..."""
