"""The export formats by id: built-ins and plugins register through the same API.

`studio.plugins.discover_exporters` fills an `ExporterRegistry` from every entry point of the
``studio.exporters`` group; the built-in formats are the entry point
``studio.export.exporters:register``. A plugin's exporter implements
`studio.export.exporters.base.Exporter` and goes through the same check → write → verify;
its format id carries the plugin's own prefix (``extra.npz``), never ``studio.``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from studio.export.errors import ExportError
from studio.plugins import BUILTIN_NAMESPACE, check_namespace

if TYPE_CHECKING:
    from studio.export.exporters.base import Exporter


class DuplicateExporterError(ExportError):
    """Two exporters claim the same format id."""


class ExporterRegistry:
    """Exporters by format id, in registration order, each with where it came from."""

    def __init__(self) -> None:
        self._exporters: dict[str, Exporter] = {}
        self._origins: dict[str, str] = {}

    def register(self, exporter: Exporter, *, origin: str = BUILTIN_NAMESPACE) -> None:
        """Add an exporter; `DuplicateExporterError` when its format id is taken.

        A plugin's exporter (any `origin` but ``"studio"``) needs a namespaced format id:
        `studio.plugins.NamespaceError` otherwise.
        """
        format_id = getattr(exporter, "format", None)
        if not isinstance(format_id, str) or not format_id:
            raise ExportError(f"{exporter!r} has no format id; set its `format` attribute")
        if format_id in self._exporters:
            raise DuplicateExporterError(
                f"the export format {format_id!r} is already registered by "
                f"{self._origins[format_id]}"
            )
        check_namespace(format_id, kind="export format", builtin=origin == BUILTIN_NAMESPACE)
        self._exporters[format_id] = exporter
        self._origins[format_id] = origin

    def get(self, format_id: str) -> Exporter:
        """The exporter for a format id; `ExportError` naming the known ones otherwise."""
        try:
            return self._exporters[format_id]
        except KeyError:
            raise ExportError(
                f"{format_id!r} is not an export format; choose one of {', '.join(self.formats)}"
            ) from None

    def origin(self, format_id: str) -> str:
        return self._origins[format_id]

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(self._exporters)

    def __contains__(self, format_id: object) -> bool:
        return format_id in self._exporters

    def __iter__(self) -> Iterator[Exporter]:
        return iter(list(self._exporters.values()))

    def __len__(self) -> int:
        return len(self._exporters)
