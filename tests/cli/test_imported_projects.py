"""Imported projects are first-class: `studio export` and `explain` work without a dataset.

A model brought in with `studio import` names no data unless `--dataset` is given. Every
export format is then verified on inputs of the Input nodes' recorded shapes and dtypes (real
onnxruntime, a real fresh interpreter for the Python export), with the imported weights;
`explain` takes the input to explain from a .npy file; `evaluate`, which needs a test split,
says what to set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from studio.cli import EXIT_OK, EXIT_PROBLEMS, main
from tests.importers.conftest import SOURCE_MODELS
from tests.importers.onnx_models import export_onnx

FORMATS = ("onnx", "torchscript", "pt2", "state_dict", "safetensors", "python")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def imported_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PyTorch class imported through the command line, no `--dataset`."""
    out = tmp_path_factory.mktemp("imported_py") / "mlp.strata"
    assert main(["import", f"{SOURCE_MODELS}:SkipMLP", "--out", str(out)]) == EXIT_OK
    return out


@pytest.fixture(scope="module")
def onnx_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ONNX file of a small CNN (weights of seed 5), the model the user brings."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("imported_projects_sources", SOURCE_MODELS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(5)
    return export_onnx(module.LeNet(), tmp_path_factory.mktemp("onnx") / "lenet.onnx")


@pytest.fixture(scope="module")
def imported_onnx(onnx_source: Path) -> Path:
    out = onnx_source.with_name("lenet.strata")
    assert main(["import", str(onnx_source), "--out", str(out)]) == EXIT_OK
    return out


def onnx_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: x})
    return np.asarray(output)


@pytest.mark.timeout(240)
def test_every_format_exports_an_imported_project_without_data(
    capsys: pytest.CaptureFixture[str], imported_onnx: Path, onnx_source: Path, tmp_path: Path
) -> None:
    args = [a for f in FORMATS for a in ("--format", f)]
    code, out, err = run(capsys, "export", str(imported_onnx), *args, "--out", str(tmp_path))
    # Was: "error: the project names no data: choose a bundled dataset ...".
    assert code == EXIT_OK, out + err
    for format_id in FORMATS:
        assert re.search(rf"^{format_id}: ok, max abs diff ", out, re.M), out
    assert "verified on random inputs of the Input nodes' shapes and dtypes" in out
    # The exported file holds the imported weights: it computes what the user's file does.
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    exported = onnx_outputs(tmp_path / "lenet.onnx", x)
    np.testing.assert_allclose(exported, onnx_outputs(onnx_source, x), rtol=1e-4, atol=1e-5)
    assert (tmp_path / "lenet.model_card.md").is_file()


def test_python_import_exports_onnx_without_data(
    capsys: pytest.CaptureFixture[str], imported_python: Path, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "export", str(imported_python), "--format", "onnx", "--out", str(tmp_path)
    )
    assert code == EXIT_OK, out + err
    assert out.startswith("onnx: ok"), out
    assert not (tmp_path / "preprocessing.json").exists()


def test_explain_an_imported_project_on_an_input_file(
    capsys: pytest.CaptureFixture[str], imported_python: Path, tmp_path: Path
) -> None:
    sample = tmp_path / "sample.npy"
    np.save(sample, np.random.default_rng(1).standard_normal(12).astype(np.float32))
    picture = tmp_path / "why.png"
    values = tmp_path / "why.npy"
    code, out, err = run(
        capsys,
        "explain",
        str(imported_python),
        "--method",
        "IntegratedGradients",
        "--input",
        str(sample),
        "--out",
        str(picture),
        "--save-array",
        str(values),
    )
    assert code == EXIT_OK, out + err
    assert "Integrated Gradients · input sample.npy" in out or "input sample.npy" in out
    assert picture.stat().st_size > 1000
    assert np.load(values).shape[-1] == 12


