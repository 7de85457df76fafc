"""The document layer loads without torch or Qt (napari keeps its model free of Qt likewise)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec

import pytest

HEAVY = ("torch", "PySide6", "shiboken6", "pyqtgraph", "superqt", "captum", "onnx", "matplotlib")

PROBE = """
import json, sys
import studio.core.commands, studio.core.errors, studio.core.graph, studio.core.project
import studio.core.registry, studio.core.shapes, studio.core.specs
heavy = sys.argv[1].split(",")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def heavy_modules_loaded(*preload: str) -> list[str]:
    """The heavy modules in `sys.modules` of a fresh interpreter that imported the core."""
    code = "".join(f"import {m}\n" for m in preload) + PROBE
    result = subprocess.run(
        [sys.executable, "-c", code, ",".join(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_core_imports_neither_torch_nor_qt() -> None:
    assert heavy_modules_loaded() == []


@pytest.mark.skipif(find_spec("PySide6") is None, reason="needs PySide6 installed")
def test_the_probe_sees_a_heavy_import() -> None:
    assert "PySide6" in heavy_modules_loaded("PySide6")
