"""Autosave side files, and finding the ones a crashed session left behind.

Each window holds an `AutosaveSession`: a uuid4 and an exclusive lock on a small file in the
recovery folder, held for as long as the session lives. The operating system drops the lock
when the process dies, however it dies, so an autosave whose session lock nobody holds was
left by a crash, and one whose lock is held belongs to a window that is still open (another
instance of the application, or another window of this one) and is not offered.

The recovery folder holds, per project:

- ``KEY.strata``: the project document as it was at the last autosave, written atomically;
- ``KEY.json``: a manifest with the original file (or none), the time, and the session.

KEY is ``path-<16 hex digits of sha256 of the resolved path>`` for a project with a file,
and ``untitled-<uuid4>`` for one that was never saved.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from studio.core.project import atomic_write_text

SETTINGS_ENV = "STRATA_SETTINGS_DIR"
APP_FOLDER = "Strata Studio"
RECOVERY_FOLDER = "recovery"
CONTENT_SUFFIX = ".strata"
MANIFEST_SUFFIX = ".json"
LOCK_PREFIX = "session-"
LOCK_SUFFIX = ".lock"
MANIFEST_VERSION = 1


def settings_dir() -> Path:
    """`$STRATA_SETTINGS_DIR`, else the platform's per-user configuration folder."""
    override = os.environ.get(SETTINGS_ENV)
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / APP_FOLDER


def recovery_dir(settings: Path | None = None) -> Path:
    """The folder of autosave side files under the settings folder."""
    return (settings if settings is not None else settings_dir()) / RECOVERY_FOLDER


