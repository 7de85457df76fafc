"""Where a data path in a project points: relative paths are relative to the project's folder."""

from __future__ import annotations

from pathlib import Path


def resolve_path(text: str, base_dir: Path | None) -> Path:
    """The file a project's data path names; ``~`` is the user's home folder."""
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path
