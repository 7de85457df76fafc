"""No code runs from a project's name, description or node names, whoever wrote them.

The attack (issue 15, item 1): a project named ``Iris\"\"\"⏎import os;os.system(...)⏎\"\"\"``
closed the generated docstring, and `studio export --format python` ran the statement while
verifying the export. It worked from the project file and from a run's ``config.json`` alone.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.compile.codegen import generate_code
from studio.compile.compiler import class_name_for
from studio.export.exporters.python_source import MODEL_FILE, with_loader
from studio.export.preprocessing import PREPROCESS_SOURCE
from studio.export.project_export import export_project
from studio.export.run_export import export_trained_run
from studio.training.runs import CONFIG
from studio.training.trained import TrainedRun, load_run
from tests.export.conftest import load_template


def payload(marker: Path) -> str:
    return f'Iris"""\nimport os;os.system("touch {marker}")\n"""'


def defined_names(source: str) -> list[str]:
    """Names bound by the module's top-level statements; any other statement fails."""
    names: list[str] = []
    for i, statement in enumerate(ast.parse(source).body):
        if isinstance(statement, ast.Import | ast.ImportFrom):
            names += [alias.asname or alias.name for alias in statement.names]
        elif isinstance(statement, ast.ClassDef | ast.FunctionDef):
            names.append(statement.name)
        elif isinstance(statement, ast.Assign):
            # The preprocessing code's own constants, e.g. PREPROCESSING_FILE = "...".
            names += [t.id for t in statement.targets if isinstance(t, ast.Name)]
        else:
            assert i == 0 and isinstance(statement, ast.Expr), ast.dump(statement)[:200]
    return names


PREPROCESS_NAMES = defined_names(PREPROCESS_SOURCE)


def check_model_file(folder: Path, title: str, preprocessing: bool) -> None:
    source = (folder / MODEL_FILE).read_text(encoding="utf-8")
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree, clean=False)
    assert docstring is not None and docstring.startswith(f"{title}: generated")
    class_name = class_name_for(title)
    expected = ["torch", "nn", class_name, "build_model", "load_model"]
    assert defined_names(source) == expected + (PREPROCESS_NAMES if preprocessing else [])


@pytest.mark.timeout(120)
def test_a_hostile_project_name_runs_nothing_when_exported(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    project = load_template("mlp_classifier")
    project.name = payload(marker)
    project.description = 'desc"""\nimport os;os.system("touch ' + str(marker) + '")\n'
    report = export_project(project, "model", ["python"], tmp_path / "export")
    result = report.result("python")
    assert result.ok, result.reason
    assert not marker.exists()
    assert result.path is not None
    check_model_file(result.path, project.name, preprocessing=False)


@pytest.fixture
def hostile_run(trained_mlp: TrainedRun, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of a trained run whose config.json alone carries the payload as its name."""
    assert trained_mlp.project.path is not None
    source = trained_mlp.project.path
    project_path = tmp_path / source.name
    shutil.copy(source, project_path)
    runs = source.with_name(source.stem + ".runs")
    shutil.copytree(runs, tmp_path / runs.name)
    config_path = tmp_path / runs.name / trained_mlp.run_id / CONFIG
    config = json.loads(config_path.read_text(encoding="utf-8"))
    marker = tmp_path / "pwned"
    config["project"]["name"] = payload(marker)
    config_path.write_text(json.dumps(config), encoding="utf-8")
    return project_path, marker


@pytest.mark.timeout(180)
def test_a_hostile_name_in_a_runs_config_runs_nothing_when_exported(
    hostile_run: tuple[Path, Path], tmp_path: Path
) -> None:
    project_path, marker = hostile_run
    trained = load_run(project_path)
    assert trained.project.name == payload(marker)  # the name comes from the config only
    report = export_trained_run(trained, ["python"], tmp_path / "export")
    result = report.result("python")
    assert result.ok, result.reason
    assert not marker.exists()
    assert result.path is not None
    check_model_file(result.path, trained.project.name, preprocessing=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(st.characters(codec=None, exclude_categories=()), max_size=60),
    preprocessing=st.booleans(),
)
def test_any_project_name_gives_an_export_file_with_only_the_expected_names(
    name: str, preprocessing: bool
) -> None:
    graph = load_template("mlp_classifier").main_graph
    class_name = class_name_for(name)
    source = with_loader(generate_code(graph, class_name=class_name, title=name), preprocessing)
    compile(source, MODEL_FILE, "exec")
    expected = ["torch", "nn", class_name, "build_model", "load_model"]
    assert defined_names(source) == expected + (PREPROCESS_NAMES if preprocessing else [])
    docstring = ast.get_docstring(ast.parse(source), clean=False)
    assert docstring is not None and docstring.startswith(f"{name}: generated")
