"""Autosave side files: where they go, what a crash leaves, what a live session hides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from studio.core import autosave
from studio.core.autosave import (
    AutosaveSession,
    discard,
    key_for_path,
    list_autosaves,
    list_recoverable,
    recovery_dir,
    settings_dir,
    untitled_key,
    write_autosave,
)
from studio.core.project import Project
from studio.core.registry import LayerRegistry

ROOT = Path(__file__).resolve().parents[2]


def test_the_settings_folder_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(autosave.SETTINGS_ENV, str(tmp_path / "cfg"))
    assert settings_dir() == tmp_path / "cfg"
    assert recovery_dir() == tmp_path / "cfg" / "recovery"
    monkeypatch.delenv(autosave.SETTINGS_ENV)
    assert settings_dir().name == autosave.APP_FOLDER


def test_keys_name_a_path_whatever_its_spelling(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    assert key_for_path(Path("net.strata")) == key_for_path(tmp_path / "sub" / ".." / "net.strata")
    assert key_for_path(tmp_path / "a.strata") != key_for_path(tmp_path / "b.strata")
    assert key_for_path(tmp_path / "a.strata").startswith("path-")
    first, second = untitled_key(), untitled_key()
    assert first != second and first.startswith("untitled-")


def test_write_then_list_round_trips_the_document(tmp_path: Path, registry: LayerRegistry) -> None:
    project = Project("Net", registry)
    project.main_graph.add_node("test.Input", name="x", params={"features": 4})
    folder = tmp_path / "recovery"
    original = tmp_path / "net.strata"
    entry = write_autosave(
        folder,
        key_for_path(original),
        project.to_dict(),
        name="Net",
        original_path=original,
        session="dead",
        saved_at=1000.0,
    )
    assert entry.content_path.is_file() and entry.manifest_path.is_file()
    [listed] = list_autosaves(folder)
    assert listed == entry
    restored = Project.load(listed.content_path, registry)
    assert restored.to_dict() == project.to_dict()
    manifest = json.loads(entry.manifest_path.read_text(encoding="utf-8"))
    assert manifest["original_path"] == str(original)
    assert manifest["saved_at"] == 1000.0
    discard(folder, entry.key)
    assert list_autosaves(folder) == []
    discard(folder, entry.key)  # twice is fine


def test_newest_first_and_untitled_has_no_original(tmp_path: Path) -> None:
    folder = tmp_path / "recovery"
    old = write_autosave(
        folder, untitled_key(), {}, name="a", original_path=None, session="s", saved_at=1.0
    )
    new = write_autosave(
        folder, untitled_key(), {}, name="b", original_path=None, session="s", saved_at=2.0
    )
    assert [a.key for a in list_autosaves(folder)] == [new.key, old.key]
    assert old.is_untitled


def test_a_bad_key_is_refused(tmp_path: Path) -> None:
    for key in ("", "../escape", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            discard(tmp_path, key)


def test_unreadable_manifests_and_orphans_are_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "recovery"
    folder.mkdir()
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    (folder / "nocontent.json").write_text(json.dumps({"saved_at": 1.0}), encoding="utf-8")
    (folder / "list.json").write_text("[]", encoding="utf-8")
    (folder / "list.strata").write_text("{}", encoding="utf-8")
    orphan = folder / "orphan.strata"
    orphan.write_text("{}", encoding="utf-8")
    os.utime(orphan, (0, 0))
    assert list_recoverable(folder) == []
    assert not orphan.exists(), "an old content file without a manifest is garbage"


def test_a_live_session_hides_its_autosaves_and_a_crash_reveals_them(tmp_path: Path) -> None:
    folder = tmp_path / "recovery"
    live = AutosaveSession(folder)
    assert live.locked
    live.write("untitled-x", {"a": 1}, name="x", original_path=None)
    other = AutosaveSession(folder)
    assert other.recoverable() == [], "the first window is still open"
    assert live.recoverable() == [], "a session never offers its own autosaves"
    live.release()  # the process died: the lock goes, the files stay
    [entry] = other.recoverable()
    assert entry.key == "untitled-x" and entry.session == live.id
    assert not live.lock_path.exists(), "a dead session's lock file is swept up"
    other.close()
    assert not other.lock_path.exists()


def test_a_clean_close_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "recovery"
    session = AutosaveSession(folder)
    session.write("path-0123456789abcdef", "{}", name="x", original_path=tmp_path / "x.strata")
    session.discard("path-0123456789abcdef")
    session.close()
    assert list(folder.iterdir()) == []


def test_a_killed_process_leaves_a_recoverable_autosave(tmp_path: Path) -> None:
    folder = tmp_path / "recovery"
    code = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from studio.core.autosave import AutosaveSession
        session = AutosaveSession(Path({str(folder)!r}))
        session.write("untitled-crash", {{"name": "crashed"}}, name="crashed", original_path=None)
        os._exit(3)  # no cleanup of any kind, as in a crash
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=False)
    assert result.returncode == 3
    [entry] = list_recoverable(folder)
    assert entry.name == "crashed"
    assert json.loads(entry.content_path.read_text(encoding="utf-8")) == {"name": "crashed"}
