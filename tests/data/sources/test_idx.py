"""MNIST-style IDX files, plain and gzipped, with the published test pair."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from studio.core.data_settings import IdxSource
from studio.data.errors import DataError
from studio.data.prepare import make_split
from studio.data.sources.idx import read_idx, read_idx_file
from tests.data.conftest import idx_bytes


def source(paths: dict[str, Path], test: bool = False) -> IdxSource:
    names = {k: v.name for k, v in paths.items()}
    extra = (
        {"test_images": names["t10k_images"], "test_labels": names["t10k_labels"]} if test else {}
    )
    return IdxSource(images=names["train_images"], labels=names["train_labels"], **extra)


def test_reads_gzipped_images_and_labels(mnist_like: dict[str, Path]) -> None:
    raw = read_idx(source(mnist_like), mnist_like["train_images"].parent)
    (images,) = raw.encoder.encode()
    assert images.shape == (40, 1, 6, 5) and images.dtype == np.uint8
    assert raw.class_names == ["0", "1", "2", "3"]
    assert raw.target is not None and raw.target[:5].tolist() == [0, 1, 2, 3, 0]
    expected = read_idx_file(mnist_like["train_images"], "x")
    np.testing.assert_array_equal(images[:, 0], expected)


def test_the_test_pair_becomes_the_test_split(mnist_like: dict[str, Path]) -> None:
    from studio.core.data_settings import SplitSettings

    raw = read_idx(source(mnist_like, test=True), mnist_like["train_images"].parent)
    assert len(raw) == 52
    split = make_split(raw, SplitSettings(validation=0.25, test=0.15, seed=3))
    assert split.test.tolist() == list(range(40, 52))
    assert len(split.validation) == 10 and len(split.train) == 30


def test_label_count_mismatch_names_both_files(tmp_path: Path) -> None:
    images = tmp_path / "train-images"
    labels = tmp_path / "train-labels"
    images.write_bytes(idx_bytes(np.zeros((10, 4, 4), np.uint8)))
    labels.write_bytes(idx_bytes(np.arange(9, dtype=np.uint8) % 2))
    with pytest.raises(
        DataError, match=r"^train-labels: 9 labels, but train-images holds 10 images"
    ):
        read_idx(IdxSource(images="train-images", labels="train-labels"), tmp_path)


def test_truncated_and_foreign_files(tmp_path: Path) -> None:
    data = idx_bytes(np.zeros((10, 4, 4), np.uint8))
    (tmp_path / "cut").write_bytes(data[:-7])
    with pytest.raises(DataError, match=r"^cut: truncated: the header announces 10 × 4 × 4"):
        read_idx_file(tmp_path / "cut", "cut")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(data)[:-10])
    with pytest.raises(DataError, match=r"^cut\.gz: the gzip file is damaged or cut short"):
        read_idx_file(tmp_path / "cut.gz", "cut.gz")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n....")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx_file(tmp_path / "photo.png", "photo.png")
    with pytest.raises(DataError, match="no such file"):
        read_idx_file(tmp_path / "none", "none")


def test_swapped_files_are_explained(mnist_like: dict[str, Path]) -> None:
    names = {k: v.name for k, v in mnist_like.items()}
    swapped = IdxSource(images=names["train_labels"], labels=names["train_images"])
    with pytest.raises(DataError, match="swap the images and labels"):
        read_idx(swapped, mnist_like["train_images"].parent)
