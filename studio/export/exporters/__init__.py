"""The built-in export formats, by their command-line id."""

from __future__ import annotations

from studio.export.errors import ExportError
from studio.export.exporters.base import Exporter, Plan
from studio.export.exporters.onnx_model import OnnxExporter
from studio.export.exporters.python_source import PythonExporter
from studio.export.exporters.torch_export import TorchExportExporter
from studio.export.exporters.torchscript import TorchScriptExporter
from studio.export.exporters.weights import SafetensorsExporter, StateDictExporter

EXPORTERS: dict[str, Exporter] = {
    e.format: e
    for e in (
        StateDictExporter(),
        SafetensorsExporter(),
        TorchScriptExporter(),
        TorchExportExporter(),
        OnnxExporter(),
        PythonExporter(),
    )
}

FORMATS = tuple(EXPORTERS)


def get_exporter(format_id: str) -> Exporter:
    """The exporter for a format id; `ExportError` naming the known ones otherwise."""
    try:
        return EXPORTERS[format_id]
    except KeyError:
        raise ExportError(
            f"{format_id!r} is not an export format; choose one of {', '.join(FORMATS)}"
        ) from None


__all__ = ["EXPORTERS", "FORMATS", "Exporter", "Plan", "get_exporter"]
