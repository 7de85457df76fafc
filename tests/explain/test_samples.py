"""Samples from files: an image or a CSV row becomes one model input, or a clear sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.explain import ExplainError
from studio.explain.samples import load_sample_file, parse_table_row

NAMES = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def test_a_row_with_or_without_header_is_read() -> None:
    np.testing.assert_allclose(parse_table_row("5.1,3.5,1.4,0.2\n", 4), [5.1, 3.5, 1.4, 0.2])
    text = "species,petal_width,petal_length,sepal_width,sepal_length\nx,0.2,1.4,3.5,5.1\n"
    np.testing.assert_allclose(parse_table_row(text, 4, names=NAMES), [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_allclose(parse_table_row("1;2;3;4", 4), [1, 2, 3, 4])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("1,2,3", "has 3 values; the model takes 4 numbers (sepal_length"),
        ("1,2,abc,4", "'abc' in petal_length is not a number"),
    ],
)
def test_a_bad_row_is_a_sentence(text: str, message: str) -> None:
    with pytest.raises(ExplainError, match=message.replace("(", r"\(")):
        parse_table_row(text, 4, names=NAMES)


def test_an_image_file_is_resized_and_scaled_to_the_data(tmp_path: Path) -> None:
    picture = np.zeros((20, 30, 3), dtype=np.uint8)
    picture[:, 15:] = 255
    path = tmp_path / "half.png"
    Image.fromarray(picture).save(path)
    sample = load_sample_file(path, (1, 8, 8), value_range=(0.0, 16.0))
    assert sample.shape == (1, 8, 8) and sample.dtype == np.float32
    assert sample[0, :, 0].max() < 1.0 and sample[0, :, -1].min() > 15.0
    rgb = load_sample_file(path, (3, 8, 8))
    assert rgb.shape == (3, 8, 8) and rgb.max() <= 1.0


def test_wrong_files_are_refused_in_words(tmp_path: Path) -> None:
    text = tmp_path / "row.csv"
    text.write_text("1,2,3,4\n", encoding="utf-8")
    not_image = tmp_path / "fake.png"
    not_image.write_text("hello", encoding="utf-8")
    with pytest.raises(ExplainError, match="takes images"):
        load_sample_file(text, (1, 8, 8))
    with pytest.raises(ExplainError, match="not an image"):
        load_sample_file(not_image, (1, 8, 8))
    with pytest.raises(ExplainError, match="not a picture"):
        load_sample_file(not_image, (4,))
    with pytest.raises(ExplainError, match="no such file"):
        load_sample_file(tmp_path / "missing.csv", (4,))


def test_a_row_file_of_gigabytes_is_refused_unread(tmp_path: Path) -> None:
    """A "row" file a user is handed may be huge (sparse here: it takes no disk)."""
    huge = tmp_path / "row.csv"
    with huge.open("wb") as handle:
        handle.truncate(2 * 2**30)
    with pytest.raises(ExplainError, match=r"row\.csv: table row file is 2\.0 GiB, larger than"):
        load_sample_file(huge, (4,))
    bom = tmp_path / "excel.csv"
    bom.write_bytes("\ufeffa,b,c,d\n1,2,3,4\n".encode())
    assert load_sample_file(bom, (4,)).tolist() == [1, 2, 3, 4]
