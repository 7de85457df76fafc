"""Readers of the bundled datasets (the registry names them in `studio.data.catalog`).

The files live in ``assets/datasets`` (see its README for sources and licences); the shapes
and sine datasets are generated from a fixed seed. Every reader takes the project's data
section (for the split fractions a time series needs) and returns a `RawData`.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from studio.core.data_settings import TableSource, TextSource
from studio.core.project import DataSection
from studio.core.resources import assets_dir
from studio.data.errors import DataError
from studio.data.generators import SHAPE_CLASSES, generate_shapes, generate_sine_series
from studio.data.raw import ArrayEncoder, FeatureAxis, RawData
from studio.data.sources.series import SeriesData, series_raw_data
from studio.data.sources.table import read_table
from studio.data.sources.text import read_text

SHAPES_COUNT = 3000
SINE_SERIES, SINE_LENGTH, SINE_WINDOW = 8, 600, 32
TEXT_MAX_LENGTH = 64


def datasets_dir() -> Path:
    return assets_dir() / "datasets"


def _bundled_file(name: str) -> Path:
    path = datasets_dir() / name
    if not path.is_file():
        raise DataError(
            f"the bundled file {name} is missing from {datasets_dir()}; reinstall Strata Studio"
        )
    return path


def read_iris(section: DataSection) -> RawData:
    path = _bundled_file("iris.csv")
    raw = read_table(TableSource(path=str(path), target="species"), None)
    raw.name = "iris"
    return raw


def read_diabetes(section: DataSection) -> RawData:
    path = _bundled_file("diabetes.csv")
    raw = read_table(TableSource(path=str(path), target="progression", task="regression"), None)
    raw.name = "diabetes"
    return raw


def read_digits(section: DataSection) -> RawData:
    path = _bundled_file("digits.csv.gz")
    with gzip.open(path, "rt", encoding="ascii") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.uint8)
    images = np.ascontiguousarray(table[:, :64].reshape(-1, 1, 8, 8))
    labels = table[:, 64].astype(np.int64)
    encoder = ArrayEncoder([("image", images, FeatureAxis(0))], channel_names=["ink"])
    return RawData(
        "digits", "image", "classification", encoder, labels, [str(d) for d in range(10)]
    )


def read_shapes(section: DataSection) -> RawData:
    images, labels, masks = generate_shapes(SHAPES_COUNT, size=32, seed=0)
    encoder = ArrayEncoder([("image", images, FeatureAxis(0))], channel_names=["gray"])
    return RawData(
        "shapes",
        "image",
        "classification",
        encoder,
        labels,
        list(SHAPE_CLASSES),
        aux={"mask": masks},
    )


def read_sine(section: DataSection) -> RawData:
    waves = generate_sine_series(SINE_SERIES, length=SINE_LENGTH, channels=1, seed=0)
    series = [SeriesData(f"series {i + 1}", w, w) for i, w in enumerate(waves)]
    return series_raw_data(
        "sine",
        ["value"],
        series,
        [],
        window=SINE_WINDOW,
        horizon=1,
        stride=1,
        splits=section.splits,
    )


def read_reviews(section: DataSection) -> RawData:
    path = _bundled_file("reviews.csv")
    raw = read_text(TextSource(path=str(path), max_length=TEXT_MAX_LENGTH), None)
    raw.name = "text"
    return raw
