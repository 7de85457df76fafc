"""Readers of the user's own files, one module per format; `read_data` picks the right one."""

from __future__ import annotations

from pathlib import Path

from studio.core.data_settings import (
    ArraySource,
    IdxSource,
    ImageFolderSource,
    SeriesSource,
    TableSource,
    TextSource,
)
from studio.core.project import DataSection
from studio.data.access import outside_warning
from studio.data.errors import DataError
from studio.data.raw import RawData


def read_data(section: DataSection, base_dir: Path | None = None) -> RawData:
    """What the project's data section names, read into a `RawData` (no split yet).

    Every command reads a project's data through here, so each carries the same warning
    (`RawData.warnings`) when the data lies outside the project's folder.

    Args:
        section: the project's data settings: a file `source`, else a bundled `dataset`.
        base_dir: the folder relative paths start from (the project file's folder).
    """
    raw = _read(section, base_dir)
    warning = outside_warning(section, base_dir)
    if warning is not None and warning not in raw.warnings:
        raw.warnings.append(warning)
    return raw


def _read(section: DataSection, base_dir: Path | None) -> RawData:
    source = section.source
    if source is None:
        if not section.dataset:
            raise DataError(
                "the project names no data: choose a bundled dataset (`studio datasets`) or a file"
            )
        from studio.data.registry import default_datasets

        info = default_datasets().get(section.dataset)
        return info.load_reader()(section)
    if isinstance(source, TableSource):
        from studio.data.sources.table import read_table

        return read_table(source, base_dir)
    if isinstance(source, ImageFolderSource):
        from studio.data.sources.images import read_image_folder

        return read_image_folder(source, base_dir)
    if isinstance(source, IdxSource):
        from studio.data.sources.idx import read_idx

        return read_idx(source, base_dir)
    if isinstance(source, ArraySource):
        from studio.data.sources.arrays import read_arrays

        return read_arrays(source, base_dir)
    if isinstance(source, TextSource):
        from studio.data.sources.text import read_text

        return read_text(source, base_dir)
    if isinstance(source, SeriesSource):
        from studio.data.sources.series import read_series

        return read_series(source, base_dir, section.splits)
    raise DataError(f"unknown data source kind {type(source).__name__}")
