"""Plugin discovery: entry points feed the registries; a broken plugin never stops the app.

The built-in catalog registers through the same `studio.layers` entry point as any plugin.
Each plugin registers into a scratch registry first, so an exception half-way through, an id
that clashes with another plugin or lies outside the plugin's own namespace, or a layer whose
builder names no module, is reported and skipped without touching the rest.

Checks that need torch (building a plugin's layers) run later, in `probe_builders`, so that
listing layers at start-up never imports it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol, TypeVar

from studio.core.errors import DuplicateLayerError, StudioError
from studio.core.registry import LayerRegistry
from studio.core.shapes import ShapeError, TensorShape, describe
from studio.core.specs import LayerSpec

LAYER_GROUP = "studio.layers"
BUILTIN_ENTRY = "studio.layers:register"
#: The namespace of Strata Studio's own ids, and the `origin` its built-ins register with.
BUILTIN_NAMESPACE = "studio"
#: What each group's items are called in messages.
ITEM_KINDS = {
    LAYER_GROUP: "layer",
    "studio.datasets": "dataset",
    "studio.explainers": "explanation method",
    "studio.exporters": "export format",
}
# ``prefix.name``: the prefix is an identifier, the name anything without spaces.
_NAMESPACED_ID = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.\S+$")

_log = logging.getLogger(__name__)


class PluginItemError(StudioError):
    """One item a plugin registered breaks a rule of the plugin API; that item is skipped."""


class NamespaceError(PluginItemError):
    """A plugin's id lacks its own prefix, or claims Strata Studio's ``studio.`` namespace."""


def check_namespace(item_id: str, *, kind: str = "item", builtin: bool = False) -> None:
    """Refuse a plugin's id unless it is ``prefix.name`` with a prefix other than ``studio``.

    Built-in ids are exempt: Strata Studio owns the ``studio.`` namespace and the bare ids
    that predate namespacing (the dataset ``iris``, the format ``onnx``, the method
    ``Saliency``), which project files and command lines already use.
    """
    if builtin:
        return
    match = _NAMESPACED_ID.match(item_id)
    if match is None:
        raise NamespaceError(
            f"{kind} id {item_id!r} needs its plugin's own prefix, like 'acme.{item_id}'; "
            "ids without one belong to Strata Studio"
        )
    if match.group(1).lower() == BUILTIN_NAMESPACE:
        name = item_id.split(".", 1)[1]
        raise NamespaceError(
            f"{kind} id {item_id!r} is in Strata Studio's own 'studio.' namespace; "
            f"a plugin uses its own prefix, like 'acme.{name}'"
        )


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
    """What `discover` needs of a registry: register with an origin, look up, and iterate."""

    def register(self, item: Any, *, origin: str = ...) -> None: ...

    def __contains__(self, item_id: object) -> bool: ...

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
    check: Callable[[Any], None] | None = None,
) -> tuple[R, list[PluginReport]]:
    """Fill a registry from every entry point of `group`; the built-ins always come first.

    Each plugin registers into a scratch registry, so an exception half-way through is
    reported and the entry point skipped without touching the rest. Then each item is
    reported and skipped on its own when its name clashes (`duplicate`), when a plugin's id
    is not in its own namespace (`check_namespace`), or when `check` raises
    `PluginItemError` for a plugin's item.
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
        is_builtin = entry.value == builtin
        origin = BUILTIN_NAMESPACE if is_builtin else f"plugin {entry.name} ({dist})"
        kind = ITEM_KINDS.get(group, "item")
        for item in scratch:
            name = name_of(item)
            try:
                if name not in registry:  # a clash is reported as one, whatever its prefix
                    check_namespace(name, kind=kind, builtin=is_builtin)
                    # The built-ins' own tests cover what `check` looks for; at start-up
                    # it would cost a few milliseconds of module lookups for nothing.
                    if check is not None and not is_builtin:
                        check(item)
                registry.register(item, origin=origin)
            except (duplicate, PluginItemError) as exc:
                report.errors.append(f"{exc}; skipped")
            else:
                report.registered.append(name)
    return registry, reports


def log_problems(group: str, reports: Iterable[PluginReport]) -> None:
    """One warning per plugin error, so a terminal (and `studio --self-test`) shows them."""
    for report in reports:
        for error in report.errors:
            _log.warning(
                "plugin %s, entry point %s = %s (%s): %s",
                report.distribution,
                report.name,
                report.value,
                group,
                error,
            )


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
    """A registry filled from every `studio.layers` entry point, plus a report per plugin.

    A layer whose builder or shape rule names a module that cannot be found is skipped
    (`check_layer_imports`); whether its builder works is `probe_builders`'s business.
    """
    return discover(
        LAYER_GROUP,
        BUILTIN_ENTRY,
        LayerRegistry,
        name_of=lambda spec: spec.type_id,
        duplicate=DuplicateLayerError,
        entries=entries,
        check=check_layer_imports,
    )


