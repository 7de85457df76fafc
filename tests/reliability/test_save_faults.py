"""Faults while saving: a process killed at random points of a project save or a checkpoint
write leaves the old file or the new one, always loadable; a full disk leaves the previous
file intact and says so."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import ProjectError, StudioError
from studio.core.project import Project
from studio.core.registry import LayerRegistry

from .conftest import Figures, hard_timeout, time_bound

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"
TEMPLATE = EXAMPLES / "cnn_classifier.strata"

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
    # Each test loads the files its killed savers left; the slow ones kill forty.
    hard_timeout(600),
]

# Saves two versions of the file in turn, forever, until killed.
SAVER = """
import sys
kind, path = sys.argv[1], sys.argv[2]
if kind == "project":
    from studio.core.project import Project
    from studio.core.registry import LayerRegistry
    from studio.layers import register
    registry = LayerRegistry()
    register(registry)
    versions = [Project.load(sys.argv[3], registry) for _ in range(2)]
    versions[1].view = {"padding": "new " * 200_000}
    texts = [p.to_json() for p in versions]
    from studio.core.project import atomic_write_text
    save = lambda i: atomic_write_text(__import__("pathlib").Path(path), texts[i])
else:
    import torch
    from pathlib import Path
    from studio.training.checkpoints import save_checkpoint
    states = [{"model": {"w": torch.full((400_000,), float(i))}, "version": i} for i in range(2)]
    save = lambda i: save_checkpoint(Path(path), states[i])
save(0)
print("ready", flush=True)
i = 1
while True:
    save(i)
    i = 1 - i
"""


def kills(default: int, slow: int, request: pytest.FixtureRequest) -> int:
    return slow if request.node.get_closest_marker("slow") else default


def kill_savers(kind: str, folder: Path, count: int, seed: int) -> list[Path]:
    """Start `count` savers, SIGKILL each after a random delay; returns the files they saved."""
    rng = random.Random(seed)
    name = "demo.strata" if kind == "project" else "last.pt"
    paths = []
    for i in range(count):
        (folder / str(i)).mkdir()
        paths.append(folder / str(i) / name)

    def run_and_kill(path: Path, delay: float) -> int:
        child = subprocess.Popen(
            [sys.executable, "-c", SAVER, kind, str(path), str(TEMPLATE)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n", f"{kind} saver did not start"
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
            return child.wait()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()

    delays = [rng.uniform(0.0, 0.3) for _ in paths]
    with ThreadPoolExecutor(min(4, count)) as pool:
        codes = list(pool.map(run_and_kill, paths, delays))
    assert codes == [-signal.SIGKILL] * count, f"seed {seed}"
    return paths


def leftovers_are_temp_files(path: Path) -> None:
    others = set(os.listdir(path.parent)) - {path.name}
    assert all(n.startswith(f".{path.name}.") and n.endswith(".tmp") for n in others), others


def check_project_kills(
    count: int, tmp_path: Path, registry: LayerRegistry, figures: Figures
) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    template = Project.load(TEMPLATE, registry)
    for path in kill_savers("project", tmp_path, count, seed):
        with time_bound():
            view = Project.load(path, registry).view
        assert view in (template.view, {"padding": "new " * 200_000}), f"{path} (seed {seed})"
        leftovers_are_temp_files(path)
        figures.add("save faults: project saves killed")
    figures.add("save faults: files lost", 0)


def check_checkpoint_kills(count: int, tmp_path: Path, figures: Figures) -> None:
    import torch

    from studio.training.checkpoints import load_checkpoint

    seed = int.from_bytes(os.urandom(4), "little")
    for path in kill_savers("checkpoint", tmp_path, count, seed):
        with time_bound():
            state = load_checkpoint(path)
        version = state["version"]
        assert version in (0, 1)
        assert torch.equal(state["model"]["w"], torch.full((400_000,), float(version)))
        leftovers_are_temp_files(path)
        figures.add("save faults: checkpoint writes killed")


def test_killed_project_saves(tmp_path: Path, registry: LayerRegistry, figures: Figures) -> None:
    check_project_kills(3, tmp_path, registry, figures)


def test_killed_checkpoint_writes(tmp_path: Path, figures: Figures) -> None:
    check_checkpoint_kills(2, tmp_path, figures)


@pytest.mark.slow
def test_many_killed_project_saves(
    tmp_path: Path, registry: LayerRegistry, figures: Figures
) -> None:
    check_project_kills(40, tmp_path, registry, figures)


@pytest.mark.slow
def test_many_killed_checkpoint_writes(tmp_path: Path, figures: Figures) -> None:
    check_checkpoint_kills(40, tmp_path, figures)


def refuse(code: int) -> Callable[..., Any]:
    def fail(*_args: object, **_kwargs: object) -> Any:
        raise OSError(code, os.strerror(code))

    return fail


# Where the OS can report a full disk during an atomic write: the data, its flush, the rename.
FAULT_POINTS = {
    "write": ("os.fdopen", None),
    "fsync": ("os.fsync", errno.ENOSPC),
    "replace": ("os.replace", errno.EDQUOT),
}


class _FullDisk:
    """A file object whose writes fail the way a full disk makes them fail."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def write(self, _data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def inject(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    if point == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda *a, **k: _FullDisk(real_fdopen(*a, **k)))
    else:
        name, code = FAULT_POINTS[point]
        assert code is not None
        monkeypatch.setattr(os, name.split(".")[1], refuse(code))


@pytest.mark.parametrize("point", sorted(FAULT_POINTS))
def test_full_disk_during_project_save(
    point: str,
    tmp_path: Path,
    registry: LayerRegistry,
    monkeypatch: pytest.MonkeyPatch,
    figures: Figures,
) -> None:
    path = tmp_path / "demo.strata"
    project = Project.load(TEMPLATE, registry)
    project.save(path)
    before = path.read_bytes()
    project.description = "changed"
    with monkeypatch.context() as patch:
        inject(patch, point)
        with pytest.raises(ProjectError) as caught:
            project.save(path)
    message = str(caught.value)
    assert "unchanged" in message and str(path) in message
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["demo.strata"], "a temp file was left behind"
    Project.load(path, registry)
    figures.add("save faults: full-disk errors injected")


@pytest.mark.parametrize("point", sorted(FAULT_POINTS))
def test_full_disk_during_checkpoint_write(
    point: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    import torch

    from studio.training.checkpoints import load_checkpoint, save_checkpoint

    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(10)}, "version": 0})
    before = path.read_bytes()
    with monkeypatch.context() as patch:
        inject(patch, point)
        # The checkpoint reports through the project's atomic writer: a StudioError, naming
        # the file and saying the previous one is unchanged.
        with pytest.raises(StudioError) as caught:
            save_checkpoint(path, {"model": {"w": torch.ones(10)}, "version": 1})
    assert "unchanged" in str(caught.value) and str(path) in str(caught.value)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.pt"]
    assert load_checkpoint(path)["version"] == 0
    figures.add("save faults: full-disk errors injected")
