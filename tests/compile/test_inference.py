"""Shape inference: problems name node and port; incremental results equal a full run."""

from __future__ import annotations

import sys

import pytest

from studio.compile.inference import ShapeInference, infer_shapes, meta_output_shapes, output_shapes
from studio.core.graph import Graph
from studio.core.shapes import TensorShape
from studio.plugins import default_registry


@pytest.fixture
def graph() -> Graph:
    return Graph(default_registry())


def chain(graph: Graph, *layers: tuple[str, dict]) -> list[str]:
    ids = []
    for type_id, params in layers:
        node = graph.add_node(type_id, params=params)
        if ids:
            graph.connect(ids[-1], "out", node.id, graph.input_ports(node.id)[0])
        ids.append(node.id)
    return ids


def snapshot(inference: ShapeInference) -> dict:
    return {
        node_id: (tuple(r.outputs.items()), r.problem.message if r.problem else None)
        for node_id, r in inference.results.items()
    }


def test_linear_after_image_warns_insert_flatten(graph):
    """torch runs it (mixing only the last dim), so it is a warning that keeps the advice."""
    ids = chain(
        graph,
        ("studio.Input", {"shape": [16, 8, 8]}),
        ("studio.Linear", {"out_features": 4}),
        ("studio.Output", {}),
    )
    lines = [p.format(graph) for p in infer_shapes(graph).problems()]
    assert lines == [
        "warning: Linear: Linear mixes only the last dimension of its input (N, 16, 8, 8), "
        "separately at every other position. Insert Flatten before it to classify the whole "
        "image (for channels-last features, this is already right)."
    ]
    assert infer_shapes(graph).output_shape(ids[1]) == TensorShape((16, 8, 4))


def test_missing_input_output_unconnected_and_dangling(graph):
    lin = graph.add_node("studio.Linear")
    problems = infer_shapes(graph).problems()
    text = [p.format(graph) for p in problems]
    assert "graph: the graph has no Input layer; add one from Input/Output" in text
    assert "graph: the graph has no Output layer; add one from Input/Output" in text
    assert "Linear.in: input 'in' is not connected; connect a layer's output to it" in text
    dangling = [p for p in problems if p.severity == "warning"]
    assert [p.node_id for p in dangling] == [lin.id]
    assert dangling[0].format(graph).startswith("warning: Linear.out: its output is not used")


def test_downstream_of_a_problem_reports_nothing_more(graph):
    ids = chain(
        graph,
        ("studio.Input", {"shape": [8]}),
        ("studio.Conv2d", {}),
        ("studio.ReLU", {}),
        ("studio.Output", {}),
    )
    errors = infer_shapes(graph).errors()
    assert [p.node_id for p in errors] == [ids[1]]


def test_incremental_refresh_recomputes_only_downstream_and_matches_full(graph):
    ids = chain(
        graph,
        ("studio.Input", {"shape": [3, 32, 32]}),
        ("studio.Conv2d", {"out_channels": 8}),
        ("studio.ReLU", {}),
        ("studio.Flatten", {}),
        ("studio.Linear", {"out_features": 10}),
        ("studio.Output", {}),
    )
    side = graph.add_node("studio.Linear", params={"out_features": 2})
    graph.connect(ids[0], "out", side.id, "in")  # a branch that the edit does not reach
    inference = ShapeInference(graph)
    inference.refresh()
    graph.set_param(ids[1], "out_channels", 4)
    touched = inference.refresh()
    assert touched == set(ids[1:])
    assert inference.output_shape(ids[3]) == TensorShape((4 * 32 * 32,))
    assert snapshot(inference) == snapshot(infer_shapes(graph))
    graph.set_param(ids[1], "stride", 2)
    graph.disconnect(graph.incoming(ids[4])["in"].id)
    inference.refresh()
    assert snapshot(inference) == snapshot(infer_shapes(graph))
    inference.close()
    graph.set_param(ids[1], "out_channels", 5)
    assert inference.refresh() == set()  # closed: no longer listening


def test_rules_agree_with_meta_execution_on_every_template_node(graph):
    from studio.core.project import Project
    from studio.core.resources import examples_dir

    checked = 0
    for path in examples_dir().glob("*.strata"):
        project = Project.load(path, default_registry())
        for g in project.graphs.values():
            inference = infer_shapes(g)
            for node in g.nodes:
                spec = g.spec(node.id)
                if spec.role != "layer":
                    continue
                inputs = inference.input_shapes(node.id)
                assert output_shapes(spec, node.params, inputs) == meta_output_shapes(
                    spec, node.params, inputs
                )
                checked += 1
    assert checked > 60


def test_layers_without_a_rule_fall_back_to_meta_tensors():
    from dataclasses import replace

    from studio.core.registry import LayerRegistry

    registry = LayerRegistry()
    for spec in default_registry():
        registry.register(replace(spec, shape_rule=None))
    graph = Graph(registry)
    ids = chain(
        graph,
        ("studio.Input", {"shape": [3, 16, 16]}),
        ("studio.Conv2d", {"out_channels": 8, "stride": 2}),
        ("studio.Linear", {}),
        ("studio.Output", {}),
    )
    inference = infer_shapes(graph)
    assert inference.output_shape(ids[1]) == TensorShape((8, 8, 8))
    (warning,) = inference.problems()
    assert warning.severity == "warning" and "Insert Flatten" in warning.message


def test_inference_with_rules_needs_no_torch(tmp_path):
    import subprocess

    code = (
        "import sys\n"
        "from studio.core.project import Project\n"
        "from studio.core.resources import examples_dir\n"
        "from studio.plugins import default_registry\n"
        "from studio.compile.inference import infer_shapes\n"
        "for p in examples_dir().glob('*.strata'):\n"
        "    for g in Project.load(p, default_registry()).graphs.values():\n"
        "        assert infer_shapes(g).problems() == [], p\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
