"""Seeded train/validation/test splits, stratified for classification (numpy, no torch).

The same sample count, labels, fractions and seed always give the same split, on every
machine: the permutation comes from numpy's PCG64 generator, and per-class counts are
allocated by largest remainder, so the overall sizes are the rounded fractions of the whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitIndices:
    """Sorted sample indices of each split."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {name: len(self.part(name)) for name in SPLIT_NAMES}

    def part(self, name: str) -> np.ndarray:
        if name not in SPLIT_NAMES:
            raise KeyError(f"no split named {name!r}; the splits are {', '.join(SPLIT_NAMES)}")
        indices: np.ndarray = getattr(self, name)
        return indices

    def assignment(self, count: int) -> np.ndarray:
        """int8 per sample: 0 train, 1 validation, 2 test (-1 where a sample is in none)."""
        out = np.full(count, -1, dtype=np.int8)
        for code, name in enumerate(SPLIT_NAMES):
            out[self.part(name)] = code
        return out


def split_indices(
    count: int,
    *,
    validation: float,
    test: float,
    seed: int,
    labels: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> SplitIndices:
    """Divide `count` samples into train, validation and test.

    Args:
        count: the number of samples.
        validation: fraction for validation.
        test: fraction for test.
        seed: the same seed gives the same split.
        labels: class indices to stratify by (each split keeps the class proportions).
        fixed: per sample 0/1/2 for a split decided by the source (a published test set, a
            time order), or -1 to split at random. When the source fixes a test set, the test
            fraction is not taken again from the rest.
    """
    parts = np.full(count, -1, dtype=np.int8) if fixed is None else fixed.astype(np.int8)
    free = np.flatnonzero(parts < 0)
    if free.size:
        if (parts == 2).any():
            test = 0.0
        rng = np.random.default_rng(seed)
        groups = (
            [free] if labels is None else [free[labels[free] == c] for c in np.unique(labels[free])]
        )
        sizes = np.array([len(g) for g in groups])
        n_test = _quota(sizes, test)
        n_validation = _quota(sizes, validation)
        for group, size, t, v in zip(groups, sizes, n_test, n_validation, strict=True):
            # A class keeps at least one training sample when it has any.
            while t + v >= size > 0 and (t or v):
                if v >= t and v:
                    v -= 1
                else:
                    t -= 1
            order = rng.permutation(group)
            parts[order[:t]] = 2
            parts[order[t : t + v]] = 1
            parts[order[t + v :]] = 0
    return SplitIndices(
        np.flatnonzero(parts == 0), np.flatnonzero(parts == 1), np.flatnonzero(parts == 2)
    )


def _quota(sizes: np.ndarray, fraction: float) -> np.ndarray:
    """Per-group counts summing to round(total × fraction), by largest remainder."""
    exact = sizes * fraction
    counts = np.floor(exact).astype(np.int64)
    short = round(float(sizes.sum()) * fraction) - int(counts.sum())
    if short > 0:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:short]] += 1
    return counts
