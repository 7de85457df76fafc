"""Every command reads a project's data through one layer: the same warning for data outside
the project's folder (targets, links in image folders and run configs included), and `train`
refuses what `validate` reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.cli import main

OUTSIDE = "the data is read from outside the project's folder"
ROWS = "".join(f"{i % 5 + 0.5},{(i * 7) % 11},{['a', 'b'][i % 2]}\n" for i in range(40))


def make_project(folder: Path, source: dict[str, object], task: str = "classification") -> Path:
    """The MLP template reading `source` (a two-class table of two features)."""
    project = folder / "p.strata"
    assert main(["new", "--template", "mlp_classifier", str(project)]) == 0
    document = json.loads(project.read_text())
    document["data"]["dataset"] = None
    document["data"]["source"] = source
    document["training"]["task"] = task
    for node in document["graphs"][0]["nodes"]:
        if node["type"] == "studio.Input":
            node["params"]["shape"] = [2]
        elif node["name"] == "classifier":
            node["params"]["out_features"] = 2
    project.write_text(json.dumps(document))
    return project


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_warns_of_an_arrays_targets_file_outside_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere").mkdir()
    np.save(tmp_path / "project" / "x.npy", np.zeros((20, 2), np.float32))
    np.save(tmp_path / "elsewhere" / "y.npy", np.arange(20) % 2)
    source = {"kind": "arrays", "path": "x.npy", "targets": "../elsewhere/y.npy"}
    project = make_project(tmp_path / "project", source)
    _, out, _ = run(capsys, "validate", str(project))
    assert f"warning: data: {OUTSIDE}: {tmp_path / 'elsewhere' / 'y.npy'}" in out


def test_validate_warns_of_a_link_out_of_an_image_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    for cls in ("cat", "dog"):
        folder = tmp_path / ("elsewhere" if cls == "dog" else "project/pics") / cls
        folder.mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (4, 4), (i * 40, 0, 0)).save(folder / f"{i}.png")
    (tmp_path / "project" / "pics" / "dog").symlink_to(tmp_path / "elsewhere" / "dog")
    source = {"kind": "image_folder", "path": "pics", "size": [4, 4]}
    project = make_project(tmp_path / "project", source)
    _, out, _ = run(capsys, "validate", str(project))
    assert f"warning: data: {OUTSIDE}: {tmp_path / 'elsewhere' / 'dog'}" in out


@pytest.mark.timeout(120)
def test_train_evaluate_explain_and_export_warn_of_data_outside_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Train warns for the project's path; the others for the path in the run's config.json."""
    (tmp_path / "project").mkdir()
    shared = tmp_path / "shared.csv"
    shared.write_text("f1,f2,label\n" + ROWS)
    project = make_project(tmp_path / "project", {"kind": "table", "path": str(shared)})
    code, _, err = run(capsys, "train", str(project), "--epochs", "1", "--device", "cpu")
    assert code == 0, err
    assert f"warning: data: {OUTSIDE}: {shared}" in err

    # The project now reads a copy inside its folder; the run's config still names the other.
    (tmp_path / "project" / "t.csv").write_text(shared.read_text())
    document = json.loads(project.read_text())
    document["data"]["source"]["path"] = "t.csv"
    project.write_text(json.dumps(document))
    (run_folder,) = project.with_suffix(".runs").iterdir()
    config = json.loads((run_folder / "config.json").read_text())
    assert config["project"]["data"]["source"]["path"] == str(shared)

    for command in (
        ["evaluate", str(project)],
        ["explain", str(project), "--method", "Saliency", "--sample", "0",
         "--out", str(tmp_path / "e.png"), "--no-checks"],
        ["export", str(project), "--format", "state_dict", "--out", str(tmp_path / "out")],
    ):  # fmt: skip
        code, out, err = run(capsys, *command)
        assert code == 0, out + err
        assert f"warning: data: {OUTSIDE}: {shared}" in err, command[0]


def test_train_refuses_what_validate_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Float targets and a classification task: validate reports it; train used to go on."""
    rows = "".join(f"{i % 5},{i % 3},{i * 0.37:.2f}\n" for i in range(40))
    (tmp_path / "t.csv").write_text("f1,f2,y\n" + rows)
    project = make_project(tmp_path, {"kind": "table", "path": "t.csv"}, task="classification")
    capsys.readouterr()
    code, out, _ = run(capsys, "validate", str(project))
    assert code == 1
    reported = [line for line in out.splitlines() if not line.startswith("warning")]
    assert reported
    code, _, err = run(capsys, "train", str(project), "--epochs", "1", "--device", "cpu")
    assert code == 1
    assert "`studio validate` reports" in err and "internal error" not in err
    assert all(line in err for line in reported)
    assert not project.with_suffix(".runs").exists() or not any(
        project.with_suffix(".runs").iterdir()
    )


def test_train_on_three_rows_says_how_the_split_falls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "t.csv").write_text("f1,f2,label\n1,2,a\n3,4,b\n5,6,a\n")
    project = make_project(tmp_path, {"kind": "table", "path": "t.csv"})
    code, _, err = run(capsys, "train", str(project), "--epochs", "1", "--device", "cpu")
    assert code == 1
    assert "t.csv: 3 samples are too few to split: training gets" in err
    assert "internal error" not in err
