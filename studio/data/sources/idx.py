"""MNIST-style IDX files, plain or gzipped: the format of MNIST, Fashion-MNIST and EMNIST.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values. The images file and the labels file of
a pair must agree on the number of samples; the published test pair, when given, becomes the
test split.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from studio.core.data_settings import IdxSource
from studio.core.errors import FileReadError
from studio.core.safe_files import open_regular, size_text
from studio.data.budget import check_memory
from studio.data.csv_reader import check_file
from studio.data.errors import DataError
from studio.data.paths import resolve_path
from studio.data.raw import ArrayEncoder, FeatureAxis, RawData

_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx_file(path: Path, label: str) -> np.ndarray:
    """The array an IDX file holds, in native byte order.

    The header's dimensions say how many bytes the values take; that size is checked against
    the file (or, gzipped, against the memory budget) before anything is decoded, and no more
    than that is ever decompressed: a 4 MB gzip of zeros cannot become 8 GB.
    """
    check_file(path, label)
    try:
        with open_regular(path, what="IDX file") as handle:
            size = os.fstat(handle.fileno()).st_size
            compressed = handle.read(2) == _GZIP_MAGIC
            handle.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=handle) as stream:
                    return _read_values(stream, label, file_size=size, compressed=True)
            return _read_values(handle, label, file_size=size, compressed=False)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{label}: the gzip file is damaged or cut short ({exc})") from None
    except FileReadError as exc:
        raise DataError(f"{label}: {exc}") from None
    except OSError as exc:
        raise DataError(f"{label}: cannot be read ({exc.strerror or exc})") from None


def _read_values(
    stream: IO[bytes] | gzip.GzipFile, label: str, *, file_size: int, compressed: bool
) -> np.ndarray:
    """Header, then exactly the bytes it announces, from a plain or decompressing stream."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _TYPES:
        raise DataError(
            f"{label}: not an IDX file (it should start with two zero bytes and a type code, "
            "like MNIST's train-images-idx3-ubyte)"
        )
    dtype, ndim = _TYPES[magic[2]], magic[3]
    header = stream.read(4 * ndim)
    if ndim == 0 or len(header) < 4 * ndim:
        raise DataError(f"{label}: the IDX header is incomplete")
    dims = tuple(int(d) for d in np.frombuffer(header, dtype=">u4", count=ndim))
    shape = " × ".join(map(str, dims))
    # Python's integers: numpy's int64 product wraps for a header announcing 2**64 values.
    expected = math.prod(dims) * dtype.itemsize
    if dims[0] == 0:
        raise DataError(f"{label}: the IDX file holds no samples (its shape is {shape})")
    if compressed:
        check_memory(
            label,
            expected,
            f"{shape} values (from a gzip of {size_text(file_size)})",
            "use a smaller file, or raise STRATA_DATA_MEMORY if the machine can hold it",
        )
    else:
        available = file_size - 4 - 4 * ndim
        if available < expected:
            raise _truncated(label, shape, expected, available)
        check_memory(
            label,
            expected,
            f"{shape} values",
            "use a smaller file, or raise STRATA_DATA_MEMORY if the machine can hold it",
        )
    raw = stream.read(expected)
    if len(raw) < expected:
        raise _truncated(label, shape, expected, len(raw))
    values = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize)
    try:
        # A copy in native byte order: writable, and free of the file's whole buffer.
        array = values.reshape(dims).astype(dtype.newbyteorder("="))
    except ValueError:  # e.g. 0 × 2**31 × 2**31: no values, but a shape numpy cannot hold
        raise DataError(
            f"{label}: the IDX header announces an impossible shape {shape}; download the "
            "file again"
        ) from None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise DataError(
            f"{label}: sample {int(bad[0])} holds a NaN or infinite value at {tuple(bad[1:])}; "
            "a model cannot learn from it. Correct or remove the sample."
        )
    return array


def _truncated(label: str, shape: str, expected: int, available: int) -> DataError:
    return DataError(
        f"{label}: truncated: the header announces {shape} values ({expected:,} bytes) but the "
        f"file holds {max(available, 0):,}; download it again"
    )


def read_idx(source: IdxSource, base_dir: Path | None) -> RawData:
    """Images and labels (and the test pair, if given) as one dataset."""
    images, labels = _pair(source.images, source.labels, base_dir)
    split = np.full(len(labels), -1, dtype=np.int8)
    if source.test_images is not None and source.test_labels is not None:
        test_images, test_labels = _pair(source.test_images, source.test_labels, base_dir)
        if test_images.shape[1:] != images.shape[1:]:
            raise DataError(
                f"{source.test_images}: images are {test_images.shape[1:]} but "
                f"{source.images} holds {images.shape[1:]}; use the test pair of the same dataset"
            )
        images = np.concatenate([images, test_images])
        labels = np.concatenate([labels, test_labels])
        split = np.concatenate([split, np.full(len(test_labels), 2, dtype=np.int8)])
    uniques, target = np.unique(labels, return_inverse=True)
    if len(uniques) < 2:
        raise DataError(f"{source.labels}: every label is {uniques[0]}; a classifier needs two")
    if images.ndim == 2:
        kind, axis = "table", FeatureAxis(0)
        name = "features"
    else:
        kind, axis, name = "image", FeatureAxis(0), "image"
    encoder = ArrayEncoder([(name, images, axis)])
    return RawData(
        source.images,
        kind,  # type: ignore[arg-type]
        "classification",
        encoder,
        target.astype(np.int64),
        [str(u) for u in uniques],
        fixed_split=split if (split >= 0).any() else None,
    )


def _pair(
    images_label: str, labels_label: str, base_dir: Path | None
) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx_file(resolve_path(images_label, base_dir), images_label)
    labels = read_idx_file(resolve_path(labels_label, base_dir), labels_label)
    if labels.ndim != 1:
        raise DataError(
            f"{labels_label}: a labels file holds one number per image, but this one has "
            f"shape {labels.shape}; did you swap the images and labels files?"
        )
    if images.ndim == 3:
        images = images[:, np.newaxis]
    elif images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    elif images.ndim not in (2, 4):
        raise DataError(f"{images_label}: holds {images.ndim}-dimensional data, not images")
    if len(labels) != len(images):
        raise DataError(
            f"{labels_label}: {len(labels):,} labels, but {images_label} holds "
            f"{len(images):,} images; the two files must come from the same release (train "
            "with train, test with test)"
        )
    return images, labels
