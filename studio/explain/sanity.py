"""Honesty checks shown beside every explanation.

A map that looks plausible can still say nothing about the model: edge detectors and the input
itself look like "explanations" too. Adebayo et al. (2018, "Sanity Checks for Saliency Maps")
compare maps from the trained model with maps from the same architecture with random weights;
a method whose maps barely change is not explaining what the model learned. For
IntegratedGradients, the convergence delta says whether the integral was approximated well.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.explain.engine import Attribution, explain
from studio.explain.errors import ExplainError

if TYPE_CHECKING:
    import torch
    from torch import nn

SIMILARITY_WARNING = 0.8
"""|Spearman rho| above which maps from random weights count as "barely changed".

Why 0.8: Adebayo et al. (2018, fig. 4 and 5, rank correlation of absolute maps) find two groups
after randomising the weights. Methods that explain the model (Gradient, Grad-CAM) fall to a
rho near 0-0.3; methods that multiply by the input (Gradient ⊙ Input, Integrated Gradients)
keep a moderate rho because part of their map *is* the input, yet still change visibly; and
the methods that fail the test (Guided BackProp, Guided Grad-CAM) stay at 0.8-1.0, i.e.
they draw the input's edges whatever the weights. A map that is the input itself scores 1.0.
So the warning sits at the lower edge of the failing group, 0.8: it flags maps that are
essentially weight-independent without flagging the input-multiplying methods for their
known, documented share of input. Measured on the test fixtures (3 re-initialisations, 16
samples): Saliency 0.2-0.3, Grad-CAM 0.0-0.2, LayerConductance about 0, and
InputXGradient, IntegratedGradients, GradientShap, DeepLift, Occlusion, SmoothGrad 0.3-0.7;
an earlier threshold of 0.5 flagged that whole input-multiplying group.
"""

DELTA_WARNING = 0.05
"""|delta| / |score(input) − score(baseline)| above which IG's integral is too coarse."""


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rho of two equally sized arrays (ties share their average rank).

    Returns 0.0 when either array is constant: a constant map shares no ordering with anything.
    """
    a, b = np.ravel(first), np.ravel(second)
    if a.shape != b.shape:
        raise ExplainError("Maps to compare must have the same number of values.")
    ra, rb = _average_ranks(a), _average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(np.sqrt((ra**2).sum() * (rb**2).sum()))
    if denominator == 0.0:
        return 0.0
    return float((ra * rb).sum() / denominator)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.arange(values.size, dtype=np.float64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, weights=ranks) / counts)[inverse]


def randomised_copy(model: nn.Module, *, seed: int = 0) -> nn.Module:
    """The same architecture with every resettable layer re-initialised (the original is kept)."""
    import torch

    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in clone.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
    return clone


def sample_maps(attribution: Attribution) -> list[np.ndarray]:
    """One flat map per sample; a model with several inputs has its inputs' maps joined."""
    parts = [part.values for part in attribution.per_input] or [attribution.values]
    count = len(parts[0])
    return [np.concatenate([np.ravel(part[index]) for part in parts]) for index in range(count)]


@dataclass(frozen=True)
class RandomisationCheck:
    """Result of the model-randomisation check.

    Attributes:
        method: the method checked.
        rank_correlation: mean over samples of Spearman's rho between |trained| and |random| maps.
        per_sample: rho for each sample.
        warning: True when the maps barely depend on the weights (|rho| > threshold).
        message: a sentence for the UI and the CLI.
    """

    method: str
    rank_correlation: float
    per_sample: tuple[float, ...]
    warning: bool
    message: str


def randomisation_check(
    model: nn.Module,
    inputs: torch.Tensor | np.ndarray | tuple[torch.Tensor | np.ndarray, ...],
    *,
    method: str,
    threshold: float = SIMILARITY_WARNING,
    seed: int = 0,
    trained: Attribution | None = None,
    **explain_options: Any,
) -> RandomisationCheck:
    """Compare `method`'s maps on `model` with its maps on a re-initialised copy.

    The target is fixed to the trained model's (predicted or given) target on both, so only the
    weights differ. Extra keyword arguments go to `explain` (layer, baseline, n_steps, ...).
    `trained` is the trained model's attribution when the caller has it already (the Explain
    tab shows it), which saves computing it twice.
    """
    if trained is None:
        trained = explain(model, inputs, method=method, **explain_options)
    options = dict(explain_options)
    if trained.target is not None:
        options["target"] = trained.target
    random = explain(randomised_copy(model, seed=seed), inputs, method=method, **options)
    per_sample = tuple(
        rank_correlation(np.abs(a), np.abs(b))
        for a, b in zip(sample_maps(trained), sample_maps(random), strict=True)
    )
    rho = float(np.mean(per_sample))
    warning = abs(rho) > threshold
    if warning:
        message = (
            f"{method}: maps from random weights look like the trained model's (rank "
            f"correlation {rho:.2f}); this method may show the input more than the model."
        )
    else:
        message = (
            f"{method}: maps change when the weights are randomised (rank correlation "
            f"{rho:.2f}), so they depend on what the model learned."
        )
    return RandomisationCheck(method, rho, per_sample, warning, message)


@dataclass(frozen=True)
class ConvergenceCheck:
    """IntegratedGradients' completeness: attributions should sum to the score change.

    Attributes:
        delta: per-sample convergence delta (sum of attributions − score change).
        output_difference: per-sample score(input) − score(baseline).
        relative: max |delta| / |score change| over the samples.
        warning: True when `relative` is above the tolerance.
        message: a sentence for the UI and the CLI.
    """

    delta: np.ndarray
    output_difference: np.ndarray
    relative: float
    warning: bool
    message: str


def convergence_check(
    attribution: Attribution, *, tolerance: float = DELTA_WARNING
) -> ConvergenceCheck:
    """Judge the convergence delta a path method reported (IntegratedGradients, ...)."""
    if "delta" not in attribution.extras or "output_difference" not in attribution.extras:
        raise ExplainError(f"{attribution.method} reports no convergence delta.")
    delta = np.abs(attribution.extras["delta"].astype(np.float64))
    difference = np.abs(attribution.extras["output_difference"].astype(np.float64))
    # A tiny score change makes any delta look huge; measure against at least a small floor.
    relative = float(np.max(delta / np.maximum(difference, 1e-3)))
    warning = relative > tolerance
    if warning:
        message = (
            f"Attributions miss {relative:.0%} of the score change; "
            "increase the number of steps for a faithful map."
        )
    else:
        message = f"Attributions add up to the score change (off by at most {relative:.1%})."
    return ConvergenceCheck(
        attribution.extras["delta"],
        attribution.extras["output_difference"],
        relative,
        warning,
        message,
    )
