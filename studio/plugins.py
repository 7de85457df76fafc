"""Plugin discovery: entry points feed the registries; a broken plugin never stops the app.

The built-in catalog registers through the same `studio.layers` entry point as any plugin.
Each plugin registers into a scratch registry first, so an exception half-way through or an
id that clashes with another plugin is reported and skipped without touching the rest.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol, TypeVar

from studio.core.errors import DuplicateLayerError
from studio.core.registry import LayerRegistry

LAYER_GROUP = "studio.layers"
BUILTIN_ENTRY = "studio.layers:register"


@dataclass
class PluginReport:
    """What one entry point contributed, and what went wrong with it."""

    name: str
    value: str
    distribution: str
    registered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class PluginRegistry(Protocol):
    """What `discover` needs of a registry: register with an origin, and iterate."""

    def register(self, item: Any, *, origin: str = ...) -> None: ...

    def __iter__(self) -> Iterator[Any]: ...


R = TypeVar("R", bound=PluginRegistry)


def discover(
    group: str,
    builtin: str,
    make_registry: Callable[[], R],
    *,
    name_of: Callable[[Any], str],
    duplicate: type[Exception],
    entries: list[EntryPoint] | None = None,
) -> tuple[R, list[PluginReport]]:
    """Fill a registry from every entry point of `group`; the built-ins always come first.

    Each plugin registers into a scratch registry, so an exception half-way through or an
    item whose name clashes (`duplicate`) is reported and skipped without touching the rest.
    """
    if entries is None:
        entries = list(entry_points(group=group))
    if not any(e.value == builtin for e in entries):
        # Running from a source tree that was never pip-installed: register built-ins anyway.
        entries.insert(0, EntryPoint("builtin", builtin, group))
    entries.sort(key=lambda e: (e.value != builtin, e.name))
    registry = make_registry()
    reports = []
    for entry in entries:
        dist = entry.dist.name if entry.dist is not None else "strata-studio"
        report = PluginReport(entry.name, entry.value, dist)
        reports.append(report)
        scratch = make_registry()
        try:
            entry.load()(scratch)
        except Exception as exc:  # a broken plugin must not stop the application
            report.errors.append(f"{type(exc).__name__}: {exc}{_plugin_line(exc)}")
            continue
        origin = "studio" if entry.value == builtin else f"plugin {entry.name} ({dist})"
        for item in scratch:
            try:
                registry.register(item, origin=origin)
            except duplicate as exc:
                report.errors.append(f"{exc}; skipped")
            else:
                report.registered.append(name_of(item))
    return registry, reports


def _plugin_line(exc: BaseException) -> str:
    """`` (file:line)`` of the deepest frame in the plugin's own code, or "" when none is.

    Frames of Strata Studio (a spec refusing a bad id) and of the import machinery say
    nothing about where the plugin went wrong.
    """
    studio_dir = str(Path(__file__).parent)
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    for frame in reversed(frames):
        # "<string>" and "<frozen ...>": generated code (a dataclass __init__) and importlib.
        own = frame.filename.startswith(studio_dir) or frame.filename.startswith("<")
        if not own and "importlib" not in Path(frame.filename).parts:
            return f" ({frame.filename}:{frame.lineno})"
    return ""


def discover_layers(
    entries: list[EntryPoint] | None = None,
) -> tuple[LayerRegistry, list[PluginReport]]:
    """A registry filled from every `studio.layers` entry point, plus a report per plugin."""
    return discover(
        LAYER_GROUP,
        BUILTIN_ENTRY,
        LayerRegistry,
        name_of=lambda spec: spec.type_id,
        duplicate=DuplicateLayerError,
        entries=entries,
    )


@cache
def default_layers() -> tuple[LayerRegistry, tuple[PluginReport, ...]]:
    """The application's registry, discovered once per process."""
    registry, reports = discover_layers()
    return registry, tuple(reports)


def default_registry() -> LayerRegistry:
    return default_layers()[0]


# ---- exporters
EXPORTER_GROUP = "studio.exporters"
BUILTIN_EXPORTERS_ENTRY = "studio.export.exporters:register"
EXPORTER_REGISTRY_MODULE = "studio.export.registry"


def discover_exporters(
    entries: list[EntryPoint] | None = None,
) -> tuple[Any, list[PluginReport]]:
    """An `ExporterRegistry` from every `studio.exporters` entry point, plus a report each.

    The built-in formats register through the same entry point; exporters are imported only
    here, so discovering layers never loads torch.
    """
    # By import path, like the entry points themselves: this module sits beside the layers
    # (studio.data imports it), so it must not import studio.export statically.
    import importlib

    registry_module = importlib.import_module(EXPORTER_REGISTRY_MODULE)
    return discover(
        EXPORTER_GROUP,
        BUILTIN_EXPORTERS_ENTRY,
        registry_module.ExporterRegistry,
        name_of=lambda exporter: exporter.format,
        duplicate=registry_module.DuplicateExporterError,
        entries=entries,
    )


@cache
def default_exporters() -> tuple[Any, tuple[PluginReport, ...]]:
    """The application's exporter registry, discovered once per process."""
    registry, reports = discover_exporters()
    return registry, tuple(reports)


# ---- installed plugins (Help ▸ Plugins…)
#: Each entry-point group and the "module:function" that discovers it. By import path, since
#: the dataset and explainer registries live in layers above this module.
PLUGIN_GROUPS: dict[str, str] = {
    LAYER_GROUP: "studio.plugins:discover_layers",
    "studio.datasets": "studio.data.registry:discover_datasets",
    "studio.explainers": "studio.explain.methods:discover_explainers",
    EXPORTER_GROUP: "studio.plugins:discover_exporters",
}
BUILTIN_DISTRIBUTION = "strata-studio"


@dataclass
class InstalledPlugin:
    """One distribution's contributions: its reports per entry-point group."""

    distribution: str
    version: str
    builtin: bool
    reports: dict[str, list[PluginReport]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for reports in self.reports.values() for r in reports)


def survey_plugins() -> list[InstalledPlugin]:
    """Discover every group afresh and group the reports by distribution, built-ins first.

    It imports what the plugins import (torch, for exporters), so the window calls it on a
    worker thread.
    """
    import importlib
    from importlib.metadata import PackageNotFoundError, version

    plugins: dict[str, InstalledPlugin] = {}
    for group, path in PLUGIN_GROUPS.items():
        module_name, _, function_name = path.partition(":")
        discover_group = getattr(importlib.import_module(module_name), function_name)
        _, reports = discover_group()
        for report in reports:
            name = report.distribution
            if name not in plugins:
                try:
                    found = version(name)
                except PackageNotFoundError:
                    found = ""
                plugins[name] = InstalledPlugin(name, found, name == BUILTIN_DISTRIBUTION)
            plugins[name].reports.setdefault(group, []).append(report)
    return sorted(plugins.values(), key=lambda p: (not p.builtin, p.distribution.lower()))
