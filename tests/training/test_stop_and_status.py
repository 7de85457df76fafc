"""Stop = checkpoint, then exit (even inside an epoch); the run's `status.json`; step events."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import torch

from studio.training.callbacks import Callback
from studio.training.checkpoints import load_checkpoint
from studio.training.errors import NonFiniteLossError
from studio.training.events import parse_events
from studio.training.runs import RunFolder, read_metrics
from studio.training.session import run_training
from studio.training.stopping import StopRequests

# The iris split trains on 105 rows in batches of 16: 7 steps per epoch, so step 10 is the
# third batch of epoch 2.
STOP_STEP = 10


class PressStopAt(Callback):
    """Presses Stop the way the window does (a `StopRequests`), just before a chosen step ends."""

    def __init__(self, requests: StopRequests, step: int) -> None:
        self.requests = requests
        self.step = step

    def on_batch_end(self, trainer):
        if trainer.step == self.step:
            self.requests.request()


class StatusAtStart(Callback):
    """What `status.json` says once training has started (read from the file, as others do)."""

    def __init__(self) -> None:
        self.seen: dict | None = None

    def on_fit_start(self, trainer):
        self.seen = RunFolder(Path(trainer.info["run_dir"])).read_status()


def stop_at(step: int) -> tuple[Callback, ...]:
    requests = StopRequests(signals=False)
    return PressStopAt(requests, step), requests


def epoch_figures(run: RunFolder) -> list[tuple[int, float, float, float]]:
    return [
        (r["epoch"], round(r["train_loss"], 5), round(r["val_loss"], 5), r["val_accuracy"])
        for r in read_metrics(run.metrics)
    ]


def test_stop_mid_epoch_checkpoints_and_resume_matches_an_uninterrupted_run(example):
    whole = run_training(example("mlp_classifier", epochs=3, seed=3), progress=io.StringIO())
    project = example("mlp_classifier", epochs=3, seed=3)

    events = io.StringIO()
    stopped = run_training(project, events=events, extra_callbacks=stop_at(STOP_STEP))
    assert (stopped.status, stopped.epoch) == ("stopped", 2)
    parsed = parse_events(events.getvalue())
    saved = [e for e in parsed if e["event"] == "checkpoint" and "batch" in e]
    assert saved == [
        {**saved[0], "kind": "last", "epoch": 2, "step": STOP_STEP, "batch": 3},
    ]
    assert any(e["event"] == "log" and "after batch 3 of 7" in e["message"] for e in parsed)
    assert parsed[-1]["event"] == "done" and parsed[-1]["status"] == "stopped"
    state = load_checkpoint(stopped.run.last)  # weights_only=True: plain values only
    assert (state["epoch"], state["step"]) == (1, STOP_STEP)
    assert state["epoch_progress"]["epoch"] == 2 and state["epoch_progress"]["batches"] == 3
    assert [r["epoch"] for r in read_metrics(stopped.run.metrics)] == [1]

    events = io.StringIO()
    resumed = run_training(project, events=events, resume=stopped.run.run_id)
    assert resumed.status == "completed"
    parsed = parse_events(events.getvalue())
    assert (parsed[0]["start_epoch"], parsed[0]["start_batch"]) == (1, 3)
    assert any(e["event"] == "log" and "in epoch 2 after batch 3" in e["message"] for e in parsed)
    steps = [e["step"] for e in parsed if e["event"] == "step"]
    assert steps[0] == STOP_STEP + 1
    assert [e["step"] for e in parsed if e["event"] == "epoch"] == [14, 21]
    # Every epoch's figures, the interrupted one's training loss over all its batches included.
    assert epoch_figures(resumed.run) == epoch_figures(whole.run)
    ours, theirs = load_checkpoint(resumed.run.last), load_checkpoint(whole.run.last)
    assert ours["epoch_progress"] is None
    for name, tensor in theirs["mode"]["models"]["model"].items():
        torch.testing.assert_close(ours["mode"]["models"]["model"][name], tensor, rtol=0, atol=1e-6)


def test_stop_at_an_epoch_end_writes_no_progress_and_resumes_after_it(example):
    project = example("mlp_classifier", epochs=3)
    stopped = run_training(project, progress=io.StringIO(), extra_callbacks=stop_at(7))
    assert (stopped.status, stopped.epoch) == ("stopped", 1)
    state = load_checkpoint(stopped.run.last)
    assert state["epoch"] == 1 and state["epoch_progress"] is None
    resumed = run_training(project, progress=io.StringIO(), resume=stopped.run.run_id)
    assert [r["epoch"] for r in read_metrics(resumed.run.metrics)] == [1, 2, 3]


def test_status_follows_the_run_through_stop_resume_and_failure(example):
    project = example("mlp_classifier", epochs=3)
    watcher = StatusAtStart()
    stopped = run_training(
        project, progress=io.StringIO(), extra_callbacks=(watcher, *stop_at(STOP_STEP))
    )
    assert watcher.seen is not None
    assert watcher.seen["status"] == "running"
    assert (watcher.seen["epoch"], watcher.seen["step"], watcher.seen["epochs"]) == (0, 0, 3)
    status = json.loads(stopped.run.status.read_text())
    assert set(status) == {
        *("status", "pid", "started", "updated", "epoch", "step", "epochs", "message")
    }
    assert status["status"] == "stopped" and "stop requested" in status["message"]
    assert status["pid"] == os.getpid()
    # Stopped inside epoch 2: one epoch finished.
    assert (status["epoch"], status["step"], status["epochs"]) == (1, STOP_STEP, 3)
    assert status["started"] <= status["updated"]
    assert not [p for p in stopped.run.path.iterdir() if p.name.endswith(".tmp")]

    watcher = StatusAtStart()
    resumed = run_training(
        project, progress=io.StringIO(), resume=stopped.run.run_id, extra_callbacks=(watcher,)
    )
    assert watcher.seen is not None
    assert watcher.seen["status"] == "running" and watcher.seen["message"] is None
    assert watcher.seen["started"] > status["started"]
    final = resumed.run.read_status()
    assert final is not None
    assert (final["status"], final["epoch"], final["step"], final["message"]) == (
        "completed",
        3,
        21,
        None,
    )

    failing = example("mlp_regressor", epochs=2)
    failing.training = failing.training.model_copy(update={"learning_rate": 1e6})
    with pytest.raises(NonFiniteLossError) as raised:
        run_training(failing, progress=io.StringIO())
    (folder,) = (failing.path.parent / "mlp_regressor.runs").iterdir()
    failed = RunFolder(folder).read_status()
    assert failed is not None
    assert failed["status"] == "failed" and failed["message"] == str(raised.value)


def test_a_run_that_cannot_start_says_why_in_its_status(example):
    project = example("mlp_classifier", epochs=1)
    project.training.frozen = ["nope"]
    with pytest.raises(Exception, match="'nope'"):
        run_training(project, progress=io.StringIO())
    (folder,) = (project.path.parent / "mlp_classifier.runs").iterdir()
    status = RunFolder(folder).read_status()
    assert status is not None
    assert status["status"] == "failed" and "'nope'" in status["message"]


def test_step_events_carry_gpu_memory_only_on_cuda(example):
    events = io.StringIO()
    run_training(example("mlp_classifier", epochs=1), events=events, device="cpu")
    steps = [e for e in parse_events(events.getvalue()) if e["event"] == "step"]
    assert steps and all("gpu_memory_mb" not in e for e in steps)
    if not torch.cuda.is_available():
        return
    events = io.StringIO()
    run_training(example("mlp_classifier", epochs=1), events=events, device="cuda")
    steps = [e for e in parse_events(events.getvalue()) if e["event"] == "step"]
    memory = steps[0]["gpu_memory_mb"]
    assert set(memory) == {"allocated", "reserved", "peak"}
    assert 0 < memory["allocated"] <= memory["peak"] and memory["allocated"] <= memory["reserved"]
