"""A broken plugin, installed as a real distribution, is reported and skipped; the app starts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.compile.inference import infer_shapes
from studio.core.graph import Graph
from studio.plugins import default_registry, discover_layers, survey_plugins
from tests.plugins.broken_plugin import BUILDER_MESSAGE, DISTRIBUTION, ENTRY_POINTS
from tests.plugins.installing import REPO, on_path, write_distribution


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[Path]:
    write_distribution(tmp_path, DISTRIBUTION, "6.6.6", ENTRY_POINTS)
    with on_path(tmp_path):
        yield tmp_path


def test_each_broken_entry_point_is_reported_and_skipped(broken: Path) -> None:
    registry, reports = discover_layers()
    by_name = {r.name: r for r in reports if r.distribution == DISTRIBUTION}
    assert sorted(by_name) == ["bad_spec", "import_error", "raising_builder"]
    assert "ModuleNotFoundError" in by_name["import_error"].errors[0]
    assert "strata_no_such_module_xyz" in by_name["import_error"].errors[0]
    bad_spec = by_name["bad_spec"]
    assert not bad_spec.registered
    assert "must be namespaced" in bad_spec.errors[0] and "broken_plugin.py" in bad_spec.errors[0]
    assert by_name["raising_builder"].registered == ["broken.Explodes"]
    assert "studio.Conv2d" in registry and len(default_registry()) == len(registry)

    survey = {p.distribution: p for p in survey_plugins()}
    assert survey[DISTRIBUTION].version == "6.6.6" and not survey[DISTRIBUTION].ok
    assert survey["strata-studio"].builtin and survey["strata-studio"].ok


def test_a_raising_builder_is_a_problem_on_its_node(broken: Path) -> None:
    graph = Graph(default_registry())
    x = graph.add_node("studio.Input", name="x", params={"shape": [4]})
    bad = graph.add_node("broken.Explodes", name="explodes")
    out = graph.add_node("studio.Output", name="y")
    graph.connect(x.id, "out", bad.id, "in")
    graph.connect(bad.id, "out", out.id, "in")
    problems = infer_shapes(graph).errors()
    assert [p.node_id for p in problems] == [bad.id]
    assert BUILDER_MESSAGE in problems[0].message


def test_the_command_line_still_starts(broken: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(broken), str(REPO)]))
    done = subprocess.run(
        [sys.executable, "-m", "studio", "datasets"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "digits" in done.stdout
