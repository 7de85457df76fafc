"""Run an exported `model.py` in a fresh, isolated Python process, never in the app's own.

The Python export is verified by running the file it wrote. Importing that file into the app
would run whatever it holds with the app's rights and state (`codegen` keeps user text out of
it, and this is the second wall). So a child interpreter started with ``-I`` (no user site,
no ``PYTHON*`` variables, no current folder on the path) runs it, in a temporary folder that
holds only copies of the exported files and the verification inputs, under a time limit.

Inputs and results cross as files only, never pickles: samples and outputs as tensors
(`torch.save`, read back with ``weights_only=True``), raw samples as JSON with their arrays in
an ``.npz`` read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import numbers
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

SAMPLES_FILE = "samples.pt"
OUTPUTS_FILE = "outputs.pt"
FROM_RAW_FILE = "from_raw.pt"
RAW_FILE = "raw.json"
RAW_ARRAYS_FILE = "raw_arrays.npz"
FAILURE_FILE = "failure.json"
STDERR_FILE = "stderr.txt"
#: How much of the child's standard error a failure quotes.
STDERR_TAIL = 2000

#: What the child runs (``python -I -c RUNNER``): imports `model.py` from its working folder,
#: runs `load_model()` on the samples, and `preprocess` on the raw samples when given.
RUNNER = r"""
import json
import os
import sys


def fail(stage, exc):
    message = str(exc) or type(exc).__name__
    with open("failure.json", "w", encoding="utf-8") as handle:
        json.dump({"stage": stage, "message": message}, handle)
    raise SystemExit(3)


def flatten(result):
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, (list, tuple)):
        return [t for item in result for t in flatten(item)]
    raise TypeError(f"a model output of type {type(result).__name__} is not a tensor")


def decode(value, arrays):
    if not isinstance(value, dict):
        return value
    (kind, inner), = value.items()
    if kind == "array":
        return arrays[f"arr_{inner}"]
    if kind == "tensor":
        return torch.from_numpy(arrays[f"arr_{inner}"])
    if kind == "dict":
        return {decode(k, arrays): decode(v, arrays) for k, v in inner}
    items = [decode(v, arrays) for v in inner]
    return tuple(items) if kind == "tuple" else items


sys.path.insert(0, os.getcwd())
try:
    import torch
    import model as generated

    samples = torch.load("samples.pt", weights_only=True, map_location="cpu")
    loaded = generated.load_model()
    with torch.no_grad():
        outputs = flatten(loaded(*samples))
    torch.save([t.detach().cpu() for t in outputs], "outputs.pt")
except BaseException as exc:
    fail("run", exc)
