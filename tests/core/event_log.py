"""Records every event a graph emits, in order, as (signal name, args)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from studio.core.graph import Graph

SIGNALS = (
    "node_added",
    "node_removed",
    "node_moved",
    "node_renamed",
    "param_changed",
    "edge_added",
    "edge_removed",
)


class EventLog:
    def __init__(self, graph: Graph) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        for name in SIGNALS:
            getattr(graph, name).connect(self._recorder(name))

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.events.append((name, args))

        return record

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def take(self) -> list[tuple[str, tuple[Any, ...]]]:
        """The events so far; the log starts afresh."""
        events, self.events = self.events, []
        return events
