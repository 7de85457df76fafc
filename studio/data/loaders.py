"""Seeded, reproducible DataLoaders over `ArrayDataset`s, with workers and pinned memory.

The loader's sampler yields lists of indices (a `BatchSampler`), so each worker builds a
whole batch with one gather (see `studio.data.datasets`). Shuffling, the workers' base seeds
and the augmentation streams all derive from one seed: the same seed gives the same batches
in the same order, with or without workers.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    RandomSampler,
    SequentialSampler,
)

from studio.data.datasets import ArrayDataset


def seed_worker(worker_id: int) -> None:
    """Seed a loader worker's Python, numpy and augmentation streams from torch's seed for it."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
    info = torch.utils.data.get_worker_info()
    if info is not None and isinstance(info.dataset, ArrayDataset):
        info.dataset.reseed(seed)


def pin_memory_for(device: str | torch.device | None) -> bool:
    """Pinned (page-locked) batches copy to a CUDA device asynchronously; elsewhere they cost."""
    if device is None:
        return False
    return torch.device(device).type == "cuda" and torch.cuda.is_available()


def make_loader(
    dataset: ArrayDataset,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    workers: int = 0,
    device: str | torch.device | None = None,
    drop_last: bool = False,
    shard: tuple[int, int] | None = None,
) -> DataLoader[object]:
    """A DataLoader of whole batches from `dataset`.

    Args:
        dataset: the split to load.
        batch_size: samples per batch.
        seed: seeds the shuffling, the workers and the augmentation.
        shuffle: a new order every epoch (training); off for validation and test.
        workers: background processes preparing batches (0: in this process).
        device: where the batches go; pinned memory is used for CUDA.
        drop_last: leave out a last batch smaller than `batch_size`.
        shard: (rank, world size) when training on several processes: this process loads
            its share of the split (a `DistributedSampler`, reshuffled by `set_epoch`).
    """
    order_generator = torch.Generator().manual_seed(seed)
    sampler: RandomSampler | SequentialSampler | DistributedSampler[int]
    if shard is not None:
        rank, world = shard
        # drop_last here evens the shards by dropping samples instead of repeating some.
        sampler = DistributedSampler(
            dataset, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
    elif shuffle:
        sampler = RandomSampler(dataset, generator=order_generator)
    else:
        sampler = SequentialSampler(dataset)
    batches = BatchSampler(sampler, batch_size=batch_size, drop_last=drop_last)
    if workers == 0:
        dataset.reseed(seed)
    return DataLoader(
        dataset,
        sampler=batches,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin_memory_for(device),
        worker_init_fn=seed_worker if workers else None,
        generator=torch.Generator().manual_seed(seed + 1),
        persistent_workers=False,
    )
