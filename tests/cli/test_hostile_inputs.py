"""Broken input through the real `studio` entry point: one sentence naming the file and the
place, the documented exit status (1 for a problem, 2 for a usage error), never "internal
error" or a traceback; settings that validate but cannot train are reported by validate and
refused by train before anything is allocated; files written by explain and evaluate are
whole or absent, even when the disk refuses them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.cli import EXIT_PROBLEMS, EXIT_USAGE, main
from studio.core.resources import examples_dir

MLP = examples_dir() / "mlp_classifier.strata"
SEQUENCE = examples_dir() / "lstm_sequence.strata"
# 10^12 weights: 3.6 TiB of float32 before gradients and the optimizer's state.
HUGE = 1_000_000

Document = dict[str, Any]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`studio ARGS` in this process; argparse's usage errors exit like the real command."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_sentence(out: str, err: str) -> None:
    for line in (out + err).splitlines():
        assert "internal error" not in line and "Traceback" not in line, out + err


def node(document: Document, name: str) -> Document:
    return next(n for n in document["graphs"][0]["nodes"] if n["name"] == name)


def project_file(folder: Path, change: Callable[[Document], None], base: Path = MLP) -> Path:
    document = json.loads(base.read_text(encoding="utf-8"))
    change(document)
    path = folder / "broken.strata"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def without_output(document: Document) -> None:
    graph = document["graphs"][0]
    output = next(n for n in graph["nodes"] if n["type"] == "studio.Output")
    graph["nodes"].remove(output)
    graph["edges"] = [e for e in graph["edges"] if e["dst"] != output["id"]]


def huge_linear(document: Document) -> None:
    """Still fits iris (4 features, 3 classes): only the hidden layers grow."""
    node(document, "hidden1")["params"]["out_features"] = HUGE
    node(document, "hidden2")["params"]["out_features"] = HUGE


def no_weights(document: Document) -> None:
    """The sine windows' last step, as is: Input -> SelectLast -> Output."""
    graph = document["graphs"][0]
    window, lstm, _head, output = graph["nodes"]
    lstm.update(type="studio.SelectLast", name="last", params={})
    graph["nodes"] = [window, lstm, output]
    graph["edges"] = [
        {"id": "e1", "src": window["id"], "src_port": "out", "dst": lstm["id"], "dst_port": "in"},
        {"id": "e2", "src": lstm["id"], "src_port": "out", "dst": output["id"], "dst_port": "in"},
    ]


def set_training(**values: Any) -> Callable[[Document], None]:
    return lambda document: document["training"].update(values)


# ------------------------------------------------------------- broken projects, every command
BROKEN_PROJECTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "truncated": (
        lambda folder: _write(folder, MLP.read_bytes()[:300]),
        "it may have been truncated",
    ),
    "unknown layer type": (
        lambda folder: project_file(
            folder, lambda d: node(d, "relu1").__setitem__("type", "acme.Warp")
        ),
        "graphs[0].nodes[2].type: unknown layer type 'acme.Warp'",
    ),
    "no Output": (
        lambda folder: project_file(folder, without_output),
        "the graph has no Output layer",
    ),
    "batch_size true": (
        lambda folder: project_file(folder, set_training(batch_size=True)),
        "training.batch_size: must be an integer",
    ),
    "learning_rate text": (
        lambda folder: project_file(folder, set_training(learning_rate="fast")),
        "training.learning_rate: must be a number",
    ),
    "zoom 1e999": (
        lambda folder: _write(
            folder, MLP.read_text(encoding="utf-8").replace('"view": {}', '"view": {"zoom": 1e999}')
        ),
        "view.zoom: the number is too large for a project file",
    ),
    "frozen layer that does not exist": (
        lambda folder: project_file(folder, set_training(frozen=["nope"])),
        "training.frozen[0]: no layer named 'nope'",
    ),
}


def _write(folder: Path, content: str | bytes) -> Path:
    path = folder / "broken.strata"
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


