"""Image folders: one subfolder per class, read with Pillow, resized, grayscale or RGB.

Images are kept as uint8 (a quarter of the memory of float32) and become floats batch by
batch. A file that cannot be decoded is an error naming it, or, when the user chose to skip
unreadable images, left out and counted in the notes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from studio.core.data_settings import ImageFolderSource
from studio.data.access import check_data_file
from studio.data.budget import check_memory
from studio.data.errors import BadImageError, DataError
from studio.data.paths import resolve_path
from studio.data.raw import ArrayEncoder, FeatureAxis, RawData

# Beyond this an image is refused before it is decoded (Pillow's own warning starts at 89 MP).
MAX_IMAGE_PIXELS = 64_000_000

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)


def read_image_folder(source: ImageFolderSource, base_dir: Path | None) -> RawData:
    """Every image under ``path/<class>/``, resized to `source.size`, with its class index."""
    label = source.path
    path = resolve_path(source.path, base_dir)
    classes = _class_folders(path, label)
    files: list[Path] = []
    targets: list[int] = []
    for index, folder in enumerate(classes):
        images = sorted(
            f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
        )
        if not images:
            raise DataError(
                f"{label}/{folder.name}: the class folder has no images "
                f"({', '.join(sorted(IMAGE_SUFFIXES))}); add some or remove the folder"
            )
        files.extend(images)
        targets.extend([index] * len(images))

    height, width = source.size
    channels = 1 if source.color == "grayscale" else 3
    check_memory(
        label,
        len(files) * channels * height * width,
        f"{len(files):,} images of {channels} × {height} × {width}",
        "lower the image size (size) or use fewer images",
    )
    pixels = np.empty((len(files), channels, height, width), dtype=np.uint8)
    readable = np.ones(len(files), dtype=bool)
    problems: list[str] = []

    def load(i: int) -> None:
        name = f"{label.rstrip('/')}/{files[i].relative_to(path).as_posix()}"
        try:
            pixels[i] = decode_image(files[i], (height, width), source.color, name=name)
        except BadImageError as exc:
            if source.bad_images == "fail":
                raise BadImageError(
                    f"{exc}. Replace or remove the file, or choose to skip unreadable images."
                ) from None
            readable[i] = False
            problems.append(str(exc))

    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # Pillow decodes without the GIL, so threads overlap the decoding of many files.
        for _ in pool.map(load, range(len(files))):
            pass

    notes: list[str] = []
    target = np.asarray(targets, dtype=np.int64)
    if not readable.all():
        skipped = int((~readable).sum())
        problems.sort()
        notes.append(
            f"{label}: {skipped} unreadable image{'s' if skipped > 1 else ''} skipped "
            f"(first: {problems[0]})"
        )
        pixels, target = pixels[readable], target[readable]
        for index, folder in enumerate(classes):
            if not (target == index).any():
                raise DataError(f"{label}/{folder.name}: none of the class's images can be read")
    encoder = ArrayEncoder(
        [("image", pixels, FeatureAxis(0))],
        channel_names=["gray"] if channels == 1 else ["red", "green", "blue"],
    )
    return RawData(
        label, "image", "classification", encoder, target, [c.name for c in classes], notes=notes
    )


def _class_folders(path: Path, label: str) -> list[Path]:
    if not path.exists():
        raise DataError(f"{label}: no such folder")
    if not path.is_dir():
        raise DataError(f"{label}: is a file; choose the folder that holds one folder per class")
    entries = sorted(path.iterdir())
    classes = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    if not classes:
        loose = [e for e in entries if e.suffix.lower() in IMAGE_SUFFIXES]
        if loose:
            raise DataError(
                f"{label}: the images must be in one subfolder per class (e.g. {label}/cat/, "
                f"{label}/dog/); this folder holds {len(loose)} images directly"
            )
        raise DataError(f"{label}: the folder is empty; it needs one subfolder of images per class")
    if len(classes) < 2:
        raise DataError(
            f"{label}: only one class folder ({classes[0].name!r}); a classifier needs at least two"
        )
    return classes


def _check_pixels(size: tuple[int, int], name: str) -> None:
    """Refuse an image whose header announces more pixels than any sample needs.

    The header is read before any pixel: a 1 MB PNG of one colour can announce 169
    megapixels, half a gigabyte once decoded, and the reader decodes several at once.
    """
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        raise BadImageError(
            f"{name}: the image is {width} × {height} ({width * height / 1e6:.0f} megapixels), "
            f"more than the {MAX_IMAGE_PIXELS // 1_000_000} megapixels an image may have; "
            "shrink the file"
        )


def decode_image(
    path: Path, size: tuple[int, int], color: str, *, name: str | None = None
) -> np.ndarray:
    """One image as uint8 (C, H, W), or a `BadImageError` naming the file."""
    from PIL import Image, UnidentifiedImageError

    name = name or str(path)
    try:
        check_data_file(path, name)
        with Image.open(path) as image:
            _check_pixels(image.size, name)
            image.load()
            converted = image.convert("L" if color == "grayscale" else "RGB")
    except DataError as exc:
        raise BadImageError(str(exc)) from None
    except Image.DecompressionBombError:
        raise BadImageError(
            f"{name}: the image is larger than {MAX_IMAGE_PIXELS:,} pixels (a decompression "
            "bomb, or a very large photo); shrink the file"
        ) from None
    except UnidentifiedImageError:
        raise BadImageError(
            f"{name}: not an image Pillow can read (damaged, cut short, or another kind of file)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow reports a truncated file as OSError("image file is truncated ...").
        raise BadImageError(f"{name}: cannot be read ({exc})") from None
    height, width = size
    if converted.size != (width, height):
        converted = converted.resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(converted, dtype=np.uint8)
    return array[np.newaxis] if array.ndim == 2 else array.transpose(2, 0, 1)
