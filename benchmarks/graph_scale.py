"""Shape inference and compile time on a generated 2,000-node graph.

Targets (issue 2): full inference <= 300 ms, incremental re-inference after one param edit
<= 30 ms, compile <= 500 ms. Prints medians and the ratio to each target.
Run: python benchmarks/graph_scale.py [--nodes 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from studio.compile.compiler import compile_graph
from studio.compile.inference import ShapeInference, infer_shapes
from studio.core.graph import Graph
from studio.plugins import default_registry

TARGETS_MS = {"full inference": 300.0, "incremental (1 edit)": 30.0, "compile": 500.0}


def residual_chain(nodes: int, width: int = 64) -> Graph:
    """Input → [Linear → ReLU → Linear → Add(skip) → LayerNorm] × k → Linear → Output."""
    graph = Graph(default_registry())
    prev = graph.add_node("studio.Input", name="x", params={"shape": [width]}).id
    blocks = max(1, (nodes - 3) // 5)
    for i in range(blocks):
        fc1 = graph.add_node("studio.Linear", name=f"b{i}_fc1", params={"out_features": width})
        act = graph.add_node("studio.ReLU", name=f"b{i}_act")
        fc2 = graph.add_node("studio.Linear", name=f"b{i}_fc2", params={"out_features": width})
        add = graph.add_node("studio.Add", name=f"b{i}_add")
        norm = graph.add_node("studio.LayerNorm", name=f"b{i}_norm")
        graph.connect(prev, "out", fc1.id, "in")
        graph.connect(fc1.id, "out", act.id, "in")
        graph.connect(act.id, "out", fc2.id, "in")
        graph.connect(fc2.id, "out", add.id, "in1")
        graph.connect(prev, "out", add.id, "in2")
        graph.connect(add.id, "out", norm.id, "in")
        prev = norm.id
    for i in range(nodes - 3 - 5 * blocks):  # pad to exactly `nodes`
        pad = graph.add_node("studio.Identity", name=f"pad{i}")
        graph.connect(prev, "out", pad.id, "in")
        prev = pad.id
    head = graph.add_node("studio.Linear", name="head", params={"out_features": 10})
    out = graph.add_node("studio.Output", name="y")
    graph.connect(prev, "out", head.id, "in")
    graph.connect(head.id, "out", out.id, "in")
    return graph


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(nodes: int, repeat: int) -> dict[str, float]:
    graph = residual_chain(nodes)
    full = median_ms(lambda: infer_shapes(graph), repeat)
    inference = ShapeInference(graph)
    inference.run_all()
    names = [n.name for n in graph.nodes if n.type_id == "studio.Linear"]
    late = graph.node_by_name(names[-3])
    middle = graph.node_by_name(names[len(names) // 2])
    assert late is not None and middle is not None
    flip = [64, 65]

    def edit(node_id: str) -> Callable[[], object]:
        def run() -> object:
            flip.reverse()
            graph.set_param(node_id, "out_features", flip[0])
            return inference.refresh()

        return run

    incremental = median_ms(edit(late.id), repeat * 4)
    incremental_mid = median_ms(edit(middle.id), repeat * 4)
    graph.set_param(late.id, "out_features", 64)
    graph.set_param(middle.id, "out_features", 64)
    compile_ms = median_ms(lambda: compile_graph(graph), repeat)
    inference.close()
    return {
        "nodes": len(graph),
        "full inference": full,
        "incremental (1 edit)": incremental,
        "incremental (edit mid-graph)": incremental_mid,
        "compile": compile_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    result = measure(args.nodes, args.repeat)
    print(f"graph of {result.pop('nodes')} nodes (median of {args.repeat}+ runs)")
    for name, ms in result.items():
        target = TARGETS_MS.get(name)
        ratio = f"  ratio to target {ms / target:.2f} (target {target:.0f} ms)" if target else ""
        print(f"  {name:30s} {ms:8.1f} ms{ratio}")


if __name__ == "__main__":
    main()
