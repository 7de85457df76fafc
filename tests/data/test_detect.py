"""A first guess at how to read a file the user picked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from studio.core.data_settings import (
    ArraySource,
    IdxSource,
    ImageFolderSource,
    SeriesSource,
    TableSource,
    TextSource,
)
from studio.data.detect import suggest_source
from studio.data.errors import DataError
from tests.data.conftest import series_csv

Write = Callable[[str, str | bytes], Path]


def test_csv_tables_texts_and_series(write: Write, iris_csv: Path) -> None:
    assert isinstance(suggest_source(iris_csv), TableSource)
    text = suggest_source(write("r.csv", "review,stars,label\nnice,5,pos\n"), label="r.csv")
    assert isinstance(text, TextSource)
    assert (text.path, text.text_column, text.label_column) == ("r.csv", "review", "label")
    series = suggest_source(write("s.csv", series_csv(steps=5)))
    assert isinstance(series, SeriesSource) and series.time_column == "t"
    semicolons = suggest_source(write("eu.csv", "a;b;c\n1,5;2;3\n4,5;5;6\n"))
    assert isinstance(semicolons, TableSource) and semicolons.delimiter == ";"


def test_folders_arrays_and_idx_pairs(
    tmp_path: Path, image_folder: Path, mnist_like: dict[str, Path]
) -> None:
    assert isinstance(suggest_source(image_folder), ImageFolderSource)
    np.save(tmp_path / "x.npy", np.zeros(3))
    assert isinstance(suggest_source(tmp_path / "x.npy"), ArraySource)
    guess = suggest_source(mnist_like["train_labels"], label="data/train-labels-idx1-ubyte.gz")
    assert isinstance(guess, IdxSource)
    assert guess.images == "data/train-images-idx3-ubyte.gz"
    assert guess.labels == "data/train-labels-idx1-ubyte.gz"


def test_nothing_there(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        suggest_source(tmp_path / "nope.csv")
