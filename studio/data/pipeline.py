"""The single entry point from a project's data section to train/validation/test datasets.

`load_data` (or `load_project_data`) reads the data, splits it with the project's seed, fits
preprocessing on the training split, and returns torch datasets plus everything training,
evaluation and export need to know about the data: input shapes and dtypes, classes,
vocabulary, and the preprocessing state to save with the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from studio.core.data_settings import AugmentationSettings
from studio.core.project import DataSection, Project
from studio.data.augment import ImageAugmenter
from studio.data.datasets import ArrayDataset, TensorNormalizer
from studio.data.loaders import make_loader
from studio.data.prepare import PreparedData, prepare_data
from studio.data.preprocessing import PreprocessingState
from studio.data.signature import DataSignature, InputSpec
from studio.data.splits import SPLIT_NAMES, SplitIndices


@dataclass
class Loaders:
    """One DataLoader per split."""

    train: DataLoader[object]
    validation: DataLoader[object]
    test: DataLoader[object]


@dataclass
class LoadedData:
    """The three splits as datasets, and what the model and the run need to know about them."""

    name: str
    train: ArrayDataset
    validation: ArrayDataset
    test: ArrayDataset
    signature: DataSignature
    preprocessing: PreprocessingState
    split: SplitIndices
    prepared: PreparedData
    section: DataSection
    notes: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> tuple[InputSpec, ...]:
        """Shape (one sample, no batch) and dtype of each model input."""
        return self.signature.inputs

    @property
    def warnings(self) -> list[str]:
        """What every command warns about before using this data (files outside the project)."""
        return self.prepared.warnings

    @property
    def class_names(self) -> list[str]:
        return list(self.signature.target.class_names)

    @property
    def num_classes(self) -> int | None:
        return self.signature.target.num_classes

    @property
    def vocabulary(self) -> list[str] | None:
        return self.preprocessing.vocabulary

    def feature_names(self) -> list[str]:
        """One name per column of a table model's input (encoded columns: "colour=red"), or
        x0, x1, ... where the source gives none; empty for images, series and text."""
        if not self.inputs or len(self.inputs[0].shape) != 1:
            return []
        width = self.inputs[0].shape[0]
        encoder = self.prepared.raw.encoder
        names_of = getattr(encoder, "feature_names", None)
        names = list(names_of()) if callable(names_of) else []
        if not names:
            names = list(getattr(encoder, "channel_names", None) or [])
        return names if len(names) == width else [f"x{i}" for i in range(width)]

    def split_sizes(self) -> dict[str, int]:
        return self.split.sizes()

    def dataset(self, name: str) -> ArrayDataset:
        if name not in SPLIT_NAMES:
            raise KeyError(f"no split named {name!r}; the splits are {', '.join(SPLIT_NAMES)}")
        dataset: ArrayDataset = getattr(self, name)
        return dataset

    def loaders(
        self,
        *,
        batch_size: int,
        device: str | torch.device | None = None,
        workers: int | None = None,
        seed: int | None = None,
    ) -> Loaders:
        """Training batches shuffled (per the project's loader settings), the others in order."""
        settings = self.section.loader
        seed = self.section.splits.seed if seed is None else seed
        workers = settings.workers if workers is None else workers

        def loader(dataset: ArrayDataset, train: bool) -> DataLoader[object]:
            return make_loader(
                dataset,
                batch_size=batch_size,
                seed=seed,
                shuffle=settings.shuffle and train,
                workers=workers,
                device=device,
                drop_last=settings.drop_last and train,
            )

        return Loaders(
            loader(self.train, True), loader(self.validation, False), loader(self.test, False)
        )


def load_data(
    section: DataSection,
    base_dir: Path | None = None,
    *,
    prepared: PreparedData | None = None,
) -> LoadedData:
    """Read, split and preprocess the data a project's data section names.

    Args:
        section: the project's data settings.
        base_dir: the folder relative data paths start from (the project file's folder).
        prepared: reuse data the data tab already prepared with the same settings.

    Raises:
        DataError: the data cannot be read or used; the message names the file and place.
    """
    if prepared is None:
        prepared = prepare_data(section, base_dir)
    state = prepared.state
    inputs = [torch.from_numpy(_owned(a)) for a in prepared.inputs]
    target = None if prepared.target is None else torch.from_numpy(_owned(prepared.target))
    normalizers = [
        None if s.normalization is None else TensorNormalizer(s.normalization, len(s.spec.shape))
        for s in state.inputs
    ]
    target_normalizer = (
        None
        if state.target is None or prepared.target is None
        else TensorNormalizer(state.target, prepared.target.ndim - 1)
    )
    aux = {k: torch.from_numpy(_owned(v)) for k, v in prepared.raw.aux.items()}
    augmenter = _augmenter(section.augmentation, prepared, section.splits.seed)
    dtypes = [s.spec.dtype for s in state.inputs]

    def dataset(name: str) -> ArrayDataset:
        return ArrayDataset(
            inputs,
            target,
            torch.from_numpy(prepared.split.part(name)),
            normalizers=normalizers,
            dtypes=dtypes,
            target_normalizer=target_normalizer,
            augmenter=augmenter if name == "train" else None,
            aux=aux,
        )

    return LoadedData(
        prepared.raw.name,
        dataset("train"),
        dataset("validation"),
        dataset("test"),
        prepared.signature,
        state,
        prepared.split,
        prepared,
        section,
        list(prepared.notes),
    )


def load_project_data(project: Project) -> LoadedData:
    """`load_data` for a project; relative paths start at the project file's folder."""
    base_dir = project.path.parent if project.path is not None else None
    return load_data(project.data, base_dir)


def _augmenter(
    settings: AugmentationSettings, prepared: PreparedData, seed: int
) -> ImageAugmenter | None:
    if not settings.enabled or prepared.raw.kind != "image":
        return None
    images = prepared.inputs[0]
    train = prepared.split.train[:2048]
    sample = images[train].astype(np.float32)
    std = sample.std(axis=(0, 2, 3)) if sample.size else np.ones(images.shape[1])
    return ImageAugmenter(settings, pixel_std=torch.from_numpy(std.astype(np.float32)), seed=seed)


def _owned(array: np.ndarray) -> np.ndarray:
    """A contiguous, writable array torch can share without copying again."""
    array = np.ascontiguousarray(array)
    return array if array.flags.writeable else array.copy()
