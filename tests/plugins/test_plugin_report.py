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
from studio.data.registry import discover_datasets
from studio.plugins import (
    default_exporters,
    default_registry,
    discover_layers,
    probe_layer,
    survey_plugins,
)
from tests.plugins.broken_plugin import (
    BUILDER_MESSAGE,
    DISTRIBUTION,
    ENTRY_POINTS,
    EXPECTED_ERRORS,
)
from tests.plugins.installing import EXAMPLE_PLUGIN, REPO, on_path, write_distribution

SELF_TEST_TIMEOUT_S = 240


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[Path]:
    write_distribution(tmp_path, DISTRIBUTION, "6.6.6", ENTRY_POINTS)
    with on_path(tmp_path):
        yield tmp_path


def _studio(*args: str, path: list[Path]) -> subprocess.CompletedProcess[str]:
    """``python -m studio ARGS`` in a fresh process that sees the distributions in `path`."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(str(p) for p in [*path, REPO]),
        QT_QPA_PLATFORM="offscreen",
    )
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=SELF_TEST_TIMEOUT_S,
    )


def test_each_broken_entry_point_is_reported_and_skipped(broken: Path) -> None:
    registry, reports = discover_layers()
    by_name = {r.name: r for r in reports if r.distribution == DISTRIBUTION}
    assert sorted(by_name) == sorted(ENTRY_POINTS["studio.layers"])
    assert "ModuleNotFoundError" in by_name["import_error"].errors[0]
    bad_spec = by_name["bad_spec"]
    assert not bad_spec.registered
    assert "must be namespaced" in bad_spec.errors[0] and "broken_plugin.py" in bad_spec.errors[0]
    for name in ("import_error", "unresolved_builder", "studio_namespace"):
        assert not by_name[name].registered
        assert EXPECTED_ERRORS[name] in by_name[name].errors[0], by_name[name].errors
    # Its spec is sound and its builder importable: only building it finds the fault.
    assert by_name["raising_builder"].registered == ["broken.Explodes"]
    assert by_name["raising_builder"].ok
    assert "studio.Conv2d" in registry and len(default_registry()) == len(registry)
    assert {"broken.Unimportable", "studio.Hijack"}.isdisjoint(s.type_id for s in registry)

    datasets, dataset_reports = discover_datasets()
    unprefixed = next(r for r in dataset_reports if r.distribution == DISTRIBUTION)
    assert EXPECTED_ERRORS["unprefixed"] in unprefixed.errors[0]
    assert "broken_iris" not in datasets
    exporters, exporter_reports = default_exporters()
    hijack = next(r for r in exporter_reports if r.distribution == DISTRIBUTION)
    assert "'studio.npz'" in hijack.errors[0] and "studio.npz" not in exporters


def test_the_survey_builds_plugin_layers_and_reports_a_raising_builder(broken: Path) -> None:
    survey = {p.distribution: p for p in survey_plugins()}
    plugin = survey[DISTRIBUTION]
    assert plugin.version == "6.6.6" and not plugin.ok
    assert sorted(plugin.reports) == ["studio.datasets", "studio.exporters", "studio.layers"]
    layers = {r.name: r for r in plugin.reports["studio.layers"]}
    for name, report in layers.items():
        assert len(report.errors) == 1 and EXPECTED_ERRORS[name] in report.errors[0]
    raising = layers["raising_builder"].errors[0]
    assert "'broken.Explodes'" in raising and "RuntimeError" in raising
    assert "broken_plugin.py" in raising and "for input (N, 3, 8, 8)" in raising
    assert survey["strata-studio"].builtin and survey["strata-studio"].ok


def test_the_probe_passes_every_builtin_layer() -> None:
    failures = [problem for spec in default_registry() if (problem := probe_layer(spec))]
    assert failures == []


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


def test_listing_plugin_layers_imports_no_torch(tmp_path: Path) -> None:
    """Discovery resolves builder paths without running them (the example's import torch)."""
    write_distribution(tmp_path, DISTRIBUTION, "6.6.6", ENTRY_POINTS)
    example = {"studio.layers": {"extra_layers": "strata_extra_layers:register_layers"}}
    write_distribution(tmp_path, "strata-extra-layers", "0.1.0", example)
    script = (
        "import sys; from studio.plugins import default_layers; "
        "registry, _ = default_layers(); "
        "print('extra.Mish' in registry, 'broken.Explodes' in registry, 'torch' in sys.modules)"
    )
    done = _studio("-c", script, path=[tmp_path, EXAMPLE_PLUGIN / "src"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "False"]


def test_the_app_starts_and_reports_the_broken_plugin(broken: Path) -> None:
    done = _studio("-m", "studio", "--self-test", path=[broken])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test passed" in done.stdout
    for name, phrase in EXPECTED_ERRORS.items():
        if name != "raising_builder":  # found only by building it (Help ▸ Plugins…)
            assert f"{DISTRIBUTION}, entry point {name} = " in done.stderr, name
            assert phrase in done.stderr, phrase
