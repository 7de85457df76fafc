"""A first guess at the source settings for a file or folder the user picked.

The data tab calls `suggest_source` when a file is chosen, shows the guess, and lets the
user change any of it; nothing here is final, so a guess only needs to be a good start.
"""

from __future__ import annotations

import csv
import gzip
import re
from pathlib import Path

from studio.core.data_settings import (
    ArraySource,
    DataSource,
    IdxSource,
    ImageFolderSource,
    SeriesSource,
    TableSource,
    TextSource,
)
from studio.data.errors import DataError

TEXT_NAMES = ("text", "review", "sentence", "comment", "message", "body", "content", "tweet")
TIME_NAMES = ("time", "date", "datetime", "timestamp", "t", "step")
_IDX_MAGIC_TYPES = {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E}


def suggest_source(path: Path, *, label: str | None = None) -> DataSource:
    """Source settings that read `path` sensibly; `label` is the path as the project stores it.

    A folder is an image folder; `.npy`/`.npz` are arrays; an IDX file is paired with its
    labels file by name (``images`` ↔ ``labels``); a CSV is a text set when a column is named
    like ``text`` or ``review``, a time series when one is named like ``time`` or ``date``,
    and a table otherwise.
    """
    text = label or str(path)
    if path.is_dir():
        return ImageFolderSource(path=text)
    if not path.is_file():
        raise DataError(f"{text}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return ArraySource(path=text)
    if _is_idx(path):
        partner = _idx_partner(path)
        if partner is None:
            raise DataError(
                f"{text}: an IDX file; choose its images and labels files (no partner was found "
                "by name)"
            )
        images, labels = (path, partner) if "label" not in path.name.lower() else (partner, path)
        relative = Path(text).parent
        return IdxSource(images=str(relative / images.name), labels=str(relative / labels.name))
    return _suggest_csv(path, text)


def _suggest_csv(path: Path, label: str) -> DataSource:
    delimiter = _sniff_delimiter(path)
    from studio.data.csv_reader import read_header

    names = read_header(path, label, delimiter)
    lowered = {n.lower(): n for n in names}
    text = next((lowered[n] for n in TEXT_NAMES if n in lowered), None)
    if text is not None and len(names) >= 2:
        others = [n for n in names if n != text]
        target = next(
            (n for n in others if n.lower() in ("label", "labels", "class", "target")), others[-1]
        )
        return TextSource(path=label, delimiter=delimiter, text_column=text, label_column=target)
    time = next((lowered[n] for n in TIME_NAMES if n in lowered), None)
    if time is not None and len(names) >= 2:
        return SeriesSource(path=label, delimiter=delimiter, time_column=time)
    return TableSource(path=label, delimiter=delimiter)


def _sniff_delimiter(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(16_384).decode("utf-8", errors="replace")
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _is_idx(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
            if head[:2] == b"\x1f\x8b":
                with gzip.open(path, "rb") as unpacked:
                    head = unpacked.read(4)
    except (OSError, EOFError):
        return False
    return len(head) == 4 and head[0] == 0 and head[1] == 0 and head[2] in _IDX_MAGIC_TYPES


def _idx_partner(path: Path) -> Path | None:
    """The labels file of an images file and back, by the names MNIST uses."""
    name = path.name
    # train-images-idx3-ubyte ↔ train-labels-idx1-ubyte (the rank in the name changes too).
    swaps = (("images", "labels", "idx3", "idx1"), ("labels", "images", "idx1", "idx3"))
    for old, new, old_rank, new_rank in swaps:
        if old in name:
            partner = path.with_name(name.replace(old, new).replace(old_rank, new_rank))
            if partner.is_file():
                return partner
    return _single_sibling(path)


def _single_sibling(path: Path) -> Path | None:
    kind = "label" if "label" in path.name.lower() else "image"
    wanted = "image" if kind == "label" else "label"
    siblings = [
        p
        for p in path.parent.iterdir()
        if p.is_file() and wanted in p.name.lower() and re.search(r"idx|ubyte", p.name)
    ]
    return siblings[0] if len(siblings) == 1 else None
