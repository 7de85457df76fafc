"""Real files written by the tests: CSV tables, PNG folders, IDX, NumPy, text and series."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.project import DataSection

IRIS_LIKE = """\
sepal_length,sepal_width,petal_length,petal_width,species
5.1,3.5,1.4,0.2,setosa
4.9,3.0,1.4,0.2,setosa
4.7,3.2,1.3,0.2,setosa
4.6,3.1,1.5,0.2,setosa
5.0,3.6,1.4,0.2,setosa
7.0,3.2,4.7,1.4,versicolor
6.4,3.2,4.5,1.5,versicolor
6.9,3.1,4.9,1.5,versicolor
5.5,2.3,4.0,1.3,versicolor
6.5,2.8,4.6,1.5,versicolor
6.3,3.3,6.0,2.5,virginica
5.8,2.7,5.1,1.9,virginica
7.1,3.0,5.9,2.1,virginica
6.3,2.9,5.6,1.8,virginica
6.5,3.0,5.8,2.2,virginica
"""


def section(**source: object) -> DataSection:
    """A data section reading the given source settings (a dict with ``kind``)."""
    return DataSection.model_validate({"source": source})


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write text (UTF-8) or bytes to a file under tmp_path; returns its path."""

    def write_file(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write_file


@pytest.fixture
def iris_csv(write: Callable[[str, str | bytes], Path]) -> Path:
    return write("iris.csv", IRIS_LIKE)


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (as MNIST's) holding `array`."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return header + dims + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def mnist_like(tmp_path: Path) -> dict[str, Path]:
    """A tiny MNIST-style train pair (gzipped) and test pair (plain)."""
    rng = np.random.default_rng(0)
    paths = {}
    for prefix, count, opener in (("train", 40, gzip.compress), ("t10k", 12, bytes)):
        images = rng.integers(0, 256, (count, 6, 5), dtype=np.uint8)
        labels = (np.arange(count) % 4).astype(np.uint8)
        suffix = ".gz" if prefix == "train" else ""
        image_path = tmp_path / f"{prefix}-images-idx3-ubyte{suffix}"
        label_path = tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}"
        image_path.write_bytes(opener(idx_bytes(images)))
        label_path.write_bytes(opener(idx_bytes(labels)))
        paths[f"{prefix}_images"] = image_path
        paths[f"{prefix}_labels"] = label_path
    return paths


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """pets/{cat,dog,fish}/ with small RGB PNGs of different sizes (and one JPEG)."""
    root = tmp_path / "pets"
    colors = {"cat": (200, 30, 30), "dog": (30, 200, 30), "fish": (30, 30, 200)}
    for index, (name, color) in enumerate(colors.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(6):
            size = (10 + i, 12 + index)
            Image.new("RGB", size, color).save(folder / f"{name}{i}.png")
        (folder / "notes.txt").write_text("not an image")
    Image.new("RGB", (9, 9), (200, 30, 30)).save(root / "cat" / "extra.jpg")
    return root


def series_csv(steps: int = 120, series: tuple[str, ...] = ("a", "b")) -> str:
    """A long-format CSV: series id, time step, two channels, and a label."""
    lines = ["sensor,t,temperature,pressure,state"]
    for s_index, name in enumerate(series):
        for t in range(steps):
            temperature = 20 + 10 * s_index + np.sin(t / 5)
            lines.append(
                f"{name},{t},{temperature:.4f},{1000 + t},{'high' if t % 20 < 10 else 'low'}"
            )
    return "\n".join(lines) + "\n"
