"""Seeded splits: the same seed gives the same split; classification keeps class shares."""

from __future__ import annotations

import numpy as np
import pytest

from studio.data.splits import split_indices


def test_sizes_are_the_rounded_fractions_and_parts_are_disjoint() -> None:
    split = split_indices(1000, validation=0.15, test=0.1, seed=0)
    assert split.sizes() == {"train": 750, "validation": 150, "test": 100}
    together = np.concatenate([split.train, split.validation, split.test])
    assert sorted(together.tolist()) == list(range(1000))
    assert split.assignment(1000).min() == 0


def test_the_same_seed_gives_the_same_split_and_another_seed_another() -> None:
    labels = np.arange(300) % 3
    first = split_indices(300, validation=0.2, test=0.2, seed=7, labels=labels)
    again = split_indices(300, validation=0.2, test=0.2, seed=7, labels=labels)
    other = split_indices(300, validation=0.2, test=0.2, seed=8, labels=labels)
    for name in ("train", "validation", "test"):
        assert first.part(name).tolist() == again.part(name).tolist()
    assert first.test.tolist() != other.test.tolist()


def test_stratified_splits_keep_class_proportions() -> None:
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    split = split_indices(1000, validation=0.1, test=0.2, seed=1, labels=labels)
    assert np.bincount(labels[split.test], minlength=3).tolist() == [180, 18, 2]
    assert np.bincount(labels[split.validation], minlength=3).tolist() == [90, 9, 1]


def test_a_rare_class_keeps_a_training_sample() -> None:
    labels = np.array([0] * 20 + [1])
    split = split_indices(21, validation=0.3, test=0.3, seed=0, labels=labels)
    assert 20 in split.train.tolist()


def test_fixed_parts_are_kept_and_a_fixed_test_set_is_not_taken_twice() -> None:
    fixed = np.array([-1] * 80 + [2] * 20, dtype=np.int8)
    split = split_indices(100, validation=0.25, test=0.5, seed=0, fixed=fixed)
    assert split.test.tolist() == list(range(80, 100))
    assert len(split.validation) == 20 and len(split.train) == 60
    chronological = np.array([0] * 7 + [1] * 2 + [2], dtype=np.int8)
    split = split_indices(10, validation=0.5, test=0.2, seed=0, fixed=chronological)
    assert split.train.tolist() == list(range(7)) and split.test.tolist() == [9]


def test_unknown_part_name() -> None:
    with pytest.raises(KeyError, match="the splits are train, validation, test"):
        split_indices(10, validation=0.1, test=0.1, seed=0).part("dev")
