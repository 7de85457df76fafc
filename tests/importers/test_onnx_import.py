"""ONNX import: models exported by torch come back as projects computing the same outputs."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType

import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs, compiled_model
from studio.importers.mapping import UnsupportedModelError
from studio.importers.onnx_import import import_onnx_file
from tests.importers.onnx_models import export_onnx, unsupported_model


@pytest.mark.parametrize(
    ("class_name", "layers"),
    [
        ("LeNet", ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
                   "Linear", "ReLU", "Linear"]),
        ("SkipMLP", ["Linear", "ReLU", "Linear", "ReLU", "Linear", "Add", "Linear",
                     "LogSoftmax"]),
        ("ConvAutoencoder", ["Conv2d", "ReLU", "Conv2d", "ReLU", "ConvTranspose2d", "ReLU",
                             "ConvTranspose2d", "Sigmoid"]),
        ("DCGANGenerator", ["ConvTranspose2d", "BatchNorm2d", "ReLU", "ConvTranspose2d",
                            "BatchNorm2d", "ReLU", "ConvTranspose2d", "Tanh"]),
        ("LSTMClassifier", ["LSTM", "Linear"]),
        ("UpsamplingDecoder", ["Conv2d", "ReLU", "Upsample", "Upsample", "LayerNorm"]),
    ],
)  # fmt: skip
def test_onnx_round_trip(
    class_name: str,
    layers: list[str],
    source_models: ModuleType,
    registry: LayerRegistry,
    tmp_path: Path,
    seed: int,
) -> None:
    source = getattr(source_models, class_name)().eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "model.onnx"), registry)
    graph = imported.project.main_graph
    assert [n.type_id.removeprefix("studio.") for n in graph.nodes] == ["Input", *layers, "Output"]
    assert check_outputs(imported) <= 1e-5
    model = compiled_model(imported)
    x = torch.randn(3, *source.example_input_shape[1:])
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-5, rtol=0)


def test_matmul_and_add_become_one_linear(registry: LayerRegistry, tmp_path: Path) -> None:
    weight = numpy_helper.from_array(torch.randn(4, 3).numpy(), "w")
    bias = numpy_helper.from_array(torch.randn(3).numpy(), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="/fc/MatMul"),
            helper.make_node("Add", ["h", "b"], ["z"], name="/fc/Add"),
            helper.make_node("Softmax", ["z"], ["y"], name="/Softmax", axis=-1),
        ],
        "matmul_add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [weight, bias],
    )
    path = tmp_path / "matmul.onnx"
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
        str(path),
    )
    imported = import_onnx_file(path, registry)
    nodes = imported.project.main_graph.nodes
    assert [n.type_id for n in nodes] == [
        "studio.Input", "studio.Linear", "studio.Softmax", "studio.Output"
    ]  # fmt: skip
    assert nodes[1].params["bias"] is True
    assert check_outputs(imported) <= 1e-5


def test_ops_without_a_layer_are_all_listed(registry: LayerRegistry, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError) as caught:
        import_onnx_file(unsupported_model(tmp_path / "bad.onnx"), registry)
    constructs = caught.value.constructs
    assert [(c.name, c.kind) for c in constructs] == [("wave", "Sin"), ("double", "Mod")]
    assert "ONNX node 'wave'" in constructs[0].where
    assert "no layer for the ONNX operator Sin" in constructs[0].reason
    assert "no layer for the ONNX operator Mod" in constructs[1].reason


class Recurrent(torch.nn.Module):
    """A stacked RNN/GRU/LSTM returning its whole output sequence through a Linear."""

    example_input_shape = (2, 6, 5)

    def __init__(self, kind: str, bidirectional: bool = False) -> None:
        super().__init__()
        layer = getattr(torch.nn, kind)
        self.rnn = layer(5, 8, num_layers=2, batch_first=True, bidirectional=bidirectional)
        self.fc = torch.nn.Linear(16 if bidirectional else 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.fc(out)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_onnx_recurrent_stack_becomes_one_layer(
    kind: str, registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    source = Recurrent(kind).eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "rnn.onnx"), registry)
    layer = imported.project.main_graph.nodes[1]
    assert layer.type_id == f"studio.{kind}"
    assert (layer.params["num_layers"], layer.params["output"]) == (2, "sequence")
    model = compiled_model(imported)
    x = torch.randn(3, 9, 5)  # another batch size and sequence length than exported
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_onnx_bidirectional_stack_round_trip(
    kind: str, registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    """Both directions' weights (torch's *_reverse), stacked: the (L, 2, N, H) output goes
    through Transpose and Reshape to the (N, L, 2H) sequence torch returns."""
    source = Recurrent(kind, bidirectional=True).eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "bi.onnx"), registry)
    layer = imported.project.main_graph.nodes[1]
    assert layer.type_id == f"studio.{kind}"
    assert (layer.params["num_layers"], layer.params["bidirectional"]) == (2, True)
    model = compiled_model(imported)
    x = torch.randn(3, 9, 5)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-5, rtol=0)


class BidirectionalEnds(torch.nn.Module):
    """A bidirectional GRU read as the catalog's "last": out[:, -1, :H] with out[:, 0, H:]."""

    example_input_shape = (2, 6, 5)

    def __init__(self, whole_last_step: bool = False) -> None:
        super().__init__()
        self.rnn = torch.nn.GRU(5, 8, batch_first=True, bidirectional=True)
        self.whole_last_step = whole_last_step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        if self.whole_last_step:
            return out[:, -1]
        return torch.cat([out[:, -1, :8], out[:, 0, 8:]], dim=1)


@pytest.mark.parametrize(("whole", "types"), [(False, ["GRU"]), (True, ["GRU", "SelectLast"])])
def test_onnx_bidirectional_ends(
    whole: bool, types: list[str], registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    source = BidirectionalEnds(whole).eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "ends.onnx"), registry)
    nodes = imported.project.main_graph.nodes
    assert [n.type_id.removeprefix("studio.") for n in nodes[1:-1]] == types
    assert nodes[1].params["output"] == ("sequence" if whole else "last")
    model = compiled_model(imported)
    x = torch.randn(3, 7, 5)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-5, rtol=0)


class TokenModel(torch.nn.Module):
    """Token ids → embedding + learned position table → mean → classes."""

    example_input_shape = (2, 7)

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(50, 8)
        self.position = torch.nn.Parameter(torch.randn(7, 8))
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.fc((self.embed(ids) + self.position).mean(dim=1))


def test_onnx_embedding_and_position_table(
    registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    """A Gather from a constant matrix by token ids is an Embedding; adding a constant (L, E)
    table is a learned PositionalEncoding holding it."""
    source = TokenModel().eval()
    path = tmp_path / "tokens.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            source,
            (torch.randint(0, 50, (2, 7)),),
            str(path),
            dynamo=False,
            input_names=["ids"],
            dynamic_axes={"ids": {0: "batch"}},
        )
    imported = import_onnx_file(path, registry)
    nodes = imported.project.main_graph.nodes
    assert [n.type_id.removeprefix("studio.") for n in nodes] == [
        "Input", "Embedding", "PositionalEncoding", "Mean", "Linear", "Output"
    ]  # fmt: skip
    assert nodes[0].params["dtype"] == "long"
    assert nodes[1].params == {"num_embeddings": 50, "embedding_dim": 8}
    assert nodes[2].params == {"kind": "learned", "max_len": 7}
    ids = torch.randint(0, 50, (4, 7))
    with torch.no_grad():
        torch.testing.assert_close(compiled_model(imported)(ids), source(ids), atol=1e-5, rtol=0)
