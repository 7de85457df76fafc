"""Fuzzed data files: damaged CSV tables, images, IDX, NPZ/NPY, text and series files either
load or end in a `DataError` with a message; never another exception, never a hang, never a
changed file. Hostile files that nothing can sensibly load must be refused, naming the file."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from studio.core.project import DataSection
from studio.data.errors import DataError
from studio.data.pipeline import load_data

from .conftest import Figures, fuzz_settings, fuzz_timeout, hard_timeout, time_bound

pytestmark = pytest.mark.fuzz

TABLE = "a,b,colour,label\n" + "".join(
    f"{i * 0.5},{i % 7},{['red', 'green'][i % 2]},{['x', 'y', 'z'][i % 3]}\n" for i in range(30)
)
TEXT = "text,label\n" + "".join(
    f'"{"good fun" if i % 2 else "bad, dull"} film {i}",{["pos", "neg"][i % 2]}\n'
    for i in range(30)
)
SERIES = "t,v,w\n" + "".join(f"{t},{np.sin(t / 3):.4f},{t % 5}\n" for t in range(80))


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def png_bytes(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def npz_bytes() -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buffer, x=rng.normal(size=(30, 4)).astype(np.float32), y=np.arange(30) % 3)
    return buffer.getvalue()


IMAGES = np.random.default_rng(0).integers(0, 256, (24, 6, 5), dtype=np.uint8)
LABELS = (np.arange(24) % 4).astype(np.uint8)

# name -> (files written, source settings); the fuzzed file is the first one.
Case = tuple[dict[str, bytes], dict[str, Any]]
CASES: dict[str, Case] = {
    "table": ({"t.csv": TABLE.encode()}, {"kind": "table", "path": "t.csv"}),
    "text": ({"r.csv": TEXT.encode()}, {"kind": "text", "path": "r.csv", "max_length": 8}),
    "series": ({"s.csv": SERIES.encode()}, {"kind": "series", "path": "s.csv", "window": 8}),
    "npz": ({"d.npz": npz_bytes()}, {"kind": "arrays", "path": "d.npz"}),
    "idx": (
        {"img-idx3-ubyte": idx_bytes(IMAGES), "lab-idx1-ubyte": idx_bytes(LABELS)},
        {"kind": "idx", "images": "img-idx3-ubyte", "labels": "lab-idx1-ubyte"},
    ),
    "idx.gz": (
        {
            "img-idx3-ubyte.gz": gzip.compress(idx_bytes(IMAGES), mtime=0),
            "lab-idx1-ubyte.gz": gzip.compress(idx_bytes(LABELS), mtime=0),
        },
        {"kind": "idx", "images": "img-idx3-ubyte.gz", "labels": "lab-idx1-ubyte.gz"},
    ),
    "image": (
        {
            f"pics/{cls}/{cls}{i}.png": png_bytes((8 + i, 9), colour)
            for cls, colour in (("cat", (200, 0, 0)), ("dog", (0, 200, 0)))
            for i in range(4)
        },
        {"kind": "image_folder", "path": "pics", "size": [8, 8]},
    ),
}

ODD_CELLS = [
    b"",
    b"nan",
    b"inf",
    b"-inf",
    b"1e999",
    b'"',
    b'"unclosed',
    b",,,,",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\r",
    b"\n\n\n",
    "\u202e\ud7ff€".encode(),
    b"x" * 100_000,
    b"9" * 400,
]


@st.composite
def damage(draw: st.DrawFn, data: bytes) -> bytes:
    """Truncate, overwrite, insert or delete bytes, or splice in an odd CSV cell."""
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["truncate", "overwrite", "insert", "delete", "cell"]))
        if kind == "truncate":
            data = data[:at]
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data = data[:at] + chunk + data[at + len(chunk) :]
        elif kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 64)) :]
        else:
            data = data[:at] + draw(st.sampled_from(ODD_CELLS)) + data[at:]
    return data


def write_case(folder: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def check_loads_or_refuses(
    folder: Path, source: dict[str, Any], figures: Figures, kind: str
) -> None:
    before = digest(folder)
    section = DataSection.model_validate({"source": source})
    try:
        with time_bound():
            load_data(section, folder)
    except DataError as exc:
        assert str(exc).strip(), "a DataError without a message"
        figures.add("data fuzz: refused with DataError")
    else:
        figures.add("data fuzz: loaded")
    figures.add("data fuzz: cases")
    figures.add(f"data fuzz: {kind} cases")
    assert digest(folder) == before, "loading changed the data files"


def fuzz_one(kind: str) -> Callable[..., None]:
    files, source = CASES[kind]
    victims = sorted(files)

    @fuzz_timeout(default=25)
    @fuzz_settings(default=25)
    @given(data=st.data())
    def test(
        data: st.DataObject, tmp_path_factory: pytest.TempPathFactory, figures: Figures
    ) -> None:
        victim = data.draw(st.sampled_from(victims))
        damaged = dict(files)
        damaged[victim] = data.draw(damage(files[victim]))
        settings = dict(source)
        if kind == "image":
            settings["bad_images"] = data.draw(st.sampled_from(["fail", "skip"]))
        folder = tmp_path_factory.mktemp(f"fuzz-{kind}")
        write_case(folder, damaged)
        check_loads_or_refuses(folder, settings, figures, kind)

    return test


test_fuzzed_table = fuzz_one("table")
test_fuzzed_text = fuzz_one("text")
test_fuzzed_series = fuzz_one("series")
test_fuzzed_npz = fuzz_one("npz")
test_fuzzed_idx = fuzz_one("idx")
test_fuzzed_gzipped_idx = fuzz_one("idx.gz")
test_fuzzed_images = fuzz_one("image")


@hard_timeout(60)
@pytest.mark.parametrize("kind", sorted(CASES))
def test_undamaged_files_load(kind: str, tmp_path: Path) -> None:
    files, source = CASES[kind]
    write_case(tmp_path, files)
    with time_bound():
        load_data(DataSection.model_validate({"source": source}), tmp_path)


def _npz(**arrays: Any) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


class _Marker:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("this must never run",))


def npz_with_flags(flags: int, field: int = 8) -> bytes:
    """The archive with a field of its last central directory entry changed (by default its
    flags: "encrypted", ...; 6: the zip version needed to extract it)."""
    data = bytearray(npz_bytes())
    at = data.rindex(b"PK\x01\x02") + field
    data[at : at + 2] = struct.pack("<H", flags)
    return bytes(data)


# Files that nothing can sensibly load: unsafe (pickled objects), inconsistent, empty, not
# numbers, or not the files they claim to be. name -> (files, source, the path the message names)
MUST_REFUSE: dict[str, tuple[dict[str, bytes], dict[str, Any], str]] = {
    "object npz": (
        {"d.npz": _npz(x=np.array([_Marker()] * 4, dtype=object), y=np.arange(4))},
        {"kind": "arrays", "path": "d.npz"},
        "d.npz",
    ),
    "object npy": (
        {"d.npy": _npy(np.array([_Marker()] * 4, dtype=object), allow_pickle=True)},
        {"kind": "arrays", "path": "d.npy"},
        "d.npy",
    ),
    "mismatched npz": (
        {"d.npz": _npz(x=np.zeros((5, 3)), y=np.arange(4))},
        {"kind": "arrays", "path": "d.npz"},
        "d.npz",
    ),
    "empty npz": (
        {"d.npz": _npz(x=np.zeros((0, 3)), y=np.zeros(0))},
        {"kind": "arrays", "path": "d.npz"},
        "d.npz",
    ),
    "nan npz": (
        {"d.npz": _npz(x=np.full((10, 3), np.nan), y=np.arange(10) % 2)},
        {"kind": "arrays", "path": "d.npz"},
        "d.npz",
    ),
    "complex npz": (
        {"d.npz": _npz(x=np.zeros((10, 3), complex), y=np.arange(10) % 2)},
        {"kind": "arrays", "path": "d.npz"},
        "d.npz",
    ),
    "idx claiming 2**32 rows": (
        {
            "images-idx3-ubyte": bytes([0, 0, 8, 3])
            + struct.pack(">3I", 2**32 - 1, 2**16, 2**16)
            + b"\0" * 64,
            "labels-idx1-ubyte": idx_bytes(LABELS),
        },
        {"kind": "idx", "images": "images-idx3-ubyte", "labels": "labels-idx1-ubyte"},
        "images-idx3-ubyte",
    ),
    "idx of 0 × 2**31 × 2**31 × 2**31": (
        {
            "images-idx3-ubyte": bytes([0, 0, 8, 4]) + struct.pack(">4I", 0, 2**31, 2**31, 2**31),
            "labels-idx1-ubyte": idx_bytes(LABELS),
        },
        {"kind": "idx", "images": "images-idx3-ubyte", "labels": "labels-idx1-ubyte"},
        "images-idx3-ubyte",
    ),
    "idx of 255 dimensions": (
        {
            "images-idx3-ubyte": bytes([0, 0, 8, 255]) + b"\0\0\0\1" * 255,
            "labels-idx1-ubyte": idx_bytes(LABELS),
        },
        {"kind": "idx", "images": "images-idx3-ubyte", "labels": "labels-idx1-ubyte"},
        "images-idx3-ubyte",
    ),
    "gzip bomb-ish idx": (
        {
            "images-idx3-ubyte.gz": gzip.compress(
                bytes([0, 0, 8, 1]) + struct.pack(">I", 50_000_000) + b"\0" * 50_000_000
            ),
            "labels-idx1-ubyte": idx_bytes(LABELS),
        },
        {"kind": "idx", "images": "images-idx3-ubyte.gz", "labels": "labels-idx1-ubyte"},
        "images-idx3-ubyte.gz",
    ),
    "png claiming 60000 x 60000": (
        {
            "p/a/huge.png": png_bytes((1, 1), (0, 0, 0)).replace(
                struct.pack(">II", 1, 1), struct.pack(">II", 60_000, 60_000), 1
            ),
            "p/a/ok.png": png_bytes((4, 4), (0, 0, 0)),
            "p/b/ok.png": png_bytes((4, 4), (9, 9, 9)),
        },
        {"kind": "image_folder", "path": "p", "size": [4, 4]},
        "huge.png",
    ),
    "no images at all": (
        {"pictures/cats/notes.txt": b"hello", "pictures/dogs/x.png": b"\x89PNG\r\n\x1a\n"},
        {"kind": "image_folder", "path": "pictures"},
        "pictures",
    ),
    "400-digit integer in csv": (
        {"t.csv": TABLE.replace("\n1.0,2,", "\n1.0," + "9" * 400 + ",", 1).encode()},
        {"kind": "table", "path": "t.csv"},
        "t.csv",
    ),
    "header only csv": ({"t.csv": b"a,b,label\n"}, {"kind": "table", "path": "t.csv"}, "t.csv"),
    "one-column text": (
        {"r.csv": b"text\nhello\n"},
        {"kind": "text", "path": "r.csv"},
        "r.csv",
    ),
    "a folder given as a csv": (
        {"t.csv/x": b""},
        {"kind": "table", "path": "t.csv"},
        "t.csv",
    ),
    "missing file": ({}, {"kind": "table", "path": "nope.csv"}, "nope.csv"),
}

# Damaged or unusual, but a more lenient reader could load them correctly: the zip entries'
# data is intact whatever their header flags claim, UTF-16 announces itself with a byte-order
# mark, and a long text field is still text.
MAY_LOAD: dict[str, Case] = {
    "npz needing zip version 6.4": (
        {"d.npz": npz_with_flags(64, field=6)},
        {"kind": "arrays", "path": "d.npz"},
    ),
    "npz entry flagged encrypted": (
        {"d.npz": npz_with_flags(0x0001)},
        {"kind": "arrays", "path": "d.npz"},
    ),
    "npz entry flagged compressed patched data": (
        {"d.npz": npz_with_flags(0x0020)},
        {"kind": "arrays", "path": "d.npz"},
    ),
    "text field over 128 KiB on a short row": (
        {"r.csv": TEXT.encode() + b"x" * 200_000 + b"\n"},
        {"kind": "text", "path": "r.csv"},
    ),
    "utf-16 csv": ({"t.csv": TABLE.encode("utf-16")}, {"kind": "table", "path": "t.csv"}),
}


@hard_timeout(60)
@pytest.mark.parametrize("name", sorted(MUST_REFUSE))
def test_hostile_files_are_refused_plainly(
    name: str, tmp_path: Path, figures: Figures, capsys: pytest.CaptureFixture[str]
) -> None:
    files, source, named = MUST_REFUSE[name]
    write_case(tmp_path, files)
    before = digest(tmp_path)
    with pytest.raises(DataError) as caught, time_bound():
        load_data(DataSection.model_validate({"source": source}), tmp_path)
    assert named in str(caught.value), f"the message does not name {named}: {caught.value}"
    assert digest(tmp_path) == before, "loading changed the data files"
    assert "this must never run" not in capsys.readouterr().out
    figures.add("data fuzz: refused with DataError")
    figures.add("data fuzz: cases")
    figures.add("data fuzz: hostile cases")


@hard_timeout(60)
@pytest.mark.parametrize("name", sorted(MAY_LOAD))
def test_odd_files_load_or_are_refused_plainly(name: str, tmp_path: Path, figures: Figures) -> None:
    files, source = MAY_LOAD[name]
    write_case(tmp_path, files)
    check_loads_or_refuses(tmp_path, source, figures, "hostile")


@hard_timeout(60)
@pytest.mark.parametrize("value", ["inf", "-inf", "1e999", "1e300", "-3.5e38"])
@pytest.mark.parametrize("kind", ["table", "series"])
def test_values_a_model_cannot_use_are_refused(
    value: str, kind: str, tmp_path: Path, figures: Figures
) -> None:
    """Infinite, or finite but beyond float32: loaded, they would make every loss NaN."""
    text = TABLE if kind == "table" else SERIES
    lines = text.splitlines()
    cells = lines[5].split(",")
    cells[1] = value
    lines[5] = ",".join(cells)
    files, source = CASES[kind]
    (name,) = files
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="row 6"), time_bound():
        load_data(DataSection.model_validate({"source": source}), tmp_path)
    figures.add("data fuzz: non-finite values refused")
