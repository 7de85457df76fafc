"""DataLoaders: whole batches, reproducible from the seed with and without workers."""

from __future__ import annotations

import torch

from studio.core.project import DataSection
from studio.data.loaders import make_loader, pin_memory_for
from studio.data.pipeline import load_data


def batches(loader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x.clone(), y.clone()) for x, y in loader]


def test_batches_have_the_batch_size_and_cover_the_split() -> None:
    data = load_data(DataSection(dataset="iris"))
    loader = make_loader(data.train, batch_size=32, seed=0)
    out = batches(loader)
    assert [len(y) for _, y in out] == [32, 32, 32, 10]
    assert out[0][0].shape == (32, 4) and out[0][0].dtype == torch.float32
    assert out[0][1].dtype == torch.int64
    seen = torch.cat([y for _, y in out])
    assert sorted(seen.tolist()) == sorted(data.train.target[data.train.indices].tolist())  # type: ignore[index]


def test_the_same_seed_gives_the_same_batches_and_another_seed_others() -> None:
    section = DataSection.model_validate(
        {"dataset": "shapes", "augmentation": {"flip_horizontal": True, "noise": 0.1}}
    )
    data = load_data(section)
    first = batches(make_loader(data.train, batch_size=256, seed=5))
    again = batches(make_loader(data.train, batch_size=256, seed=5))
    other = batches(make_loader(data.train, batch_size=256, seed=6))
    assert all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        for a, b in zip(first, again, strict=True)
    )
    assert not torch.equal(first[0][1], other[0][1])


def test_workers_give_reproducible_batches() -> None:
    section = DataSection.model_validate({"dataset": "digits", "augmentation": {"rotation": 10}})
    data = load_data(section)
    first = batches(make_loader(data.train, batch_size=300, seed=1, workers=2))
    again = batches(make_loader(data.train, batch_size=300, seed=1, workers=2))
    assert len(first) == 5
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again, strict=True))


def test_validation_is_in_order_and_never_augmented() -> None:
    section = DataSection.model_validate({"dataset": "digits", "augmentation": {"noise": 0.5}})
    data = load_data(section)
    loader = make_loader(data.validation, batch_size=100, shuffle=False)
    x, _ = next(iter(loader))
    x_again, _ = data.validation[list(range(100))]
    assert torch.equal(x, x_again)


def test_pinned_memory_only_for_cuda(monkeypatch) -> None:
    assert not pin_memory_for(None) and not pin_memory_for("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pin_memory_for("cuda") and pin_memory_for(torch.device("cuda", 0))


def test_project_loaders_shuffle_training_only() -> None:
    data = load_data(DataSection(dataset="iris"))
    loaders = data.loaders(batch_size=8, seed=0)
    _, y = next(iter(loaders.validation))
    assert torch.equal(y, data.validation.target[data.validation.indices[:8]])  # type: ignore[index]
    assert len(loaders.test) == 3
