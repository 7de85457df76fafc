"""A broken or clashing plugin is reported and skipped; the built-ins always register."""

from __future__ import annotations

from importlib.metadata import EntryPoint

from studio.plugins import LAYER_GROUP, default_layers, discover_layers

HERE = "tests.plugins.fixture_plugins"


def entry(name: str, target: str) -> EntryPoint:
    return EntryPoint(name, target, LAYER_GROUP)


def test_builtin_catalog_registers_through_the_entry_point():
    registry, reports = default_layers()
    builtin = next(r for r in reports if r.value == "studio.layers:register")
    assert builtin.ok
    assert "studio.Conv2d" in builtin.registered
    assert len(registry) == len(builtin.registered) >= 45


def test_good_broken_missing_and_clashing_plugins():
    registry, reports = discover_layers(
        [
            entry("good", f"{HERE}:register_good"),
            entry("broken", f"{HERE}:register_broken"),
            entry("missing", "no_such_module_xyz:register"),
            entry("clash", f"{HERE}:register_clash"),
        ]
    )
    by_name = {r.name: r for r in reports}
    assert by_name["builtin"].ok  # added even when not installed as an entry point
    assert by_name["good"].registered == ["acme.Swish"] and by_name["good"].ok
    assert "this plugin is broken on purpose" in by_name["broken"].errors[0]
    assert "fixture_plugins.py" in by_name["broken"].errors[0]
    assert "ModuleNotFoundError" in by_name["missing"].errors[0]
    clash = by_name["clash"]
    assert clash.registered == ["acme.Gelu2"]
    assert "studio.Linear" in clash.errors[0] and "skipped" in clash.errors[0]
    assert registry.origin("studio.Linear") == "studio"
    assert "acme.Swish" in registry and "acme.Gelu2" in registry
