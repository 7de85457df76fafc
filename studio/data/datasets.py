"""In-memory datasets that hand out whole batches: one gather per batch, not one per sample.

`ArrayDataset[i]` is one sample, as any map-style dataset's; `ArrayDataset[[i, j, ...]]` is a
whole batch, built with a single indexing operation. `make_loader` feeds it lists of indices
(a `BatchSampler` as the sampler), which makes a batch of 256 table rows about a hundred
times cheaper than 256 `__getitem__` calls and a `default_collate`. The three splits share
the arrays and differ only in their indices, so loading copies nothing per split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from studio.data.augment import ImageAugmenter
from studio.data.preprocessing import Normalization

Inputs = torch.Tensor | tuple[torch.Tensor, ...]
Index = int | Sequence[int] | np.ndarray | torch.Tensor


class TensorNormalizer:
    """`Normalization` as tensors shaped to broadcast over a batch."""

    def __init__(self, normalization: Normalization, sample_ndim: int) -> None:
        shape = normalization.broadcast_shape(sample_ndim)
        self.shift = torch.tensor(normalization.shift, dtype=torch.float32).reshape(shape)
        self.scale = torch.tensor(normalization.scale, dtype=torch.float32).reshape(shape)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return (batch - self.shift) / self.scale


class ArrayDataset(Dataset[tuple[Inputs, torch.Tensor]]):
    """Samples `indices` of shared input arrays: normalised, and augmented when asked.

    An item is ``(inputs, target)``: `inputs` is one tensor, or a tuple when the model has
    several inputs; `target` is the class index (int64), the regression values (float32),
    or, for data without targets, the input itself (what an autoencoder reconstructs).
    """

    def __init__(
        self,
        inputs: Sequence[torch.Tensor],
        target: torch.Tensor | None,
        indices: torch.Tensor,
        *,
        normalizers: Sequence[TensorNormalizer | None],
        dtypes: Sequence[str] | None = None,
        target_normalizer: TensorNormalizer | None = None,
        augmenter: ImageAugmenter | None = None,
        aux: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.inputs = list(inputs)
        self.target = target
        self.indices = indices.to(torch.int64)
        self.normalizers = list(normalizers)
        # "long" inputs are ids (tokens, categories) handed over as int64, never normalised.
        self.dtypes = list(dtypes) if dtypes is not None else ["float"] * len(self.inputs)
        self.target_normalizer = target_normalizer
        self.augmenter = augmenter
        self.aux = aux or {}

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: Index) -> tuple[Inputs, torch.Tensor]:
        single = isinstance(index, int | np.integer)
        rows = self.rows(index)
        if single:
            rows = rows.reshape(1)
        xs = [self._input(i, rows) for i in range(len(self.inputs))]
        if self.target is None:
            y = xs[0]
        else:
            y = self.target[rows]
            if self.target_normalizer is not None:
                y = self.target_normalizer(y)
        if single:
            xs = [x[0] for x in xs]
            y = y[0]
        return (xs[0] if len(xs) == 1 else tuple(xs)), y

    def rows(self, index: Index) -> torch.Tensor:
        """The rows of the whole dataset that positions `index` of this split refer to."""
        if isinstance(index, torch.Tensor):
            position = index.to(torch.int64)
        else:
            position = torch.as_tensor(np.asarray(index), dtype=torch.int64)
        return self.indices[position]

    def _input(self, i: int, rows: torch.Tensor) -> torch.Tensor:
        values = self.inputs[i][rows]
        if self.dtypes[i] == "long":
            return values.long()
        normalizer = self.normalizers[i]
        values = values.float()
        if self.augmenter is not None and values.ndim == 4:
            values = self.augmenter(values)
        return normalizer(values) if normalizer is not None else values

    def reseed(self, seed: int) -> None:
        """Restart the augmentation's random stream (each loader worker calls this)."""
        if self.augmenter is not None:
            self.augmenter.reseed(seed)

    def aux_of(self, index: Index) -> dict[str, torch.Tensor]:
        """Extras of the samples at `index` (e.g. the shapes dataset's object masks)."""
        rows = self.rows(index)
        return {name: values[rows] for name, values in self.aux.items()}

    def describe(self) -> dict[str, Any]:
        return {"samples": len(self), "inputs": [tuple(x.shape[1:]) for x in self.inputs]}
