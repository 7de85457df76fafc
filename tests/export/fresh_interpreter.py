"""Run an exported `model.py` in a fresh interpreter that has torch but not the studio package."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import textwrap
import uuid
from pathlib import Path
from typing import Any

import torch

_RUN_EXPORT = textwrap.dedent(
    """
    import sys
    try:
        import studio
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit("the studio package is importable: the test proves nothing")
    sys.path.insert(0, sys.argv[1])
    import torch
    from model import load_model

    samples = torch.load(sys.argv[2], weights_only=True)
    with torch.no_grad():
        outputs = load_model()(*samples)
    torch.save(outputs, sys.argv[3])
    assert "studio" not in sys.modules
    """
)


def outputs_in_a_fresh_interpreter(
    folder: Path, samples: tuple[torch.Tensor, ...], work: Path
) -> torch.Tensor:
    """`load_model()(*samples)` from `folder/model.py`, computed by another Python process."""
    torch.save(samples, work / "samples.pt")
    # -S skips site-packages and its .pth files (the editable studio install); PYTHONPATH puts
    # back only the installed packages themselves, torch among them.
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": os.environ.get("PATH", "")}
    completed = subprocess.run(
        [sys.executable, "-S", "-c", _RUN_EXPORT, str(folder), "samples.pt", "outputs.pt"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    outputs: torch.Tensor = torch.load(work / "outputs.pt", weights_only=True)
    return outputs


def import_generated(path: Path) -> Any:
    """Import a `model.py` this test generated itself, under a unique name, outside sys.modules.

    Only tests do this, with files whose content they control: the app verifies exports in a
    child process (`studio.export.fresh_interpreter`) and never imports them.
    """
    name = f"_strata_test_export_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module
