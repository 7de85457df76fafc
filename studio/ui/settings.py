"""The window's remembered settings: one INI file in the settings folder.

The folder is `studio.core.autosave.settings_dir()`: `$STRATA_SETTINGS_DIR` when set (the
tests point it at a temporary folder), else the platform's per-user configuration folder.
It also holds the recovery folder and the error log.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from studio.core.autosave import settings_dir

SETTINGS_FILE = "settings.ini"
LOG_FILE = "strata.log"
RECENT_KEY = "files/recent"
THEME_KEY = "view/theme"
MAX_RECENT = 10


def app_settings() -> QSettings:
    """The settings, read and written as INI at `settings_dir()/settings.ini`."""
    return QSettings(str(settings_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)


def log_path() -> Path:
    return settings_dir() / LOG_FILE


class RecentFiles:
    """The last `MAX_RECENT` projects opened or saved, most recent first."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings if settings is not None else app_settings()

    def paths(self) -> list[Path]:
        raw = self._settings.value(RECENT_KEY, [])
        if isinstance(raw, str):  # INI stores a one-element list as a plain string
            raw = [raw]
        if not isinstance(raw, list):
            return []
        return [Path(p) for p in raw if isinstance(p, str) and p][:MAX_RECENT]

    def add(self, path: Path) -> None:
        path = path.expanduser().absolute()
        kept = [p for p in self.paths() if p != path]
        self._store([path, *kept][:MAX_RECENT])

    def remove(self, path: Path) -> None:
        self._store([p for p in self.paths() if p != path])

    def clear(self) -> None:
        self._store([])

    def _store(self, paths: list[Path]) -> None:
        self._settings.setValue(RECENT_KEY, [str(p) for p in paths])
        self._settings.sync()
