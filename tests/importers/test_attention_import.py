"""Import of the attention family: masks, cross-attention, decoder blocks and two-input layers.

Each source model goes through both front ends: torch.fx (its modules map one to one) and an
ONNX file from torch's TorchScript exporter, where attention arrives as dozens of operators and
is found by its structure. Either way the imported project must reproduce the source.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs, compiled_model
from studio.importers.fx_import import import_module
from studio.importers.mapping import UnsupportedModelError
from studio.importers.onnx_import import import_onnx_file


class CausalAttention(nn.Module):
    example_input_shape = ((2, 5, 8),)

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        out, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        return out


class CrossAttention(nn.Module):
    example_input_shape = ((2, 5, 8), (2, 7, 8))

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        out, _ = self.attn(x, memory, memory, need_weights=False)
        return out


class Decoder(nn.Module):
    example_input_shape = ((2, 5, 8), (2, 7, 8))

    def __init__(self, norm_first: bool = False, activation: str = "relu") -> None:
        super().__init__()
        self.block = nn.TransformerDecoderLayer(
            8, 2, 16, batch_first=True, norm_first=norm_first, activation=activation
        )

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.block(x, memory, tgt_mask=mask, tgt_is_causal=True)


class TwoInputs(nn.Module):
    """`layer` applied to two projections of one input."""

    example_input_shape = ((2, 6),)

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.left = nn.Linear(6, 5)
        self.right = nn.Linear(6, 5)
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.left(x), self.right(x))


class Unflattened(nn.Module):
    example_input_shape = ((2, 12),)

    def __init__(self) -> None:
        super().__init__()
        self.split = nn.Unflatten(1, (3, 4))
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.split(x))


def _models() -> dict[str, tuple[nn.Module, list[str]]]:
    """Name → (source model, the catalog layers its fx import is made of)."""
    return {
        "causal": (CausalAttention(), ["MultiheadAttention"]),
        "cross": (CrossAttention(), ["MultiheadAttention"]),
        "decoder": (Decoder(), ["TransformerDecoderLayer"]),
        "bilinear": (TwoInputs(nn.Bilinear(5, 5, 3)), ["Linear", "Linear", "Bilinear"]),
        "cosine": (TwoInputs(nn.CosineSimilarity()), ["Linear", "Linear", "CosineSimilarity"]),
        "distance": (
            # p=2: torch's legacy exporter drops the absolute value, so odd p would give NaN.
            TwoInputs(nn.PairwiseDistance(p=2.0, keepdim=True)),
            ["Linear", "Linear", "PairwiseDistance"],
        ),
        "unflatten": (Unflattened(), ["Unflatten", "Linear"]),
    }


def _layers(imported: object) -> list[str]:
    graph = imported.project.main_graph  # type: ignore[attr-defined]
    names = [n.type_id.removeprefix("studio.") for n in graph.nodes]
    return [n for n in names if n not in ("Input", "Output")]


def _reproduces(imported: object, source: nn.Module) -> None:
    """The project computes the source's outputs on other inputs (other batch) too."""
    assert check_outputs(imported) <= 1e-5  # type: ignore[arg-type]
    model = compiled_model(imported)  # type: ignore[arg-type]
    inputs = [torch.randn(3, *shape[1:]) for shape in source.example_input_shape]
    with torch.no_grad():
        want = source(*inputs)
        got = model(*inputs)
    scale = max(1.0, float(want.abs().max()))
    assert float((got - want).abs().max()) / scale <= 1e-5


@pytest.mark.parametrize("name", list(_models()))
def test_fx_import_maps_each_module_to_its_layer(
    name: str, registry: LayerRegistry, seed: int
) -> None:
    source, layers = _models()[name]
    imported = import_module(source.eval(), registry)
    assert _layers(imported) == layers
    _reproduces(imported, source)


def test_fx_import_reads_the_masks_settings(registry: LayerRegistry, seed: int) -> None:
    """The causal mask becomes the setting; the cross-attention without one is not causal."""
    for name, causal in (("causal", True), ("cross", False), ("decoder", True)):
        imported = import_module(_models()[name][0].eval(), registry)
        (layer,) = (n for n in imported.project.main_graph.nodes if "causal" in n.params)
        assert layer.params["causal"] is causal, name