def test_explain_by_sample_without_data_says_what_to_pass(
    capsys: pytest.CaptureFixture[str], imported_python: Path, tmp_path: Path
) -> None:
    code, _, err = run(
        capsys,
        "explain",
        str(imported_python),
        "--method",
        "Saliency",
        "--sample",
        "0",
        "--out",
        str(tmp_path / "x.png"),
    )
    assert code == EXIT_PROBLEMS
    assert "the project names no data" in err
    assert "pass `--input FILE.npy` holding one input of shape (12,) (float32)" in err
    assert "internal error" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.zeros((3, 12), np.float32), "holds an array of shape (3, 12); the input"),
        (b"not numpy", "not a NumPy .npy file"),
        (np.array(["a"] * 12), "holds no numeric array"),
    ],
)
def test_explain_refuses_an_input_file_that_does_not_fit(
    capsys: pytest.CaptureFixture[str],
    imported_python: Path,
    tmp_path: Path,
    content: object,
    message: str,
) -> None:
    sample = tmp_path / "bad.npy"
    if isinstance(content, bytes):
        sample.write_bytes(content)
    else:
        np.save(sample, content)
    code, _, err = run(
        capsys,
        "explain",
        str(imported_python),
        "--method",
        "Saliency",
        "--input",
        str(sample),
        "--out",
        str(tmp_path / "x.png"),
    )
    assert code == EXIT_PROBLEMS
    assert message in err and str(sample) in err, err
    assert "internal error" not in err


@pytest.mark.timeout(30)
def test_explain_input_that_is_a_fifo_is_refused_unread(
    capsys: pytest.CaptureFixture[str], imported_python: Path, tmp_path: Path
) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    code, _, err = run(
        capsys,
        "explain",
        str(imported_python),
        "--method",
        "Saliency",
        "--input",
        str(fifo),
        "--out",
        str(tmp_path / "x.png"),
    )
    assert code == EXIT_PROBLEMS
    assert str(fifo) in err and "internal error" not in err


def test_evaluate_without_data_says_what_to_set(
    capsys: pytest.CaptureFixture[str], imported_python: Path
) -> None:
    code, _, err = run(capsys, "evaluate", str(imported_python))
    assert code == EXIT_PROBLEMS
    assert "the project names no data, and evaluating needs its test split" in err
    assert "--dataset NAME" in err


TOKEN_MODEL = """
import torch
from torch import nn


class TokenClassifier(nn.Module):
    example_input_shape = (2, 6)

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids).mean(dim=1))
"""


@pytest.fixture(scope="module")
def imported_tokens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model of token ids (an Embedding of 20), imported without data."""
    folder = tmp_path_factory.mktemp("tokens")
    (folder / "tokens.py").write_text(TOKEN_MODEL)
    out = folder / "tokens.strata"
    assert main(["import", f"{folder / 'tokens.py'}:TokenClassifier", "--out", str(out)]) == 0
    return out


@pytest.mark.timeout(120)
def test_token_model_exports_on_ids_below_its_vocabulary(
    capsys: pytest.CaptureFixture[str], imported_tokens: Path, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys,
        "export",
        str(imported_tokens),
        "--format",
        "onnx",
        "--format",
        "torchscript",
        "--out",
        str(tmp_path),
    )
    assert code == EXIT_OK, out + err
    assert "onnx: ok" in out and "torchscript: ok" in out
    (model,) = tmp_path.glob("*.onnx")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(int64)"


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (np.array([0, 1, 2, 3, 4, 25]), "token ids run from 0 to 25; the model's vocabulary"),
        (np.zeros(6, np.float32), "takes integer token ids; it holds float32"),
    ],
)
def test_explain_refuses_token_ids_the_model_cannot_take(
    capsys: pytest.CaptureFixture[str],
    imported_tokens: Path,
    tmp_path: Path,
    ids: np.ndarray,
    message: str,
) -> None:
    sample = tmp_path / "ids.npy"
    np.save(sample, ids)
    code, _, err = run(
        capsys,
        "explain",
        str(imported_tokens),
        "--method",
        "Saliency",
        "--input",
        str(sample),
        "--out",
        str(tmp_path / "x.png"),
    )
    assert code == EXIT_PROBLEMS
    assert message in err, err
    assert "internal error" not in err
