"""Reading a file someone else made: a FIFO, a device, a link out or a huge file is refused
at once with a sentence naming it, instead of hanging or reading gigabytes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from studio.core.errors import FileReadError
from studio.core.safe_files import open_regular, read_bytes_bounded, read_text_bounded

pytestmark = pytest.mark.timeout(20)


def test_a_regular_file_reads_whole(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\n', encoding="utf-8")
    assert read_text_bounded(path, 1024) == '{"epoch": 1}\n'
    with open_regular(path) as handle:
        assert handle.readline() == b'{"epoch": 1}\n'


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    os.mkfifo(path)
    with pytest.raises(FileReadError, match=r"metrics\.jsonl: is a named pipe"):
        read_bytes_bounded(path, 1024, what="metrics file")


@pytest.mark.skipif(sys.platform == "win32", reason="no /dev/zero")
def test_a_link_to_an_endless_device_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.symlink_to("/dev/zero")
    with pytest.raises(FileReadError, match="character device"):
        read_bytes_bounded(path, 1024)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="folder"):
        read_bytes_bounded(tmp_path, 1024)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match=r"nope\.json: no such file"):
        read_bytes_bounded(tmp_path / "nope.json", 1024, what="run config")


def test_a_file_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 4096)
    with pytest.raises(FileReadError, match=r"big\.json: file is 4\.0 KiB, larger than"):
        read_bytes_bounded(path, 1024)


def test_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("private", encoding="utf-8")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").symlink_to(outside)
    with pytest.raises(FileReadError, match="outside"):
        read_bytes_bounded(folder / "config.json", 1024, within=folder)
    inside = folder / "real.json"
    inside.write_text("{}", encoding="utf-8")
    (folder / "alias.json").symlink_to(inside)
    assert read_bytes_bounded(folder / "alias.json", 1024, within=folder) == b"{}"


def test_bytes_that_are_not_text_are_named(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"{\xff}")
    with pytest.raises(FileReadError, match="not UTF-8"):
        read_text_bounded(path, 1024)
