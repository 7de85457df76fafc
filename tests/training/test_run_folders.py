"""Run folders that are damaged, hostile or in use: every reader refuses in a sentence or
copes, never hangs, and two processes never train one run at once.

One real run of the iris MLP is trained per module; each test works on a copy of it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from studio.core.errors import StudioError
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import examples_dir
from studio.training.checkpoints import load_checkpoint, save_checkpoint
from studio.training.errors import TrainingError
from studio.training.run_index import BROKEN, INTERRUPTED, RUNNING, list_runs, read_run
from studio.training.runs import RunFolder, read_metrics_file, runs_folder
from studio.training.session import prepare_resume, run_training
from studio.training.trained import (
    RunError,
    latest_run_id,
    load_run,
    runs_with_weights,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")
# A hang would otherwise stop the whole suite: these bound every test that meets a FIFO.
bounded = pytest.mark.timeout(60, method="thread")


def _registry() -> LayerRegistry:
    from studio.layers import register

    registry = LayerRegistry()
    register(registry)
    return registry


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding iris.strata and its runs folder with one real two-epoch run."""
    folder = tmp_path_factory.mktemp("trained")
    path = folder / "iris.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", path)
    project = Project.load(path, _registry())
    project.training = project.training.model_copy(update={"epochs": 2, "device": "cpu"})
    project.save(path)
    run_training(project, progress=io.StringIO())
    return folder


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    """A fresh copy of the trained project and its run; returns the project file."""
    shutil.copytree(trained, tmp_path / "copy")
    return tmp_path / "copy" / "iris.strata"


def only_run(project_path: Path) -> RunFolder:
    (path,) = runs_folder(project_path).iterdir()
    return RunFolder(path)


def old_copy(project_path: Path, run: RunFolder, name: str) -> RunFolder:
    """A second run, older than `run` (its id sorts first), with the same files."""
    older = runs_folder(project_path) / name
    shutil.copytree(run.path, older)
    (older / "train.lock").unlink(missing_ok=True)
    return RunFolder(older)


def resume_plan(project_path: Path, run: RunFolder) -> object:
    return prepare_resume(run, Project.load(project_path, _registry()))


