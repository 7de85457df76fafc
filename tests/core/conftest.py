from __future__ import annotations

import pytest

from studio.core.commands import UndoStack
from studio.core.graph import Graph
from studio.core.registry import LayerRegistry

from .fake_layers import build_sample_graph, make_registry


@pytest.fixture
def registry() -> LayerRegistry:
    return make_registry()


@pytest.fixture
def graph(registry: LayerRegistry) -> Graph:
    return Graph(registry)


@pytest.fixture
def sample(graph: Graph) -> tuple[Graph, dict[str, str]]:
    """The sample graph and its node ids by name."""
    return graph, build_sample_graph(graph)


@pytest.fixture
def stack() -> UndoStack:
    return UndoStack()
