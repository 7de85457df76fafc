"""`studio evaluate`, `explain` and `export` on a real (briefly) trained run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
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


@pytest.fixture(scope="module")
def trained_gan(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("gan") / "gan.strata"
    assert main(["new", "--template", "gan", str(project)]) == 0
    assert main(["train", str(project), "--epochs", "1", "--device", "cpu"]) == 0
    return project


def checkpoint_record(project: Path) -> dict:
    """The metrics the latest run recorded for the epoch its best checkpoint holds."""
    import torch

    (run,) = project.with_suffix(".runs").iterdir()
    epoch = torch.load(run / "best.pt", weights_only=False)["epoch"]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return next(r for r in map(json.loads, lines) if r["epoch"] == epoch)


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


def test_export_onnx_in_the_opset_asked_for(capsys, trained, tmp_path):
    code, out, err = run(
        capsys, "export", str(trained), "--format", "onnx", "--opset", "14",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, out + err
    assert out.startswith("onnx: ok, max abs diff")
    model = onnx.load(str(tmp_path / "MLP_classifier.onnx"))
    assert {o.domain: o.version for o in model.opset_import}[""] == 14


def test_export_refuses_an_opset_it_does_not_offer(capsys, trained, tmp_path):
    code, out, err = run(
        capsys, "export", str(trained), "--format", "onnx", "--opset", "9",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 1 and out == ""
    assert err.strip() == "error: ONNX opset 9 is not offered; choose one from 14 to 23"
    assert not (tmp_path / "out").exists()


def test_export_quantized_reports_the_accuracy_change_on_the_test_split(capsys, trained, tmp_path):
    code, out, err = run(
        capsys, "export", str(trained), "--format", "torchscript", "--quantize",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, out + err
    assert out.startswith("torchscript: ok, max abs diff")
    found = re.search(
        r"^int8 dynamic quantisation of 3 Linear/LSTM layers; outputs changed by up to \S+; "
        r"accuracy ([\d.]+)% → ([\d.]+)% \(([+-][\d.]+)%\)$",
        out,
        re.MULTILINE,
    )
    assert found, out
    before, after, change = (float(v) / 100 for v in found.groups())
    assert change == pytest.approx(after - before, abs=1e-4)
    # The float model's accuracy is what `studio evaluate` measures on the test split.
    code, evaluated, err = run(capsys, "evaluate", str(trained))
    assert code == 0, err
    accuracy = re.search(r"^  accuracy: ([\d.]+)$", evaluated, re.MULTILINE)
    assert accuracy and before == pytest.approx(float(accuracy.group(1)), abs=1e-4)
    card = (tmp_path / "MLP_classifier.model_card.md").read_text()
    assert found.group(0) in card


def test_export_writes_the_runs_metrics_into_the_model_card(capsys, trained, tmp_path):
    code, out, err = run(
        capsys, "export", str(trained), "--format", "state_dict", "--out", str(tmp_path)
    )
    assert code == 0, out + err
    card_path = tmp_path / "MLP_classifier.model_card.md"
    assert f"model card → {card_path}" in out
    card = card_path.read_text()
    assert "Not evaluated yet" not in card
    record = checkpoint_record(trained)
    for key in ("train_loss", "val_loss", "val_accuracy", "val_f1"):
        assert f"| {key} | {record[key]:.6g} |" in card


def test_export_a_gan_exports_its_generator(capsys, trained_gan, tmp_path):
    code, out, err = run(
        capsys, "export", str(trained_gan), "--format", "onnx", "--format", "python",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("onnx: ok, max abs diff") and "GAN_generator.onnx" in lines[0]
    assert lines[1].startswith("python: ok, max abs diff")
    model = onnx.load(str(tmp_path / "GAN_generator.onnx"))
    assert [i.name for i in model.graph.input] == ["noise"]
    card = (tmp_path / "GAN_generator.model_card.md").read_text()
    record = checkpoint_record(trained_gan)
    assert f"| val_g_loss | {record['val_g_loss']:.6g} |" in card


def test_explain_writes_the_tabs_picture_with_its_checks_and_the_array(capsys, trained, tmp_path):
    png, array = tmp_path / "e.png", tmp_path / "a.csv"
    code, out, err = run(
        capsys, "explain", str(trained), "--method", "IntegratedGradients", "--sample", "2",
        "--out", str(png), "--save-array", str(array),
    )  # fmt: skip
    assert code == 0, err
    assert "Integrated gradients · test sample 2 · class " in out
    assert "(actual: " in out
    assert "Randomisation check: " in out and "Convergence: " in out
    with Image.open(png) as picture:
        pixels = np.asarray(picture.convert("RGB")).reshape(-1, 3)
    # Signed bars, one per iris feature: red for what speaks for the class, blue against.
    colours = {tuple(p) for p in np.unique(pixels, axis=0)}
    assert (178, 24, 43) in colours or (33, 102, 172) in colours
    assert array.read_text().splitlines()[0] == "a0,a1,a2,a3"


def test_explain_target_by_name_and_a_baseline(capsys, trained, tmp_path):
    png = tmp_path / "e.png"
    code, out, err = run(
        capsys, "explain", str(trained), "--method", "Occlusion", "--sample", "0",
        "--target", "1", "--baseline", "mean", "--no-checks", "--out", str(png),
    )  # fmt: skip
    assert code == 0, err
    assert "Randomisation check" not in out and png.is_file()
    name = out.split("· class ", 1)[1].split(" ", 1)[0]
    code, again, err = run(
        capsys, "explain", str(trained), "--method", "Occlusion", "--sample", "0",
        "--target", name, "--baseline", "mean", "--no-checks", "--out", str(png),
    )  # fmt: skip
    assert code == 0 and again == out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--run", "20200101-000000-abcdef"], "no run '20200101-000000-abcdef'"),
        (["evaluate", "--run", "../elsewhere"], "is not a run id"),
        (["explain", "--method", "Nope", "--sample", "0", "--out", "x.png"], "Unknown"),
        (["explain", "--method", "Saliency", "--sample", "999", "--out", "x.png"], "out of range"),
        (
            [
                "explain",
                "--method",
                "Saliency",
                "--sample",
                "0",
                "--target",
                "tulip",
                "--out",
                "x.png",
            ],
            "neither a class index nor a class name",
        ),
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
