"""ONNX import time on long chains of small operators: it must grow linearly with the nodes.

A 200k-node chain took more than 10 minutes (issue 15), because naming each node searched the
taken names one by one. The chain repeats Relu → Tanh → Add(tanh, relu) → Sigmoid on a (2, 4)
tensor, with unnamed nodes (so every node's name collides with its op's), the worst case for
naming. Prints seconds per chain (`import_onnx_file`: read, check, run in onnxruntime, map,
lay out) and microseconds per node; the last line compares the longest chain's per-node time
with the shortest's (1.0 is linear; the target is at most 2).
Run: python benchmarks/onnx_chain.py [--nodes 10000 50000 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

# Per-node time of the longest chain over the shortest's: linear growth stays near 1.
TARGET_GROWTH = 2.0


def operator_chain(nodes: int, width: int = 4) -> Any:
    """An `onnx.ModelProto`: x (batch, width) through `nodes` unnamed elementwise operators."""
    from onnx import TensorProto, helper

    made: list[Any] = []
    previous = "x"
    while len(made) < nodes:
        step = len(made)
        relu, tanh, added, squashed = (f"v{step + i}" for i in range(4))
        block = [
            helper.make_node("Relu", [previous], [relu]),
            helper.make_node("Tanh", [relu], [tanh]),
            helper.make_node("Add", [tanh, relu], [added]),
            helper.make_node("Sigmoid", [added], [squashed]),
        ]
        made += block[: nodes - len(made)]
        previous = made[-1].output[0]
    graph = helper.make_graph(
        made,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, ["batch", width])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def import_seconds(nodes: int, folder: Path) -> float:
    """Seconds `import_onnx_file` takes for a chain of `nodes` operators, saved as a file."""
    import onnx

    from studio.importers.onnx_import import import_onnx_file
    from studio.plugins import default_registry

    registry = default_registry()
    path = folder / f"chain-{nodes}.onnx"
    onnx.save(operator_chain(nodes), str(path))
    start = time.perf_counter()
    imported = import_onnx_file(path, registry)
    seconds = time.perf_counter() - start
    layers = len(imported.project.main_graph) - 2  # less the Input and the Output
    assert layers == nodes, f"{layers} layers imported from {nodes} operators"
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    args = parser.parse_args()
    import_seconds(100, Path(tempfile.mkdtemp()))  # imports torch and onnxruntime first
    per_node = {}
    with tempfile.TemporaryDirectory(prefix="strata-onnx-chain-") as folder:
        for nodes in sorted(args.nodes):
            seconds = import_seconds(nodes, Path(folder))
            per_node[nodes] = seconds / nodes * 1e6
            print(
                f"  import of a {nodes}-node chain {seconds:10.2f} s  {per_node[nodes]:.1f} µs/node"
            )
    shortest, longest = min(per_node), max(per_node)
    growth = per_node[longest] / per_node[shortest]
    print(
        f"  per-node time, {longest} vs {shortest} nodes {growth:6.2f} ×  "
        f"(target ≤ {TARGET_GROWTH:g}: linear)"
    )


if __name__ == "__main__":
    main()
