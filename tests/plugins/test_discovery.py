"""A broken or clashing plugin is reported and skipped; the built-ins always register."""

from __future__ import annotations

from importlib.metadata import EntryPoint

from studio.plugins import LAYER_GROUP, default_layers, discover_layers
from tests.plugins.fixture_plugins import HERE


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
    assert "studio.Linear" in clash.errors[0] and "already registered" in clash.errors[0]
    assert clash.errors[0].endswith("skipped")
    assert registry.origin("studio.Linear") == "studio"
    assert "acme.Swish" in registry and "acme.Gelu2" in registry


def test_a_layer_whose_builder_or_rule_cannot_be_imported_is_skipped():
    registry, reports = discover_layers([entry("unresolved", f"{HERE}:register_unresolved")])
    report = next(r for r in reports if r.name == "unresolved")
    assert report.registered == ["acme.Fine"]
    no_module, no_function, no_rule = report.errors
    assert "acme.NoModule" in no_module and "no module named 'acme_builders'" in no_module
    assert "acme.NoFunction" in no_function and "no function 'build_nothing'" in no_function
    assert "shape rule 'acme_rules_xyz:swish'" in no_rule
    assert all(error.endswith("; skipped") for error in report.errors)
    assert not {"acme.NoModule", "acme.NoFunction", "acme.NoRule"} & {s.type_id for s in registry}


def test_a_plugin_may_not_add_layers_to_the_studio_namespace():
    registry, reports = discover_layers([entry("hijack", f"{HERE}:register_in_studio_namespace")])
    report = next(r for r in reports if r.name == "hijack")
    assert report.registered == ["acme.Own"]
    impostor, shouting = report.errors
    assert "'studio.Impostor'" in impostor and "'studio.' namespace" in impostor
    assert "'Studio.Shouting'" in shouting  # the reserved prefix in any case
    assert "studio.Impostor" not in registry and "acme.Own" in registry
