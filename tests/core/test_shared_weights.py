"""A node may use another node's weights (a siamese tower, tied embeddings): the tie is part of
the document, checked before it changes anything, undoable, and saved with the project."""

from __future__ import annotations

import pytest

from studio.core.commands import RemoveNodeCommand, SetSharesCommand, UndoStack
from studio.core.errors import GraphEditError
from studio.core.graph import Graph
from studio.core.project import Project
from studio.core.registry import LayerRegistry


def test_a_tie_is_set_undone_and_announced(sample: tuple[Graph, dict[str, str]]) -> None:
    graph, ids = sample
    seen: list[tuple[str, object]] = []
    graph.shares_changed.connect(lambda node_id, owner: seen.append((node_id, owner)))
    stack = UndoStack()
    stack.push(SetSharesCommand(graph, ids["head"], ids["stem"]))
    assert graph.node(ids["head"]).shares == ids["stem"]
    assert graph.sharers(ids["stem"]) == [ids["head"]]
    stack.undo()
    assert graph.node(ids["head"]).shares is None
    stack.redo()
    assert seen == [(ids["head"], ids["stem"]), (ids["head"], None), (ids["head"], ids["stem"])]


@pytest.mark.parametrize(
    ("node", "owner", "message"),
    [
        ("head", "head", "itself"),
        ("head", "merge", "its own type"),
        ("merge", "image", "its own type"),
    ],
)
def test_a_tie_that_cannot_hold_is_refused_and_changes_nothing(
    sample: tuple[Graph, dict[str, str]], node: str, owner: str, message: str
) -> None:
    graph, ids = sample
    with pytest.raises(GraphEditError, match=message):
        graph.set_shares(ids[node], ids[owner])
    assert graph.node(ids[node]).shares is None


def test_ties_never_chain(sample: tuple[Graph, dict[str, str]]) -> None:
    graph, ids = sample
    third = graph.add_node("test.Conv", name="third").id
    graph.set_shares(ids["head"], ids["stem"])
    with pytest.raises(GraphEditError, match="share with that one"):
        graph.set_shares(third, ids["head"])
    with pytest.raises(GraphEditError, match="cannot use another's"):
        graph.set_shares(ids["stem"], third)


def test_removing_a_tied_node_and_undoing_keeps_the_tie(
    sample: tuple[Graph, dict[str, str]],
) -> None:
    graph, ids = sample
    graph.set_shares(ids["head"], ids["stem"])
    stack = UndoStack()
    stack.push(RemoveNodeCommand(graph, ids["head"]))
    stack.undo()
    assert graph.node(ids["head"]).shares == ids["stem"]


def test_the_tie_is_saved_and_read_back(
    sample: tuple[Graph, dict[str, str]], registry: LayerRegistry, tmp_path
) -> None:
    graph, ids = sample
    graph.set_shares(ids["head"], ids["stem"])
    project = Project("tied", registry, graphs={"model": graph})
    path = tmp_path / "tied.strata"
    project.save(path)
    again = Project.load(path, registry)
    assert again.main_graph.node(ids["head"]).shares == ids["stem"]
    assert again.main_graph.node(ids["stem"]).shares is None
    assert "shares" not in again.main_graph.node(ids["stem"]).to_dict()


def test_a_copy_for_a_worker_keeps_the_tie(
    sample: tuple[Graph, dict[str, str]], registry: LayerRegistry
) -> None:
    """The window's analysis (summary, parameter count) runs on a copy made with from_dict."""
    graph, ids = sample
    graph.set_shares(ids["head"], ids["stem"])
    copy = Graph.from_dict(graph.to_dict(), registry)
    assert copy.node(ids["head"]).shares == ids["stem"]
    assert copy.to_dict() == graph.to_dict()


def _language_model() -> tuple[Graph, dict[str, str]]:
    from studio.plugins import default_registry

    graph = Graph(default_registry())
    ids = {
        "ids": graph.add_node(
            "studio.Input", name="ids", params={"shape": (8,), "dtype": "long"}
        ).id,
        "wte": graph.add_node(
            "studio.Embedding", name="wte", params={"num_embeddings": 64, "embedding_dim": 32}
        ).id,
        "block": graph.add_node("studio.Linear", name="block", params={"out_features": 16}).id,
        "lm_head": graph.add_node(
            "studio.Linear", name="lm_head", params={"out_features": 64, "bias": False}
        ).id,
        "conv": graph.add_node("studio.Conv1d", name="conv").id,
        "out": graph.add_node("studio.Output", name="out").id,
    }
    graph.connect(ids["ids"], "out", ids["wte"], "in")
    graph.connect(ids["wte"], "out", ids["block"], "in")
    graph.connect(ids["block"], "out", ids["lm_head"], "in")
    graph.connect(ids["lm_head"], "out", ids["out"], "in")
    return graph, ids


@pytest.mark.parametrize(("node", "owner"), [("lm_head", "wte"), ("wte", "lm_head")])
def test_a_linear_and_an_embedding_can_be_weight_tied_either_way(node: str, owner: str) -> None:
    graph, ids = _language_model()
    stack = UndoStack()
    stack.push(SetSharesCommand(graph, ids[node], ids[owner]))
    assert graph.node(ids[node]).shares == ids[owner]
    assert graph.is_weight_tied(ids[node])
    assert not graph.is_weight_tied(ids[owner])
    stack.undo()
    assert graph.node(ids[node]).shares is None
    assert not graph.is_weight_tied(ids[node])


def test_a_weight_tie_with_another_layer_type_is_refused() -> None:
    graph, ids = _language_model()
    with pytest.raises(GraphEditError, match="a Linear with an Embedding"):
        graph.set_shares(ids["conv"], ids["wte"])
    assert graph.node(ids["conv"]).shares is None


def test_weight_ties_never_chain() -> None:
    graph, ids = _language_model()
    graph.set_shares(ids["lm_head"], ids["wte"])
    with pytest.raises(GraphEditError, match="share with that one"):
        graph.set_shares(ids["block"], ids["lm_head"])
    with pytest.raises(GraphEditError, match="cannot use another's"):
        graph.set_shares(ids["wte"], ids["block"])


def test_a_weight_tie_of_the_wrong_sizes_is_a_problem_on_the_node() -> None:
    from studio.compile.inference import infer_shapes

    graph, ids = _language_model()
    graph.set_shares(ids["lm_head"], ids["wte"])
    graph.remove_node(ids["conv"])
    problems = [p.format(graph) for p in infer_shapes(graph).errors()]
    assert problems == [
        "lm_head: its weight is tied to wte's table (64 × 32), but its weight would be "
        "64 × 16 (out_features × input features); make them agree or untie it"
    ]
    graph.set_param(ids["block"], "out_features", 32)
    assert infer_shapes(graph).errors() == []
