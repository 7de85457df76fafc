"""`studio import` end to end: files written, a run the other commands use, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from studio.cli import EXIT_OK, EXIT_PROBLEMS, main
from studio.compile.compiler import compile_graph
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.training.checkpoints import load_checkpoint
from studio.training.runs import runs_folder
from studio.training.session import build_mode
from tests.importers.onnx_models import export_onnx, unsupported_model

MODELS = Path(__file__).with_name("source_models.py")


def _only_run(project_path: Path) -> Path:
    (run,) = runs_folder(project_path).iterdir()
    return run


def test_import_writes_a_project_and_a_run(
    tmp_path: Path,
    source_models: ModuleType,
    registry: LayerRegistry,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "lenet.strata"
    torch.manual_seed(7)
    code = main(["import", f"{MODELS}:LeNet", "--out", str(out), "--args", '{"num_classes": 5}'])
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    assert "outputs match the source" in printed and str(out) in printed

    project = Project.load(out, registry)
    run = _only_run(out)
    assert run.name.endswith("-imported")
    config = json.loads((run / "config.json").read_text())
    assert config["run"] == run.name
    assert config["project"] == project.to_dict()
    assert config["resolved"]["imported_from"].endswith("source_models.py:LeNet")
    status = json.loads((run / "status.json").read_text())
    assert (status["status"], status["epochs"]) == ("completed", 0)
    assert status["message"].startswith("imported from")
    for name in ("last.pt", "best.pt"):
        checkpoint = load_checkpoint(run / name)
        assert checkpoint["epoch"] == 0
        # The weights once, where every reader looks (`checkpoint_models`).
        assert "model" not in checkpoint and set(checkpoint["mode"]["models"]) == {"model"}
    # The weights are the source's: the compiled project computes what LeNet(5) does.
    torch.manual_seed(7)
    source = source_models.LeNet(num_classes=5).eval()
    model = compile_graph(project.main_graph)
    model.load_state_dict(load_checkpoint(run / "best.pt")["mode"]["models"]["model"])
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), source(x), atol=1e-5, rtol=0)
    # ...and the training state resumes: the mode accepts the checkpoint's own state.
    mode = build_mode(project, project.training, torch.device("cpu"), steps_per_epoch=1)
    mode.load_state_dict(load_checkpoint(run / "last.pt")["mode"])


def test_imported_run_evaluates_on_a_bundled_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "iris.strata"
    args = '{"features": 4, "hidden": 8, "classes": 3}'
    command = ["import", f"{MODELS}:SkipMLP", "--out", str(out), "--args", args]
    assert main([*command, "--input-shape", "1,4", "--dataset", "iris"]) == EXIT_OK
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == EXIT_OK
    assert "confusion matrix" in capsys.readouterr().out


def test_user_file_with_input_shape(tmp_path: Path, registry: LayerRegistry) -> None:
    source = tmp_path / "net.py"
    source.write_text(
        "import torch\n"
        "from torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, width=6):\n"
        "        super().__init__()\n"
        "        self.a = nn.Linear(3, width)\n"
        "        self.b = nn.Linear(3, width)\n\n"
        "    def forward(self, x, y):\n"
        "        return torch.cat([self.a(x), torch.tanh(self.b(y))], dim=-1)\n"
    )
    out = tmp_path / "net.strata"
    command = ["import", f"{source}:Net", "--out", str(out), "--args", '{"width": 2}']
    assert main([*command, "--input-shape", "1,3", "--input-shape", "1,3"]) == EXIT_OK
    graph = Project.load(out, registry).main_graph
    inputs = [n for n in graph.nodes if n.type_id == "studio.Input"]
    assert [n.name for n in inputs] == ["x", "y"]
    assert inputs[0].params["shape"] == (3,)


def test_unsupported_python_model_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "branchy.strata"
    assert main(["import", f"{MODELS}:Branchy", "--out", str(out)]) == EXIT_PROBLEMS
    error = capsys.readouterr().err
    assert "data-dependent control flow" in error
    assert "source_models.py:" in error and "if x.sum() > 0:" in error
    assert list(tmp_path.iterdir()) == []


def test_unsupported_onnx_model_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = unsupported_model(tmp_path / "bad.onnx")
    out = tmp_path / "bad.strata"
    assert main(["import", str(model), "--out", str(out)]) == EXIT_PROBLEMS
    error = capsys.readouterr().err
    assert "2 constructs cannot be imported" in error
    assert "wave (Sin)" in error and "double (Mod)" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]


def test_onnx_import_from_the_command_line(
    tmp_path: Path, source_models: ModuleType, registry: LayerRegistry
) -> None:
    torch.manual_seed(3)
    model = export_onnx(source_models.SkipMLP(), tmp_path / "mlp.onnx")
    out = tmp_path / "mlp.strata"
    assert main(["import", str(model), "--out", str(out)]) == EXIT_OK
    assert (_only_run(out) / "best.pt").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--args", "[1]"], "--args must be a JSON object"),
        (["--args", "{"], "--args is not valid JSON"),
        (["--input-shape", "1,a"], "--input-shape"),
        (["--dataset", "nope"], "no dataset named 'nope'"),
    ],
)
def test_bad_arguments_are_clear(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.strata"
    assert main(["import", f"{MODELS}:LeNet", "--out", str(out), *extra]) == EXIT_PROBLEMS
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_existing_output_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lenet.strata"
    out.write_text("{}")
    assert main(["import", f"{MODELS}:LeNet", "--out", str(out)]) == EXIT_PROBLEMS
    assert "--force" in capsys.readouterr().err
    assert main(["import", f"{MODELS}:LeNet", "--out", str(out), "--force"]) == EXIT_OK


def test_missing_class_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.strata"
    assert main(["import", f"{MODELS}:Nope", "--out", str(out)]) == EXIT_PROBLEMS
    assert "no torch.nn.Module subclass named Nope" in capsys.readouterr().err
    assert main(["import", f"{tmp_path / 'gone.py'}:Net", "--out", str(out)]) == EXIT_PROBLEMS
    assert "no such file" in capsys.readouterr().err
    assert main(["import", "just_a_name", "--out", str(out)]) == EXIT_PROBLEMS
    assert "models/net.py:Net" in capsys.readouterr().err
    assert not out.exists()
