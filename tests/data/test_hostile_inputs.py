"""Small files and in-range settings that would take more memory than the machine has, files
that are not regular files, and data too small to split: each refused in a sentence naming the
file, the size and the setting to change, before anything large is allocated."""

from __future__ import annotations

import gzip
import io
import os
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from studio.data.csv_reader import read_csv_columns, read_header
from studio.data.errors import BadImageError, DataError
from studio.data.pipeline import load_data
from studio.data.sources.idx import read_idx_file

from .conftest import section

MEMORY = "STRATA_DATA_MEMORY"


def idx_header(type_code: int, *dims: int) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def gzip_of_zeros(header: bytes, count: int) -> bytes:
    """A gzip of `header` and `count` zero bytes, compressed in chunks (a few MB of memory)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0) as stream:
        stream.write(header)
        chunk = bytes(min(count, 2**22))
        for start in range(0, count, len(chunk)):
            stream.write(chunk[: min(len(chunk), count - start)])
    return out.getvalue()


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def png_of_zeros(width: int, height: int) -> bytes:
    """A valid greyscale PNG of `width` × `height` black pixels; tiny, as zeros compress."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    packer = zlib.compressobj(1)
    row = bytes(width + 1)  # the filter byte, then the pixels
    rows = 1000
    parts = [packer.compress(row * rows) for _ in range(height // rows)]
    parts += [packer.compress(row * (height % rows)), packer.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


# --- compressed and declared sizes -------------------------------------------------------------


def test_gzipped_idx_that_decodes_past_the_budget_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few hundred KB of gzip announcing (and holding) 100 MB: refused from the header."""
    monkeypatch.setenv(MEMORY, "16M")
    path = tmp_path / "bomb-idx2-ubyte.gz"
    path.write_bytes(gzip_of_zeros(idx_header(0x08, 1_000_000, 100), 100_000_000))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(DataError, match=r"bomb-idx2-ubyte\.gz: 1000000 × 100 values") as caught:
        read_idx_file(path, path.name)
    assert "95.4 MiB" in str(caught.value) and MEMORY in str(caught.value)


def test_idx_of_nan_values_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x-idx2-ubyte"
    values = np.ones((4, 3), dtype=">f4")
    values[2, 1] = np.nan
    path.write_bytes(idx_header(0x0D, 4, 3) + values.tobytes())
    with pytest.raises(DataError, match=r"x-idx2-ubyte: sample 2 holds a NaN"):
        read_idx_file(path, path.name)


def test_idx_of_zero_rows_is_refused_in_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "img-idx3-ubyte").write_bytes(idx_header(0x08, 0, 4, 4))
    (tmp_path / "lab-idx1-ubyte").write_bytes(idx_header(0x08, 0))
    data = section(kind="idx", images="img-idx3-ubyte", labels="lab-idx1-ubyte")
    with pytest.raises(DataError, match="img-idx3-ubyte: the IDX file holds no samples"):
        load_data(data, tmp_path)


def test_npy_header_claiming_10_to_the_12_rows_is_refused_from_the_header(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(npy_header((10**12, 4)) + bytes(64))
    with pytest.raises(DataError, match=r"x\.npy: an array of 1000000000000 × 4 float32") as e:
        load_data(section(kind="arrays", path="x.npy"), tmp_path)
    assert "14.6 TiB" in str(e.value)


def test_npy_header_larger_than_its_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(npy_header((1000, 4)) + bytes(64))
    with pytest.raises(DataError, match=r"x\.npy: truncated: .*\(16,000 bytes\) but the file"):
        load_data(section(kind="arrays", path="x.npy"), tmp_path)


def test_npz_member_announcing_gigabytes_is_refused_before_numpy_allocates_it(
    tmp_path: Path,
) -> None:
    """A deflated member whose header announces 6 × 10^12 bytes: numpy would allocate first."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", npy_header((6 * 10**12,), "|u1") + bytes(4096))
        archive.writestr("y.npy", npy_header((3,), "<i8") + bytes(24))
    (tmp_path / "d.npz").write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match=r"d\.npz\[x\]: an array of 6000000000000 uint8"):
        load_data(section(kind="arrays", path="d.npz"), tmp_path)


# --- images -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def megapixel_bomb() -> bytes:
    """A real 13,000 × 13,000 (169 megapixel) PNG of a few hundred KB."""
    return png_of_zeros(13_000, 13_000)


def image_folder(root: Path, bomb: bytes) -> None:
    from PIL import Image

    for cls in ("a", "b"):
        (root / "pics" / cls).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (6, 6), (i * 50, 0, 0)).save(root / "pics" / cls / f"{i}.png")
    (root / "pics" / "a" / "huge.png").write_bytes(bomb)


@pytest.mark.timeout(30)
def test_169_megapixel_png_is_refused_naming_the_file(
    tmp_path: Path, megapixel_bomb: bytes
) -> None:
    image_folder(tmp_path, megapixel_bomb)
    data = section(kind="image_folder", path="pics", size=[4, 4])
    with pytest.raises(BadImageError, match=r"pics/a/huge\.png: the image is 13000 × 13000"):
        load_data(data, tmp_path)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("bomb", ["169 megapixels", "past Pillow's own limit"])
