"""Recurrent layers pass their state on: an encoder's final state starts a decoder.

The catalog's RNN/LSTM/GRU take optional starting states (h0, and c0 for an LSTM) and, with
`return_state`, give their final ones (h, c), all batch first: (N, layers·directions, H). A
sequence-to-sequence model therefore imports through torch.fx, torch.export and ONNX (both
exporters) and reproduces its outputs; a graph drawn by hand with those ports compiles, writes
the same code and trains; projects saved before the ports existed compute as they did.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from studio.compile.codegen import generate_code
from studio.compile.compiler import compile_graph
from studio.core.errors import GraphEditError
from studio.core.graph import Graph
from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.core.shapes import ShapeError, TensorShape
from studio.importers.command import compiled_model, import_source
from studio.importers.fx_import import import_module
from studio.importers.mapping import UnsupportedModelError
from studio.importers.onnx_import import import_onnx_file
from studio.layers.rules.recurrent import lstm as lstm_rule
from studio.plugins import default_registry

REGISTRY = default_registry()

# Written to a file and imported as a user's model would be (``studio import file.py:Class``).
SOURCE = textwrap.dedent(
    '''
    import torch
    from torch import nn


    class GruSeq2Seq(nn.Module):
        """Sutskever et al. 2014 with GRUs: the decoder starts from the encoder's final state."""

        example_input_shape = (2, 10)
        example_input_dtype = "long"

        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(40, 16)
            self.encoder = nn.GRU(16, 16, batch_first=True)
            self.decoder = nn.GRU(16, 16, batch_first=True)
            self.out = nn.Linear(16, 40)

        def forward(self, source: torch.Tensor) -> torch.Tensor:
            embedded = self.embed(source)
            _, state = self.encoder(embedded)
            decoded, _ = self.decoder(embedded, state)
            return self.out(decoded)


    class LstmSeq2Seq(nn.Module):
        """Two stacked LSTM layers whose (h, c) start the decoder's two layers."""

        example_input_shape = (2, 7, 5)

        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.LSTM(5, 12, num_layers=2, batch_first=True)
            self.decoder = nn.LSTM(5, 12, num_layers=2, batch_first=True)
            self.head = nn.Linear(12, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            _, (h, c) = self.encoder(x)
            decoded, _ = self.decoder(torch.relu(x), (h, c))
            return self.head(decoded)


    class LstmPairPassed(nn.Module):
        """One-layer LSTMs, the state handed on as the tuple the encoder returned."""

        example_input_shape = (2, 6, 4)

        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.LSTM(4, 8, batch_first=True)
            self.decoder = nn.LSTM(4, 8, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            _, state = self.encoder(x)
            decoded, _ = self.decoder(x, state)
            return decoded
    '''
)


@pytest.fixture(scope="module")
def source_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "seq2seq.py"
    path.write_text(SOURCE)
    return path


def _classes(path: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "seq2seq"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def _relative_error(imported: Any) -> float:
    model = compiled_model(imported)
    with torch.no_grad():
        produced = model(*imported.example_inputs)
    want = torch.as_tensor(imported.expected[0]).float()
    return float((produced - want).abs().max() / want.abs().max())


def _recurrent_nodes(imported: Any) -> dict[str, dict[str, Any]]:
    graph = imported.project.main_graph
    return {n.name: n.params for n in graph.nodes if n.type_id in ("studio.GRU", "studio.LSTM")}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["GruSeq2Seq", "LstmSeq2Seq", "LstmPairPassed"])
def test_torch_export_imports_an_encoder_decoder(source_file: Path, name: str) -> None:
    imported = import_source(f"{source_file}:{name}", REGISTRY)
    assert imported.front_end == "torch.export"
    assert _relative_error(imported) < 1e-5
    states = [p["return_state"] for p in _recurrent_nodes(imported).values()]
    assert sorted(states) == [False, True]  # the encoder gives its state, the decoder not
    graph = imported.project.main_graph
    decoder = next(n for n in graph.nodes if n.type_id != "studio.Input" and n.name == "decoder")
    assert set(graph.incoming(decoder.id)) >= {"in", "h0"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["LstmSeq2Seq", "LstmPairPassed"])
def test_fx_imports_an_lstm_encoder_decoder(source_file: Path, name: str) -> None:
    imported = import_module(_classes(source_file)[name](), REGISTRY)
    assert _relative_error(imported) < 1e-5
    decoder = imported.project.main_graph.node_by_name("decoder")
    assert decoder is not None
    incoming = imported.project.main_graph.incoming(decoder.id)
    assert {port: edge.src_port for port, edge in incoming.items() if port != "in"} == {
        "h0": "h",
        "c0": "c",
    }


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
@pytest.mark.parametrize("name", ["GruSeq2Seq", "LstmSeq2Seq"])
def test_onnx_imports_an_encoder_decoder(
    source_file: Path, tmp_path: Path, name: str, dynamo: bool
) -> None:
    model = _classes(source_file)[name]().eval()
    if getattr(model, "example_input_dtype", "float") == "long":
        example = torch.randint(0, 40, model.example_input_shape)
    else:
        example = torch.randn(model.example_input_shape)
    path = tmp_path / f"{name}.onnx"
    if dynamo:
        program = torch.onnx.export(model, (example,), dynamo=True, opset_version=18)
        assert program is not None
        program.save(str(path), external_data=False)
    else:
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=18)
    imported = import_onnx_file(path, REGISTRY)
    assert _relative_error(imported) < 1e-5
    assert any(p["return_state"] for p in _recurrent_nodes(imported).values())


def test_a_state_used_other_than_as_a_start_is_refused_in_words(tmp_path: Path) -> None:
    class LastState(nn.Module):
        example_input_shape = (2, 6, 4)

        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(4, 8, batch_first=True)
            self.head = nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            _, h = self.gru(x)
            return self.head(h)  # torch's (1, N, H): not the catalog's batch-first state

    with pytest.raises(UnsupportedModelError, match="final state"):
        import_module(LastState(), REGISTRY)


def test_an_lstm_needs_h0_and_c0_together() -> None:
    params = REGISTRY.get("studio.LSTM").validate_params({"hidden_size": 8})
    with pytest.raises(ShapeError, match="h0 and c0 together"):
        lstm_rule(params, [TensorShape((5, 3)), TensorShape((1, 8))])
    with pytest.raises(ShapeError, match=r"starting state \(N, 1, 8\)"):
        lstm_rule(params, [TensorShape((5, 3)), TensorShape((2, 8)), TensorShape((2, 8))])


# --------------------------------------------------------------------- a graph drawn by hand
def _drawn_seq2seq() -> Graph:
    """source → LSTM encoder (h, c) → LSTM decoder reading target; → Linear → Output."""
    graph = Graph(REGISTRY)
    source = graph.add_node("studio.Input", name="source", params={"shape": (7, 3)})
    target = graph.add_node("studio.Input", name="target", params={"shape": (5, 3)})
    encoder = graph.add_node(
        "studio.LSTM",
        name="encoder",
        params={"hidden_size": 8, "num_layers": 2, "return_state": True},
    )
    decoder = graph.add_node(
        "studio.LSTM", name="decoder", params={"hidden_size": 8, "num_layers": 2}
    )
    head = graph.add_node("studio.Linear", name="head", params={"out_features": 3})
    out = graph.add_node("studio.Output", name="prediction")
    graph.connect(source.id, "out", encoder.id, "in")
    graph.connect(target.id, "out", decoder.id, "in")
    graph.connect(encoder.id, "h", decoder.id, "h0")
    graph.connect(encoder.id, "c", decoder.id, "c0")
    graph.connect(decoder.id, "out", head.id, "in")
    graph.connect(head.id, "out", out.id, "in")
    return graph


@pytest.mark.timeout(30)
def test_a_drawn_encoder_decoder_compiles_writes_the_same_code_and_trains() -> None:
    graph = _drawn_seq2seq()
    torch.manual_seed(0)
    module = compile_graph(graph, class_name="Seq2Seq").eval()
    inputs = (torch.randn(4, 7, 3), torch.randn(4, 5, 3))
    namespace: dict[str, Any] = {"__name__": "seq2seq_code"}
    exec(compile(generate_code(graph, class_name="Seq2Seq"), "seq2seq.py", "exec"), namespace)
    written = namespace["build_model"]().eval()
    written.load_state_dict(module.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(written(*inputs), module(*inputs))
        # The decoder's start is the encoder's state: another source changes the prediction.
        other = module(torch.randn(4, 7, 3), inputs[1])
        assert not torch.allclose(other, module(*inputs))

    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=0.02)
    wanted = torch.randn(4, 5, 3)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(module(*inputs), wanted)
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    encoder_grad = module.get_submodule("encoder").rnn.weight_hh_l1.grad
    assert encoder_grad is not None and float(encoder_grad.abs().sum()) > 0
    assert losses[-1] < losses[0]


@pytest.mark.timeout(60)
def test_the_drawn_graphs_code_imports_back_with_its_state_ports(tmp_path: Path) -> None:
    """`studio code` then `studio import` (torch.export): the Recurrent module's transposes
    between torch's state layout and batch first map back to the h/c and h0/c0 ports."""
    path = tmp_path / "seq2seq.py"
    path.write_text(generate_code(_drawn_seq2seq(), class_name="Seq2Seq"))
    imported = import_source(f"{path}:Seq2Seq", REGISTRY, input_shapes=[(2, 7, 3), (2, 5, 3)])
    assert imported.front_end == "torch.export"
    assert _relative_error(imported) < 1e-5
    graph = imported.project.main_graph
    decoder = next(n for n in graph.nodes if n.name.startswith("decoder"))
    incoming = graph.incoming(decoder.id)
    assert {port: edge.src_port for port, edge in incoming.items() if port != "in"} == {
        "h0": "h",
        "c0": "c",
    }


def test_return_state_stays_on_while_a_state_port_is_connected() -> None:
    graph = _drawn_seq2seq()
    encoder = graph.node_by_name("encoder")
    decoder = graph.node_by_name("decoder")
    assert encoder is not None and decoder is not None
    with pytest.raises(GraphEditError, match=r"encoder\.c is connected; disconnect it"):
        graph.set_param(encoder.id, "return_state", False)
    for port in ("h0", "c0"):
        graph.disconnect(graph.incoming(decoder.id)[port].id)
    graph.set_param(encoder.id, "return_state", False)
    assert graph.output_ports(encoder.id) == ["out"]
    assert graph.input_ports(decoder.id) == ["in", "h0", "c0"]  # optional: still offered


# --------------------------------------------------------------------- projects saved before
@pytest.mark.parametrize("name", ["lstm_sequence", "gru_text_classifier"])
def test_projects_saved_before_the_state_ports_compute_as_before(name: str) -> None:
    project = Project.load(examples_dir() / f"{name}.strata", REGISTRY)
    graph = project.main_graph
    recurrent = [n for n in graph.nodes if n.type_id in ("studio.LSTM", "studio.GRU")]
    assert recurrent
    for node in recurrent:
        assert graph.output_ports(node.id) == ["out"]
        assert node.params["return_state"] is False
    calls = [line for line in generate_code(graph).splitlines() if "= Recurrent(" in line]
    assert calls and not any("return_state" in line for line in calls)
    module = compile_graph(graph).eval()
    for node in recurrent:
        layer = module.get_submodule(node.name)
        keys = sorted(layer.state_dict())
        assert keys == sorted(f"rnn.{k}" for k in layer.rnn.state_dict())
        # The wrapper computes what torch's own layer does, as before the ports existed.
        x = torch.randn(3, 6, layer.rnn.input_size)
        with torch.no_grad():
            sequence, _ = layer.rnn(x)
            expected = sequence
            if node.params["output"] == "last":
                # Each direction's final step: forward at the end, backward at the start.
                size = layer.rnn.hidden_size
                ends = [sequence[:, -1, :size], sequence[:, 0, size:]]
                expected = torch.cat(ends, dim=1) if layer.rnn.bidirectional else sequence[:, -1]
            assert not isinstance(layer(x), tuple)
            torch.testing.assert_close(layer(x), expected, rtol=0, atol=0)
