"""Compare a reloaded export with its source model on real samples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from studio.export.subject import TOLERANCE


@dataclass(frozen=True)
class Verification:
    """The result of running an exported file and comparing it with the source model.

    Attributes:
        max_abs_diff: the largest absolute difference over every output element
            (`inf` when the file could not be loaded or run at all).
        ok: whether the difference is within tolerance.
        reason: why verification failed, in a sentence; empty when it passed.
    """

    max_abs_diff: float
    ok: bool
    reason: str = ""

    @classmethod
    def failed(cls, reason: str) -> Verification:
        return cls(float("inf"), False, reason)


def compare_outputs(
    expected: Sequence[torch.Tensor],
    actual: Sequence[torch.Tensor | np.ndarray],
    tolerance: float = TOLERANCE,
) -> Verification:
    """Max abs difference between two lists of outputs; failed above `tolerance`, relative to
    each output's largest value where that is above 1 (float32 keeps about 7 digits: logits of
    1e8 differ by tens after any reordering of sums)."""
    if len(expected) != len(actual):
        return Verification.failed(
            f"the export returns {len(actual)} outputs; the model returns {len(expected)}"
        )
    worst, over = 0.0, ""
    for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
        got_t = torch.as_tensor(np.asarray(got)) if isinstance(got, np.ndarray) else got
        got_t = got_t.detach().cpu()
        if tuple(got_t.shape) != tuple(want.shape):
            return Verification.failed(
                f"output {i} has shape {tuple(got_t.shape)}; the model gives {tuple(want.shape)}"
            )
        diff = (got_t.double() - want.detach().cpu().double()).abs()
        if diff.isnan().any():
            return Verification(float("nan"), False, "the export produces NaN values")
        largest = float(diff.max()) if diff.numel() else 0.0
        worst = max(worst, largest)
        # Each output against its own size: a small output is not excused by a large one.
        scale = float(want.detach().abs().max()) if want.numel() else 1.0
        limit = tolerance * max(1.0, scale) if np.isfinite(scale) else tolerance
        if largest > limit and not over:
            over = f"outputs differ from the model by up to {largest:.3g} (more than {limit:.3g})"
    if not np.isfinite(worst):
        return Verification(worst, False, "the export produces infinite values")
    if over:
        return Verification(worst, False, over)
    return Verification(worst, True)
