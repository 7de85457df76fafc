"""`studio evaluate`, `explain` and `export` on a real (briefly) trained run."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from studio.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("iris") / "iris.strata"
    assert main(["new", "--template", "mlp_classifier", str(project)]) == 0
    assert main(["train", str(project), "--epochs", "3", "--device", "cpu"]) == 0
    return project


def test_evaluate_prints_metrics_and_a_confusion_matrix(capsys, trained):
    code, out, err = run(capsys, "evaluate", str(trained))
    assert code == 0, err
    assert "accuracy:" in out and "loss:" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("confusion matrix"))
    header, *rows = lines[start + 1 : start + 5]
    assert header.split() == ["setosa", "versicolor", "virginica"]
    assert len(rows) == 3 and all(len(row.split()) == 4 for row in rows)
    total = sum(int(v) for row in rows for v in row.split()[1:])
    assert f"({total} samples)" in out


def test_export_onnx_and_python_verify(capsys, trained, tmp_path):
    code, out, err = run(
        capsys, "export", str(trained), "--format", "onnx", "--format", "python",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("onnx: ok, max abs diff")
    assert lines[1].startswith("python: ok, max abs diff")
    assert (tmp_path / "out" / "MLP_classifier.onnx").is_file()


def test_explain_writes_three_panels_and_the_array(capsys, trained, tmp_path):
    png, array = tmp_path / "e.png", tmp_path / "a.csv"
    code, out, err = run(
        capsys, "explain", str(trained), "--method", "IntegratedGradients", "--sample", "2",
        "--out", str(png), "--save-array", str(array),
    )  # fmt: skip
    assert code == 0, err
    assert "IntegratedGradients for class" in out
    with Image.open(png) as picture:
        width, height = picture.size
    scale = height  # a one-pixel-high row of 4 features, enlarged
    assert width == (3 * 4 + 2 * 2) * scale
    assert array.read_text().splitlines()[0] == "a0,a1,a2,a3"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--run", "20200101-000000-abcdef"], "no run '20200101-000000-abcdef'"),
        (["evaluate", "--run", "../elsewhere"], "is not a run id"),
        (["explain", "--method", "Nope", "--sample", "0", "--out", "x.png"], "Unknown"),
        (["explain", "--method", "Saliency", "--sample", "999", "--out", "x.png"], "out of range"),
    ],
)
def test_bad_input_is_one_clear_line(capsys, trained, tmp_path, args, message):
    command, *rest = args
    rest = [str(tmp_path / a) if a.endswith(".png") else a for a in rest]
    code, _, err = run(capsys, command, str(trained), *rest)
    assert code == 1
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_project_without_a_run_says_so(capsys, tmp_path):
    project = tmp_path / "fresh.strata"
    assert main(["new", "--template", "mlp_classifier", str(project)]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, "export", str(project), "--format", "onnx", "--out", str(tmp_path))
    assert code == 1 and "no trained run yet" in err
    assert len(err.strip().splitlines()) == 1