def fifo_in_place_of(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


# ----------------------------------------------------------------- special files (hangs)
@posix_only
@bounded
@pytest.mark.parametrize("name", ["metrics.jsonl", "status.json", "config.json"])
def test_a_fifo_in_a_run_never_hangs_the_listing(project: Path, name: str) -> None:
    run = only_run(project)
    fifo_in_place_of(run.path / name)
    assert [r.run_id for r in runs_with_weights(project)] == [run.run_id]
    assert latest_run_id(project) == run.run_id
    info = read_run(run.path)
    if name != "status.json":
        assert info.status == BROKEN and name in (info.message or "")
        assert "named pipe" in (info.message or "")


@posix_only
@bounded
def test_a_fifo_for_metrics_does_not_stop_evaluation_loading(project: Path) -> None:
    run = only_run(project)
    fifo_in_place_of(run.metrics)
    trained = load_run(project)
    assert trained.run_id == run.run_id and trained.metrics == {}


@posix_only
@bounded
@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_config_as_fifo_or_dev_zero_is_refused_by_evaluate_and_resume(
    project: Path, target: str
) -> None:
    run = only_run(project)
    config = run.path / "config.json"
    if target == "fifo":
        fifo_in_place_of(config)
    else:
        config.unlink()
        config.symlink_to(target)
    with pytest.raises(RunError, match=r"config\.json"):
        load_run(project)
    with pytest.raises(TrainingError, match=r"config\.json"):
        resume_plan(project, run)


@posix_only
@bounded
def test_a_checkpoint_that_is_a_fifo_is_refused(project: Path) -> None:
    run = only_run(project)
    for name in ("best.pt", "last.pt"):
        fifo_in_place_of(run.path / name)
    with pytest.raises(RunError, match="has no trained run"):
        load_run(project)  # the newest run with weights: none has them
    with pytest.raises(RunError, match=r"last\.pt: is a named pipe"):
        load_run(project, run.run_id)
    with pytest.raises(TrainingError, match=r"last\.pt: is a named pipe"):
        resume_plan(project, run)


def test_a_checkpoint_linking_out_of_the_run_is_refused(project: Path, tmp_path: Path) -> None:
    run = only_run(project)
    outside = tmp_path / "elsewhere.pt"
    shutil.copy(run.last, outside)
    run.best.unlink()
    run.last.unlink()
    run.last.symlink_to(outside)
    with pytest.raises(RunError, match="outside"):
        load_run(project)


# ----------------------------------------------------------------- bad metrics lines
BAD_LINES = ["garbage{", '{"epoch": "two"}', '{"epoch": null}', '{"epoch": 1, "x": 1e999999}']


@pytest.mark.parametrize("bad", [*BAD_LINES, '{"epoch": 2, "val_loss": 1' + "0" * 400 + "}"])
def test_a_bad_line_in_an_older_run_breaks_neither_the_newest_nor_the_listing(
    project: Path, bad: str
) -> None:
    newest = only_run(project)
    older = old_copy(project, newest, "20000101-000000.000-aaaaaa")
    with older.metrics.open("a", encoding="utf-8") as handle:
        handle.write(bad + "\n")
    choices = runs_with_weights(project)
    assert [c.run_id for c in choices] == [newest.run_id, older.run_id]
    assert latest_run_id(project) == newest.run_id
    assert load_run(project).run_id == newest.run_id
    listed = {r.run_id: r for r in list_runs(project)}
    assert listed[newest.run_id].status != BROKEN
    assert listed[older.run_id].epochs_done == 2


def test_damaged_lines_are_skipped_and_counted_and_a_torn_last_line_is_not(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "val_loss": 0.5}\nxx\n[1]\n{"epoch": 2, "val_loss": 0.4}\n{"ep')
    parsed = read_metrics_file(path)
    assert [r["epoch"] for r in parsed.records] == [1, 2]
    assert parsed.bad_lines == [2, 3] and parsed.torn
    assert "2 damaged lines skipped (2, 3)" in (parsed.problem(path) or "")


def test_the_run_list_names_damaged_metrics_lines(project: Path) -> None:
    run = only_run(project)
    with run.metrics.open("a", encoding="utf-8") as handle:
        handle.write("not json\n")
    info = read_run(run.path)
    assert info.status != BROKEN
    assert "1 damaged line skipped (3)" in (info.message or "")


def test_resume_drops_damaged_lines_instead_of_failing(project: Path) -> None:
    run = only_run(project)
    with run.metrics.open("a", encoding="utf-8") as handle:
        handle.write('{"epoch": "x"}\n')
    run.truncate_metrics_after(1)
    assert [r["epoch"] for r in read_metrics_file(run.metrics).records] == [1]


# ----------------------------------------------------------------- the training lock
def test_a_second_writer_is_refused_naming_the_holder(project: Path) -> None:
    run = only_run(project)
    lock = run.lock_for_training()
    try:
        with pytest.raises(TrainingError, match=f"being trained by process {os.getpid()}"):
            run.lock_for_training()
        loaded = Project.load(project, _registry())
        with pytest.raises(TrainingError, match=f"run {run.run_id} is being trained by process"):
            run_training(loaded, resume=run.run_id, progress=io.StringIO())
        assert read_run(run.path).status == RUNNING
    finally:
        lock.release()
    assert run.training_pid() is None
    run.lock_for_training().release()  # free again


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from studio.training.runs import RunFolder
    lock = RunFolder(Path(sys.argv[1])).lock_for_training()
    print("locked", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="the child is killed with SIGKILL")
@bounded
def test_a_resume_while_another_process_trains_is_refused_and_a_kill_frees_the_run(
    project: Path,
) -> None:
    run = only_run(project)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(run.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        loaded = Project.load(project, _registry())
        with pytest.raises(TrainingError, match=f"being trained by process {child.pid}; stop it"):
            run_training(loaded, resume=run.run_id, progress=io.StringIO())
        assert read_run(run.path).status == RUNNING
    finally:
        child.kill()
        child.wait()
    assert run.training_pid() is None


def test_a_run_trains_under_its_lock(project: Path) -> None:
    from studio.training.callbacks import Callback

    seen: list[int | None] = []

    class Probe(Callback):
        def on_epoch_end(self, trainer) -> None:
            seen.append(RunFolder(Path(trainer.info["run_dir"])).training_pid())

    loaded = Project.load(project, _registry())
    loaded.training = loaded.training.model_copy(update={"epochs": 1, "device": "cpu"})
    result = run_training(loaded, progress=io.StringIO(), extra_callbacks=(Probe(),))
    assert seen == [os.getpid()]
    assert result.run.training_pid() is None


def test_a_status_running_of_a_live_process_is_not_offered_for_resume(project: Path) -> None:
    from studio.ui.runs_model import find_resumable_run

    run = only_run(project)
    status = json.loads(run.status.read_text())
    # An older run (no lock file) whose status names a process that is alive: still training.
    (run.path / "train.lock").unlink(missing_ok=True)
    run.status.write_text(json.dumps({**status, "status": "running", "pid": os.getpid()}))
    assert find_resumable_run(project) is None
    # With a lock file no process holds, "running" means the process is gone, pid or not.
    (run.path / "train.lock").write_text(f"{os.getpid()}\n")
    assert read_run(run.path).status == INTERRUPTED
    assert find_resumable_run(project) == run.run_id


# ----------------------------------------------------------------- one copy of the weights
def test_a_checkpoint_holds_the_weights_once(project: Path) -> None:
    state = load_checkpoint(only_run(project).last)
    assert "model" not in state and set(state["mode"]["models"]) == {"model"}


def test_every_reader_reads_the_same_copy_of_an_old_checkpoint(project: Path) -> None:
    """A format-1 checkpoint whose two copies differ: the mode's copy is the one read."""
    from studio.training.evaluation import evaluate_run
    from studio.training.trained import trained_model

    run = only_run(project)
    state = load_checkpoint(run.best)
    mode_copy = state["mode"]["models"]["model"]
    state["format"] = 1
    state["model"] = {k: torch.zeros_like(v) for k, v in mode_copy.items()}
    save_checkpoint(run.best, state)
    trained = load_run(project)
    assert trained.weights is trained.models["model"]
    model_weights = trained_model(trained).state_dict()
    for name, tensor in mode_copy.items():
        assert torch.equal(model_weights[name], tensor)
    # The run's own validation loss at that epoch: the zeros would give ln(3) instead.
    evaluation = evaluate_run(project, split="validation", trained=trained)
    assert evaluation.metrics["val_loss"] == pytest.approx(trained.metrics["val_loss"], rel=1e-4)


def test_a_checkpoint_with_only_the_old_top_level_copy_still_loads(project: Path) -> None:
    run = only_run(project)
    state = load_checkpoint(run.best)
    weights = state["mode"].pop("models")["model"]
    state["model"] = weights
    save_checkpoint(run.best, state)
    assert torch.equal(load_run(project).weights["classifier.weight"], weights["classifier.weight"])


# ----------------------------------------------------------------- resume with odd contents
def edit_last(run: RunFolder, change) -> None:
    state = load_checkpoint(run.last)
    change(state)
    save_checkpoint(run.last, state)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("rng"), r"last.pt: rng .* is missing"),
        (lambda s: s.update(epoch=-5), r"last.pt: epoch in the checkpoint is -5"),
        (lambda s: s.update(epoch="2"), r"last.pt: epoch in the checkpoint is '2'"),
        (lambda s: s.pop("step"), r"last.pt: step in the checkpoint is missing"),
        (lambda s: s.update(epoch=99), r"last.pt: the checkpoint's epoch is 99, past the 2"),
        (lambda s: s["rng"].update(python=torch.zeros(3)), r"last.pt: rng.python"),
        (lambda s: s.update(epoch_progress={"batches": -1}), r"epoch_progress.batches"),
        (lambda s: s.pop("mode"), r"last.pt: .*holds no weights"),
    ],
)
def test_resume_refuses_odd_checkpoint_contents_naming_the_field(
    project: Path, change, message: str
) -> None:
    run = only_run(project)
    edit_last(run, change)
    with pytest.raises(TrainingError, match=message):
        resume_plan(project, run)


