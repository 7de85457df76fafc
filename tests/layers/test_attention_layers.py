"""Attention with masks and memories, the causal transformer blocks and GaussianSample.

The custom modules here live outside `studio.layers.modules`, so the four ways a compiled
model leaves the studio (TorchScript, torch.export with a dynamic batch, an fx leaf call, the
copied class source) are checked for them here, as `test_layer_modules` does for that file.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from studio.compile.codegen import generate_code
from studio.compile.compiler import compile_graph
from studio.core.graph import Graph
from studio.core.registry import LayerRegistry
from studio.layers.modules import SelfAttention
from studio.layers.modules_attention import (
    CausalTransformerDecoderLayer,
    CausalTransformerEncoderLayer,
)
from studio.layers.modules_sampling import GaussianSample

Inputs = Callable[[int], tuple[torch.Tensor, ...]]


def _padding(batch: int, length: int) -> torch.Tensor:
    """0/1 per key step; the first step is never padding, so no query sees only padding."""
    mask = (torch.rand(batch, length) < 0.4).long()
    mask[:, 0] = 0
    return mask


CASES: dict[str, tuple[Callable[[], nn.Module], Inputs]] = {
    "SelfAttention-causal": (
        lambda: SelfAttention(8, 2, causal=True),
        lambda n: (torch.randn(n, 5, 8),),
    ),
    "SelfAttention-cross-masked": (
        lambda: SelfAttention(8, 2, causal=True, cross=True, masked=True),
        lambda n: (torch.randn(n, 5, 8), torch.randn(n, 7, 8), _padding(n, 7)),
    ),
    "SelfAttention-masked": (
        lambda: SelfAttention(8, 2, masked=True),
        lambda n: (torch.randn(n, 5, 8), _padding(n, 5)),
    ),
    "CausalEncoder": (
        lambda: CausalTransformerEncoderLayer(8, 2, 16, batch_first=True),
        lambda n: (torch.randn(n, 5, 8),),
    ),
    "CausalEncoder-norm-first-gelu": (
        lambda: CausalTransformerEncoderLayer(
            8, 2, 16, batch_first=True, norm_first=True, activation="gelu"
        ),
        lambda n: (torch.randn(n, 5, 8),),
    ),
    "CausalDecoder": (
        lambda: CausalTransformerDecoderLayer(8, 2, 16, batch_first=True),
        lambda n: (torch.randn(n, 5, 8), torch.randn(n, 6, 8)),
    ),
    "CausalDecoder-norm-first": (
        lambda: CausalTransformerDecoderLayer(8, 2, 16, batch_first=True, norm_first=True),
        lambda n: (torch.randn(n, 5, 8), torch.randn(n, 6, 8)),
    ),
    "GaussianSample": (GaussianSample, lambda n: (torch.randn(n, 4), torch.randn(n, 4))),
}


def _pair(name: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    make, inputs = CASES[name]
    return make().eval(), inputs(3)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", CASES)
def test_scripts_with_torchscript(name: str) -> None:
    module, inputs = _pair(name)
    torch.testing.assert_close(torch.jit.script(module)(*inputs), module(*inputs))


# torch.export costs seconds a case: the cases between them hold every branch of the forwards.
EXPORTED = ["SelfAttention-cross-masked", "CausalEncoder", "CausalDecoder", "GaussianSample"]


@pytest.mark.parametrize("name", EXPORTED)
def test_exports_with_a_dynamic_batch(name: str) -> None:
    module, inputs = _pair(name)
    batch = torch.export.Dim("batch", min=2)
    exported = torch.export.export(module, inputs, dynamic_shapes=tuple({0: batch} for _ in inputs))
    other = CASES[name][1](5)
    torch.testing.assert_close(exported.module()(*other), module(*other))


@pytest.mark.parametrize("name", CASES)
def test_traces_through_with_fx(name: str) -> None:
    """The fx importer traces generated code through these classes (masks built from sizes)."""
    module, inputs = _pair(name)
    traced = torch.fx.symbolic_trace(module)
    torch.testing.assert_close(traced(*inputs), module(*inputs))


@pytest.mark.parametrize("name", CASES)
def test_class_source_runs_on_its_own(name: str) -> None:
    module, inputs = _pair(name)
    cls = type(module)
    namespace: dict[str, Any] = {"math": math, "torch": torch, "nn": nn}
    exec(compile(inspect.getsource(cls), "<generated>", "exec", dont_inherit=True), namespace)
    standalone = CASES[name][0]()
    copy = namespace[cls.__name__].__new__(namespace[cls.__name__])
    copy.__dict__ = standalone.__dict__  # the same settings and submodules, the copied forward
    copy.load_state_dict(module.state_dict())
    torch.testing.assert_close(copy.eval()(*inputs), module(*inputs))


def test_attention_matches_torchs_with_the_same_masks() -> None:
    torch.manual_seed(0)
    module = SelfAttention(8, 2, causal=True, cross=True, masked=True).eval()
    x, memory, padding = torch.randn(2, 5, 8), torch.randn(2, 7, 8), _padding(2, 7)
    causal = torch.triu(torch.ones(5, 7, dtype=torch.bool), diagonal=1)
    want, _ = module.attn(
        x, memory, memory, key_padding_mask=padding.bool(), attn_mask=causal, need_weights=False
    )
    torch.testing.assert_close(module(x, memory, padding), want)
    # A masked step changes nothing; an unmasked one does.
    changed = memory.clone()
    changed[padding.bool()] = 100.0
    torch.testing.assert_close(module(x, changed, padding), want)


def test_default_attention_keeps_its_weights_and_values() -> None:
    """Projects saved before masks existed open with the same state dict and compute the same."""
    torch.manual_seed(0)
    module = SelfAttention(8, 2).eval()
    assert list(module.state_dict()) == [
        "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias"
    ]  # fmt: skip
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(module(x), module.attn(x, x, x, need_weights=False)[0])


@pytest.mark.parametrize("norm_first", [False, True])
def test_causal_blocks_match_torchs_with_a_causal_mask(norm_first: bool) -> None:
    torch.manual_seed(0)
    encoder = CausalTransformerEncoderLayer(8, 2, 16, batch_first=True, norm_first=norm_first)
    decoder = CausalTransformerDecoderLayer(8, 2, 16, batch_first=True, norm_first=norm_first)
    x, memory = torch.randn(2, 5, 8), torch.randn(2, 6, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    with torch.no_grad():
        got = encoder.eval()(x)
        want = nn.TransformerEncoderLayer.forward(encoder, x, src_mask=mask, is_causal=True)
        torch.testing.assert_close(got, want)
        got = decoder.eval()(x, memory)
        want = nn.TransformerDecoderLayer.forward(decoder, x, memory, tgt_mask=mask)
        torch.testing.assert_close(got, want)
    assert set(encoder.state_dict()) == set(nn.TransformerEncoderLayer(8, 2, 16).state_dict())


def _attention_graph(registry: LayerRegistry, *, memory: bool, mask: bool) -> Graph:
    graph = Graph(registry)
    x = graph.add_node("studio.Input", name="x", params={"shape": (5, 8)})
    attn = graph.add_node("studio.MultiheadAttention", name="attn", params={"num_heads": 2})
    # A layer after it needs the attention's shape: unconnected optional inputs must not
    # hold that back.
    norm = graph.add_node("studio.LayerNorm", name="norm")
    out = graph.add_node("studio.Output", name="y")
    graph.connect(x.id, "out", attn.id, "in")
    graph.connect(attn.id, "out", norm.id, "in")
    graph.connect(norm.id, "out", out.id, "in")
    length = 5
    if memory:
        length = 7
        m = graph.add_node("studio.Input", name="memory", params={"shape": (7, 8)})
        graph.connect(m.id, "out", attn.id, "memory")
    if mask:
        params = {"shape": (length,), "dtype": "long"}
        p = graph.add_node("studio.Input", name="padding", params=params)
        graph.connect(p.id, "out", attn.id, "padding_mask")
    return graph


@pytest.mark.parametrize(("memory", "mask"), [(False, True), (True, False), (True, True)])
def test_compiled_graph_feeds_each_connected_port(
    registry: LayerRegistry, memory: bool, mask: bool
) -> None:
    """Only connected inputs are passed, in port order: a lone padding mask comes second."""
    torch.manual_seed(0)
    graph = _attention_graph(registry, memory=memory, mask=mask)
    model = compile_graph(graph).eval()
    x = torch.randn(3, 5, 8)
    keys = torch.randn(3, 7, 8) if memory else x
    padding = _padding(3, keys.shape[1])
    args = [x] + ([keys] if memory else []) + ([padding] if mask else [])
    attn = model.attn.attn
    want, _ = attn(
        x, keys, keys, key_padding_mask=padding.bool() if mask else None, need_weights=False
    )
    want = model.norm(want)
    torch.testing.assert_close(model(*args), want)
    namespace: dict[str, Any] = {}
    exec(generate_code(graph), namespace)
    written = namespace["build_model"]().eval()
    written.load_state_dict(model.state_dict())
    torch.testing.assert_close(written(*args), want)


def test_float_padding_mask_is_refused_in_words(registry: LayerRegistry) -> None:
    from studio.compile.inference import infer_shapes

    graph = _attention_graph(registry, memory=True, mask=True)
    padding = next(n for n in graph.nodes if n.name == "padding")
    graph.set_param(padding.id, "dtype", "float")
    (problem,) = infer_shapes(graph).errors()
    assert "padding_mask expects (N, 7) integers (dtype long)" in problem.message


# ------------------------------------------------------------------------- GaussianSample


def test_gaussian_sample_draws_in_training_and_returns_the_mean_in_eval() -> None:
    torch.manual_seed(0)
    layer = GaussianSample()
    mean = torch.full((200_000, 2), 1.5)
    logvar = torch.log(torch.tensor([0.25, 4.0])).expand(200_000, 2)
    first, second = layer.train()(mean, logvar), layer(mean, logvar)
    assert not torch.equal(first, second)
    torch.testing.assert_close(first.mean(0), torch.tensor([1.5, 1.5]), atol=0.02, rtol=0)
    torch.testing.assert_close(first.std(0), torch.tensor([0.5, 2.0]), atol=0.02, rtol=0)
    assert torch.equal(layer.eval()(mean, logvar), mean)


def _vae(registry: LayerRegistry) -> Graph:
    """Input → Linear → [mean Linear, logvar Linear] → GaussianSample → Linear → Output."""
    graph = Graph(registry)
    nodes = {
        "x": graph.add_node("studio.Input", name="x", params={"shape": (6,)}),
        "hidden": graph.add_node("studio.Linear", name="hidden", params={"out_features": 8}),
        "mean": graph.add_node("studio.Linear", name="mean", params={"out_features": 3}),
        "logvar": graph.add_node("studio.Linear", name="logvar", params={"out_features": 3}),
        "z": graph.add_node("studio.GaussianSample", name="z"),
        "decoded": graph.add_node("studio.Linear", name="decoded", params={"out_features": 6}),
        "y": graph.add_node("studio.Output", name="y"),
    }
    for src, dst, port in [
        ("x", "hidden", "in"),
        ("hidden", "mean", "in"),
        ("hidden", "logvar", "in"),
        ("mean", "z", "mean"),
        ("logvar", "z", "logvar"),
        ("z", "decoded", "in"),
        ("decoded", "y", "in"),
    ]:
        graph.connect(nodes[src].id, "out", nodes[dst].id, port)
    return graph


@pytest.mark.timeout(60)
def test_tiny_vae_trains_and_exports_its_mean_path(registry: LayerRegistry, tmp_path) -> None:
    import onnxruntime

    torch.manual_seed(0)
    model = compile_graph(_vae(registry))
    data = torch.randn(64, 2) @ torch.randn(2, 6)  # six features that live on a plane
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    losses = []
    model.train()
    for _ in range(60):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(data), data)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) < 0.5 * sum(losses[:5])
    model.eval()
    path = tmp_path / "vae.onnx"
    torch.onnx.export(model, (data[:2],), str(path), dynamo=False, input_names=["x"])
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": data[:2].numpy()})
    with torch.no_grad():
        want = model(data[:2]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
