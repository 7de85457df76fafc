"""Every id a plugin registers is ``prefix.name``, and the prefix is never ``studio``.

One table row per entry-point group: the same rule, reported and skipped the same way,
whatever the group. The registries enforce it too when a plugin registers directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from studio.data.catalog import BUNDLED
from studio.data.registry import DATASET_GROUP, DatasetRegistry, discover_datasets
from studio.explain.methods import EXPLAINER_GROUP, discover_explainers
from studio.export.registry import ExporterRegistry
from studio.plugins import (
    EXPORTER_GROUP,
    NamespaceError,
    PluginReport,
    check_namespace,
    discover_exporters,
)
from tests.plugins.fixture_plugins import HERE, StubExporter

Discover = Callable[[list[EntryPoint]], tuple[Any, list[PluginReport]]]
GROUPS: list[tuple[str, Discover, str]] = [
    (EXPORTER_GROUP, discover_exporters, "register_exporters"),
    (DATASET_GROUP, discover_datasets, "register_datasets"),
    (EXPLAINER_GROUP, discover_explainers, "register_explainers"),
]


@pytest.mark.parametrize(("group", "discover", "function"), GROUPS)
def test_bare_and_studio_ids_from_a_plugin_are_reported_and_skipped(
    group: str, discover: Discover, function: str
) -> None:
    registry, reports = discover([EntryPoint("acme", f"{HERE}:{function}", group)])
    builtin, acme = (next(r for r in reports if r.name == name) for name in ("builtin", "acme"))
    assert builtin.ok
    assert len(acme.registered) == 1 and acme.registered[0].startswith("acme.")
    bare, studio = acme.errors
    assert "needs its plugin's own prefix" in bare and bare.endswith("; skipped")
    assert "'studio.' namespace" in studio and studio.endswith("; skipped")
    names = [bare.split("'")[1], studio.split("'")[1]]
    assert not [name for name in names if name in registry]
    assert len(registry) == len(builtin.registered) + 1


def test_the_registries_refuse_a_plugins_bare_id_but_not_a_builtin() -> None:
    exporters = ExporterRegistry()
    with pytest.raises(NamespaceError, match="'npz2' needs its plugin's own prefix"):
        exporters.register(StubExporter("npz2"), origin="plugin acme")
    with pytest.raises(NamespaceError, match=r"'studio\.' namespace"):
        exporters.register(StubExporter("studio.npz"), origin="plugin acme")
    exporters.register(StubExporter("npz2"))
    assert exporters.formats == ("npz2",)

    datasets = DatasetRegistry()
    with pytest.raises(NamespaceError, match="'spirals' needs its plugin's own prefix"):
        datasets.register(replace(BUNDLED[0], name="spirals"), origin="plugin acme")
    datasets.register(replace(BUNDLED[0], name="acme.spirals"), origin="plugin acme")
    assert datasets.names() == ["acme.spirals"]


@pytest.mark.parametrize("item_id", ["acme.Swish", "acme.sub.Name", "extra.npz", "a_1.x-y"])
def test_namespaced_ids_pass(item_id: str) -> None:
    check_namespace(item_id)


@pytest.mark.parametrize("item_id", ["Swish", "", ".x", "acme.", "1acme.x", "acme. x", "studio.x"])
def test_other_ids_are_refused(item_id: str) -> None:
    with pytest.raises(NamespaceError):
        check_namespace(item_id, kind="layer")
    check_namespace(item_id, builtin=True)
