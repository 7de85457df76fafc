"""Image folders: one subfolder per class, resized, grayscale or RGB; bad files named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.data_settings import ImageFolderSource
from studio.data.errors import BadImageError, DataError
from studio.data.sources.images import read_image_folder


def folder(path: Path, **settings: object):
    source = ImageFolderSource(path=path.name, **settings)  # type: ignore[arg-type]
    return read_image_folder(source, path.parent)


def test_classes_are_subfolders_and_images_are_resized(image_folder: Path) -> None:
    raw = folder(image_folder, size=(8, 10), color="rgb")
    assert raw.class_names == ["cat", "dog", "fish"] and raw.kind == "image"
    (images,) = raw.encoder.encode()
    assert images.shape == (19, 3, 8, 10) and images.dtype == np.uint8
    assert raw.target is not None
    assert np.bincount(raw.target).tolist() == [7, 6, 6]  # the cat folder also has a JPEG
    dog = images[raw.target == 1][0]
    assert dog[1].mean() > 150 and dog[0].mean() < 60  # green stays green, channels first
    assert raw.encoder.input_specs()[0].shape == (3, 8, 10)


def test_grayscale(image_folder: Path) -> None:
    raw = folder(image_folder, size=(4, 4), color="grayscale")
    (images,) = raw.encoder.encode()
    assert images.shape == (19, 1, 4, 4)


def test_missing_empty_and_flat_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^nothing: no such folder$"):
        folder(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"^empty: the folder is empty"):
        folder(tmp_path / "empty")
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("L", (4, 4)).save(flat / "a.png")
    with pytest.raises(DataError, match="one subfolder per class"):
        folder(flat)


def test_a_class_folder_without_images_is_named(image_folder: Path) -> None:
    (image_folder / "bird").mkdir()
    with pytest.raises(DataError, match=r"^pets/bird: the class folder has no images"):
        folder(image_folder)


def test_truncated_image_fails_naming_it_or_is_skipped_and_counted(image_folder: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(image_folder / "dog" / "big.png")
    whole = (image_folder / "dog" / "big.png").read_bytes()
    (image_folder / "dog" / "big.png").write_bytes(whole[: len(whole) * 2 // 3])
    (image_folder / "dog" / "fake.png").write_bytes(b"not a png at all")
    with pytest.raises(BadImageError, match=r"^pets/dog/big\.png: cannot be read \(.*truncated"):
        folder(image_folder, bad_images="fail")
    raw = folder(image_folder, bad_images="skip")
    assert len(raw) == 19
    assert any("2 unreadable images skipped" in note for note in raw.notes)