COMMANDS = {
    "validate": [],
    "summary": [],
    "code": [],
    "train": ["--epochs", "1", "--device", "cpu"],
    "evaluate": [],
    "explain": ["--method", "Saliency", "--sample", "0", "--out", "{tmp}/x.png"],
    "export": ["--format", "onnx", "--out", "{tmp}/export"],
}
# These read the project's runs (each holds its own copy of the project); it has none.
READ_RUNS = {"evaluate", "explain", "export"}
# Cases whose file loads and whose graph compiles: only validate and train refuse them.
COMPILES = {"frozen layer that does not exist"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", BROKEN_PROJECTS, ids=list(BROKEN_PROJECTS))
def test_every_command_refuses_a_broken_project_in_one_sentence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    make, expected = BROKEN_PROJECTS[case]
    path = make(tmp_path)
    before = path.read_bytes()
    for command, extra in COMMANDS.items():
        args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
        code, out, err = run(capsys, command, str(path), *args)
        assert_one_sentence(out, err)
        if case in COMPILES and command in ("summary", "code"):
            assert code == 0, (command, out, err)
            continue
        assert code == EXIT_PROBLEMS, (command, out, err)
        assert str(path) in err, (command, err)
        if command in READ_RUNS:
            assert "no trained run yet" in err, (command, err)
        else:
            assert expected in out + err, (command, out, err)
    assert path.read_bytes() == before
    assert not path.with_suffix(".runs").exists() or not any(path.with_suffix(".runs").iterdir()), (
        "a refused project started a run"
    )


# --------------------------------------------------------------- broken arguments, real run
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("iris") / "iris.strata"
    assert main(["new", "--template", "mlp_classifier", str(project)]) == 0
    assert main(["train", str(project), "--epochs", "1", "--device", "cpu"]) == 0
    return project


EXPLAIN = ["explain", "--method", "Saliency", "--out", "{tmp}/x.png"]
BROKEN_ARGUMENTS: list[tuple[str, list[str], int, str]] = [
    ("run that does not exist", ["evaluate", "--run", "20200101-000000-abcdef"], 1, "no run"),
    ("run id with a path", ["evaluate", "--run", "../elsewhere"], 1, "is not a run id"),
    ("explain a missing run", [*EXPLAIN, "--sample", "0", "--run", "nope"], 1, "no run 'nope'"),
    ("sample out of range", [*EXPLAIN, "--sample", "999"], 1, "--sample 999 is out of range"),
    ("negative sample", [*EXPLAIN, "--sample", "-1"], 1, "--sample -1 is out of range"),
    ("sample not a number", [*EXPLAIN, "--sample", "abc"], 2, "invalid int value"),
    ("unknown target", [*EXPLAIN, "--sample", "0", "--target", "tulip"], 1, "--target 'tulip'"),
    ("target out of range", [*EXPLAIN, "--sample", "0", "--target", "7"], 1, "--target 7"),
    (
        "unknown method",
        ["explain", "--method", "Nope", "--sample", "0", "--out", "{tmp}/x.png"],
        1,
        "Nope",
    ),
    (
        "picture into a missing folder",
        ["explain", "--method", "Saliency", "--sample", "0", "--out", "{tmp}/none/x.png"],
        1,
        "none/x.png: could not be saved: the folder",
    ),
    (
        "array into a missing folder",
        [*EXPLAIN, "--sample", "0", "--save-array", "{tmp}/none/a.npy"],
        1,
        "none/a.npy: could not be saved: the folder",
    ),
    ("array of an odd kind", [*EXPLAIN, "--sample", "0", "--save-array", "a.txt"], 1, ".npy"),
    (
        "summary into a missing folder",
        ["evaluate", "--json", "{tmp}/none/e.json"],
        1,
        "none/e.json: could not be saved: the folder",
    ),
    ("unknown export format", ["export", "--format", "nope", "--out", "{tmp}/o"], 1, "'nope'"),
    ("export onto a file", ["export", "--format", "onnx", "--out", "{project}"], 1, "is a file"),
    ("resume a missing run", ["train", "--resume", "20200101-000000-abcdef"], 1, "no run"),
    ("zero epochs", ["train", "--epochs", "0"], 1, "--epochs must be a positive integer"),
    ("zero batch", ["summary", "--batch-size", "0"], 1, "--batch-size must be a positive"),
    ("unknown graph", ["code", "--graph", "nope"], 1, "no graph named 'nope'"),
    ("unknown device", ["train", "--device", "tpu"], 2, "invalid choice"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("args", "status", "message"),
    [case[1:] for case in BROKEN_ARGUMENTS],
    ids=[case[0] for case in BROKEN_ARGUMENTS],
)
def test_broken_arguments_on_a_trained_project_are_one_sentence(
    capsys: pytest.CaptureFixture[str],
    trained: Path,
    tmp_path: Path,
    args: list[str],
    status: int,
    message: str,
) -> None:
    command, *rest = [
        a.replace("{tmp}", str(tmp_path)).replace("{project}", str(trained)) for a in args
    ]
    runs = sorted(p.name for p in trained.with_suffix(".runs").iterdir())
    code, out, err = run(capsys, command, str(trained), *rest)
    assert_one_sentence(out, err)
    assert code == status, (out, err)
    assert message in err, err
    assert (EXIT_USAGE if status == 2 else EXIT_PROBLEMS) == code
    assert sorted(p.name for p in trained.with_suffix(".runs").iterdir()) == runs
    assert not (tmp_path / "none").exists()


def test_the_installed_command_reports_without_traceback(tmp_path: Path) -> None:
    """The same through the `python -m studio` process a user runs."""
    path = project_file(tmp_path, set_training(batch_size=True))
    result = subprocess.run(
        [sys.executable, "-m", "studio", "validate", str(path)], capture_output=True, text=True
    )
    assert result.returncode == EXIT_PROBLEMS
    assert result.stderr.startswith(f"error: {path}: training.batch_size: must be an integer")
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------ settings that validate but cannot train here
TRAINING_CASES: dict[str, tuple[Callable[[Document], None], Path, list[str]]] = {
    "frozen layer that does not exist": (
        set_training(frozen=["nope"]),
        MLP,
        ["training.frozen[0]: no layer named 'nope' in the model"],
    ),
    "frozen input": (
        set_training(frozen=["features"]),
        MLP,
        ["training.frozen[0]: 'features' is the model's input, which has no weights"],
    ),
    "every weight frozen": (
        set_training(frozen=["hidden1", "hidden2", "classifier"]),
        MLP,
        ["model: every layer with weights is frozen (training.frozen)"],
    ),
    "no weights at all": (
        no_weights,
        SEQUENCE,
        ["model: the model has no weights to train", "add a layer with weights"],
    ),
    "4 TB of Linear": (
        huge_linear,
        MLP,
        [
            "hidden2: Linear holds 1,000,001,000,000 parameters",
            "more than this machine's",
            "Make this layer smaller (out_features)",
        ],
    ),
    "a batch that does not fit": (
        lambda d: (
            node(d, "hidden1")["params"].__setitem__("out_features", HUGE),
            d["training"].__setitem__("batch_size", 1_000_000),
        ),
        MLP,
        ["its output takes 3.8 MiB per sample", "Lower training.batch_size to"],
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", TRAINING_CASES, ids=list(TRAINING_CASES))
def test_validate_reports_and_train_refuses_what_cannot_train(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    """These used to validate OK; train then failed deep in torch ("optimizer got an empty
    parameter list", an allocation of terabytes) or, for a frozen name, after starting a run."""
    change, base, expected = TRAINING_CASES[case]
    path = project_file(tmp_path, change, base)
    code, out, err = run(capsys, "validate", str(path))
    assert code == EXIT_PROBLEMS, out + err
    assert all(text in out for text in expected), out
    assert "OK" not in out
    code, out, err = run(capsys, "train", str(path), "--epochs", "1", "--device", "cpu")
    assert_one_sentence(out, err)
    assert code == EXIT_PROBLEMS, out + err
    assert all(text in err for text in expected), err
    assert not path.with_suffix(".runs").exists(), "train started a run it then refused"


@pytest.mark.timeout(60)
def test_summary_of_a_4_tb_model_allocates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Shape inference and the summary build layers on the meta device: no weights exist."""
    import resource

    path = project_file(tmp_path, huge_linear)
    code, out, err = run(capsys, "summary", str(path))
    assert code == 0, err
    assert "Total parameters: 1,000,009,000,003" in out
    # Peak RSS stays far below even one layer's 3.6 TiB (ru_maxrss is KiB on Linux).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 < 16 * 2**30


# ------------------------------------------------------------------- files refused by the disk
WRITER = """
import resource, signal, sys
from studio.cli import main
# Past this size every write fails with EFBIG, as on a full or quota-limited disk.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("name", "args", "limit"),
    [
        ("x.png", ["explain", "--method", "Saliency", "--sample", "0", "--out"], 2000),
        ("e.json", ["evaluate", "--json"], 200),
    ],
    ids=["explain --out", "evaluate --json"],
)
def test_a_write_the_disk_refuses_leaves_the_old_file_whole(
    trained: Path, tmp_path: Path, name: str, args: list[str], limit: int
) -> None:
    target = tmp_path / name
    target.write_bytes(b"the previous file")
    command, *rest = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = subprocess.run(
        [sys.executable, "-c", WRITER, str(limit), command, str(trained), *rest, str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    assert result.returncode == EXIT_PROBLEMS, result.stderr
    assert result.returncode != -signal.SIGXFSZ
    assert f"{target}: could not be saved (File too large); the previous file is unchanged" in (
        result.stderr
    )
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert target.read_bytes() == b"the previous file"
    assert sorted(os.listdir(tmp_path)) == [name], "a temporary file was left behind"


def test_new_files_follow_the_umask(
    capsys: pytest.CaptureFixture[str], trained: Path, tmp_path: Path
) -> None:
    """Not mkstemp's private 0600: a picture others may read is written like any other file."""
    old = os.umask(0o022)
    try:
        code, _, err = run(capsys, "evaluate", str(trained), "--json", str(tmp_path / "e.json"))
    finally:
        os.umask(old)
    assert code == 0, err
    assert (tmp_path / "e.json").stat().st_mode & 0o777 == 0o644
