"""`studio train` as the window runs it: a child process speaking JSON lines."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.resources import examples_dir
from studio.training.runs import read_metrics, runs_folder

ORDER = {"started": 0, "step": 1, "epoch": 2, "checkpoint": 3, "done": 9}


def copy_example(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.strata"
    shutil.copy(examples_dir() / f"{name}.strata", path)
    return path


def studio(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, **kwargs
    )


def test_events_are_json_lines_in_order(tmp_path):
    project = copy_example(tmp_path, "mlp_classifier")
    result = studio("train", str(project), "--epochs", "2", "--events", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert kinds.count("epoch") == 2
    assert events[0]["device"] == "cpu" and events[0]["device_reason"]
    epoch_of_step = [e["epoch"] for e in events if e["event"] == "step"]
    # Steps are throttled (≤ 20 per second), so a fast epoch may have none; the first always is.
    assert epoch_of_step == sorted(epoch_of_step) and epoch_of_step[0] == 1
    assert set(epoch_of_step) <= {1, 2}
    times = [e["time"] for e in events if e["event"] == "step"]
    assert all(b - a >= 0.045 for a, b in itertools.pairwise(times))
    first_epoch = kinds.index("epoch")
    assert "step" in kinds[:first_epoch]
    assert kinds[first_epoch + 1 : first_epoch + 3] == ["checkpoint", "checkpoint"]
    assert events[-1]["status"] == "completed"


def test_train_without_events_draws_progress_on_stderr_only(tmp_path):
    project = copy_example(tmp_path, "mlp_classifier")
    result = studio("train", str(project), "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "epoch 1/1" in result.stderr and "completed" in result.stderr


def test_bad_resume_id_is_one_clear_line(tmp_path):
    project = copy_example(tmp_path, "mlp_classifier")
    result = studio("train", str(project), "--resume", "../../etc")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "is not a run id" in result.stderr


def test_sigkill_mid_epoch_then_resume_continues(tmp_path):
    project = copy_example(tmp_path, "cnn_classifier")
    child = subprocess.Popen(
        [sys.executable, "-m", "studio", "train", str(project), "--epochs", "3", "--events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    run_id = None
    try:
        assert child.stdout is not None
        for line in child.stdout:
            event = json.loads(line)
            if event["event"] == "started":
                run_id = event["run"]
            if event["event"] == "step" and event["epoch"] == 2:
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert run_id is not None
    run = runs_folder(project) / run_id
    assert [r["epoch"] for r in read_metrics(run / "metrics.jsonl")] == [1]
    # Killed: the status still says "running", under a pid that no longer exists.
    status = json.loads((run / "status.json").read_text())
    assert (status["status"], status["pid"], status["epoch"]) == ("running", child.pid, 1)
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"epoch": 2, "train_lo')  # what a kill during a write leaves
    assert [r["epoch"] for r in read_metrics(run / "metrics.jsonl")] == [1]

    resumed = studio("train", str(project), "--resume", run_id, "--events")
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert events[0]["start_epoch"] == 1
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [2, 3]
    assert events[0]["run"] == run_id
    assert [r["epoch"] for r in read_metrics(run / "metrics.jsonl")] == [1, 2, 3]
    steps = [e["step"] for e in events if e["event"] == "step"]
    assert steps[0] > 1
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "completed" and status["pid"] not in (child.pid, os.getpid())


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--device", "tpu"]])
def test_bad_arguments_fail(tmp_path, args):
    project = copy_example(tmp_path, "mlp_classifier")
    result = studio("train", str(project), *args)
    assert result.returncode != 0


def test_stop_on_stdin_ends_gracefully_with_checkpoints(tmp_path):
    project = copy_example(tmp_path, "cnn_classifier")
    child = subprocess.Popen(
        [sys.executable, "-m", "studio", "train", str(project), "--epochs", "50", "--events"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    events = []
    try:
        for line in child.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "checkpoint" and len(events) < 10_000:
                child.stdin.write("stop\n")
                child.stdin.flush()
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
        child.wait()
    assert events[-1]["event"] == "done" and events[-1]["status"] == "stopped"
    assert events[-1]["epoch"] < 50
    assert any(e["event"] == "log" and "stop requested" in e["message"] for e in events)
    run = Path(events[0]["run_dir"])
    assert (run / "last.pt").is_file()
    status = json.loads((run / "status.json").read_text())
    assert (status["status"], status["pid"]) == ("stopped", child.pid)
    assert "stop requested" in status["message"]


@pytest.mark.parametrize("stop_on_eof", [True, False])
def test_closed_stdin_stops_only_a_child_told_to_watch_it(tmp_path, stop_on_eof):
    """The window's child stops when the window dies (its stdin closes); a headless run with
    no stdin at all must not take that for a stop."""
    project = copy_example(tmp_path, "mlp_classifier")
    command = [sys.executable, "-m", "studio", "train", str(project), "--events"]
    epochs = 500 if stop_on_eof else 3  # a long run, so that the stop cannot come too late
    child = subprocess.Popen(
        [*command, "--epochs", str(epochs), *(["--stop-on-eof"] if stop_on_eof else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        events = [json.loads(child.stdout.readline())]
        assert events[0]["event"] == "started"
        child.stdin.close()
        events += [json.loads(line) for line in child.stdout]
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
        child.wait()
    done = events[-1]
    assert done["event"] == "done"
    if stop_on_eof:
        assert done["status"] == "stopped" and done["epoch"] < epochs
        assert (Path(events[0]["run_dir"]) / "last.pt").is_file()
    else:
        assert (done["status"], done["epoch"]) == ("completed", epochs)


def test_sigterm_stops_gracefully(tmp_path):
    project = copy_example(tmp_path, "cnn_classifier")
    child = subprocess.Popen(
        [sys.executable, "-m", "studio", "train", str(project), "--epochs", "50", "--events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    events = []
    try:
        for line in child.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "step" and events[-1]["epoch"] == 2:
                child.send_signal(signal.SIGTERM)
                break
        events += [json.loads(line) for line in child.stdout]
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
        child.wait()
    assert events[-1]["status"] == "stopped"
