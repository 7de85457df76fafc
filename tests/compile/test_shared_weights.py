"""A tied node calls the other node's module: one set of weights in the compiled model, the
generated code, the summary and training; a tie that cannot hold is a problem on the node."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from studio.compile.codegen import generate_code
from studio.compile.compiler import CompileError, compile_graph
from studio.compile.inference import infer_shapes
from studio.compile.summary import summarize
from studio.core.graph import Graph
from studio.plugins import default_registry
from studio.training.session import freeze


def _siamese(width: tuple[int, int] = (6, 6)) -> tuple[Graph, dict[str, str]]:
    graph = Graph(default_registry())
    ids = {}
    ids["left"] = graph.add_node("studio.Input", name="left", params={"shape": (width[0],)}).id
    ids["right"] = graph.add_node("studio.Input", name="right", params={"shape": (width[1],)}).id
    ids["tower"] = graph.add_node("studio.Linear", name="tower", params={"out_features": 4}).id
    ids["tower_b"] = graph.add_node("studio.Linear", name="tower_b", params={"out_features": 4}).id
    ids["add"] = graph.add_node("studio.Add", name="add").id
    ids["out"] = graph.add_node("studio.Output", name="out").id
    graph.connect(ids["left"], "out", ids["tower"], "in")
    graph.connect(ids["right"], "out", ids["tower_b"], "in")
    graph.connect(ids["tower"], "out", ids["add"], "in1")
    graph.connect(ids["tower_b"], "out", ids["add"], "in2")
    graph.connect(ids["add"], "out", ids["out"], "in")
    graph.set_shares(ids["tower_b"], ids["tower"])
    return graph, ids


def test_one_module_is_called_twice() -> None:
    graph, _ = _siamese()
    model = compile_graph(graph)
    assert sorted(model.state_dict()) == ["tower.bias", "tower.weight"]
    x = torch.randn(3, 6)
    y = torch.randn(3, 6)
    expected = model.tower(x) + model.tower(y)
    assert torch.equal(model(x, y), expected)


def test_generated_code_calls_the_shared_module_and_loads_the_weights() -> None:
    graph, _ = _siamese()
    model = compile_graph(graph)
    source = generate_code(graph)
    assert "self.tower(right)" in source and "self.tower_b =" not in source
    namespace: dict[str, object] = {}
    exec(compile(source, "generated.py", "exec"), namespace)
    written = namespace["build_model"]()  # type: ignore[operator]
    written.load_state_dict(model.state_dict())
    x, y = torch.randn(2, 6), torch.randn(2, 6)
    assert torch.equal(written(x, y), model(x, y))


def test_training_updates_the_one_set_of_weights_from_both_branches() -> None:
    graph, _ = _siamese()
    model = compile_graph(graph)
    reference = nn.Linear(6, 4)
    reference.load_state_dict({k.removeprefix("tower."): v for k, v in model.state_dict().items()})
    x, y = torch.randn(5, 6), torch.randn(5, 6)
    model(x, y).square().sum().backward()
    (reference(x) + reference(y)).square().sum().backward()
    assert torch.allclose(model.tower.weight.grad, reference.weight.grad)


def test_summary_counts_shared_weights_once() -> None:
    graph, _ = _siamese()
    rows = {row.name: row.params for row in summarize(graph).rows}
    assert rows["tower"] == 6 * 4 + 4
    assert rows["tower_b"] == 0


def test_freezing_the_tied_node_freezes_the_shared_weights() -> None:
    graph, _ = _siamese()
    model = compile_graph(graph)
    freeze(model, graph, ["tower_b"])
    assert not model.tower.weight.requires_grad


def test_settings_that_differ_are_a_problem_on_the_tied_node() -> None:
    graph, ids = _siamese()
    graph.set_param(ids["tower_b"], "out_features", 5)
    problems = [p for p in infer_shapes(graph).errors() if p.node_id == ids["tower_b"]]
    assert len(problems) == 1
    assert "out_features is 5 here and 4 there" in problems[0].message


def test_a_removed_owner_is_a_problem_not_a_crash() -> None:
    graph, ids = _siamese()
    for edge in graph.edges_of(ids["tower"]):
        graph.disconnect(edge.id)
    graph.remove_node(ids["tower"])
    messages = [p.message for p in infer_shapes(graph).errors() if p.node_id == ids["tower_b"]]
    assert any("no longer in the graph" in m for m in messages)


def test_inputs_that_need_other_weight_sizes_stop_the_compile() -> None:
    graph, _ = _siamese(width=(6, 7))
    with pytest.raises(CompileError, match=r"weight of size \(4, 7\) where the shared one"):
        compile_graph(graph)
