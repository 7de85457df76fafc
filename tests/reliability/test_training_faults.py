"""Faults while training: a `studio train --events` child SIGKILLed at random points resumes
every time with readable metrics; damaged and hostile checkpoints are refused plainly."""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from studio.core.resources import examples_dir
from studio.training.errors import CheckpointError
from studio.training.runs import read_metrics, runs_folder

from .conftest import Figures, hard_timeout, time_bound

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

EPOCHS = 400  # more than a run can reach between kills, so every kill lands mid-run


def train(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "studio",
            "train",
            str(project),
            "--events",
            "--device",
            "cpu",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def run_and_kill(
    child: subprocess.Popen[str], after_lines: int, need_checkpoint: bool
) -> list[dict[str, Any]]:
    """Read events; SIGKILL the child once `after_lines` were read (and a checkpoint, if asked)."""
    events: list[dict[str, Any]] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            events.append(json.loads(line))
            checkpointed = any(e["event"] == "checkpoint" for e in events)
            if len(events) >= after_lines and (checkpointed or not need_checkpoint):
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    return events


def metric_epochs(run: Path) -> list[int]:
    epochs = [int(r["epoch"]) for r in read_metrics(run / "metrics.jsonl")]
    assert epochs == list(range(1, len(epochs) + 1)), f"metrics out of order: {epochs}"
    return epochs


def kill_and_resume(kills: int, tmp_path: Path, figures: Figures) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    project = tmp_path / "mlp_classifier.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", project)
    events = run_and_kill(train(project, "--epochs", str(EPOCHS)), rng.randint(1, 40), True)
    assert events and events[0]["event"] == "started", f"seed {seed}"
    run_id = events[0]["run"]
    run = runs_folder(project) / run_id
    for kill in range(kills):
        done = metric_epochs(run)
        figures.add("training faults: kills")
        events = run_and_kill(train(project, "--resume", run_id), rng.randint(1, 40), False)
        assert events and events[0]["event"] == "started", (
            f"resume {kill} did not start (seed {seed})"
        )
        started = events[0]
        assert started["run"] == run_id
        # The resumed run picks up at its last checkpoint, which by design may trail the
        # metrics by up to the checkpoint interval (a few seconds of tiny epochs); those
        # epochs are trained again, and their metrics lines replaced.
        assert 1 <= started["start_epoch"] <= len(done), (started, done, seed)
        figures.add("training faults: epochs redone", len(done) - started["start_epoch"])
        epochs = [e["epoch"] for e in events if e["event"] == "epoch"]
        assert epochs == list(
            range(started["start_epoch"] + 1, started["start_epoch"] + 1 + len(epochs))
        )
        assert not [e for e in events if e["event"] == "error"], (events, seed)
    done = metric_epochs(run)
    final = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "train",
            str(project),
            "--events",
            "--device",
            "cpu",
            "--resume",
            run_id,
            "--epochs",
            str(len(done) + 2),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert final.returncode == 0, final.stderr
    assert metric_epochs(run) == list(range(1, len(done) + 3))
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    figures.add("training faults: runs lost", 0)


# 22 s; tests/training/test_training_cli.py kills and resumes a run in the default suite.
@pytest.mark.slow
def test_killed_training_resumes(tmp_path: Path, figures: Figures) -> None:
    kill_and_resume(2, tmp_path, figures)


@pytest.mark.slow
def test_training_killed_twenty_times_resumes(tmp_path: Path, figures: Figures) -> None:
    kill_and_resume(20, tmp_path, figures)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the iris template with one finished one-epoch run beside it."""
    folder = tmp_path_factory.mktemp("trained")
    project = folder / "mlp_classifier.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", project)
    subprocess.run(
        [sys.executable, "-m", "studio", "train", str(project), "--epochs", "1", "--device", "cpu"],
        check=True,
        capture_output=True,
        timeout=240,
    )
    return project


@pytest.fixture
def checkpoint_bytes(trained: Path) -> bytes:
    """A real `last.pt`."""
    (last,) = runs_folder(trained).glob("*/last.pt")
    return last.read_bytes()


@hard_timeout(300)  # the first one trains the one-epoch run the others share
def test_truncated_checkpoints_are_refused(
    tmp_path: Path, checkpoint_bytes: bytes, figures: Figures
) -> None:
    from studio.training.checkpoints import load_checkpoint

    path = tmp_path / "last.pt"
    size = len(checkpoint_bytes)
    offsets = sorted({0, 1, 10, 100, size // 3, size // 2, size - 100, size - 22, size - 1})
    offsets += random.Random(0).sample(range(size), 20)
    for offset in offsets:
        path.write_bytes(checkpoint_bytes[:offset])
        with pytest.raises(CheckpointError, match=r"damaged|truncated|not a Strata"), time_bound():
            load_checkpoint(path)
        figures.add("training faults: damaged checkpoints refused")
    flipped = bytearray(checkpoint_bytes)
    for at in random.Random(1).sample(range(size), 30):
        flipped[at] ^= 0xFF
    path.write_bytes(bytes(flipped))
    try:
        with time_bound():
            load_checkpoint(path)
    except CheckpointError as exc:
        assert str(path) in str(exc)
    figures.add("training faults: damaged checkpoints refused")


class RunsCode:
    """Unpickling this calls os.system: what a hostile checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def hostile_checkpoints(marker: Path) -> dict[str, bytes]:
    import io

    import torch

    payload = {"model": {"w": RunsCode(marker)}, "epoch": 1}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return {
        "torch.save zip": buffer.getvalue(),
        "plain pickle": pickle.dumps(payload, protocol=2),
        "pickle protocol 5": pickle.dumps(payload, protocol=5),
    }


@hard_timeout(120)
def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path, figures: Figures) -> None:
    from studio.training.checkpoints import load_checkpoint

    marker = tmp_path / "pwned"
    for name, data in hostile_checkpoints(marker).items():
        path = tmp_path / f"{name.replace(' ', '_')}.pt"
        path.write_bytes(data)
        with pytest.raises(CheckpointError) as caught, time_bound():
            load_checkpoint(path)
        assert str(path) in str(caught.value), name
        assert not marker.exists(), f"{name}: the payload ran"
        figures.add("training faults: hostile checkpoints refused")


@hard_timeout(300)
def test_resuming_from_a_hostile_or_damaged_checkpoint_is_one_clear_line(
    tmp_path: Path, trained: Path, checkpoint_bytes: bytes
) -> None:
    project = tmp_path / trained.name
    shutil.copy(trained, project)
    shutil.copytree(runs_folder(trained), runs_folder(project))
    marker = tmp_path / "pwned"
    (run,) = runs_folder(project).iterdir()
    for data in (
        hostile_checkpoints(marker)["torch.save zip"],
        checkpoint_bytes[: len(checkpoint_bytes) // 2],
    ):
        (run / "last.pt").write_bytes(data)
        result = subprocess.run(
            [sys.executable, "-m", "studio", "train", str(project), "--resume", run.name],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1
        assert "last.pt" in result.stderr and "Traceback" not in result.stderr
        assert not marker.exists()
