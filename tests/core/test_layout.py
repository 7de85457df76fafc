"""Layered auto-layout: inputs first, every edge points forward, few crossings."""

from __future__ import annotations

import random

import pytest

from studio.core.graph import Graph
from studio.core.layout import LAYER_GAP, count_crossings, layered_layout
from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.plugins import default_registry


@pytest.fixture
def catalog():
    """The real layer catalog (tests/core's `registry` fixture is a small fake one)."""
    return default_registry()


def test_every_edge_points_forward_and_templates_have_no_crossings(catalog):
    for path in examples_dir().glob("*.strata"):
        for graph in Project.load(path, catalog).graphs.values():
            positions = layered_layout(graph)
            for edge in graph.edges:
                assert positions[edge.dst][0] > positions[edge.src][0]
            assert count_crossings(graph, positions) == 0, path.name
            assert len(set(positions.values())) == len(graph)


def test_top_to_bottom_swaps_the_axes(catalog):
    graph = Project.load(examples_dir() / "residual_cnn.strata", catalog).main_graph
    lr = layered_layout(graph, "LR")
    tb = layered_layout(graph, "TB")
    assert all(tb[n] == (lr[n][1], lr[n][0]) for n in lr)


def test_barycenter_sweeps_remove_crossings_of_a_shuffled_bipartite_graph(catalog):
    rng = random.Random(3)
    graph = Graph(catalog)
    left = [graph.add_node("studio.Input", name=f"a{i}").id for i in range(6)]
    right = [graph.add_node("studio.ReLU", name=f"b{i}").id for i in range(6)]
    rng.shuffle(right)
    for a, b in zip(left, right, strict=True):
        graph.connect(a, "out", b, "in")
    positions = layered_layout(graph)
    assert {positions[a][0] for a in left} == {0.0}
    assert {positions[b][0] for b in right} == {LAYER_GAP}
    assert count_crossings(graph, positions) == 0
