"""The command-line contract: listed commands work; bad input is one clear line, exit != 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.core.resources import examples_dir

MLP = examples_dir() / "mlp_classifier.strata"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def mutated(tmp_path: Path, change) -> Path:
    document = json.loads(MLP.read_text())
    change(document)
    path = tmp_path / "broken.strata"
    path.write_text(json.dumps(document))
    return path


def nodes(document):
    return document["graphs"][0]["nodes"]


def by_name(document, name):
    return next(n for n in nodes(document) if n["name"] == name)


def test_python_m_studio_help_lists_only_working_commands():
    result = subprocess.run(
        [sys.executable, "-m", "studio", "--help"], capture_output=True, text=True, check=True
    )
    listed = result.stdout
    working = ("gui", "templates", "new", "validate", "summary", "code", "train")
    for command in (*working, "evaluate", "explain", "export", "import"):
        assert f"    {command} " in listed or f"    {command}\n" in listed


def test_templates_lists_every_example(capsys):
    code, out, _ = run(capsys, "templates")
    assert code == 0
    for path in examples_dir().glob("*.strata"):
        assert path.stem in out


@pytest.mark.parametrize("path", sorted(examples_dir().glob("*.strata")), ids=lambda p: p.stem)
def test_every_template_validates(capsys, path):
    code, out, err = run(capsys, "validate", str(path))
    assert code == 0, out + err
    assert "OK" in out


def test_new_creates_a_loadable_copy_and_refuses_to_overwrite(capsys, tmp_path):
    out_path = tmp_path / "mine.strata"
    code, out, _ = run(capsys, "new", "--template", "cnn_classifier", str(out_path))
    assert code == 0 and out_path.exists() and "created" in out
    code, _, _ = run(capsys, "validate", str(out_path))
    assert code == 0
    before = out_path.read_bytes()
    code, _, err = run(capsys, "new", "--template", "cnn_classifier", str(out_path))
    assert code == 1 and "already exists" in err
    assert out_path.read_bytes() == before
    code, _, err = run(capsys, "new", "--template", "nope", str(tmp_path / "x.strata"))
    assert code == 1 and "mlp_classifier" in err


def test_summary_prints_shapes_params_and_totals(capsys):
    code, out, _ = run(capsys, "summary", str(MLP), "--batch-size", "8")
    assert code == 0
    assert "(N, 32)" in out and "(N, 3)" in out
    total = 4 * 32 + 32 + 32 * 32 + 32 + 32 * 3 + 3
    assert f"Total parameters: {total:,}" in out
    assert "batch 8" in out


def test_summary_of_a_gan_shows_both_graphs(capsys):
    code, out, _ = run(capsys, "summary", str(examples_dir() / "gan.strata"))
    assert code == 0
    assert "== generator ==" in out and "== discriminator ==" in out


def test_code_prints_standalone_source(capsys):
    code, out, _ = run(capsys, "code", str(MLP))
    assert code == 0
    assert "class MLPClassifier(nn.Module):" in out
    assert "self.hidden1 = nn.Linear(4, 32)" in out
    compile(out, "generated.py", "exec")


BAD_INPUTS = {
    "cycle": (
        lambda d: d["graphs"][0]["edges"].append(
            {
                "id": "back",
                "src": by_name(d, "relu2")["id"],
                "src_port": "out",
                "dst": by_name(d, "relu1")["id"],
                "dst_port": "in",
            }
        ),
        "cycle",
    ),
    "unknown layer": (
        lambda d: by_name(d, "relu1").__setitem__("type", "acme.Warp"),
        "graphs[0].nodes[2].type: unknown layer type 'acme.Warp'",
    ),
    "out of range param": (
        lambda d: by_name(d, "hidden1")["params"].__setitem__("out_features", 0),
        "graphs[0].nodes[1].params.out_features: must be",
    ),
    "wrong type": (
        lambda d: by_name(d, "dropout")["params"].__setitem__("p", "half"),
        "graphs[0].nodes[3].params.p: must be a number",
    ),
    "newer schema": (lambda d: d.__setitem__("schema_version", 99), "newer Strata Studio"),
    "missing graphs": (lambda d: d.pop("graphs"), "graphs: is required"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_project_files_give_a_clear_message(capsys, tmp_path, case):
    change, expected = BAD_INPUTS[case]
    path = mutated(tmp_path, change)
    before = path.read_bytes()
    for command in ("validate", "summary", "code"):
        code, out, err = run(capsys, command, str(path))
        assert code == 1, (command, out)
        assert expected in err, err
        assert str(path) in err
        assert "Traceback" not in err
    assert path.read_bytes() == before


def test_truncated_json(capsys, tmp_path):
    path = tmp_path / "cut.strata"
    path.write_bytes(MLP.read_bytes()[:200])
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1 and "truncated" in err


def test_shape_mismatch_names_node_and_fix(capsys, tmp_path):
    path = mutated(
        tmp_path, lambda d: by_name(d, "features")["params"].__setitem__("shape", [1, 4, 4])
    )
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert "hidden1: Linear mixes" in out and "(N, 1, 4, 4)" in out and "Flatten" in out


def test_missing_input_connection(capsys, tmp_path):
    def cut(d):
        target = by_name(d, "hidden2")["id"]
        d["graphs"][0]["edges"] = [e for e in d["graphs"][0]["edges"] if e["dst"] != target]

    code, out, _ = run(capsys, "validate", str(mutated(tmp_path, cut)))
    assert code == 1
    assert "hidden2.in: input 'in' is not connected" in out


def test_missing_file_and_folder(capsys, tmp_path):
    code, _, err = run(capsys, "validate", str(tmp_path / "nothing.strata"))
    assert code == 1 and "no such file" in err
    code, _, err = run(capsys, "validate", str(tmp_path))
    assert code == 1 and "folder" in err


def test_the_real_entry_point_reports_without_traceback(tmp_path):
    path = tmp_path / "junk.strata"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    result = subprocess.run(
        [sys.executable, "-m", "studio", "validate", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "not UTF-8" in result.stderr
    assert "Traceback" not in result.stderr
