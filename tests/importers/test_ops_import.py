"""Import of the tensor operations: small models written with torch functions, operators and
tensor methods come back, from Python (torch.fx) and from an ONNX export, as the catalog's
operation nodes computing the same values."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs, compiled_model
from studio.importers.fx_import import import_module
from studio.importers.mapping import ImportedModel, UnsupportedModelError
from studio.importers.onnx_import import import_onnx_file
from tests.importers.onnx_models import export_onnx


class Arithmetic(nn.Module):
    example_input_shape = (2, 4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = (torch.exp(x) - x.abs()) / (x.pow(2.0) + 1.0)
        y = torch.clamp(y, min=0.1) * 3.0
        return torch.sqrt(torch.log(x.abs() + 1.0)) + y - 0.5


class Broadcasting(nn.Module):
    """A per-feature gate (a parameter used directly) and a mean over the sequence added back."""

    example_input_shape = (2, 4, 6)

    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Parameter(torch.linspace(-1.0, 1.0, 6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate + x.mean(dim=1, keepdim=True)


class Products(nn.Module):
    """Attention written out: q @ kᵀ, softmax, times v; an einsum beside it."""

    example_input_shape = (2, 4, 6)

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(6, 6)
        self.k = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = torch.matmul(self.q(x), self.k(x).transpose(1, 2))
        mixed = scores.softmax(dim=-1) @ x
        return mixed + torch.einsum("bij,bkj->bik", x, x) @ x


class Pieces(nn.Module):
    example_input_shape = (2, 4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.split([2, 4], dim=-1)
        c, d = torch.chunk(x, 2, dim=1)
        joined = torch.cat([b, a], dim=-1) + torch.cat([d, c], dim=1)
        return torch.stack([joined, x], dim=1).amax(dim=1)


class Indexing(nn.Module):
    example_input_shape = (2, 5, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = x[:, 1:4]  # (N, 3, 6)
        first = x.select(1, 0).unsqueeze(1)  # (N, 1, 6)
        narrow = x.narrow(2, 1, 3)  # (N, 5, 3)
        low = narrow.min(dim=2, keepdim=True).values  # (N, 5, 1)
        return window * first + low[:, :3].squeeze(2).unsqueeze(-1)


class Expanding(nn.Module):
    example_input_shape = (2, 5, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1].expand(-1, 4, -1) + x[:, 1:]


class Positions(nn.Module):
    """Chosen positions of a sequence (index_select with a fixed list), flipped features."""

    example_input_shape = (2, 5, 6)
    order: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("order", torch.tensor([4, 0, 2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        picked = torch.index_select(x, 1, self.order)  # (N, 3, 6)
        return picked.transpose(1, 2).sum(dim=-1, keepdim=True)


class Sizes(nn.Module):
    """Numbers computed from sample sizes, and a number on the left of - and /."""

    example_input_shape = (2, 4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        return (
            x[:, :, :half] * (x.shape[1] - 1)
            - 2.0 / (x[:, :, half:].abs() + 1)
            + (1 - x[:, :, :half])
        )


class Reductions(nn.Module):
    example_input_shape = (2, 3, 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=(2, 3)) + x.mean(dim=(1, 3)).sum(dim=1, keepdim=True)


class ClassToken(nn.Module):
    """ViT's class token, expanded over the batch and joined in front of the patches."""

    example_input_shape = (2, 4, 8)

    def __init__(self) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, 8))
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        token = self.cls_token.expand(x.shape[0], -1, -1)
        joined = torch.cat([token, x], dim=1)
        return self.head(joined[:, 0] + joined.mean(dim=1))


