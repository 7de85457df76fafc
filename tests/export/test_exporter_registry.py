"""Exporters come from the ``studio.exporters`` entry points; built-ins use the same API."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from studio.export.errors import ExportError
from studio.export.exporters import FORMATS, get_exporter
from studio.export.project_export import export_project
from studio.plugins import EXPORTER_GROUP, default_exporters, discover_exporters
from tests.export.conftest import load_template

HERE = "tests.export.fixture_exporters"


def entry(name: str, target: str) -> EntryPoint:
    return EntryPoint(name, target, EXPORTER_GROUP)


def test_builtin_formats_register_through_the_entry_point():
    registry, reports = default_exporters()
    builtin = next(r for r in reports if r.value == "studio.export.exporters:register")
    assert builtin.ok and builtin.registered == list(FORMATS)
    assert registry.formats[: len(FORMATS)] == FORMATS
    assert registry.origin("onnx") == "studio"
    assert type(get_exporter("onnx")) is type(registry.get("onnx"))


def test_plugin_exporter_is_checked_written_and_verified_like_the_others(tmp_path: Path):
    registry, reports = discover_exporters(
        [
            entry("good", f"{HERE}:register_good"),
            entry("broken", f"{HERE}:register_broken"),
            entry("missing", "no_such_exporter_module:register"),
            entry("clash", f"{HERE}:register_clash"),
        ]
    )
    by_name = {r.name: r for r in reports}
    assert by_name["builtin"].ok
    assert by_name["good"].registered == ["acme.npz"]
    assert "broken on purpose" in by_name["broken"].errors[0]
    assert "fixture_exporters.py" in by_name["broken"].errors[0]
    assert "ModuleNotFoundError" in by_name["missing"].errors[0]
    assert "'onnx' is already registered" in by_name["clash"].errors[0]
    assert by_name["clash"].registered == []
    assert registry.origin("onnx") == "studio"
    assert registry.origin("acme.npz").startswith("plugin good")

    stages: list[tuple[str, str]] = []
    report = export_project(
        load_template("mlp_classifier"),
        "model",
        ["acme.npz", "state_dict"],
        tmp_path,
        registry=registry,
        progress=lambda f, stage, _p: stages.append((f, stage)),
    )
    plugin = report.result("acme.npz")
    assert plugin.ok and plugin.path == tmp_path / "MLP_classifier.npz"
    assert plugin.max_abs_diff is not None and plugin.max_abs_diff <= 1e-6
    assert [s for f, s in stages if f == "acme.npz"] == ["check", "write", "verify", "done"]
    card = report.model_card.read_text() if report.model_card else ""
    assert "NumPy weights (acme)" in card


def test_unknown_format_names_the_registered_ones(tmp_path: Path):
    registry, _ = discover_exporters([entry("good", f"{HERE}:register_good")])
    with pytest.raises(ExportError, match=r"acme\.npz"):
        export_project(
            load_template("mlp_classifier"), "model", ["nope"], tmp_path, registry=registry
        )
    with pytest.raises(ExportError, match="not an export format"):
        get_exporter("acme.npz")  # not a built-in format