class PaddedAttention(nn.Module):
    example_input_shape = ((2, 5, 8),)

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.attn(x, x, x, attn_mask=self.mask, need_weights=False)
        return out


def test_fx_import_reads_a_saved_mask_and_refuses_another(
    registry: LayerRegistry, seed: int
) -> None:
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    source = PaddedAttention(causal).eval()
    imported = import_module(source, registry)
    assert imported.project.main_graph.nodes[1].params["causal"] is True
    _reproduces(imported, source)
    banded = causal | torch.tril(torch.ones(5, 5, dtype=torch.bool), diagonal=-2)
    with pytest.raises(UnsupportedModelError) as caught:
        import_module(PaddedAttention(banded).eval(), registry)
    (construct,) = caught.value.constructs
    assert "not a causal mask" in construct.reason


def _export(source: nn.Module, path: Path, *, dynamo: bool = False) -> Path:
    """The TorchScript exporter most files come from, or the dynamo one `studio export` uses."""
    shapes = source.example_input_shape
    names = [f"x{i}" for i in range(len(shapes))]
    examples = tuple(torch.randn(*shape) for shape in shapes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            batch = torch.export.Dim("batch")
            program = torch.onnx.export(
                source.eval(),
                examples,
                dynamo=True,
                input_names=names,
                dynamic_shapes=tuple({0: batch} for _ in names),
                opset_version=18,
                optimize=True,
                verbose=False,
            )
            assert program is not None
            program.save(str(path), external_data=False)
            return path
        torch.onnx.export(
            source.eval(),
            examples,
            str(path),
            dynamo=False,
            input_names=names,
            output_names=["y"],
            dynamic_axes={**{n: {0: "batch"} for n in names}, "y": {0: "batch"}},
        )
    return path


ONNX_LAYERS = {
    "causal": ["MultiheadAttention"],
    "cross": ["MultiheadAttention"],
    # An ONNX file has no modules: the block's eleven nodes are folded back into one.
    "decoder": ["TransformerDecoderLayer"],
    # Spelled out as products, sums and powers of the two inputs; found by their structure.
    "cosine": ["Linear", "Linear", "CosineSimilarity"],
    "distance": ["Linear", "Linear", "PairwiseDistance"],
}  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "causal",
        "cross",
        "decoder",
        "unflatten",
        # torch's TorchScript exporter has no ONNX form of aten::bilinear, so no "bilinear".
        "cosine",
        "distance",
    ],
)
def test_onnx_import_reproduces_the_model(
    name: str, registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    source = _models()[name][0].eval()
    imported = import_onnx_file(_export(source, tmp_path / f"{name}.onnx"), registry)
    if name in ONNX_LAYERS:
        assert _layers(imported) == ONNX_LAYERS[name]
    _reproduces(imported, source)


@pytest.mark.parametrize(
    ("norm_first", "activation", "dynamo"),
    [
        (True, "gelu", False),
        # The dynamo exporter stores the norms' equal ones and zeros once, so they import tied;
        # 18 s of export, hence slow (the encoder's dynamo test covers the ties by default).
        pytest.param(False, "relu", True, marks=pytest.mark.slow),
    ],
    ids=["pre-norm-gelu", "dynamo"],
)
def test_onnx_decoder_block_folds_back(
    norm_first: bool,
    activation: str,
    dynamo: bool,
    registry: LayerRegistry,
    tmp_path: Path,
    seed: int,
) -> None:
    """Both orders of torch's block, from both exporters, come back as one decoder layer."""
    source = Decoder(norm_first, activation).eval()
    imported = import_onnx_file(_export(source, tmp_path / "d.onnx", dynamo=dynamo), registry)
    assert _layers(imported) == ["TransformerDecoderLayer"]
    (block,) = [n for n in imported.project.main_graph.nodes if "causal" in n.params]
    assert (block.params["norm_first"], block.params["activation"]) == (norm_first, activation)
    assert block.params["causal"] is True
    _reproduces(imported, source)
