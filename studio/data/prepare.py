"""From a project's data settings to split, encoded arrays and a fitted preprocessing state.

This is the part of loading that needs no torch: the data tab's previews and statistics and
`load_data` both start here, so what the tab shows is exactly what training gets. The order
matters for honesty: read, split, then fit every learned step (fill values, vocabulary,
normalisation) on the training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.core.data_settings import SplitSettings
from studio.core.project import DataSection
from studio.data.errors import DataError
from studio.data.preprocessing import (
    InputState,
    Normalization,
    PreprocessingState,
    choose_method,
    fit_normalization,
)
from studio.data.raw import FeatureAxis, RawData
from studio.data.signature import DataSignature, TargetSpec
from studio.data.sources import read_data
from studio.data.splits import SplitIndices, split_indices


@dataclass
class PreparedData:
    """Encoded (not yet normalised) arrays of every sample, the split and the fitted state."""

    raw: RawData
    split: SplitIndices
    inputs: list[np.ndarray]
    target: np.ndarray | None
    state: PreprocessingState
    signature: DataSignature

    @property
    def notes(self) -> list[str]:
        return self.raw.notes

    @property
    def warnings(self) -> list[str]:
        """What every command warns about before using this data (files outside the project)."""
        return self.raw.warnings


def signature_of(raw: RawData) -> DataSignature:
    """What `raw` gives the model; valid before the encoder is fitted."""
    specs = raw.encoder.input_specs()
    if raw.task == "classification":
        target = TargetSpec("classification", (), tuple(raw.class_names))
    elif raw.task == "regression" and raw.target is not None:
        target = TargetSpec("regression", tuple(raw.target.shape[1:]))
    else:
        target = TargetSpec("none", specs[0].shape)
    return DataSignature(raw.kind, specs, target, tuple(raw.notes))


def make_split(raw: RawData, settings: SplitSettings) -> SplitIndices:
    """The seeded split the settings ask for; stratified when classes allow it."""
    stratify = (
        settings.stratify
        and raw.stratify
        and raw.task == "classification"
        and raw.target is not None
    )
    split = split_indices(
        len(raw),
        validation=settings.validation,
        test=settings.test,
        seed=settings.seed,
        labels=raw.target if stratify else None,
        fixed=raw.fixed_split,
    )
    if len(split.train) == 0:
        raise DataError(
            f"{raw.name}: no samples are left for training; lower the validation and test fractions"
        )
    drawn = raw.fixed_split is None or bool((raw.fixed_split < 0).any())
    if drawn and settings.validation > 0 and len(split.validation) == 0:
        # An empty validation split gives a NaN validation loss every epoch, and a run that
        # looks finished but has learned nothing anyone can check. (A series splits in time
        # and says in its notes when a part is shorter than a window.)
        sizes = split.sizes()
        raise DataError(
            f"{raw.name}: {len(raw):,} samples are too few to split: training gets "
            f"{sizes['train']:,}, validation {sizes['validation']:,} and test {sizes['test']:,}. "
            "Add samples, or raise the validation fraction (splits: validation) so that it "
            "gets at least one"
        )
    return split


def prepare_data(
    section: DataSection, base_dir: Path | None = None, *, raw: RawData | None = None
) -> PreparedData:
    """Read (unless `raw` is given), split, encode and fit normalisation on the training rows."""
    if raw is None:
        raw = read_data(section, base_dir)
    split = make_split(raw, section.splits)
    raw.encoder.fit(split.train)
    inputs = raw.encoder.encode()
    specs = raw.encoder.input_specs()
    method = choose_method(section.preprocessing.normalize, raw.kind)
    states = []
    for array, spec, axis in zip(inputs, specs, raw.encoder.feature_axes(), strict=True):
        normalization = None
        if method is not None and axis is not None:
            normalization = fit_normalization(array, split.train, axis, method)
        states.append(InputState(spec, normalization))
    target_normalization: Normalization | None = None
    if (
        raw.task == "regression"
        and raw.target is not None
        and section.preprocessing.normalize_target
    ):
        target_normalization = fit_normalization(
            raw.target, split.train, FeatureAxis(0), "standardize"
        )
    state = PreprocessingState(
        raw.name,
        raw.kind,
        raw.task,
        states,
        list(raw.class_names),
        target_normalization,
        raw.encoder.state(),
    )
    return PreparedData(raw, split, inputs, raw.target, state, signature_of(raw))
