"""The `studio.explainers` group: built-ins and plugins fill one registry of methods."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import numpy as np

from studio.explain import METHODS, default_methods, explain, get_method
from studio.explain.methods import BUILTIN_METHODS, EXPLAINER_GROUP, discover_explainers
from tests.explain.conftest import ModelCase

HERE = "tests.explain.fixture_explainers"


def entry(name: str, target: str) -> EntryPoint:
    return EntryPoint(name, target, EXPLAINER_GROUP)


def test_builtins_register_through_the_entry_point() -> None:
    registry, reports = discover_explainers()
    builtin = next(r for r in reports if r.value == "studio.explain.methods:register")
    assert builtin.ok
    assert builtin.registered == [spec.name for spec in BUILTIN_METHODS]
    assert set(METHODS) >= set(builtin.registered)
    assert registry.origin("IntegratedGradients") == "studio"


def test_builtin_ids_are_namespaced_and_short_names_still_work() -> None:
    assert get_method("studio.Saliency") is get_method("Saliency")
    assert "studio.LayerGradCam" in default_methods()


def test_good_broken_missing_unprefixed_and_clashing_plugins(table_case: ModelCase) -> None:
    registry, reports = discover_explainers(
        [
            entry("good", f"{HERE}:register_good"),
            entry("broken", f"{HERE}:register_broken"),
            entry("missing", "no_such_module_xyz:register"),
            entry("unprefixed", f"{HERE}:register_unprefixed"),
            entry("clash", f"{HERE}:register_clash"),
        ]
    )
    by_name = {r.name: r for r in reports}
    assert by_name["builtin"].ok  # added even when not installed as an entry point
    assert by_name["good"].registered == ["acme.GradientSign"] and by_name["good"].ok
    assert "broken on purpose" in by_name["broken"].errors[0]
    assert "ModuleNotFoundError" in by_name["missing"].errors[0]
    assert "prefix" in by_name["unprefixed"].errors[0]
    assert by_name["clash"].registered == ["acme.Other"]
    assert "Saliency" in by_name["clash"].errors[0] and "skipped" in by_name["clash"].errors[0]
    assert registry.origin("Saliency") == "studio"
    assert registry.origin("acme.GradientSign").startswith("plugin good")
    # A plugin's method runs through the same engine call as the built-ins.
    spec = registry.get("acme.GradientSign")
    default_methods().register(spec, origin="plugin good")
    try:
        result = explain(table_case.model, table_case.inputs, method="acme.GradientSign")
        assert set(np.unique(result.values)) <= {-1.0, 0.0, 1.0}
        assert result.method == "acme.GradientSign"
    finally:
        default_methods().unregister("acme.GradientSign")