if os.path.exists("raw.json"):
    try:
        arrays = {}
        if os.path.exists("raw_arrays.npz"):
            import numpy

            with numpy.load("raw_arrays.npz", allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        with open("raw.json", encoding="utf-8") as handle:
            raw = decode(json.load(handle), arrays)
        inputs = generated.preprocess(raw)
        with torch.no_grad():
            from_raw = flatten(loaded(*tuple(inputs)))
        torch.save([t.detach().cpu() for t in from_raw], "from_raw.pt")
    except BaseException as exc:
        fail("preprocess", exc)
"""


@dataclass
class ChildResult:
    """What the child reported.

    Attributes:
        outputs: `load_model()`'s outputs on the samples; None when it failed.
        from_raw: the outputs from the raw samples through `preprocess`; None when not asked
            or when it failed.
        stage: where it failed: "run" (loading or running the model), "preprocess", or
            "child" (the interpreter itself: timeout, crash); "" when it succeeded.
        message: why it failed, in a sentence.
    """

    outputs: list[torch.Tensor] | None = None
    from_raw: list[torch.Tensor] | None = None
    stage: str = ""
    message: str = ""


def run_export(
    folder: Path,
    files: Sequence[str],
    samples: Sequence[torch.Tensor],
    raw_samples: Sequence[Any] | None,
    timeout_s: float,
) -> ChildResult:
    """Run `folder`'s exported `model.py` on `samples` (and `raw_samples`) in a child process.

    Args:
        folder: the exported folder.
        files: the names in `folder` the child gets copies of (model, weights, preprocessing).
        samples: the model's inputs.
        raw_samples: the same samples before preprocessing; None to skip that check.
        timeout_s: how long the child may take, start-up included.
    """
    with tempfile.TemporaryDirectory(prefix="strata-verify-") as tmp:
        work = Path(tmp)
        for name in files:
            if (folder / name).is_file():
                _link_or_copy(folder / name, work / name)
        torch.save([t.detach().cpu() for t in samples], work / SAMPLES_FILE)
        if raw_samples is not None:
            try:
                _write_raw(list(raw_samples), work)
            except (TypeError, ValueError) as exc:
                return ChildResult(stage="preprocess", message=f"raw samples: {exc}")
        failure = _run_child(work, timeout_s)
        if failure is not None:
            return failure
        outputs = _read_tensors(work / OUTPUTS_FILE)
        if outputs is None:
            return ChildResult(stage="run", message="it wrote no outputs")
        from_raw = _read_tensors(work / FROM_RAW_FILE) if raw_samples is not None else None
        return ChildResult(outputs, from_raw)


def _run_child(work: Path, timeout_s: float) -> ChildResult | None:
    """Run the runner in `work`; a `ChildResult` saying why when it did not finish cleanly."""
    stderr_path = work / STDERR_FILE
    with open(stderr_path, "wb") as stderr:
        try:
            completed = subprocess.run(
                child_command(),
                cwd=work,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return ChildResult(
                stage="child",
                message=f"it did not finish within {timeout_s:g} s (the verification time limit)",
            )
        except OSError as exc:
            return ChildResult(stage="child", message=f"no Python process could start: {exc}")
    failure_path = work / FAILURE_FILE
    if failure_path.is_file():
        try:
            report = json.loads(failure_path.read_text(encoding="utf-8")[:100_000])
            return ChildResult(stage=str(report["stage"]), message=str(report["message"]))
        except (ValueError, KeyError, TypeError):
            return ChildResult(stage="child", message="it failed and its report is unreadable")
    if completed.returncode != 0:
        tail = stderr_path.read_bytes()[-STDERR_TAIL:].decode("utf-8", "replace").strip()
        return ChildResult(
            stage="child",
            message=f"its Python process exited with status {completed.returncode}"
            + (f": {tail.splitlines()[-1]}" if tail else ""),
        )
    return None


def child_command() -> list[str]:
    """The command that runs `RUNNER` in a fresh process.

    A bundled (PyInstaller) app has no ``-c``: its executable is `studio` itself, which takes
    ``-m studio`` (see installers/strata_main.py) and a hidden flag that runs `RUNNER`.
    """
    if getattr(sys, "frozen", False):
        return [sys.executable, "-m", "studio", "--verify-python-export"]
    return [sys.executable, "-I", "-B", "-c", RUNNER]


def run_verification_here() -> int:
    """Run `RUNNER` in this (fresh, bundled) process; its exit status on failure."""
    sys.path.insert(0, os.getcwd())
    exec(compile(RUNNER, "<strata verification>", "exec"), {"__name__": "__strata_verify__"})
    return 0


def _read_tensors(path: Path) -> list[torch.Tensor] | None:
    """A list of tensors the child saved, read without unpickling anything else."""
    if not path.is_file():
        return None
    try:
        value = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:
        return None
    if not isinstance(value, list) or not all(isinstance(t, torch.Tensor) for t in value):
        return None
    return value


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows one (weights can be large), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write_raw(raw: list[Any], work: Path) -> None:
    arrays: list[np.ndarray] = []
    document = encode_raw(raw, arrays)
    (work / RAW_FILE).write_text(json.dumps(document), encoding="utf-8")
    if arrays:
        np.savez(work / RAW_ARRAYS_FILE, *arrays, allow_pickle=False)


def encode_raw(value: Any, arrays: list[np.ndarray]) -> Any:
    """Raw samples as JSON, their arrays appended to `arrays` (the runner's `decode` inverts it).

    A container is a one-key object (``{"list": [...]}``, ``{"tuple": ...}``, ``{"dict":
    [[key, value], ...]}``, ``{"array": index}``), so every JSON object is a marker and a
    table row's column names can be anything.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor):
        arrays.append(value.detach().cpu().numpy())
        return {"tensor": len(arrays) - 1}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("an array of Python objects cannot be passed on")
        arrays.append(value)
        return {"array": len(arrays) - 1}
    if isinstance(value, dict):
        return {"dict": [[encode_raw(k, arrays), encode_raw(v, arrays)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {kind: [encode_raw(v, arrays) for v in value]}
    raise TypeError(f"a raw sample of type {type(value).__name__} cannot be passed on")
