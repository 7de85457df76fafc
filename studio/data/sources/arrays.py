"""NumPy arrays: a `.npz` archive (inputs and targets by name) or `.npy` files.

Arrays are loaded with ``allow_pickle=False``: opening a data file never runs code, and an
archive that holds Python objects is refused with a message instead. What the arrays are
(table, images, sequences, token ids) follows from their shape unless the user says.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from studio.core.data_settings import ArraySource
from studio.core.errors import FileReadError
from studio.core.safe_files import open_regular
from studio.data.access import check_data_file
from studio.data.budget import check_memory
from studio.data.csv_reader import check_file
from studio.data.errors import DataError
from studio.data.paths import resolve_path
from studio.data.raw import ArrayEncoder, FeatureAxis, RawData
from studio.data.signature import DataKind, Task

INPUT_KEYS = ("x", "X", "inputs", "images", "features", "data")
TARGET_KEYS = ("y", "Y", "targets", "target", "labels", "label")
MAX_AUTO_CLASSES = 20
_ZIP_MAGIC = b"PK\x03\x04"


def read_arrays(source: ArraySource, base_dir: Path | None) -> RawData:
    """Inputs (and targets, when there are any) from `.npz` or `.npy` files."""
    label = source.path
    path = resolve_path(source.path, base_dir)
    check_file(path, label)
    if path.suffix.lower() == ".npz":
        inputs, targets, input_name = _from_archive(path, label, source)
        targets_label = f"{label}[{input_name}]"
    else:
        inputs = _load(path, label)
        targets = None
        targets_label = label
        if source.targets is not None:
            targets = _load(resolve_path(source.targets, base_dir), source.targets)
            targets_label = source.targets
    _check_numeric(inputs, label)
    kind, name, array, axis, cardinality = _arrange(inputs, source.layout, label)
    encoder = ArrayEncoder(
        [(name, array, axis)], cardinalities={name: cardinality} if cardinality else None
    )
    if targets is None:
        return RawData(label, kind, "none", encoder, None)
    if len(targets) != len(array):
        raise DataError(
            f"{targets_label}: {len(targets):,} targets, but {label} holds {len(array):,} "
            "samples; each sample needs exactly one target"
        )
    task, target, class_names = _targets(targets, source.task, targets_label)
    return RawData(label, kind, task, encoder, target, class_names)


_OBJECTS = (
    "holds Python objects, which are not loaded (loading them could run code); save plain "
    "numeric arrays with numpy.save"
)
_LARGER_ADVICE = "use a smaller file, or raise STRATA_DATA_MEMORY if the machine can hold it"


def _load(path: Path, label: str) -> np.ndarray:
    """One `.npy` array, its header checked against the file and the memory budget first."""
    size = check_data_file(path, label)
    try:
        with open_regular(path, what="NumPy file") as handle:
            if handle.read(4) == _ZIP_MAGIC:
                raise DataError(f"{label}: is an .npz archive; name it with the .npz suffix")
            handle.seek(0)
            shape, dtype = _array_header(handle, label)
            nbytes = _check_array_size(label, shape, dtype)
            available = size - handle.tell()
            if nbytes > available:
                raise DataError(
                    f"{label}: truncated: the header announces an array of "
                    f"{' × '.join(map(str, shape))} {dtype} ({nbytes:,} bytes) but the file "
                    f"holds {available:,}; save it again"
                )
            handle.seek(0)
            return np.asarray(np.lib.format.read_array(handle, allow_pickle=False))
    except FileReadError as exc:
        raise DataError(f"{label}: {exc}") from None
    except ValueError as exc:
        raise DataError(f"{label}: not a NumPy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{label}: not a NumPy file, or cut short ({exc})") from None


def _array_header(handle: IO[bytes], label: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(shape, dtype) from an `.npy` header, read without reading the values."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            # Version 3.0 (UTF-8 field names) has no public reader of its own.
            read = np.lib.format._read_array_header  # type: ignore[attr-defined]
            shape, _, dtype = read(handle, version)
    except (ValueError, SyntaxError, TypeError, EOFError, OSError) as exc:
        raise DataError(f"{label}: not a NumPy file, or its header is damaged ({exc})") from None
    if dtype.hasobject:
        raise DataError(f"{label}: {_OBJECTS}")
    return tuple(int(d) for d in shape), dtype


def _check_array_size(label: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> int:
    """The bytes an array of this header takes; a `DataError` when over the memory budget."""
    nbytes = math.prod(shape) * dtype.itemsize
    check_memory(
        label, nbytes, f"an array of {' × '.join(map(str, shape))} {dtype}", _LARGER_ADVICE
    )
    return nbytes


def _check_member(archive: np.lib.npyio.NpzFile, key: str, label: str) -> None:
    """An archive member's header against the budget, before numpy allocates what it says.

    A deflated member of zeros is tiny in the archive whatever its header announces, and
    numpy allocates the whole announced array before it starts decompressing.
    """
    zipped = archive.zip
    assert zipped is not None  # open until the archive's `with` ends
    names = set(zipped.namelist())
    member = key if key in names else f"{key}.npy"
    with zipped.open(member) as stream:
        shape, dtype = _array_header(stream, f"{label}[{key}]")  # type: ignore[arg-type]
    _check_array_size(f"{label}[{key}]", shape, dtype)


def _from_archive(
    path: Path, label: str, source: ArraySource
) -> tuple[np.ndarray, np.ndarray | None, str]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise DataError(f"{label}: not a NumPy .npz archive, or cut short ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{label}: is a single array; name it with the .npy suffix")
    with archive:
        keys = list(archive.files)
        inputs_key = source.inputs_key or _pick(keys, INPUT_KEYS)
        if inputs_key is None and len(keys) == 1:
            inputs_key = keys[0]
        if inputs_key is None:
            raise DataError(
                f"{label}: holds {', '.join(map(repr, keys))}; say which array holds the inputs "
                f"(inputs_key), or name it one of {', '.join(INPUT_KEYS)}"
            )
        targets_key = source.targets_key or _pick([k for k in keys if k != inputs_key], TARGET_KEYS)
        for key in (inputs_key, targets_key):
            if key is not None and key not in keys:
                raise DataError(f"{label}: no array named {key!r} (it holds {', '.join(keys)})")
        try:
            for key in (inputs_key, targets_key):
                if key is not None:
                    _check_member(archive, key, label)
            inputs = archive[inputs_key]
            targets = archive[targets_key] if targets_key is not None else None
        except ValueError as exc:
            if "allow_pickle" in str(exc):
                raise DataError(
                    f"{label}: holds Python objects, which are not loaded (loading them could "
                    "run code); save plain numeric arrays with numpy.savez"
                ) from None
            raise DataError(f"{label}: the archive is damaged ({exc})") from None
        # zipfile reports damaged entry flags as "encrypted" (RuntimeError) or as an
        # unsupported feature (NotImplementedError).
        except (OSError, EOFError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
            raise DataError(f"{label}: the archive is damaged ({exc})") from None
    return inputs, targets, targets_key or ""


def _pick(keys: list[str], preferred: tuple[str, ...]) -> str | None:
    return next((k for k in preferred if k in keys), None)


def _check_numeric(array: np.ndarray, label: str) -> None:
    if array.dtype.kind not in "biuf":
        raise DataError(f"{label}: the inputs are {array.dtype} values; they must be numbers")
    if array.ndim == 0 or len(array) == 0:
        raise DataError(f"{label}: the inputs hold no samples")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise DataError(
            f"{label}: sample {int(bad[0])} holds a NaN or infinite value at {tuple(bad[1:])}"
        )


def _arrange(
    array: np.ndarray, layout: str, label: str
) -> tuple[DataKind, str, np.ndarray, FeatureAxis | None, int | None]:
    """(kind, input name, array arranged as the model takes it, normalisation axis, ids)."""
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    if layout == "auto":
        layout = "table" if array.ndim <= 2 else "image"
    if layout == "table":
        if array.ndim > 2:
            raise DataError(f"{label}: a table is (samples, features); this is {array.shape}")
        return "table", "features", array.reshape(len(array), -1), FeatureAxis(0), None
    if layout == "image":
        if array.ndim == 3:
            array = array[:, np.newaxis]
        elif array.ndim == 4:
            if array.shape[-1] in (1, 3, 4) and array.shape[1] not in (1, 3, 4):
                array = np.ascontiguousarray(array.transpose(0, 3, 1, 2))
        else:
            raise DataError(
                f"{label}: images are (samples, height, width) or (samples, channels, height, "
                f"width); this is {array.shape}"
            )
        return "image", "image", array, FeatureAxis(0), None
    if layout == "sequence":
        if array.ndim == 2:
            array = array[:, :, np.newaxis]
        if array.ndim != 3:
            raise DataError(
                f"{label}: sequences are (samples, steps, features); this is {array.shape}"
            )
        return "sequence", "window", array, FeatureAxis(1), None
    if array.dtype.kind not in "iub" or array.ndim != 2:
        raise DataError(
            f"{label}: token ids are integers shaped (samples, length); this is "
            f"{array.dtype} {array.shape}"
        )
    if array.min() < 0:
        raise DataError(f"{label}: token ids cannot be negative (found {int(array.min())})")
    return "text", "tokens", array.astype(np.int64), None, int(array.max()) + 1


def _targets(targets: np.ndarray, task: str, label: str) -> tuple[Task, np.ndarray, list[str]]:
    flat = targets.reshape(len(targets), -1)
    classes = task == "classification" or (
        task == "auto" and flat.shape[1] == 1 and _look_like_classes(targets)
    )
    if not classes:
        if targets.dtype.kind not in "biuf":
            raise DataError(f"{label}: regression targets must be numbers, not {targets.dtype}")
        return "regression", flat.astype(np.float32), []
    if flat.shape[1] != 1:
        raise DataError(f"{label}: class labels are one per sample; these are {targets.shape}")
    uniques, codes = np.unique(flat[:, 0], return_inverse=True)
    if len(uniques) < 2:
        raise DataError(
            f"{label}: every target is {uniques[0].item()!r}; a classifier needs at least two "
            "classes"
        )
    names = [
        str(int(u)) if isinstance(u, float) and u.is_integer() else str(u) for u in uniques.tolist()
    ]
    return "classification", codes.astype(np.int64).reshape(-1), names


def _look_like_classes(targets: np.ndarray) -> bool:
    if targets.dtype.kind in "biuUS":
        return True  # integers, booleans and strings in an array file are labels
    if targets.dtype.kind != "f" or not np.isfinite(targets).all():
        return False
    return (
        bool(np.all(targets == np.round(targets))) and len(np.unique(targets)) <= MAX_AUTO_CLASSES
    )
