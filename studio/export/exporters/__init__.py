"""The built-in export formats, registered through the ``studio.exporters`` entry point.

`register` is the built-in catalog's entry point (the same API a plugin implements);
`studio.plugins.default_exporters` discovers the application's registry (built-ins and
plugins) once per process, and callers hand it to `export_project`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from studio.export.exporters.base import Exporter, Plan
from studio.export.exporters.onnx_model import OnnxExporter
from studio.export.exporters.python_source import PythonExporter
from studio.export.exporters.torch_export import TorchExportExporter
from studio.export.exporters.torchscript import TorchScriptExporter
from studio.export.exporters.weights import SafetensorsExporter, StateDictExporter

if TYPE_CHECKING:
    from studio.export.registry import ExporterRegistry

BUILTIN_EXPORTERS: tuple[type[Exporter], ...] = (
    StateDictExporter,
    SafetensorsExporter,
    TorchScriptExporter,
    TorchExportExporter,
    OnnxExporter,
    PythonExporter,
)

#: The built-in format ids, in the order the dialog and `studio export` list them.
FORMATS = tuple(e.format for e in BUILTIN_EXPORTERS)


def register(registry: ExporterRegistry) -> None:
    """The ``studio.exporters`` entry point of the built-in formats."""
    for exporter in BUILTIN_EXPORTERS:
        registry.register(exporter())


@cache
def builtin_registry() -> ExporterRegistry:
    """The built-in formats alone, registered through `register` as a plugin's would be.

    What `get_exporter` falls back on. The application (the Export dialog, `studio export`)
    passes `studio.plugins.default_exporters()`'s registry, which adds every plugin's
    formats; this package never imports `studio.plugins` (layers point downward).
    """
    from studio.export.registry import ExporterRegistry

    registry = ExporterRegistry()
    register(registry)
    return registry


def get_exporter(format_id: str, registry: ExporterRegistry | None = None) -> Exporter:
    """The exporter for a format id (built-ins when no registry is given); `ExportError`
    naming the known ones otherwise."""
    return (registry or builtin_registry()).get(format_id)


__all__ = [
    "BUILTIN_EXPORTERS",
    "FORMATS",
    "Exporter",
    "Plan",
    "builtin_registry",
    "get_exporter",
    "register",
]