CASES: dict[str, tuple[type[nn.Module], set[str]]] = {
    "arithmetic": (
        Arithmetic,
        {"Exp", "Abs", "Subtract", "Divide", "Pow", "Shift", "Clamp", "Scale", "Log", "Sqrt"},
    ),
    "broadcasting": (Broadcasting, {"Parameter", "Multiply", "Add", "Mean"}),
    "products": (Products, {"MatMul", "Einsum", "Transpose"}),
    "pieces": (Pieces, {"Split", "Chunk", "Concat", "Stack", "Max"}),
    "positions": (Positions, {"Index", "Transpose", "Sum"}),
    "indexing": (Indexing, {"Slice", "Select", "Unsqueeze", "Min", "Squeeze"}),
    "expanding": (Expanding, {"Slice", "Expand"}),
    "reductions": (Reductions, {"Max", "Mean", "Sum"}),
    "sizes": (Sizes, {"Slice", "Scale", "Pow", "Shift", "Subtract"}),
    "class-token": (ClassToken, {"Parameter", "Concat", "Select", "Mean"}),
}
# What the TorchScript ONNX exporter writes differently, but to the same values. Its Expand
# reads the batch size through Shape, which the ONNX checks refuse before mapping (expanding,
# class-token).
ONNX_CASES: dict[str, set[str]] = {
    "arithmetic": {"Exp", "Abs", "Subtract", "Divide", "Shift", "Clamp", "Scale", "Log", "Sqrt"},
    "broadcasting": {"Constant", "Multiply", "Add", "Mean"},
    "products": {"MatMul", "Einsum"},
    "pieces": {"Split", "Concat", "Max"},
    "indexing": {"Slice", "Select", "Min"},
    "reductions": {"Max", "Mean", "Sum"},
    "positions": {"Index", "Permute", "Sum"},
}


def _types(imported: ImportedModel) -> set[str]:
    return {n.type_id.removeprefix("studio.") for n in imported.project.main_graph.nodes}


def _same_outputs(imported: ImportedModel, source: nn.Module) -> None:
    assert check_outputs(imported) <= 1e-5
    shape = source.example_input_shape  # type: ignore[attr-defined]
    x = torch.randn(3, *shape[1:])
    with torch.no_grad():
        want = source.eval()(x)
        got = compiled_model(imported)(x)
    scale = max(1.0, float(want.abs().max()))
    assert float((got - want).abs().max()) <= 1e-5 * scale


@pytest.mark.parametrize("case", list(CASES))
def test_python_model_imports_as_operation_nodes(
    case: str, registry: LayerRegistry, seed: int
) -> None:
    cls, expected = CASES[case]
    source = cls().eval()
    imported = import_module(source, registry)
    assert expected <= _types(imported)
    _same_outputs(imported, source)


@pytest.mark.parametrize("case", list(ONNX_CASES))
def test_onnx_export_imports_as_operation_nodes(
    case: str, registry: LayerRegistry, tmp_path: Path, seed: int
) -> None:
    cls, _ = CASES[case]
    source = cls().eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "model.onnx"), registry)
    assert ONNX_CASES[case] <= _types(imported)
    _same_outputs(imported, source)


def test_max_indices_are_refused_in_words(registry: LayerRegistry) -> None:
    class Argmax(nn.Module):
        example_input_shape = (2, 4, 6)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.max(dim=1)[1].float()

    with pytest.raises(UnsupportedModelError, match="values only"):
        import_module(Argmax(), registry)


class Flipped(nn.Module):
    """`x.flip(1)` keeps the shape; an exporter writes it as a Slice stepping backwards."""

    example_input_shape = (2, 4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(1) * 2.0


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_a_flip_is_never_read_as_the_input_itself(
    dynamo: bool, registry: LayerRegistry, tmp_path: Path
) -> None:
    path = export_onnx(Flipped(), tmp_path / "model.onnx", dynamo=dynamo)
    try:
        imported = import_onnx_file(path, registry)
    except UnsupportedModelError as error:
        assert "step -1" in str(error) or "flip" in str(error).lower()
    else:
        _same_outputs(imported, Flipped())


class LastPositions(nn.Module):
    """nanoGPT's `x[:, [-1], :]` and a reordering `x[:, [2, 0], :]`."""

    example_input_shape = (2, 5, 6)

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(6, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x[:, [-1], :]) + self.head(x[:, [2, 0], :]).sum(1, keepdim=True)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_a_list_of_positions_imports_as_index(
    dynamo: bool, registry: LayerRegistry, tmp_path: Path
) -> None:
    source = LastPositions()
    imported = import_onnx_file(
        export_onnx(source, tmp_path / "model.onnx", dynamo=dynamo), registry
    )
    graph = imported.project.main_graph
    indices = sorted(tuple(n.params["indices"]) for n in graph.nodes if n.type_id == "studio.Index")
    assert indices == [(2, 0), (4,)]
    _same_outputs(imported, source)
