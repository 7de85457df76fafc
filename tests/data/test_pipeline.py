"""The single entry point: every source, from real files, to torch datasets and metadata."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from studio.core.project import DataSection, Project
from studio.data.errors import DataError
from studio.data.pipeline import load_data, load_project_data
from tests.data.conftest import section, series_csv

Write = Callable[[str, str | bytes], Path]


def first_batch(dataset, count: int = 4) -> tuple[Any, torch.Tensor]:
    return dataset[list(range(count))]


def test_csv_table(iris_csv: Path) -> None:
    data = load_data(section(kind="table", path="iris.csv"), iris_csv.parent)
    assert data.inputs[0].shape == (4,) and data.class_names == [
        "setosa",
        "versicolor",
        "virginica",
    ]
    # 15 rows × 0.15 rounds to 2 each; stratified, so the 2 come from different classes.
    assert data.split_sizes() == {"train": 11, "validation": 2, "test": 2}
    assert max(np.bincount(data.prepared.target[data.split.test])) == 1  # type: ignore[index]
    x, y = first_batch(data.train)
    assert x.shape == (4, 4) and x.dtype == torch.float32 and y.dtype == torch.int64
    single_x, single_y = data.train[0]
    assert single_x.shape == (4,) and single_y.shape == ()
    assert torch.equal(single_x, x[0])


def test_png_folder(image_folder: Path) -> None:
    settings = section(kind="image_folder", path="pets", size=[8, 8], color="grayscale")
    data = load_data(settings, image_folder.parent)
    x, _y = first_batch(data.train)
    assert x.shape == (4, 1, 8, 8) and x.dtype == torch.float32
    assert data.num_classes == 3 and data.signature.kind == "image"
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0  # auto: min-max to [0, 1]


@pytest.mark.parametrize("gzipped", [True, False])
def test_idx_files(mnist_like: dict[str, Path], gzipped: bool) -> None:
    prefix = "train" if gzipped else "t10k"
    settings = section(
        kind="idx",
        images=mnist_like[f"{prefix}_images"].name,
        labels=mnist_like[f"{prefix}_labels"].name,
    )
    data = load_data(settings, mnist_like["train_images"].parent)
    x, _ = first_batch(data.train, 2)
    assert x.shape == (2, 1, 6, 5) and data.class_names == ["0", "1", "2", "3"]


def test_npz(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.random.default_rng(0).random((40, 5)), y=np.arange(40) % 2)
    data = load_data(section(kind="arrays", path="d.npz"), tmp_path)
    x, y = first_batch(data.train)
    assert x.shape == (4, 5) and y.dtype == torch.int64


def test_text_csv(write: Write) -> None:
    rows = [
        f"review number {i} {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}"
        for i in range(40)
    ]
    path = write("reviews.csv", "text,label\n" + "\n".join(rows) + "\n")
    data = load_data(section(kind="text", path="reviews.csv", max_length=8), path.parent)
    x, _y = first_batch(data.train)
    assert x.shape == (4, 8) and x.dtype == torch.int64
    assert data.inputs[0].dtype == "long"
    vocabulary = data.vocabulary
    assert vocabulary is not None and vocabulary[:2] == ["<pad>", "<unk>"]
    assert len(vocabulary) == data.inputs[0].cardinality
    # Numbers seen only in validation and test texts are unknown to the vocabulary.
    unseen = {str(i) for i in data.split.validation.tolist() + data.split.test.tolist()}
    assert not unseen & set(vocabulary)


def test_series_csv(write: Write) -> None:
    path = write("s.csv", series_csv(steps=100))  # 15 validation steps: windows of 8 + 2 fit
    settings = section(
        kind="series",
        path="s.csv",
        series_id_column="sensor",
        time_column="t",
        columns=["temperature", "pressure"],
        window=8,
        horizon=2,
    )
    data = load_data(settings, path.parent)
    x, y = first_batch(data.train)
    assert x.shape == (4, 8, 2) and y.shape == (4, 4)
    assert data.signature.kind == "sequence" and data.signature.task == "regression"


def test_relative_paths_start_at_the_project_folder(
    tmp_path: Path, iris_csv: Path, registry
) -> None:
    project = Project("p", registry, data=section(kind="table", path="iris.csv"))
    project.save(tmp_path / "p.strata")
    assert load_project_data(project).inputs[0].shape == (4,)
    project.path = tmp_path / "elsewhere" / "p.strata"
    with pytest.raises(DataError, match=r"^iris\.csv: no such file"):
        load_project_data(project)


def test_no_data_named() -> None:
    with pytest.raises(DataError, match="names no data"):
        load_data(DataSection())
    with pytest.raises(DataError, match="no dataset named 'mnist'"):
        load_data(DataSection(dataset="mnist"))


def test_the_same_seed_gives_the_same_split_through_the_pipeline() -> None:
    a = load_data(DataSection.model_validate({"dataset": "digits", "splits": {"seed": 4}}))
    b = load_data(DataSection.model_validate({"dataset": "digits", "splits": {"seed": 4}}))
    c = load_data(DataSection.model_validate({"dataset": "digits", "splits": {"seed": 5}}))
    assert torch.equal(a.train.indices, b.train.indices)
    assert not torch.equal(a.train.indices, c.train.indices)


def test_unlabelled_arrays_give_the_input_as_target(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((20, 3)).astype(np.float32))
    data = load_data(section(kind="arrays", path="x.npy"), tmp_path)
    x, y = first_batch(data.train)
    assert data.signature.task == "none" and torch.equal(x, y)


def test_categorical_index_inputs_are_a_pair(write: Write) -> None:
    text = (
        "colour,size,price\n"
        + "\n".join(
            f"{c},{s},{i}"
            for i, (c, s) in enumerate(
                [("red", 1.0), ("blue", 2.0), ("red", 3.0), ("green", 4.0)] * 5
            )
        )
        + "\n"
    )
    path = write("cars.csv", text)
    settings = section(
        kind="table", path="cars.csv", categorical_encoding="index", task="regression"
    )
    data = load_data(settings, path.parent)
    (numeric, ids), _y = first_batch(data.train)
    assert numeric.dtype == torch.float32 and numeric.shape == (4, 1)
    assert ids.dtype == torch.int64 and ids.shape == (4, 1)
    assert [s.name for s in data.inputs] == ["features", "categories"]
