"""The one door to a project's data files: where they are, whether they may be read, and what
to warn about before reading them.

Every command (validate, train, evaluate, explain, export) and the window resolve a project's
data paths through `resolve_path` and check each file with `check_data_file`, so they all
refuse the same things (a pipe, a device, a folder where a file should be) and all give the
same warning when the data lies outside the project's folder: an absolute or ``~`` path, a
``../`` path, a link in an image folder, the arrays source's `targets`, or a path taken from a
run's `config.json`. Reading data kept elsewhere is the user's choice (a shared data folder),
so it is allowed; but a project from someone else can name any file the user can read, and the
warning names it so that nothing is read unseen.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from studio.core.data_settings import ImageFolderSource
from studio.core.project import DataSection
from studio.core.safe_files import describe_kind, is_within
from studio.data.errors import DataError
from studio.data.paths import resolve_path

__all__ = [
    "SOURCE_PATH_FIELDS",
    "check_data_file",
    "data_paths",
    "outside_paths",
    "outside_warning",
    "resolve_path",
]

# Every field of a data source that names a file or folder (IDX sources name four, arrays two).
SOURCE_PATH_FIELDS = ("path", "images", "labels", "test_images", "test_labels", "targets")

# An image folder of many links out is named by its first few; the rest are counted.
_NAMED_AT_MOST = 3


def data_paths(section: DataSection) -> list[str]:
    """The paths the data section names, as the user wrote them (none for a bundled dataset)."""
    source = section.source
    if source is None:
        return []
    named = (getattr(source, field, None) for field in SOURCE_PATH_FIELDS)
    return [str(value) for value in named if value]


def outside_paths(section: DataSection, base_dir: Path | None) -> list[Path]:
    """Every file or folder the data section reads that lies outside `base_dir`, links followed.

    An image folder inside the project may hold class folders or images that are links to
    elsewhere; those count too. Without a `base_dir` (a project never saved) nothing is outside.
    """
    if base_dir is None or section.source is None:
        return []
    found: dict[Path, None] = {}
    for given in data_paths(section):
        path = resolve_path(given, base_dir)
        if not is_within(path, base_dir):
            found[_resolved(path)] = None
        elif isinstance(section.source, ImageFolderSource) and given == section.source.path:
            found.update(dict.fromkeys(_links_out(path, base_dir)))
    return list(found)


def outside_warning(section: DataSection, base_dir: Path | None) -> str | None:
    """The sentence every command gives when the data lies outside the project's folder."""
    outside = outside_paths(section, base_dir)
    if not outside:
        return None
    named = ", ".join(str(p) for p in outside[:_NAMED_AT_MOST])
    if len(outside) > _NAMED_AT_MOST:
        named += f" and {len(outside) - _NAMED_AT_MOST} more"
    return (
        f"the data is read from outside the project's folder: {named}. Check that this is the "
        "file you mean, above all in a project someone else made."
    )


def check_data_file(path: Path, label: str) -> int:
    """The size of `path` if it is a regular, non-empty file; else a `DataError` naming it.

    `stat` opens nothing, so a named pipe or a link to `/dev/zero` in place of a data file
    is refused here instead of blocking (or never ending) the read that would follow.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(f"{label}: no such file") from None
    except ValueError:  # "embedded null byte": no file has such a name
        raise DataError(f"{label}: not a file name (it holds a null character)") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop
        raise DataError(
            f"{label}: cannot be read ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"{label}: is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(
            f"{label}: is {describe_kind(info.st_mode)}, not a regular file; data is read from "
            "regular files only"
        )
    if info.st_size == 0:
        raise DataError(f"{label}: the file is empty")
    return info.st_size


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop: reading it fails with its own message
        return path


def _links_out(folder: Path, base_dir: Path) -> Iterator[Path]:
    """Class folders and images (two levels, as the reader reads them) that lead outside."""
    for entry in _entries(folder):
        if entry.is_symlink() and not is_within(entry, base_dir):
            yield _resolved(entry)
        elif entry.is_dir():
            for inner in _entries(entry):
                if inner.is_symlink() and not is_within(inner, base_dir):
                    yield _resolved(inner)


def _entries(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries)
    except OSError:  # not a folder, or unreadable: the reader says so in its own words
        return []
