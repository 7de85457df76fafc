"""Reading files that came from someone else: regular files only, bounded, never a hang.

A project or run folder a user receives may hold a FIFO where `metrics.jsonl` should be (an
`open()` blocks until a writer appears), a link to `/dev/zero` (a `read()` never ends), a
link out of the folder to a file the user never meant to share, or a file of many gigabytes.
Every read of such a file goes through `open_regular`: the file is opened without blocking,
checked with `fstat` on the open descriptor (so a swap between check and open changes
nothing), and refused in a sentence that names it unless it is a regular file; the
`read_*_bounded` helpers also refuse a file larger than the caller's limit before reading it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from studio.core.errors import FileReadError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def describe_kind(mode: int) -> str:
    """What a file of this `st_mode` is, in words ("a named pipe (FIFO)")."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "not a regular file"


def size_text(size: float) -> str:
    """``1536`` → ``"1.5 KiB"``: a size for a message."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def is_within(path: Path, root: Path) -> bool:
    """Whether `path`, with every link followed, lies inside `root` (links followed too)."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


@contextlib.contextmanager
def open_regular(
    path: str | os.PathLike[str], *, within: Path | None = None, what: str = "file"
) -> Iterator[BinaryIO]:
    """Open `path` for reading in binary mode, if and only if it is a regular file.

    Args:
        path: the file.
        within: when given, a path whose links lead out of this folder is refused.
        what: what the file is, for the message ("the run's metrics.jsonl").

    Raises:
        FileReadError: missing, unreadable, not a regular file, or (with `within`) outside.
    """
    path = Path(path)
    if within is not None and not is_within(path, within):
        raise FileReadError(f"{path}: {what} links to a place outside {within}; not read")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileReadError(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise FileReadError(f"{path}: {what} cannot be read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileReadError(f"{path}: is {describe_kind(mode)}, not a regular {what}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bytes_bounded(
    path: str | os.PathLike[str],
    limit: int,
    *,
    within: Path | None = None,
    what: str = "file",
) -> bytes:
    """The whole of a regular file of at most `limit` bytes.

    Raises:
        FileReadError: as `open_regular`, or the file is larger than `limit`.
    """
    with open_regular(path, within=within, what=what) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise FileReadError(
                f"{path}: {what} is {size_text(size)}, larger than the {size_text(limit)} "
                "it may hold; not read"
            )
        try:
            # Sized by the file, not the limit: read(n) reserves n bytes before reading.
            data = handle.read(size + 1)
        except OSError as exc:
            raise FileReadError(f"{path}: {what} cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:  # it grew past the limit while being read
        raise FileReadError(f"{path}: {what} is larger than {size_text(limit)}; not read")
    return data


def read_text_bounded(
    path: str | os.PathLike[str],
    limit: int,
    *,
    within: Path | None = None,
    what: str = "file",
) -> str:
    """As `read_bytes_bounded`, decoded as UTF-8.

    Raises:
        FileReadError: as `read_bytes_bounded`, or the bytes are not UTF-8 text.
    """
    data = read_bytes_bounded(path, limit, within=within, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileReadError(
            f"{path}: {what} is not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from None