def key_for_path(path: Path) -> str:
    """The autosave key of a project saved at `path` (the same for every spelling of it)."""
    resolved = str(path.expanduser().resolve())
    return "path-" + hashlib.sha256(resolved.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def untitled_key() -> str:
    """A fresh key for a project that has no file yet."""
    return f"untitled-{uuid.uuid4()}"


@dataclass(frozen=True)
class Autosave:
    """One autosaved project in the recovery folder."""

    key: str
    content_path: Path
    manifest_path: Path
    name: str
    original_path: Path | None
    saved_at: float  # seconds since the epoch
    session: str

    @property
    def is_untitled(self) -> bool:
        return self.original_path is None


def serialise(document: Mapping[str, Any]) -> str:
    """The project document as the project file writes it (indented UTF-8 JSON)."""
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(document, indent=2, ensure_ascii=True, allow_nan=False) + "\n"
    return text


def _paths(folder: Path, key: str) -> tuple[Path, Path]:
    if not key or "/" in key or "\\" in key or key.startswith("."):
        raise ValueError(f"not an autosave key: {key!r}")
    return folder / f"{key}{CONTENT_SUFFIX}", folder / f"{key}{MANIFEST_SUFFIX}"


def write_autosave(
    folder: Path,
    key: str,
    document: Mapping[str, Any] | str,
    *,
    name: str,
    original_path: Path | None,
    session: str,
    saved_at: float | None = None,
) -> Autosave:
    """Write a project's side file and then its manifest, each atomically.

    The manifest comes second, so a crash between the two leaves either the previous pair
    or a new content file under an old manifest, never a manifest without content.
    Raises `ProjectError` when the folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    content_path, manifest_path = _paths(folder, key)
    text = document if isinstance(document, str) else serialise(document)
    when = time.time() if saved_at is None else saved_at
    atomic_write_text(content_path, text)
    manifest = {
        "version": MANIFEST_VERSION,
        "key": key,
        "name": name,
        "original_path": str(original_path) if original_path is not None else None,
        "saved_at": when,
        "session": session,
    }
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return Autosave(key, content_path, manifest_path, name, original_path, when, session)


def read_manifest(manifest_path: Path) -> Autosave | None:
    """The autosave a manifest describes; None when it is unreadable or its content is gone."""
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    key = manifest_path.name[: -len(MANIFEST_SUFFIX)]
    try:
        content_path, _ = _paths(manifest_path.parent, key)
    except ValueError:
        return None
    original = raw.get("original_path")
    saved_at = raw.get("saved_at")
    if not content_path.is_file() or not isinstance(saved_at, int | float):
        return None
    return Autosave(
        key=key,
        content_path=content_path,
        manifest_path=manifest_path,
        name=str(raw.get("name") or key),
        original_path=Path(original) if isinstance(original, str) and original else None,
        saved_at=float(saved_at),
        session=str(raw.get("session") or ""),
    )


def list_autosaves(folder: Path) -> list[Autosave]:
    """Every readable autosave in the folder, newest first (live sessions' ones included)."""
    if not folder.is_dir():
        return []
    found = [a for p in folder.glob(f"*{MANIFEST_SUFFIX}") if (a := read_manifest(p)) is not None]
    return sorted(found, key=lambda a: a.saved_at, reverse=True)


def list_recoverable(folder: Path, *, exclude_session: str | None = None) -> list[Autosave]:
    """Autosaves whose session is over without cleaning up: what a crash left behind.

    Also removes what is certainly garbage: lock files of finished sessions, and content
    files whose manifest is missing.
    """
    if not folder.is_dir():
        return []
    live: dict[str, bool] = {}

    def session_live(session: str) -> bool:
        if session not in live:
            live[session] = bool(session) and _lock_is_held(_lock_path(folder, session))
        return live[session]

    found = [
        entry
        for entry in list_autosaves(folder)
        if entry.session != exclude_session and not session_live(entry.session)
    ]
    _collect_garbage(folder)
    return found


def discard(folder: Path, key: str) -> None:
    """Delete a project's side file and manifest (absent ones are fine)."""
    content_path, manifest_path = _paths(folder, key)
    for path in (manifest_path, content_path):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _collect_garbage(folder: Path) -> None:
    for lock in folder.glob(f"{LOCK_PREFIX}*{LOCK_SUFFIX}"):
        if not _lock_is_held(lock):
            with contextlib.suppress(OSError):
                lock.unlink()
    for content in folder.glob(f"*{CONTENT_SUFFIX}"):
        manifest = content.with_suffix(MANIFEST_SUFFIX)
        # An old orphan only: a writer puts the content down just before its manifest.
        if not manifest.exists() and time.time() - _mtime(content) > 60:
            with contextlib.suppress(OSError):
                content.unlink()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _lock_path(folder: Path, session: str) -> Path:
    return folder / f"{LOCK_PREFIX}{session}{LOCK_SUFFIX}"


if sys.platform == "win32":
    import msvcrt

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        with contextlib.suppress(OSError):
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _lock_is_held(path: Path) -> bool:
    """True when some open session (in this process or another) holds the lock file."""
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: treat the session as alive and leave its files alone
    with handle:
        if not _try_lock(handle):
            return True
        _unlock(handle)
        return False


class AutosaveSession:
    """One window's claim on its autosaves: a uuid4 and a lock held until `close`.

    `release` drops the lock and keeps the files (what a crash does); `close` is the clean
    end: the caller discards its autosaves first, then the lock file goes too.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.id = str(uuid.uuid4())
        self.lock_path = _lock_path(folder, self.id)
        self._handle: IO[bytes] | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle = self.lock_path.open("a+b")
        except OSError:
            return  # no recovery folder: autosaves will fail and say so; nothing to lock
        if _try_lock(handle):
            self._handle = handle
        else:
            handle.close()

    @property
    def locked(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        """Let go of the lock, as a dying process would; the autosaves stay recoverable."""
        handle, self._handle = self._handle, None
        if handle is not None:
            _unlock(handle)
            handle.close()

    def close(self) -> None:
        """The clean end of the session: release the lock and remove the lock file."""
        self.release()
        with contextlib.suppress(OSError):
            self.lock_path.unlink()

    def write(
        self,
        key: str,
        document: Mapping[str, Any] | str,
        *,
        name: str,
        original_path: Path | None,
    ) -> Autosave:
        return write_autosave(
            self.folder, key, document, name=name, original_path=original_path, session=self.id
        )

    def discard(self, key: str) -> None:
        discard(self.folder, key)

    def recoverable(self) -> list[Autosave]:
        return list_recoverable(self.folder, exclude_session=self.id)
