"""PyTorch module import: each source model, traced and mapped, computes what the source did."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch

from studio.compile.compiler import compile_graph
from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs, compiled_model
from studio.importers.fx_import import import_module
from studio.importers.mapping import GraphDraft, ImportFailure, UnsupportedModelError

# model class → the catalog layers its graph must hold (in document order, Input/Output aside)
ROUND_TRIPS = {
    "LeNet": [
        "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten",
        "Linear", "ReLU", "Linear",
    ],
    "SkipMLP": ["Linear", "ReLU", "Linear", "ReLU", "Linear", "Add", "Dropout", "Linear",
                "LogSoftmax"],
    "LSTMClassifier": ["LSTM", "Linear"],
    "TransformerClassifier": [
        "Linear", "TransformerEncoderLayer", "TransformerEncoderLayer",
        "TransformerEncoderLayer", "LayerNorm", "Mean", "Linear",
    ],
    "ConvAutoencoder": [
        "Conv2d", "ReLU", "Conv2d", "ReLU", "ConvTranspose2d", "ReLU", "ConvTranspose2d",
        "Sigmoid",
    ],
    "UpsamplingDecoder": ["Conv2d", "ReLU", "Upsample", "Upsample", "LayerNorm"],
    "DCGANGenerator": [
        "ConvTranspose2d", "BatchNorm2d", "ReLU", "ConvTranspose2d", "BatchNorm2d", "ReLU",
        "ConvTranspose2d", "Tanh",
    ],
}  # fmt: skip


def _random_input(source: torch.nn.Module, batch: int = 3) -> torch.Tensor:
    shape = source.example_input_shape
    return torch.randn(batch, *shape[1:])


def _trained_looking(module: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial running statistics, so BatchNorm's are really carried over."""
    for child in module.modules():
        if isinstance(child, torch.nn.modules.batchnorm._BatchNorm):
            child.running_mean.uniform_(-0.5, 0.5)
            child.running_var.uniform_(0.5, 2.0)
    return module.eval()


@pytest.mark.parametrize("class_name", list(ROUND_TRIPS))
def test_import_round_trip(
    class_name: str, source_models: ModuleType, registry: LayerRegistry, seed: int
) -> None:
    source = _trained_looking(getattr(source_models, class_name)())
    imported = import_module(source, registry)
    graph = imported.project.main_graph
    layers = [n.type_id.removeprefix("studio.") for n in graph.nodes]
    assert layers == ["Input", *ROUND_TRIPS[class_name], "Output"]
    assert check_outputs(imported) <= 1e-5
    model = compiled_model(imported)
    x = _random_input(source)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-5, rtol=0)


def test_lstm_last_step_uses_the_layers_last_output(
    source_models: ModuleType, registry: LayerRegistry, seed: int
) -> None:
    imported = import_module(source_models.LSTMClassifier(), registry)
    lstm = next(n for n in imported.project.main_graph.nodes if n.type_id == "studio.LSTM")
    assert lstm.params["output"] == "last"
    assert lstm.params["num_layers"] == 2
    assert lstm.params["hidden_size"] == 8


def test_params_come_from_the_modules(
    source_models: ModuleType, registry: LayerRegistry, seed: int
) -> None:
    graph = import_module(source_models.LeNet(num_classes=7), registry).project.main_graph
    conv1 = graph.node_by_name("conv1")
    assert conv1 is not None
    assert conv1.params["out_channels"] == 6
    assert conv1.params["kernel_size"] == 5
    assert conv1.params["padding"] == 2
    fc2 = graph.node_by_name("fc2")
    assert fc2 is not None and fc2.params["out_features"] == 7
    image = next(n for n in graph.nodes if n.type_id == "studio.Input")
    assert image.params["shape"] == (1, 28, 28)
    # positions come from the layered layout: inputs left of what they feed
    assert graph.node_by_name("fc2").position[0] > conv1.position[0]


def test_data_dependent_control_flow_is_reported_with_its_line(
    source_models: ModuleType, registry: LayerRegistry
) -> None:
    with pytest.raises(UnsupportedModelError) as caught:
        import_module(source_models.Branchy(), registry, source_file=_models_file())
    (construct,) = caught.value.constructs
    assert construct.kind == "data-dependent control flow"
    assert "source_models.py:" in construct.where
    assert "if x.sum() > 0:" in construct.reason