@cache
def default_layers() -> tuple[LayerRegistry, tuple[PluginReport, ...]]:
    """The application's registry, discovered once per process."""
    registry, reports = discover_layers()
    log_problems(LAYER_GROUP, reports)
    return registry, tuple(reports)


# ---- checking a plugin's layers
def check_layer_imports(spec: LayerSpec) -> None:
    """Refuse a layer whose builder or shape rule names a module or function that is not there.

    `importlib.util.find_spec` finds a module without running it, so the builders' torch
    stays unloaded; a function is looked up only in a module that is already imported.
    """
    for role, path in (("builder", spec.builder), ("shape rule", spec.shape_rule)):
        problem = None if path is None else _unresolved(path)
        if problem is not None:
            raise PluginItemError(
                f"layer {spec.type_id!r}: its {role} {path!r} cannot be imported ({problem})"
            )


def _unresolved(path: str) -> str | None:
    """Why ``module:function`` cannot be imported, or None when it looks importable."""
    module_name, _, function_name = path.partition(":")
    if not module_name or not function_name:
        return "it is not 'module:function'"
    try:
        found = importlib.util.find_spec(module_name)
    except Exception as exc:  # a parent package that is missing or raises on import
        return f"{type(exc).__name__}: {exc}"
    if found is None:
        return f"no module named {module_name!r}"
    module = sys.modules.get(module_name)
    if module is not None and not callable(getattr(module, function_name, None)):
        return f"{module_name} has no function {function_name!r}"
    return None


#: Sample shapes (batch excluded) a probe offers a layer, in turn, until one is accepted: an
#: image, a sequence of vectors, a feature vector, a volume, token ids.
PROBE_SHAPES = (
    TensorShape((3, 8, 8)),
    TensorShape((8, 16)),
    TensorShape((16,)),
    TensorShape((3, 4, 8, 8)),
    TensorShape((8,), "long"),
)


def probe_layer(spec: LayerSpec) -> str | None:
    """Build `spec` with its default params on ``meta`` tensors; why it failed, or None.

    Its shape rule picks the first of `PROBE_SHAPES` it accepts, and the builder must then
    accept that shape too. Without a rule, a `ShapeError` from the builder means "not this
    shape" and the next is tried; any other exception is a broken builder. A layer that
    refuses every probe shape is not reported: nothing was learnt about it.
    """
    from studio.compile.inference import meta_output_shapes
    from studio.layers import load_shape_rule

    if spec.role != "layer":
        return None
    try:
        params = spec.validate_params(spec.defaults())
        rule = load_shape_rule(spec)
    except Exception as exc:
        return _probe_failure(spec, "its defaults or shape rule", exc, "")
    ports = [port for port in spec.input_ports(params) if not port.optional]
    candidates = [[shape] * len(ports) for shape in PROBE_SHAPES] if ports else [[]]
    for inputs in candidates:
        if rule is not None:
            try:
                rule(params, inputs)
            except ShapeError:
                continue
            except Exception as exc:
                return _probe_failure(spec, "its shape rule", exc, describe(inputs))
        try:
            meta_output_shapes(spec, params, inputs)
        except ShapeError as exc:
            if rule is None:
                continue
            return _probe_failure(spec, "its builder", exc, describe(inputs))
        except Exception as exc:  # whatever a plugin's builder or module raises
            return _probe_failure(spec, "its builder", exc, describe(inputs))
        return None
    return None


def _probe_failure(spec: LayerSpec, part: str, exc: BaseException, inputs: str) -> str:
    given = f" for input {inputs}" if inputs else ""
    return (
        f"layer {spec.type_id!r}: {part} raised {type(exc).__name__}: {exc}{_plugin_line(exc)}"
        f" when built with its default params{given}; a node using it cannot be built"
    )


def probe_builders(registry: LayerRegistry, reports: Iterable[PluginReport]) -> None:
    """Build every plugin layer in `reports` once (`probe_layer`); add failures to its report.

    It imports torch (the builders do), so it runs where torch is wanted anyway: in
    `survey_plugins`, on the Plugins dialog's worker, never while the palette is listed.
    By then the window lists the layer; it stays registered, and a node using it shows
    the builder's own words as a problem, while Help ▸ Plugins shows the failure in red.
    The built-in catalog is not probed: its own tests build every layer.
    """
    for report in reports:
        if report.value == BUILTIN_ENTRY:
            continue
        for type_id in report.registered:
            problem = probe_layer(registry.get(type_id))
            if problem is not None:
                report.errors.append(problem)


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
    log_problems(EXPORTER_GROUP, reports)
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
    worker thread; that is also where plugin layers are built once (`probe_builders`).
    """
    from importlib.metadata import PackageNotFoundError, version

    plugins: dict[str, InstalledPlugin] = {}
    for group, path in PLUGIN_GROUPS.items():
        module_name, _, function_name = path.partition(":")
        discover_group = getattr(importlib.import_module(module_name), function_name)
        registry, reports = discover_group()
        if group == LAYER_GROUP:
            probe_builders(registry, reports)
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
