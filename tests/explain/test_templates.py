"""The engine explains the compiled templates (torch.fx GraphModules named after their nodes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.compile.compiler import compile_graph
from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.explain import explain
from studio.plugins import default_registry
from tests.compile.conftest import example_inputs

TEMPLATES = [
    "mlp_classifier",
    "cnn_classifier",
    "residual_cnn",
    "conv_autoencoder",
    "lstm_sequence",
    "gru_text_classifier",
    "transformer_classifier",
]
KINDS = {"mlp_classifier": "table", "lstm_sequence": "sequence"}


def _compiled(stem: str) -> tuple[torch.nn.Module, torch.Tensor]:
    project = Project.load(examples_dir() / f"{stem}.strata", default_registry())
    graph = project.graphs["model"]
    torch.manual_seed(0)
    return compile_graph(graph).eval(), example_inputs(graph, batch=1)[0]


@pytest.mark.parametrize("stem", TEMPLATES)
@pytest.mark.parametrize("method", ["Saliency", "IntegratedGradients"])
def test_templates_are_explained_in_input_shape(stem: str, method: str) -> None:
    model, inputs = _compiled(stem)
    result = explain(model, inputs, method=method, n_steps=4)
    assert result.values.shape == tuple(inputs.shape)
    assert np.isfinite(result.values).all()
    expected_kind = "text" if not inputs.is_floating_point() else KINDS.get(stem, "image")
    assert result.kind == expected_kind


def test_layer_methods_find_layers_by_node_name() -> None:
    model, inputs = _compiled("residual_cnn")
    cam = explain(model, inputs, method="LayerGradCam", layer="block2_out")
    assert cam.values.shape == tuple(inputs.shape)
    model, inputs = _compiled("mlp_classifier")
    conductance = explain(model, inputs, method="LayerConductance", layer="hidden1", n_steps=8)
    assert conductance.space == "layer" and conductance.values.shape[0] == len(inputs)


class _PositionsFirst(torch.nn.Module):
    """A position table registered before the token embedding, as a user's graph may order them."""

    def __init__(self) -> None:
        super().__init__()
        self.positions = torch.nn.Embedding(12, 8)
        self.tokens = torch.nn.Embedding(30, 8)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        return self.head((self.tokens(ids) + self.positions(steps)).mean(dim=1))


def test_text_is_attributed_at_the_token_embedding_not_the_positions() -> None:
    from studio.explain.engine import _find_embedding

    torch.manual_seed(0)
    model, tokens = _PositionsFirst(), torch.randint(0, 30, (3, 12))
    assert _find_embedding(model, tokens) is model.tokens
    result = explain(model, tokens, method="IntegratedGradients", n_steps=16)
    assert result.values.shape == (3, 12)
