"""Errors training reports to the user as one line instead of a traceback."""

from __future__ import annotations

from studio.core.errors import StudioError


class TrainingError(StudioError):
    """Training cannot start or had to stop; the message says why and what to do."""


class CheckpointError(TrainingError):
    """A checkpoint is missing, damaged, or holds something other than plain tensors."""


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; continuing would only spread NaNs into the weights."""
