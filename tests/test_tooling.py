"""The house rules, checked by the suite itself so `python -m pytest` alone guards them.

scripts/run-tests.sh runs the same tools directly; these tests make a plain pytest run (or an
IDE's) fail just as loudly when an import contract, a lint rule or a type breaks.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "studio"
VENV_BIN = Path(sys.executable).parent
QT_MODULES = {"PySide6", "shiboken6", "pyqtgraph", "superqt"}
HEAVY_MODULES = {"torch", "captum", "onnx", "onnxruntime"}


def run_tool(name: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    executable = VENV_BIN / name
    if not executable.exists():
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
        executable = Path(found)
    return subprocess.run(
        [str(executable), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args[0]} failed:\n{result.stdout}\n{result.stderr}"


def test_import_contracts_hold() -> None:
    assert_clean(run_tool("lint-imports", "--no-cache"))


def test_ruff_check_is_clean() -> None:
    assert_clean(run_tool("ruff", "check", "--no-fix", "."))


def test_mypy_is_clean() -> None:
    # Uses .mypy_cache, so after the first run this takes about a second.
    assert_clean(run_tool("mypy"))


def python_files(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def imported_top_level_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level package) for every absolute import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def offending_imports(paths: Iterator[Path], banned: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in paths
        for line, module in imported_top_level_modules(path)
        if module in banned
    ]


def test_only_studio_ui_imports_qt() -> None:
    ui = PACKAGE / "ui"
    outside_ui = (path for path in python_files(PACKAGE) if ui not in path.parents)
    assert offending_imports(outside_ui, QT_MODULES) == []


def test_studio_core_imports_neither_torch_nor_qt() -> None:
    banned = HEAVY_MODULES | QT_MODULES
    assert offending_imports(python_files(PACKAGE / "core"), banned) == []


def modules_loaded_by_importing(modules: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_studio_core_loads_neither_torch_nor_qt() -> None:
    # Catches what the AST check cannot: a third-party dependency that pulls torch or Qt in.
    core_modules = [
        "studio.core" + ("" if path.stem == "__init__" else f".{path.stem}")
        for path in python_files(PACKAGE / "core")
        if path.parent == PACKAGE / "core"
    ]
    loaded = modules_loaded_by_importing(core_modules)
    assert loaded & (HEAVY_MODULES | QT_MODULES) == set()


def test_importing_the_cli_stays_light() -> None:
    # `studio --help` and `studio validate` must start fast: torch and Qt load on demand.
    if not (PACKAGE / "cli.py").exists():
        pytest.skip("studio/cli.py does not exist yet")
    loaded = modules_loaded_by_importing(["studio.cli"])
    assert loaded & (HEAVY_MODULES | QT_MODULES) == set()


def test_ci_entry_point_runs_the_test_script() -> None:
    ci_run = ROOT / ".ci" / "run"
    assert os.access(ci_run, os.X_OK), ".ci/run must be executable"
    assert "scripts/run-tests.sh" in ci_run.read_text(encoding="utf-8")
