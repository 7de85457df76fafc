"""A tied node calls the other node's module: one set of weights in the compiled model, the
generated code, the summary and training; a tie that cannot hold is a problem on the node."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from studio.compile.codegen import generate_code
from studio.compile.compiler import CompileError, compile_graph
from studio.compile.inference import ShapeInference, infer_shapes
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


def _tied_lm(*, head_owns: bool = False, block: int | None = None) -> tuple[Graph, dict[str, str]]:
    """ids → wte (64 × 32) → [block] → lm_head (32 → 64), the table and head weight tied."""
    graph = Graph(default_registry())
    ids = {}
    ids["ids"] = graph.add_node(
        "studio.Input", name="ids", params={"shape": (8,), "dtype": "long"}
    ).id
    ids["wte"] = graph.add_node(
        "studio.Embedding", name="wte", params={"num_embeddings": 64, "embedding_dim": 32}
    ).id
    last = ids["wte"]
    if block is not None:
        ids["block"] = graph.add_node(
            "studio.Linear", name="block", params={"out_features": block}
        ).id
        graph.connect(last, "out", ids["block"], "in")
        last = ids["block"]
    ids["lm_head"] = graph.add_node(
        "studio.Linear", name="lm_head", params={"out_features": 64, "bias": True}
    ).id
    ids["out"] = graph.add_node("studio.Output", name="out").id
    graph.connect(ids["ids"], "out", ids["wte"], "in")
    graph.connect(last, "out", ids["lm_head"], "in")
    graph.connect(ids["lm_head"], "out", ids["out"], "in")
    if head_owns:
        graph.set_shares(ids["wte"], ids["lm_head"])
    else:
        graph.set_shares(ids["lm_head"], ids["wte"])
    return graph, ids


@pytest.mark.parametrize("head_owns", [False, True])
def test_a_weight_tie_keeps_both_modules_and_one_tensor(head_owns: bool) -> None:
    graph, _ = _tied_lm(head_owns=head_owns)
    model = compile_graph(graph)
    assert isinstance(model.wte, nn.Embedding) and isinstance(model.lm_head, nn.Linear)
    assert model.lm_head.weight is model.wte.weight
    assert sorted(model.state_dict()) == ["lm_head.bias", "lm_head.weight", "wte.weight"]
    assert sum(p.numel() for p in model.parameters()) == 64 * 32 + 64
    ids = torch.randint(0, 64, (3, 8))
    expected = model.wte(ids) @ model.wte.weight.T + model.lm_head.bias
    assert torch.allclose(model(ids), expected)


@pytest.mark.parametrize("head_owns", [False, True])
def test_generated_code_ties_the_weight_and_computes_the_same(head_owns: bool) -> None:
    graph, _ = _tied_lm(head_owns=head_owns)
    model = compile_graph(graph)
    source = generate_code(graph)
    tie = (
        "self.wte.weight = self.lm_head.weight"
        if head_owns
        else "self.lm_head.weight = self.wte.weight"
    )
    assert tie in source and "self.lm_head(wte)" in source
    namespace: dict[str, object] = {}
    exec(compile(source, "generated.py", "exec"), namespace)
    written = namespace["build_model"]()  # type: ignore[operator]
    assert written.lm_head.weight is written.wte.weight
    written.load_state_dict(model.state_dict())
    ids = torch.randint(0, 64, (2, 8))
    assert torch.equal(written(ids), model(ids))


@pytest.mark.parametrize("head_owns", [False, True])
def test_summary_counts_the_tied_table_once(head_owns: bool) -> None:
    graph, _ = _tied_lm(head_owns=head_owns)
    rows = {row.name: row.params for row in summarize(graph).rows}
    if head_owns:
        assert rows == {"ids": 0, "wte": 0, "lm_head": 64 * 32 + 64}
    else:
        assert rows == {"ids": 0, "wte": 64 * 32, "lm_head": 64}
    assert sum(rows.values()) == sum(p.numel() for p in compile_graph(graph).parameters())


def test_a_weight_tie_trains_as_one_tensor() -> None:
    graph, _ = _tied_lm()
    model = compile_graph(graph)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    ids = torch.randint(0, 64, (4, 8))
    nn.functional.cross_entropy(model(ids).flatten(0, 1), ids.flatten()).backward()
    before = model.wte.weight.detach().clone()
    optimizer.step()
    assert model.lm_head.weight is model.wte.weight
    assert not torch.equal(model.wte.weight, before)


def test_freezing_the_tied_head_freezes_the_table() -> None:
    graph, _ = _tied_lm()
    model = compile_graph(graph)
    freeze(model, graph, ["lm_head"])
    assert not model.wte.weight.requires_grad
    assert not model.lm_head.bias.requires_grad


def test_a_head_whose_input_is_too_narrow_is_a_problem_on_the_head() -> None:
    graph, ids = _tied_lm(block=16)
    problems = [p for p in infer_shapes(graph).errors() if p.node_id == ids["lm_head"]]
    assert [p.message for p in problems] == [
        "its weight is tied to wte's table (64 × 32), but its weight would be 64 × 16 "
        "(out_features × input features); make them agree or untie it"
    ]
    with pytest.raises(CompileError, match="tied to wte's table"):
        compile_graph(graph)


def test_a_table_tied_to_a_head_of_other_sizes_is_a_problem_in_words() -> None:
    graph, ids = _tied_lm(head_owns=True, block=16)
    problems = {p.node_id: p.message for p in infer_shapes(graph).errors()}
    head = problems[ids["lm_head"]]
    assert "its weight is wte's table (64 × 32), but its input has 16 features" in head
    graph.set_param(ids["block"], "out_features", 32)
    graph.set_param(ids["wte"], "num_embeddings", 50)
    problems = {p.node_id: p.message for p in infer_shapes(graph).errors()}
    assert list(problems) == [ids["wte"]]
    assert "lm_head's weight, which has 64 rows (out_features)" in problems[ids["wte"]]


def test_live_inference_clears_a_weight_tie_problem_when_it_is_untied() -> None:
    graph, ids = _tied_lm(head_owns=True, block=16)
    inference = ShapeInference(graph)
    assert [p.node_id for p in inference.problems() if p.severity == "error"] == [ids["lm_head"]]
    graph.set_shares(ids["wte"], None)
    assert [p for p in inference.problems() if p.severity == "error"] == []
    inference.close()
