"""ONNX import of layers that exporters spell as many operators: attention, GELU, encoder blocks."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs, compiled_model
from studio.importers.mapping import UnsupportedModelError
from studio.importers.onnx_import import import_onnx_file
from tests.importers.onnx_models import export_onnx, spelled_activation


def _types(imported: object) -> list[str]:
    graph = imported.project.main_graph  # type: ignore[attr-defined]
    return [n.type_id.removeprefix("studio.") for n in graph.nodes]


def _same_as_source(imported: object, source: nn.Module, *shape: int) -> None:
    assert check_outputs(imported) <= 1e-5  # type: ignore[arg-type]
    model = compiled_model(imported)  # type: ignore[arg-type]
    x = torch.randn(*shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_transformer_encoder_comes_back_as_its_blocks(
    dynamo: bool,
    source_models: ModuleType,
    registry: LayerRegistry,
    tmp_path: Path,
    seed: int,
) -> None:
    """Both of torch's exporters: the app's own (dynamo) and the TorchScript one most files
    in the wild come from. Post-norm ReLU blocks and a pre-norm GELU block."""
    source = source_models.TransformerClassifier().eval()
    path = export_onnx(source, tmp_path / "transformer.onnx", dynamo=dynamo)
    imported = import_onnx_file(path, registry)
    nodes = imported.project.main_graph.nodes
    mean = "mean" if dynamo else "ReduceMean"  # the exporters' names for x.mean(dim=1)
    assert [n.name for n in nodes] == [
        "x", "proj", "layers_0", "layers_1", "block", "norm", mean, "fc", "y"
    ]  # fmt: skip
    blocks = [n.params for n in nodes if n.type_id == "studio.TransformerEncoderLayer"]
    keys = ("nhead", "dim_feedforward", "activation", "norm_first")
    settings = [tuple(p[k] for k in keys) for p in blocks]
    assert settings == [
        (4, 32, "relu", False), (4, 32, "relu", False), (2, 24, "gelu", True)
    ]  # fmt: skip
    _same_as_source(imported, source, 3, 9, 16)  # another batch size and sequence length


class SelfAttention(nn.Module):
    example_input_shape = (2, 5, 8)

    def __init__(self, mask: str | None = None, cross: bool = False) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.memory = nn.Linear(8, 8)
        self.mask = mask
        self.cross = cross
        ignore_first = torch.zeros(5, 5)
        ignore_first[:, 0] = float("-inf")  # every query ignores the first key: no setting
        self.register_buffer("ignore_first", ignore_first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        memory = self.memory(x) if self.cross else x
        mask = None
        if self.mask == "causal":
            mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        elif self.mask == "first":
            mask = self.ignore_first
        out, _ = self.attn(x, memory, memory, attn_mask=mask, need_weights=False)
        return out


def test_self_attention_is_one_layer_with_its_weights(
    registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    source = SelfAttention().eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "attn.onnx"), registry)
    assert _types(imported) == ["Input", "MultiheadAttention", "Output"]
    assert imported.project.main_graph.nodes[1].params["num_heads"] == 2
    weights = {k.split(".", 1)[1]: v for k, v in imported.state_dict.items()}
    torch.testing.assert_close(weights["attn.in_proj_weight"], source.attn.in_proj_weight)
    torch.testing.assert_close(weights["attn.out_proj.bias"], source.attn.out_proj.bias)
    _same_as_source(imported, source, 4, 7, 8)


@pytest.mark.parametrize(
    ("variant", "layers"),
    [
        ({"mask": "causal"}, ["MultiheadAttention"]),
        ({"cross": True}, ["Linear", "MultiheadAttention"]),
        ({"cross": True, "mask": "causal"}, ["Linear", "MultiheadAttention"]),
    ],
)
def test_causal_and_cross_attention_are_one_layer(
    variant: dict[str, object],
    layers: list[str],
    registry: LayerRegistry,
    tmp_path: Path,
    seed: int,
) -> None:
    """torch's causal mask becomes the causal setting; keys and values from another tensor
    become the memory input, fed by the layer that made them."""
    source = SelfAttention(**variant).eval()  # type: ignore[arg-type]
    imported = import_onnx_file(export_onnx(source, tmp_path / "attn.onnx"), registry)
    assert _types(imported) == ["Input", *layers, "Output"]
    graph = imported.project.main_graph
    attention = next(n for n in graph.nodes if n.type_id == "studio.MultiheadAttention")
    assert attention.params["causal"] is (variant.get("mask") == "causal")
    assert ("memory" in graph.incoming(attention.id)) is bool(variant.get("cross"))
    _same_as_source(imported, source, 3, 5, 8)


def test_attention_the_catalog_lacks_is_one_construct(
    registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    """A mask other than the causal one is named once, at its Softmax, not as dozens of
    reshapes."""
    path = export_onnx(SelfAttention(mask="first"), tmp_path / "attn.onnx")
    with pytest.raises(UnsupportedModelError) as caught:
        import_onnx_file(path, registry)
    (construct,) = caught.value.constructs
    assert construct.kind == "attention" and "does not reproduce" in construct.reason
    assert "Softmax" in construct.where


@pytest.mark.parametrize(
    ("kind", "layer"),
    [("gelu", "GELU"), ("gelu_scaled_last", "GELU"), ("silu", "SiLU"), ("x_tanh", None)],
)
def test_spelled_out_activation_becomes_its_layer(
    kind: str, layer: str | None, registry: LayerRegistry, tmp_path: Path
) -> None:
    """x · g(x) is claimed only when a catalog activation computes it; x · tanh(x) is not one,
    and maps operator by operator (Tanh, then Multiply) with the same outputs."""
    imported = import_onnx_file(spelled_activation(tmp_path / f"{kind}.onnx", kind), registry)
    middle = [layer] if layer else ["Tanh", "Multiply"]
    assert _types(imported) == ["Input", "Linear", *middle, "ReLU", "Output"]
    assert check_outputs(imported) <= 1e-5


class EncoderBlock(nn.Module):
    example_input_shape = (2, 6, 8)

    def __init__(self, eps: float) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, layer_norm_eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def test_block_unlike_torchs_stays_as_its_parts(
    registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    """The catalog's block normalises with eps 1e-5; with 1e-3 the eight nodes stay, still exact."""
    source = EncoderBlock(eps=1e-3).eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "block.onnx"), registry)
    assert _types(imported) == [
        "Input", "MultiheadAttention", "Add", "LayerNorm", "Linear", "ReLU", "Linear", "Add",
        "LayerNorm", "Output",
    ]  # fmt: skip
    _same_as_source(imported, source, 3, 4, 8)
    folded = import_onnx_file(
        export_onnx(EncoderBlock(eps=1e-5), tmp_path / "torch_block.onnx"), registry
    )
    assert _types(folded) == ["Input", "TransformerEncoderLayer", "Output"]
