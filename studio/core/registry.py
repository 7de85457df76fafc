"""The catalog of layer types, fed by the built-in catalog and by plugins alike."""

from __future__ import annotations

from collections.abc import Iterator

from studio.core.errors import DuplicateLayerError, UnknownLayerError
from studio.core.specs import LayerSpec


class LayerRegistry:
    """Layer specs by namespaced type id. Registering an id twice raises."""

    def __init__(self) -> None:
        self._specs: dict[str, LayerSpec] = {}
        self._origins: dict[str, str] = {}

    def register(self, spec: LayerSpec, origin: str = "studio") -> None:
        if spec.type_id in self._specs:
            raise DuplicateLayerError(
                f"layer id {spec.type_id!r} from {origin} is already registered by "
                f"{self._origins[spec.type_id]}"
            )
        self._specs[spec.type_id] = spec
        self._origins[spec.type_id] = origin

    def get(self, type_id: str) -> LayerSpec:
        try:
            return self._specs[type_id]
        except KeyError:
            raise UnknownLayerError(f"unknown layer type {type_id!r}") from None

    def origin(self, type_id: str) -> str:
        return self._origins[type_id]

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._specs

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def categories(self) -> dict[str, list[LayerSpec]]:
        """Specs grouped by category, in registration order."""
        grouped: dict[str, list[LayerSpec]] = {}
        for spec in self._specs.values():
            grouped.setdefault(spec.category, []).append(spec)
        return grouped
