"""The data settings a project file holds: where the data comes from and how it is prepared.

These are plain, validated values (no torch, no numpy) so that a project file is checked the
moment it is opened or edited; `studio.data` reads them to load the data. Every field has a
default, so files written before a field existed keep loading. Paths are stored as the user
chose them; a relative path is relative to the project file's folder.
"""

from __future__ import annotations

import codecs
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

FilePath = Annotated[str, Field(min_length=1, max_length=4096)]
ColumnName = Annotated[str, Field(min_length=1, max_length=256)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
ImageSide = Annotated[int, Field(ge=1, le=4096, strict=True)]


def _known_encoding(name: str) -> str:
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(
            f"{name!r} is not a text encoding Python knows (e.g. utf-8, latin-1)"
        ) from None
    return name


Encoding = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_encoding)]


def _one_character(text: str) -> str:
    if len(text) != 1 or text in '\r\n"':
        raise ValueError("must be a single character other than a quote or a line break")
    return text


Delimiter = Annotated[str, AfterValidator(_one_character)]


class _Settings(BaseModel):
    # Typos in a hand-edited file are reported instead of silently ignored; checked on
    # assignment too, so the window can never store what the file could not load again.
    # Strict: `true` is not the number 1, nor `1` or `"yes"` a switch turned on.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)

    def __setattr__(self, name: str, value: Any) -> None:
        # pydantic stores an assigned value before the cross-field checks reject it, so the
        # whole model is checked with the new value first and a rejected edit changes nothing.
        if name in type(self).model_fields:
            type(self).model_validate({**self.__dict__, name: value})
        super().__setattr__(name, value)


class _DelimitedText(_Settings):
    """How a CSV file is read: its delimiter and encoding."""

    delimiter: Delimiter = ","
    encoding: Encoding = "utf-8"
    # Only used when the user picks it: a file that is not valid in `encoding` is an error
    # that names the line, unless a fallback (e.g. latin-1) was chosen.
    fallback_encoding: Encoding | None = None


class TableSource(_DelimitedText):
    """A CSV table: one row per sample, feature columns and a target column."""

    kind: Literal["table"] = "table"
    path: FilePath
    # None: the last column.
    target: ColumnName | None = None
    # None: every column except the target.
    features: list[ColumnName] | None = None
    # None: the columns whose values are not numbers.
    categorical: list[ColumnName] | None = None
    categorical_encoding: Literal["onehot", "index"] = "onehot"
    task: Literal["auto", "classification", "regression"] = "auto"
    missing: Literal["drop", "mean", "median", "mode", "constant"] = "drop"
    fill_value: Annotated[float, Field(allow_inf_nan=False)] = 0.0


class ImageFolderSource(_Settings):
    """A folder with one subfolder of images per class."""

    kind: Literal["image_folder"] = "image_folder"
    path: FilePath
    # (height, width) every image is resized to; a list in the file (JSON has no tuple), so
    # only the sides are strict.
    size: Annotated[tuple[ImageSide, ImageSide], Field(strict=False)] = (32, 32)
    color: Literal["grayscale", "rgb"] = "rgb"
    bad_images: Literal["fail", "skip"] = "fail"


class IdxSource(_Settings):
    """MNIST-style IDX files (optionally gzipped): an images file and a labels file."""

    kind: Literal["idx"] = "idx"
    images: FilePath
    labels: FilePath
    # The published test pair (e.g. t10k-*), used as the test split when given.
    test_images: FilePath | None = None
    test_labels: FilePath | None = None

    @model_validator(mode="after")
    def _test_files_come_in_pairs(self) -> IdxSource:
        if (self.test_images is None) != (self.test_labels is None):
            raise ValueError("test_images and test_labels go together: give both or neither")
        return self


class ArraySource(_Settings):
    """NumPy arrays: a `.npz` archive, or a `.npy` file with an optional targets `.npy`."""

    kind: Literal["arrays"] = "arrays"
    path: FilePath
    # .npz: the array names; None looks for the usual names (x/inputs/images, y/labels/targets).
    inputs_key: ColumnName | None = None
    targets_key: ColumnName | None = None
    # .npy: a second file holding one target per sample.
    targets: FilePath | None = None
    layout: Literal["auto", "table", "image", "sequence", "tokens"] = "auto"
    task: Literal["auto", "classification", "regression"] = "auto"