def test_resume_refuses_weights_of_another_shape_naming_the_checkpoint(project: Path) -> None:
    run = only_run(project)

    def wrong_shape(state) -> None:
        weights = state["mode"]["models"]["model"]
        weights["output.weight"] = torch.zeros(7, 7)

    edit_last(run, wrong_shape)
    loaded = Project.load(project, _registry())
    with pytest.raises(TrainingError, match=r"last.pt: the checkpoint does not fit"):
        run_training(loaded, resume=run.run_id, progress=io.StringIO())


@pytest.mark.parametrize(
    ("resolved", "message"),
    [
        ({"epochs": "ten"}, r"config.json: resolved.epochs is 'ten'"),
        ({"epochs": -5}, r"config.json: resolved.epochs is -5"),
        ({"epochs": True}, r"config.json: resolved.epochs is True"),
        ("nope", r"config.json: 'resolved' is not an object"),
    ],
)
def test_resume_refuses_odd_config_values_naming_the_field(
    project: Path, resolved: object, message: str
) -> None:
    run = only_run(project)
    config = json.loads((run.path / "config.json").read_text())
    config["resolved"] = resolved
    (run.path / "config.json").write_text(json.dumps(config))
    with pytest.raises(TrainingError, match=message):
        resume_plan(project, run)


