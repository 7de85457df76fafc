"""The run index: real runs of the iris MLP, and hand-made folders for the broken cases."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.project import Project
from studio.training.run_index import (
    BROKEN,
    COMPLETED,
    FINISHED,
    INTERRUPTED,
    RUNNING,
    UNKNOWN,
    compare_runs,
    list_runs,
    read_run,
)
from studio.training.runs import STATUS, runs_folder
from studio.training.session import run_training


def train(project: Project, **training: object) -> str:
    if training:
        project.training = project.training.model_copy(update=training)
    return run_training(project, progress=io.StringIO()).run.run_id


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Two real runs of the iris MLP: the second with another learning rate and hidden1 of 16."""
    import shutil

    from studio.core.registry import LayerRegistry
    from studio.core.resources import examples_dir
    from studio.layers import register

    registry = LayerRegistry()
    register(registry)
    path = tmp_path_factory.mktemp("runs") / "iris.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", path)
    project = Project.load(path, registry)
    first = train(project, epochs=2, learning_rate=1e-3)
    hidden = project.main_graph.node_by_name("hidden1")
    assert hidden is not None
    project.main_graph.set_param(hidden.id, "out_features", 16)
    second = train(project, epochs=1, learning_rate=0.01)
    return path, first, second


def hand_made_run(project_path: Path, run_id: str, *, config: str | None = "{}") -> Path:
    folder = runs_folder(project_path) / run_id
    folder.mkdir(parents=True)
    if config is not None:
        (folder / "config.json").write_text(config, encoding="utf-8")
    return folder


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_real_runs_are_listed_newest_first_with_their_figures(two_runs) -> None:
    path, first, second = two_runs
    runs = list_runs(path)
    assert [r.run_id for r in runs] == [second, first]
    newest, oldest = runs
    assert oldest.epochs_done == 2 and oldest.epochs_total == 2
    assert newest.epochs_done == 1 and newest.epochs_total == 1
    assert oldest.device == "cpu"
    assert oldest.status in (COMPLETED, FINISHED)  # FINISHED while runs write no status.json
    assert oldest.has_checkpoint
    best_loss = oldest.best["val_loss"]
    assert best_loss.epoch in (1, 2)
    assert "val_accuracy" in oldest.best and "train_loss" in oldest.final
    assert oldest.headline is not None and oldest.headline[0] == "val_loss"
    assert oldest.started is not None and oldest.updated is not None


def test_comparing_two_runs_shows_curves_settings_and_the_changed_node(two_runs) -> None:
    path, first, second = two_runs
    comparison = compare_runs(path, [first, second])
    assert [r.run_id for r in comparison.runs] == [first, second]
    curves = comparison.curves
    assert list(curves[first]["epoch"]) == [1.0, 2.0]
    assert len(curves[second]["val_loss"]) == 1
    assert np.isfinite(curves[first]["train_loss"]).all()
    assert "val_loss" in comparison.metric_names
    differing = {row.name: row.values for row in comparison.differing_settings()}
    assert differing["training.learning_rate"] == ("0.001", "0.01")
    assert differing["resolved.epochs"] == ("2", "1")
    every = {row.name for row in comparison.settings}
    # Defaults count too: a setting nobody chose is still what the run trained with.
    assert {"training.optimizer.name", "training.batch_size", "data.dataset"} <= every
    assert "training.optimizer.name" not in differing
    changes = comparison.graph_changes
    assert [(c.node, c.kind, c.param, c.values) for c in changes] == [
        ("hidden1", "param", "out_features", ("32", "16"))
    ]
    losses = next(row for row in comparison.metrics if row.name == "val_loss")
    assert all(best is not None for best in losses.best)


def test_nodes_added_removed_and_retyped_are_named(two_runs) -> None:
    path, first, _second = two_runs
    project_path = path.with_name("edited.strata")
    source = runs_folder(path) / first
    config = json.loads((source / "config.json").read_text())
    renamed = json.loads(json.dumps(config))
    other = renamed["project"]["graphs"][0]["nodes"]
    other[:] = [n for n in other if n["name"] != "dropout"]  # removed
    other.append({"name": "extra", "type": "studio.ReLU", "params": {}})  # added
    next(n for n in other if n["name"] == "relu2")["type"] = "studio.GELU"  # retyped
    hand_made_run(project_path, "20260101-000000-aaaaaa", config=json.dumps(config))
    hand_made_run(project_path, "20260101-000001-bbbbbb", config=json.dumps(renamed))
    comparison = compare_runs(project_path, ["20260101-000000-aaaaaa", "20260101-000001-bbbbbb"])
    kinds = {(c.node, c.kind): c.values for c in comparison.graph_changes}
    assert kinds[("dropout", "removed")] == ("studio.Dropout", None)
    assert kinds[("extra", "added")] == (None, "studio.ReLU")
    assert kinds[("relu2", "type")] == ("studio.ReLU", "studio.GELU")


def test_broken_and_killed_runs_are_listed_never_raised(tmp_path: Path) -> None:
    project = tmp_path / "demo.strata"
    hand_made_run(project, "20260101-000000-broken", config="{not json")
    hand_made_run(project, "20260101-000001-noconf", config=None)
    killed = hand_made_run(project, "20260101-000002-killed")
    status = {"status": "running", "pid": dead_pid(), "started": 1.0e9, "updated": 1.0e9 + 5}
    (killed / STATUS).write_text(json.dumps(status))
    (killed / "metrics.jsonl").write_text('{"epoch": 1, "val_loss": 0.5}\n{"epoch": 2, "val_lo')
    alive = hand_made_run(project, "20260101-000003-alive")
    (alive / STATUS).write_text(json.dumps({"status": "running", "pid": os.getpid()}))
    torn = hand_made_run(project, "20260101-000004-torn")
    (torn / STATUS).write_text('{"status": "runn')
    hand_made_run(project, "not a run id")  # ignored: not a name training makes
    (runs_folder(project) / "stray.txt").write_text("x")
    runs = {r.run_id: r for r in list_runs(project)}
    assert set(runs) == {
        "20260101-000000-broken",
        "20260101-000001-noconf",
        "20260101-000002-killed",
        "20260101-000003-alive",
        "20260101-000004-torn",
    }
    assert runs["20260101-000000-broken"].status == BROKEN
    assert "not valid JSON" in (runs["20260101-000000-broken"].message or "")
    assert runs["20260101-000001-noconf"].status == BROKEN
    assert "missing" in (runs["20260101-000001-noconf"].message or "")
    killed_run = runs["20260101-000002-killed"]
    assert killed_run.status == INTERRUPTED
    assert killed_run.epochs_done == 1  # the torn second line is not counted
    assert killed_run.best["val_loss"].value == 0.5
    assert killed_run.updated == 1.0e9 + 5
    assert runs["20260101-000003-alive"].status == RUNNING
    assert runs["20260101-000004-torn"].status == UNKNOWN
    assert "status.json" in (runs["20260101-000004-torn"].message or "")
    # Comparing broken runs gives what there is, and unknown ids are skipped.
    comparison = compare_runs(
        project, ["20260101-000000-broken", "../etc", "20260101-000002-killed"]
    )
    assert [r.run_id for r in comparison.runs] == [
        "20260101-000000-broken",
        "20260101-000002-killed",
    ]
    assert comparison.graph_changes == []


def test_a_project_without_runs_lists_none(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "new.strata") == []
    assert read_run(tmp_path).status == BROKEN
