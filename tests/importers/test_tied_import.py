"""A module called twice imports as one set of weights: the later call's layers are tied to
the first call's, the project holds the weights once, and the outputs reproduce the source."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from studio.importers.command import check_outputs, compiled_model
from studio.importers.fx_import import import_module
from studio.plugins import default_registry


class Siamese(nn.Module):
    example_input_shape = ((2, 1, 12, 12), (2, 1, 12, 12))

    def __init__(self) -> None:
        super().__init__()
        self.tower = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.head = nn.Linear(4, 1)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.tower(left) * self.tower(right)))


def test_a_tower_called_twice_is_one_set_of_weights() -> None:
    imported = import_module(Siamese(), default_registry())
    assert check_outputs(imported) < 1e-6
    graph = imported.project.main_graph
    ties = {n.name: graph.node(n.shares).name for n in graph.nodes if n.shares}
    # Only the layer with weights is tied; the tower's ReLU, pooling and Flatten have none.
    assert ties == {"tower_4": "tower_0"}
    assert sorted(imported.state_dict) == [
        "head.bias",
        "head.weight",
        "tower_0.bias",
        "tower_0.weight",
    ]
    model = compiled_model(imported)
    assert sum(p.numel() for p in model.parameters()) == 4 * 9 + 4 + 4 + 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_onnx_layer_reading_the_same_initializers_again_is_tied(tmp_path) -> None:
    from studio.importers.onnx_import import import_onnx_file

    path = tmp_path / "siamese.onnx"
    model = Siamese().eval()
    inputs = tuple(torch.randn(shape) for shape in Siamese.example_input_shape)
    torch.onnx.export(model, inputs, str(path), dynamo=False)
    imported = import_onnx_file(path, default_registry())
    assert check_outputs(imported) < 1e-5
    graph = imported.project.main_graph
    convs = [n for n in graph.nodes if n.type_id == "studio.Conv2d"]
    assert len(convs) == 2
    assert convs[1].shares == convs[0].id
    conv_weights = [k for k in imported.state_dict if k.endswith("weight") and "head" not in k]
    assert len(conv_weights) == 1
