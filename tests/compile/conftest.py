"""Fixtures for compile tests: the templates, loaded through the real plugin registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.plugins import default_registry

TEMPLATE_PATHS = sorted(examples_dir().glob("*.strata"))


def template_graphs() -> list[tuple[str, str]]:
    """(template stem, graph name) for every graph of every template."""
    pairs = []
    for path in TEMPLATE_PATHS:
        project = Project.load(path, default_registry())
        pairs += [(path.stem, name) for name in project.graphs]
    return pairs


@pytest.fixture
def load_template():
    def load(stem: str) -> Project:
        return Project.load(examples_dir() / f"{stem}.strata", default_registry())

    return load


def example_inputs(graph, batch: int = 3):
    """Random inputs matching the graph's Input nodes (token ids below the vocabulary)."""
    import torch

    tensors = []
    for node in graph.nodes:
        if graph.spec(node.id).role != "input":
            continue
        shape = (batch, *node.params["shape"])
        if node.params["dtype"] == "long":
            tensors.append(torch.randint(0, 50, shape))
        else:
            tensors.append(torch.randn(shape))
    return tuple(tensors)


def templates_exist() -> bool:
    return bool(TEMPLATE_PATHS)


__all__ = ["TEMPLATE_PATHS", "Path", "example_inputs", "template_graphs"]