def test_every_unmapped_construct_is_listed(
    source_models: ModuleType, registry: LayerRegistry
) -> None:
    with pytest.raises(UnsupportedModelError) as caught:
        import_module(source_models.Unmapped(), registry, source_file=_models_file())
    constructs = caught.value.constructs
    assert [c.name for c in constructs] == ["act", "fmod"]
    assert "Hardshrink" in constructs[0].kind and "self.act" in constructs[0].where
    assert "no layer" in constructs[1].reason
    assert all("source_models.py:" in c.where for c in constructs)
    assert "2 constructs cannot be imported" in str(caught.value)


def test_functional_and_method_calls_map(registry: LayerRegistry, seed: int) -> None:
    class Functional(torch.nn.Module):
        example_input_shape = (2, 3, 8, 8)

        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding="same")
            self.fc = torch.nn.Linear(8, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a = torch.nn.functional.avg_pool2d(torch.sigmoid(self.conv(x)), 2)
            b = torch.cat([a, a.tanh()], dim=1)  # (N, 8, 4, 4)
            c = b.mean((2, 3)) * torch.nn.functional.silu(b.mean([-1, -2]))
            seq = b.flatten(2).permute(0, 2, 1)  # (N, 16, 8)
            d = torch.softmax(self.fc(seq), dim=-1).sum(1)
            return torch.cat((c, d), 1).reshape(-1, 13, 1)

    source = Functional().eval()
    imported = import_module(source, registry)
    types = {n.type_id.removeprefix("studio.") for n in imported.project.main_graph.nodes}
    assert {
        "AvgPool2d",
        "Concat",
        "GlobalAvgPool",
        "Multiply",
        "Permute",
        "Sum",
        "Reshape",
    } <= types
    model = compiled_model(imported)
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-5, rtol=0)


def test_missing_input_shape_is_a_clear_error(registry: LayerRegistry) -> None:
    with pytest.raises(ImportFailure, match="--input-shape"):
        import_module(torch.nn.Sequential(torch.nn.Linear(3, 2)), registry)


def test_wrong_input_shape_is_a_clear_error(registry: LayerRegistry) -> None:
    with pytest.raises(ImportFailure, match="does not run on inputs of shape"):
        import_module(torch.nn.Sequential(torch.nn.Linear(3, 2)), registry, input_shapes=[(1, 4)])


def _models_file() -> Path:
    return Path(__file__).with_name("source_models.py")


def test_tokens_attention_and_bidirectional_recurrent(registry: LayerRegistry, seed: int) -> None:
    class TextModel(torch.nn.Module):
        example_input_shape = (2, 10)

        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(50, 16)
            self.attn = torch.nn.MultiheadAttention(16, 4, batch_first=True)
            self.gru = torch.nn.GRU(16, 8, batch_first=True, bidirectional=True)
            self.fc = torch.nn.Linear(16, 2)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            x = self.embed(tokens)
            attended, _ = self.attn(x, x, x)
            out, _ = self.gru(attended + x)
            return self.fc(out[:, -1])

    source = TextModel().eval()
    imported = import_module(source, registry)
    graph = imported.project.main_graph
    assert [n.type_id.removeprefix("studio.") for n in graph.nodes] == [
        "Input", "Embedding", "MultiheadAttention", "Add", "GRU", "SelectLast", "Linear", "Output"
    ]  # fmt: skip
    assert graph.nodes[0].params["dtype"] == "long"
    # bidirectional: out[:, -1] is not the layer's "last" output, so it stays a SelectLast
    assert graph.nodes[4].params["output"] == "sequence"
    model = compiled_model(imported)
    tokens = torch.randint(0, 50, (3, 12))
    with torch.no_grad():
        torch.testing.assert_close(model(tokens), source(tokens), atol=1e-5, rtol=0)


def test_weights_are_named_as_the_compiled_module_names_them(registry: LayerRegistry) -> None:
    """The draft's state dict names each node's weights as the compiled module does, also
    where a node name is not its own identifier (`self` is torch's)."""
    draft = GraphDraft(registry)
    x = draft.add_input("x", (4,))
    weights = {"weight": torch.ones(4, 4), "bias": torch.zeros(4)}
    a = draft.add_layer(
        "studio.Linear", "self", {"out_features": 4}, [x], where="a", weights=weights
    )
    b = draft.add_layer(
        "studio.Linear", "self_", {"out_features": 4}, [a], where="b", weights=weights
    )
    draft.add_output(b)
    model = compile_graph(draft.graph)
    assert set(draft.state_dict()) == set(model.state_dict())
