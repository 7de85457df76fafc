"""The Python export is verified in its own isolated process, never inside the app.

Each test writes a small `model.py` by hand (what a tampered export could hold) and lets the
exporter verify it: the file runs in a fresh ``-I`` interpreter whose working folder holds
only copies of the exported files and the verification inputs, under a time limit, and its
outputs come back as tensor files.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from studio.export.exporters.python_source import MODEL_FILE, WEIGHTS_FILE, PythonExporter
from studio.export.subject import ExportOptions, ExportSubject

SAMPLES = (torch.arange(6, dtype=torch.float32).reshape(2, 3),)


def subject(raw: list | None = None) -> ExportSubject:
    return ExportSubject(
        module=nn.Identity(),
        inputs=SAMPLES,
        samples=SAMPLES,
        rebuild=nn.Identity,
        preprocessing={"inputs": []} if raw is not None else None,
        raw_samples=raw,
    )


def exported(folder: Path, body: str) -> Path:
    """An export folder whose model.py is `body` plus an identity `load_model`."""
    folder.mkdir(parents=True)
    source = "import torch\n\n" + textwrap.dedent(body)
    if "def load_model" not in source:
        source += "\n\ndef load_model():\n    return torch.nn.Identity()\n"
    (folder / MODEL_FILE).write_text(source, encoding="utf-8")
    torch.save({}, folder / WEIGHTS_FILE)
    return folder


def verify(folder: Path, raw: list | None = None, timeout: float = 120):
    return PythonExporter().verify(folder, subject(raw), ExportOptions(verify_timeout_s=timeout))


@pytest.mark.timeout(120)
def test_the_file_runs_in_an_isolated_process_in_a_folder_of_its_own(tmp_path: Path) -> None:
    report = tmp_path / "seen.json"
    folder = exported(
        tmp_path / "export",
        f"""
        import json, os, sys

        with open({str(report)!r}, "w") as handle:
            json.dump(
                {{
                    "cwd": os.getcwd(),
                    "files": sorted(os.listdir()),
                    "isolated": sys.flags.isolated,
                    "pid": os.getpid(),
                }},
                handle,
            )
        """,
    )
    result = verify(folder)
    assert result.ok, result.reason
    seen = json.loads(report.read_text())
    assert seen["isolated"] == 1 and seen["pid"] != __import__("os").getpid()
    assert Path(seen["cwd"]) not in (folder, tmp_path, Path.cwd())
    assert seen["files"] == ["model.py", "samples.pt", "stderr.txt", "weights.pt"]
    assert not Path(seen["cwd"]).exists()  # removed afterwards
    assert not any(name.startswith("_strata") or name == "model" for name in sys.modules)


@pytest.mark.timeout(60)
def test_a_file_that_never_finishes_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    folder = exported(tmp_path / "export", "import time\ntime.sleep(120)\n")
    started = time.monotonic()
    result = verify(folder, timeout=3)
    assert time.monotonic() - started < 30
    assert not result.ok
    assert "did not finish within 3 s (the verification time limit)" in result.reason


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("raise ValueError('boom')\n", "the generated model.py does not run: boom"),
        (
            "def load_model():\n    return lambda x: 'text'\n",
            "a model output of type str is not a tensor",
        ),
        ("import os\nos._exit(7)\n", "exited with status 7"),
        (
            "def load_model():\n    return lambda x: x * 2\n",
            "outputs differ from the model by up to 5",
        ),
    ],
)
def test_failures_in_the_process_are_reported_in_a_sentence(
    tmp_path: Path, body: str, reason: str
) -> None:
    result = verify(exported(tmp_path / "export", body))
    assert not result.ok
    assert reason in result.reason


@pytest.mark.timeout(120)
def test_raw_samples_reach_preprocess_as_the_app_holds_them(tmp_path: Path) -> None:
    report = tmp_path / "raw.txt"
    folder = exported(
        tmp_path / "export",
        f"""
        import math

        def preprocess(raw):
            row, text, image, pair = raw
            kinds = [
                sorted(row), math.isnan(row["petal"]), row["n"], row["none"], row["flag"],
                text, type(image).__name__, str(image.dtype), image.shape,
                type(pair).__name__, [type(p).__name__ for p in pair],
            ]
            with open({str(report)!r}, "w") as handle:
                handle.write(repr(kinds))
            return (torch.arange(6, dtype=torch.float32).reshape(2, 3),)
        """,
    )
    raw = [
        {"petal": math.nan, "n": np.int64(3), "none": None, "flag": True, '{"dict"': 1},
        'a "text"\n',
        np.zeros((1, 2, 2), dtype=np.uint8),
        (np.ones(2, dtype=np.float32), torch.ones(1)),
    ]
    result = verify(folder, raw)
    assert result.ok, result.reason
    assert report.read_text() == repr(
        [
            sorted(raw[0]),
            True,
            3,
            None,
            True,
            'a "text"\n',
            "ndarray",
            "uint8",
            (1, 2, 2),
            "tuple",
            ["ndarray", "Tensor"],
        ]
    )


@pytest.mark.timeout(120)
def test_a_failing_preprocess_is_reported_as_such(tmp_path: Path) -> None:
    folder = exported(tmp_path / "export", "def preprocess(raw):\n    raise KeyError('x')\n")
    result = verify(folder, ["a"])
    assert not result.ok
    assert "model.py's preprocess fails on raw samples: 'x'" in result.reason


@pytest.mark.timeout(120)
def test_the_bundled_apps_hidden_flag_runs_the_same_verification(tmp_path: Path) -> None:
    # A PyInstaller app has no `python -c`; `studio --verify-python-export` stands in for it.
    work = exported(tmp_path / "work", "")
    torch.save(list(SAMPLES), work / "samples.pt")
    done = subprocess.run(
        [sys.executable, "-m", "studio", "--verify-python-export"],
        cwd=work,
        capture_output=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (outputs,) = torch.load(work / "outputs.pt", weights_only=True)
    assert torch.equal(outputs, SAMPLES[0])
