"""`studio --self-test`, run as a user (or an installer) runs it: a child process, offscreen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.resources import examples_dir

# Generous: a guard against a hung child, not a performance check (the self-test has its own).
CHILD_TIMEOUT_S = 240
STEPS = ("start Qt", "open window", "load ", "analyse in the window", "validate", "compile")


def self_test(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("STRATA_SETTINGS_DIR", None)  # the self-test must keep its settings to itself
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )


def test_self_test_passes_and_reports_every_step(tmp_path: Path) -> None:
    result = self_test(tmp_path, "--self-test")

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Strata Studio ") and "self-test" in lines[0]
    for step in (*STEPS, "forward pass", "close window"):
        assert any(line.startswith(f"  ok    {step}") for line in lines), (step, result.stdout)
    assert "load mlp_classifier.strata" in result.stdout
    assert "platform offscreen" in result.stdout
    assert lines[-1].startswith("self-test passed: 8 steps in ")
    # Settings, autosaves and recent files went to a temporary folder, not the user's.
    assert not (tmp_path / "config").exists()


def test_a_missing_project_fails_with_a_message(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "missing.strata"

    result = self_test(tmp_path, "--self-test", "--self-test-project", str(missing))

    assert result.returncode == 1
    assert "FAIL  load missing.strata" in result.stdout
    assert f"{missing}: no such file" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("self-test FAILED: load missing.strata")


def test_an_unreadable_project_fails_where_the_window_would_show_an_error(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.strata"
    broken.write_text('{"schema_version": 1, "graphs": [', encoding="utf-8")

    result = self_test(tmp_path, "--self-test-project", str(broken))

    assert result.returncode == 1
    # The window's error box is reported and closed, never waited on.
    assert "FAIL  load broken.strata" in result.stdout
    assert "the window showed 'Cannot open project'" in result.stdout


@pytest.fixture
def project_with_a_shape_error(tmp_path: Path) -> Path:
    document = json.loads((examples_dir() / "mlp_classifier.strata").read_text("utf-8"))
    (graph,) = document["graphs"]
    for node in graph["nodes"]:
        if node["type"] == "studio.Input":
            node["params"]["dtype"] = "long"  # token ids into a Linear: needs an Embedding
    path = tmp_path / "wrong_shapes.strata"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_project_with_problems_fails_at_the_analysis(
    tmp_path: Path, project_with_a_shape_error: Path
) -> None:
    result = self_test(tmp_path, "--self-test-project", str(project_with_a_shape_error))

    assert result.returncode == 1
    assert "  ok    load wrong_shapes.strata" in result.stdout
    assert "FAIL  analyse in the window" in result.stdout
    assert "Insert Embedding" in result.stdout
    assert "compile" not in result.stdout
