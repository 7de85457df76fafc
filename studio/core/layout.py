"""Layered auto-layout: columns by longest path from the inputs, few crossings.

Layers come from networkx's topological generations; within a layer, nodes are ordered by
the mean position of their neighbours in the previous layer (the barycenter heuristic,
swept down and up a few times), which removes most crossings of typical network graphs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Literal

import networkx as nx

from studio.core.graph import Graph, Position

Direction = Literal["LR", "TB"]
LAYER_GAP = 220.0
NODE_GAP = 110.0


def layered_layout(
    graph: Graph, direction: Direction = "LR", *, sweeps: int = 4
) -> dict[str, Position]:
    """New positions for every node: layers left to right (LR) or top to bottom (TB)."""
    dag = nx.DiGraph()
    dag.add_nodes_from(n.id for n in graph.nodes)
    dag.add_edges_from((e.src, e.dst) for e in graph.edges)
    depth: dict[str, int] = {}
    for node_id in graph.topological_order():
        preds = list(dag.predecessors(node_id))
        depth[node_id] = 1 + max((depth[p] for p in preds), default=-1)
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in graph.nodes:
        layers[depth[node.id]].append(node.id)
    rank = {node_id: i for layer in layers for i, node_id in enumerate(layer)}
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        sequence = layers[1:] if downward else layers[-2::-1]
        for layer in sequence:
            near = dag.pred if downward else dag.succ
            layer.sort(key=functools.partial(_barycenter, near=near, rank=rank))
            for i, node_id in enumerate(layer):
                rank[node_id] = i
    positions: dict[str, Position] = {}
    for d, layer in enumerate(layers):
        offset = (len(layer) - 1) * NODE_GAP / 2
        for i, node_id in enumerate(layer):
            along, across = d * LAYER_GAP, i * NODE_GAP - offset
            positions[node_id] = (along, across) if direction == "LR" else (across, along)
    return positions


def _barycenter(node_id: str, *, near: Mapping[str, Iterable[str]], rank: dict[str, int]) -> float:
    """Mean rank of a node's neighbours in the layer just placed."""
    ranks = [rank[n] for n in near[node_id]]
    if not ranks:
        return float(rank[node_id])
    return sum(ranks) / len(ranks)


def count_crossings(graph: Graph, positions: dict[str, Position]) -> int:
    """Edge crossings between adjacent columns (used by tests and the benchmark)."""
    segments = [(positions[e.src], positions[e.dst]) for e in graph.edges]
    crossings = 0
    for i, (a1, a2) in enumerate(segments):
        for b1, b2 in segments[i + 1 :]:
            if a1[0] == b1[0] and a2[0] == b2[0] and (a1[1] - b1[1]) * (a2[1] - b2[1]) < 0:
                crossings += 1
    return crossings