def test_a_run_killed_before_its_first_checkpoint_says_why_it_cannot_resume(
    project: Path,
) -> None:
    run = only_run(project)
    run.last.unlink()
    run.best.unlink()
    loaded = Project.load(project, _registry())
    with pytest.raises(TrainingError, match=r"no last.pt yet .*before its first epoch"):
        run_training(loaded, resume=run.run_id, progress=io.StringIO())
    with pytest.raises(RunError, match="no checkpoint"):
        load_run(project, run.run_id)


def test_a_valid_resume_plan_changes_nothing(project: Path) -> None:
    run = only_run(project)
    before = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}
    plan = prepare_resume(run, Project.load(project, _registry()))
    assert plan.epochs == 2 and plan.checkpoint["epoch"] == 2
    assert {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()} == before


# ----------------------------------------------------------------- found by the run fuzzer
@pytest.mark.parametrize("key", ["updated", "started", "pid"])
def test_status_json_with_a_number_no_float_holds_is_listed(project: Path, key: str) -> None:
    run = only_run(project)
    status = json.loads(run.status.read_text())
    run.status.write_text(json.dumps({**status, "status": "running", key: 10**400}))
    info = read_run(run.path)
    assert info.status in (INTERRUPTED, RUNNING)


def test_a_run_graph_that_cannot_compile_names_the_run_config(project: Path) -> None:
    from studio.training.trained import trained_model

    run = only_run(project)
    config = json.loads((run.path / "config.json").read_text())
    config["project"]["graphs"][0]["edges"] = []
    (run.path / "config.json").write_text(json.dumps(config))
    trained = load_run(project)
    with pytest.raises(StudioError, match=rf"run {run.run_id}, in .*config\.json"):
        trained_model(trained)


def test_a_run_without_data_settings_names_the_run_config(project: Path) -> None:
    run = only_run(project)
    config = json.loads((run.path / "config.json").read_text())
    del config["project"]["data"]
    (run.path / "config.json").write_text(json.dumps(config))
    with pytest.raises(StudioError, match=rf"data settings of run {run.run_id}, in .*config"):
        load_run(project)
