"""Models with several inputs: a tuple of batches in, one attribution per input out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from studio.compile.compiler import compile_graph
from studio.core.graph import Graph
from studio.core.registry import LayerRegistry
from studio.explain import METHODS, ExplainError, explain, get_method
from studio.explain.importance import data_mean, global_importance
from studio.explain.sanity import convergence_check, randomisation_check


def _two_input_graph(registry: LayerRegistry) -> Graph:
    """image (1, 8, 8) → conv → flatten ┐
    table (3) ┴→ concat → linear(3)"""
    graph = Graph(registry)
    image = graph.add_node("studio.Input", name="image", params={"shape": [1, 8, 8]})
    conv = graph.add_node("studio.Conv2d", name="conv", params={"out_channels": 4, "padding": 1})
    act = graph.add_node("studio.ReLU", name="act")
    flat = graph.add_node("studio.Flatten", name="flat")
    table = graph.add_node("studio.Input", name="table", params={"shape": [3]})
    concat = graph.add_node("studio.Concat", name="concat")
    head = graph.add_node("studio.Linear", name="head", params={"out_features": 3})
    out = graph.add_node("studio.Output", name="out")
    graph.connect(image.id, "out", conv.id, "in")
    graph.connect(conv.id, "out", act.id, "in")
    graph.connect(act.id, "out", flat.id, "in")
    concat_ports = [p.name for p in graph.spec(concat.id).input_ports(concat.params)]
    graph.connect(flat.id, "out", concat.id, concat_ports[0])
    graph.connect(table.id, "out", concat.id, concat_ports[1])
    graph.connect(concat.id, "out", head.id, "in")
    graph.connect(head.id, "out", out.id, "in")
    return graph


@pytest.fixture(scope="module")
def two_inputs() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    from studio.plugins import default_registry

    torch.manual_seed(0)
    model = compile_graph(_two_input_graph(default_registry())).eval()
    return model, (torch.randn(4, 1, 8, 8), torch.randn(4, 3))


@pytest.mark.parametrize("method", [m for m in METHODS if not get_method(m).needs_layer])
def test_every_input_method_gives_one_attribution_per_input(
    two_inputs: tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]], method: str
) -> None:
    model, inputs = two_inputs
    result = explain(model, inputs, method=method, n_steps=8, samples=4)
    assert result.several_inputs
    assert [part.kind for part in result.per_input] == ["image", "table"]
    for part, batch in zip(result.per_input, inputs, strict=True):
        assert part.values.shape == tuple(batch.shape)
        assert np.isfinite(part.values).all()
        np.testing.assert_array_equal(part.inputs, batch.numpy())
    # The first input's arrays are also the top-level ones, as for a one-input model.
    assert result.values is result.per_input[0].values and result.kind == "image"


def test_integrated_gradients_is_complete_over_all_inputs_together(
    two_inputs: tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]],
) -> None:
    model, inputs = two_inputs
    result = explain(model, inputs, method="IntegratedGradients", n_steps=200)
    totals = sum(part.values.reshape(4, -1).sum(axis=1) for part in result.per_input)
    check = convergence_check(result)
    np.testing.assert_allclose(totals - check.output_difference, check.delta, atol=1e-4)
    assert not check.warning, check.message


def test_layer_methods_and_sanity_checks_take_several_inputs(
    two_inputs: tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]],
) -> None:
    model, inputs = two_inputs
    conductance = explain(model, inputs, method="LayerConductance", layer="head", n_steps=8)
    assert conductance.values.shape == (4, 3) and conductance.per_input == ()
    check = randomisation_check(model, inputs, method="Saliency")
    assert len(check.per_sample) == 4


def test_baselines_and_means_are_given_per_input(
    two_inputs: tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]],
) -> None:
    model, inputs = two_inputs
    dataset = TensorDataset(*inputs, torch.zeros(4, dtype=torch.long))
    # A dataset of several inputs yields ((image, table), target) items like studio.data's.
    pairs = [((dataset[i][0], dataset[i][1]), dataset[i][2]) for i in range(4)]
    means = data_mean(pairs)  # type: ignore[arg-type]
    assert isinstance(means, tuple) and [m.shape for m in means] == [(1, 8, 8), (3,)]
    result = explain(model, inputs, method="IntegratedGradients", baseline="mean", data_mean=means)
    assert result.baseline == "mean"
    importance = global_importance(model, pairs, method="Saliency", batch_size=3)  # type: ignore[arg-type]
    assert [p.shape for p in importance.per_input] == [(1, 8, 8), (3,)]
    assert importance.samples == 4
    with pytest.raises(ExplainError, match="one array per input"):
        explain(model, inputs, method="IntegratedGradients", baseline=np.zeros(3))


def test_inputs_of_different_sizes_are_refused(
    two_inputs: tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]],
) -> None:
    model, (images, rows) = two_inputs
    with pytest.raises(ExplainError, match="same number of samples"):
        explain(model, (images, rows[:2]), method="Saliency")