class TextSource(_DelimitedText):
    """A CSV with a text column and a label column."""

    kind: Literal["text"] = "text"
    path: FilePath
    text_column: ColumnName = "text"
    label_column: ColumnName = "label"
    tokens: Literal["word", "char"] = "word"
    max_length: Annotated[int, Field(ge=1, le=100_000)] = 64
    max_vocabulary: Annotated[int, Field(ge=3, le=10_000_000)] = 20_000
    min_frequency: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    lowercase: bool = True


class SeriesSource(_DelimitedText):
    """A time-series CSV: one row per time step, one column per series (channel)."""

    kind: Literal["series"] = "series"
    path: FilePath
    # The series fed to the model; None: every numeric column not named below.
    columns: list[ColumnName] | None = None
    # Rows with different ids are separate series; windows never cross from one to another.
    series_id_column: ColumnName | None = None
    # Rows are sorted by it (within each series) and it is not fed to the model.
    time_column: ColumnName | None = None
    task: Literal["forecast", "classification"] = "forecast"
    # Forecast: the series to predict (None: all of `columns`).
    targets: list[ColumnName] | None = None
    # Classification: each window takes the label of its last row.
    label_column: ColumnName | None = None
    window: Annotated[int, Field(ge=1, le=100_000)] = 32
    horizon: Annotated[int, Field(ge=1, le=10_000)] = 1
    stride: Annotated[int, Field(ge=1, le=100_000)] = 1

    @model_validator(mode="after")
    def _classification_needs_labels(self) -> SeriesSource:
        if self.task == "classification" and self.label_column is None:
            raise ValueError("a classification task needs label_column")
        return self


DataSource = Annotated[
    TableSource | ImageFolderSource | IdxSource | ArraySource | TextSource | SeriesSource,
    Field(discriminator="kind"),
]


class SplitSettings(_Settings):
    """How samples are divided into training, validation and test sets."""

    validation: Fraction = 0.15
    test: Fraction = 0.15
    seed: Seed = 0
    # Classification only: each split keeps the class proportions of the whole.
    stratify: bool = True

    @model_validator(mode="after")
    def _leave_data_to_train_on(self) -> SplitSettings:
        if self.validation + self.test > 0.9:
            raise ValueError("validation and test together must leave at least 10% for training")
        return self


class PreprocessingSettings(_Settings):
    """Normalisation, fitted on the training split only and saved with each run."""

    # auto: standardise tables and series, scale images to [0, 1], leave token ids alone.
    normalize: Literal["auto", "none", "standardize", "minmax"] = "auto"
    # Regression: standardise the targets too (evaluation reports them in the original units).
    normalize_target: bool = True


class AugmentationSettings(_Settings):
    """Random changes to training images (never to validation or test images)."""

    flip_horizontal: bool = False
    flip_vertical: bool = False
    # Largest rotation, in degrees, either way.
    rotation: Annotated[float, Field(ge=0.0, le=180.0, allow_inf_nan=False)] = 0.0
    # Largest fraction of the side cut away by a random crop (resized back to full size).
    crop: Annotated[float, Field(ge=0.0, le=0.5, allow_inf_nan=False)] = 0.0
    # Brightness is multiplied by a factor in [1 - brightness, 1 + brightness].
    brightness: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    # Gaussian noise, as a fraction of the training pixels' standard deviation.
    noise: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0

    @property
    def enabled(self) -> bool:
        return bool(
            self.flip_horizontal
            or self.flip_vertical
            or self.rotation
            or self.crop
            or self.brightness
            or self.noise
        )


class LoaderSettings(_Settings):
    """How batches are fed to training."""

    # Background processes preparing batches; 0 prepares them in the training process.
    workers: Annotated[int, Field(ge=0, le=64)] = 0
    shuffle: bool = True
    drop_last: bool = False