def test_skipping_unreadable_images_skips_a_decompression_bomb(
    tmp_path: Path, megapixel_bomb: bytes, bomb: str
) -> None:
    if bomb != "169 megapixels":  # a header alone, announcing 3.6 gigapixels
        megapixel_bomb = png_of_zeros(1, 1).replace(
            struct.pack(">II", 1, 1), struct.pack(">II", 60_000, 60_000), 1
        )
    image_folder(tmp_path, megapixel_bomb)
    data = section(kind="image_folder", path="pics", size=[4, 4], bad_images="skip")
    loaded = load_data(data, tmp_path)
    assert sum(loaded.split_sizes().values()) == 12
    assert any("huge.png" in note for note in loaded.notes)


def test_images_times_their_size_over_the_budget_are_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY, "64M")
    image_folder(tmp_path, png_of_zeros(6, 6))
    data = section(kind="image_folder", path="pics", size=[4096, 4096])
    with pytest.raises(DataError, match=r"pics: 13 images of 3 × 4096 × 4096 would take 624\.0"):
        load_data(data, tmp_path)


# --- settings that multiply -------------------------------------------------------------------


def test_series_window_that_multiplies_past_the_budget_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY, "1M")
    (tmp_path / "s.csv").write_text("v\n" + "".join(f"{i % 7}\n" for i in range(3000)))
    with pytest.raises(DataError, match=r"s\.csv: 1,100 windows of 1,000 steps .*\(window\)"):
        load_data(section(kind="series", path="s.csv", window=1000), tmp_path)


def test_categorical_column_of_many_levels_one_hot_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY, "4M")
    rows = "".join(f"{i},level{i},{i % 2}\n" for i in range(2000))
    (tmp_path / "t.csv").write_text("x,code,label\n" + rows)
    with pytest.raises(DataError, match=r"t\.csv: 2,000 rows of 2,001 features .*categorical_enc"):
        load_data(section(kind="table", path="t.csv", categorical=["code"]), tmp_path)


# --- what is not a data file --------------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_fifo_in_place_of_a_csv_is_refused_without_blocking(tmp_path: Path) -> None:
    """The data tab reads a CSV's header first; on a FIFO that `open` used to block forever."""
    os.mkfifo(tmp_path / "t.csv")
    with pytest.raises(DataError, match=r"t\.csv: is a named pipe \(FIFO\), not a regular file"):
        read_header(tmp_path / "t.csv", "t.csv")


@pytest.mark.timeout(10)
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_link_to_a_device_in_place_of_a_csv_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.csv").symlink_to("/dev/zero")
    with pytest.raises(DataError, match=r"t\.csv: is a character device, not a regular file"):
        load_data(section(kind="table", path="t.csv"), tmp_path)


# --- too little data ----------------------------------------------------------------------------


def test_three_rows_are_too_few_for_a_validation_split(tmp_path: Path) -> None:
    """Trained, they "completed" with a NaN validation loss every epoch."""
    (tmp_path / "t.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,6,z\n")
    with pytest.raises(DataError, match=r"t\.csv: 3 samples are too few.*training gets 3, valid"):
        load_data(section(kind="table", path="t.csv"), tmp_path)


# --- wide files are read in linear time -------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_header_of_100000_columns_is_read_in_linear_time(tmp_path: Path) -> None:
    """Duplicate checks against a list made this quadratic: it took about 10 minutes."""
    names = [f"c{i}" for i in range(100_000)]
    (tmp_path / "w.csv").write_text(",".join(names) + "\n1\n")
    started = time.perf_counter()
    assert read_header(tmp_path / "w.csv", "w.csv") == names
    assert time.perf_counter() - started < 5


@pytest.mark.timeout(120)
def test_a_table_of_20000_columns_is_read_in_linear_time(tmp_path: Path) -> None:
    """Asked for in reverse order, with a short row: every by-name lookup is a dict's or a set's."""
    names = [f"c{i}" for i in range(20_000)]
    rows = ",".join("1" * 20_000) + "\n" + ",".join(["x"] * 10_000 + ["2"] * 10_000) + "\n"
    (tmp_path / "w.csv").write_text(",".join(names) + "\n" + rows)
    started = time.perf_counter()
    columns = read_csv_columns(tmp_path / "w.csv", "w.csv", usecols=names[::-1])
    assert columns.rows == 2 and columns.names == names[::-1]
    assert not columns.numeric["c0"] and list(columns.values["c0"]) == ["1", "x"]
    assert columns.numeric["c19999"] and list(columns.values["c19999"]) == [1.0, 2.0]
    assert time.perf_counter() - started < 30


def test_a_data_path_holding_a_null_character_is_named(tmp_path: Path) -> None:
    """A path from a project or a run's config.json that no file can have ("a\\x00b")."""
    from studio.data.access import check_data_file

    with pytest.raises(DataError, match=r"train\.csv: not a file name"):
        check_data_file(tmp_path / "a\x00b.csv", "train.csv")
