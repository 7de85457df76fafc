"""Plugin discovery: entry points feed the registries; a broken plugin never stops the app.

The built-in catalog registers through the same `studio.layers` entry point as any plugin.
Each plugin registers into a scratch registry first, so an exception half-way through or an
id that clashes with another plugin is reported and skipped without touching the rest.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points

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


def discover_layers(
    entries: list[EntryPoint] | None = None,
) -> tuple[LayerRegistry, list[PluginReport]]:
    """A registry filled from every `studio.layers` entry point, plus a report per plugin."""
    if entries is None:
        entries = list(entry_points(group=LAYER_GROUP))
    if not any(e.value == BUILTIN_ENTRY for e in entries):
        # Running from a source tree that was never pip-installed: register built-ins anyway.
        entries.insert(0, EntryPoint("builtin", BUILTIN_ENTRY, LAYER_GROUP))
    entries.sort(key=lambda e: (e.value != BUILTIN_ENTRY, e.name))
    registry = LayerRegistry()
    reports = [_load_into(registry, entry) for entry in entries]
    return registry, reports


def _load_into(registry: LayerRegistry, entry: EntryPoint) -> PluginReport:
    dist = entry.dist.name if entry.dist is not None else "strata-studio"
    report = PluginReport(entry.name, entry.value, dist)
    scratch = LayerRegistry()
    try:
        register = entry.load()
        register(scratch)
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
        report.errors.append(f"{type(exc).__name__}: {exc}{where}")
        return report
    origin = "studio" if entry.value == BUILTIN_ENTRY else f"plugin {entry.name} ({dist})"
    for spec in scratch:
        try:
            registry.register(spec, origin=origin)
        except DuplicateLayerError as exc:
            report.errors.append(f"{exc}; skipped")
        else:
            report.registered.append(spec.type_id)
    return report


@cache
def default_layers() -> tuple[LayerRegistry, tuple[PluginReport, ...]]:
    """The application's registry, discovered once per process."""
    registry, reports = discover_layers()
    return registry, tuple(reports)


def default_registry() -> LayerRegistry:
    return default_layers()[0]
