"""The spatial family through both importers: each torch layer comes back as its catalog layer
and computes what it did; settings the catalog lacks, and bad params, are said in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper
from torch import nn

from studio.compile.inference import infer_shapes
from studio.core.graph import Graph
from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs, compiled_model
from studio.importers.export_import import import_module_export
from studio.importers.fx_import import import_module
from studio.importers.mapping import ImportedModel, UnsupportedModelError
from studio.importers.onnx_import import import_onnx_file, import_onnx_model
from studio.plugins import default_registry

from .onnx_models import export_onnx

pytestmark = pytest.mark.timeout(60)


class Wrapped(nn.Module):
    """One layer called on one input, with the sample shape the importers read."""

    def __init__(self, layer: nn.Module, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.layer = layer
        self.example_input_shape = (2, *shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


# (torch layer, sample shape, catalog layer, catalog layer after the ONNX export when it differs)
CASES: list[tuple[nn.Module, tuple[int, ...], str, str | None]] = [
    (nn.Conv3d(2, 4, 3, stride=2, padding=1, groups=2), (2, 5, 6, 7), "Conv3d", None),
    (nn.Conv3d(2, 3, 2, dilation=2, bias=False), (2, 5, 5, 5), "Conv3d", None),
    (
        nn.ConvTranspose1d(4, 6, 3, stride=2, groups=2, dilation=2, bias=False),
        (4, 5),
        "ConvTranspose1d",
        None,
    ),
    (nn.ConvTranspose3d(2, 3, 2, stride=2), (2, 3, 3, 3), "ConvTranspose3d", None),
    (
        nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
        (4, 5, 5),
        "ConvTranspose2d",
        None,
    ),
    (nn.MaxPool3d(2, ceil_mode=True), (2, 5, 7, 6), "MaxPool3d", None),
    (nn.AvgPool3d(3, 2, 1, ceil_mode=True), (2, 5, 7, 6), "AvgPool3d", None),
    (nn.MaxPool1d(2, 2, 1, ceil_mode=True), (2, 5), "MaxPool1d", None),
    (nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 9, 10), "MaxPool2d", None),
    (nn.AvgPool1d(3, 2, ceil_mode=True), (2, 10), "AvgPool1d", None),
    (nn.AvgPool2d(3, 2, 1, ceil_mode=True), (2, 9, 7), "AvgPool2d", None),
    (nn.AdaptiveAvgPool1d(1), (3, 7), "AdaptiveAvgPool1d", None),
    # torch exports adaptive pooling to a size that divides the input as a plain pooling.
    (nn.AdaptiveAvgPool1d(3), (3, 9), "AdaptiveAvgPool1d", "AvgPool1d"),
    (nn.AdaptiveMaxPool1d(2), (3, 8), "AdaptiveMaxPool1d", "MaxPool1d"),
    (nn.AdaptiveMaxPool2d((3, 2)), (3, 6, 4), "AdaptiveMaxPool2d", "MaxPool2d"),
    # An oblong kernel that tiles the input has no plain pooling: it is the adaptive one.
    (nn.AdaptiveMaxPool2d((1, 2)), (3, 6, 4), "AdaptiveMaxPool2d", None),
    (nn.AdaptiveAvgPool2d((2, 1)), (3, 6, 4), "AdaptiveAvgPool2d", None),
    (nn.ZeroPad1d((1, 2)), (3, 5), "ZeroPad1d", None),
    (nn.ZeroPad2d((1, 2, 0, 3)), (3, 5, 4), "ZeroPad2d", None),
    (nn.ConstantPad1d(2, 1.5), (3, 5), "ConstantPad1d", None),
    (nn.ConstantPad2d((1, 0, 2, 1), -0.5), (3, 5, 4), "ConstantPad2d", None),
    (nn.ReflectionPad1d((3, 1)), (3, 5), "ReflectionPad1d", None),
    (nn.ReflectionPad2d(2), (3, 5, 4), "ReflectionPad2d", None),
    (nn.ReplicationPad1d((0, 4)), (3, 5), "ReplicationPad1d", None),
    (nn.ReplicationPad2d((1, 2, 3, 4)), (3, 5, 4), "ReplicationPad2d", None),
    (nn.PixelShuffle(2), (8, 3, 5), "PixelShuffle", None),
    # torch exports PixelUnshuffle as Reshape, Transpose, Reshape (ONNX's SpaceToDepth orders
    # the channels otherwise), which the import reads back as the one layer.
    (nn.PixelUnshuffle(2), (2, 4, 6), "PixelUnshuffle", None),
    (nn.Upsample(scale_factor=2, mode="linear"), (3, 5), "Upsample", None),
    (nn.Upsample(scale_factor=3, mode="linear", align_corners=True), (3, 5), "Upsample", None),
    (nn.Upsample(scale_factor=2, mode="bicubic"), (3, 5, 4), "Upsample", None),
    (
        nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True),
        (3, 5, 4),
        "Upsample",
        None,
    ),
    (nn.Upsample(scale_factor=2, mode="trilinear"), (3, 3, 4, 2), "Upsample", None),
    (nn.Upsample(scale_factor=2, mode="nearest"), (3, 3, 4, 2), "Upsample", None),
]
IDS = [f"{type(layer).__name__}-{i}" for i, (layer, *_) in enumerate(CASES)]


def _layers(imported: ImportedModel) -> list[str]:
    nodes = imported.project.main_graph.nodes
    return [n.type_id.removeprefix("studio.") for n in nodes][1:-1]


def _assert_same_outputs(imported: ImportedModel, source: nn.Module) -> None:
    """A fresh batch through the compiled project and the source agree to 1e-5 relative."""
    x = torch.randn(3, *source.example_input_shape[1:])
    with torch.no_grad():
        got, want = compiled_model(imported)(x), source(x)
    assert got.shape == want.shape
    scale = max(1.0, float(want.abs().max()))
    assert float((got - want).abs().max()) <= 1e-5 * scale


@pytest.mark.parametrize(("layer", "shape", "type_id", "onnx_type"), CASES, ids=IDS)
def test_fx_import(
    layer: nn.Module, shape: tuple[int, ...], type_id: str, onnx_type: str | None,
    registry: LayerRegistry, seed: int,
) -> None:  # fmt: skip
    source = Wrapped(layer, shape).eval()
    imported = import_module(source, registry)
    assert _layers(imported) == [type_id]
    _assert_same_outputs(imported, source)


@pytest.mark.parametrize(("layer", "shape", "type_id", "onnx_type"), CASES, ids=IDS)
def test_onnx_import(
    layer: nn.Module, shape: tuple[int, ...], type_id: str, onnx_type: str | None,
    registry: LayerRegistry, seed: int, tmp_path: Path,
) -> None:  # fmt: skip
    source = Wrapped(layer, shape).eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "model.onnx"), registry)
    assert _layers(imported) == (onnx_type or type_id).split()
    _assert_same_outputs(imported, source)


def test_channel_shuffle_imports_from_torch(registry: LayerRegistry, seed: int) -> None:
    # torch.onnx cannot export aten::channel_shuffle, so only the module importer sees it.
    source = Wrapped(nn.ChannelShuffle(3), (6, 4, 4)).eval()
    imported = import_module(source, registry)
    assert _layers(imported) == ["ChannelShuffle"]
    _assert_same_outputs(imported, source)


class SpelledShuffles(nn.Module):
    """Channel and pixel shuffles written out as view, permute and reshape."""

    example_input_shape = (2, 8, 3, 5)

    def __init__(self, perm: tuple[int, ...] = (0, 1, 4, 2, 5, 3)) -> None:
        super().__init__()
        self.perm = perm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = x.view(n, 4, 2, 3, 5).transpose(1, 2).reshape(n, 8, 3, 5)  # ChannelShuffle(4)
        x = x.view(n, 2, 2, 2, 3, 5).permute(*self.perm)
        return x.reshape(n, 2, 6, 10)


def test_shuffles_spelled_out_in_onnx_are_the_layers(
    registry: LayerRegistry, seed: int, tmp_path: Path
) -> None:
    source = SpelledShuffles().eval()
    imported = import_onnx_file(export_onnx(source, tmp_path / "spelled.onnx"), registry)
    assert _layers(imported) == ["ChannelShuffle", "PixelShuffle"]
    _assert_same_outputs(imported, source)


def test_other_reshape_transpose_chains_stay_as_their_steps(
    registry: LayerRegistry, seed: int, tmp_path: Path
) -> None:
    source = SpelledShuffles(perm=(0, 1, 4, 3, 5, 2)).eval()  # not PixelShuffle's order
    imported = import_onnx_file(export_onnx(source, tmp_path / "other.onnx"), registry)
    assert _layers(imported) == ["ChannelShuffle", "Reshape", "Permute", "Reshape"]
    _assert_same_outputs(imported, source)


class Functional(nn.Module):
    """The functional spellings of the spatial layers."""

    example_input_shape = (2, 8, 6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 2, 0, 1), mode="reflect")  # (8, 7, 9)
        x = F.pixel_shuffle(x, 2)  # (2, 14, 18)
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)  # (2, 7, 9)
        x = F.pad(x, (1, 0, 1, 0), value=0.25)  # (2, 8, 10)
        x = F.pixel_unshuffle(x, 2)  # (8, 4, 5)
        x = torch.channel_shuffle(x, 4)
        x = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True)  # (8, 8, 10)
        x = F.max_pool3d(x.unsqueeze(1), 2, ceil_mode=True).squeeze(1)  # (4, 4, 5)
        x = F.adaptive_max_pool2d(x, (2, None))  # (4, 2, 5)
        return F.adaptive_avg_pool1d(x.flatten(2), 3)  # (4, 3)


def test_functional_forms_map(registry: LayerRegistry, seed: int) -> None:
    source = Functional().eval()
    imported = import_module(source, registry)
    layers = _layers(imported)
    for expected in (
        "ReflectionPad2d", "PixelShuffle", "MaxPool2d", "ConstantPad2d", "PixelUnshuffle",
        "ChannelShuffle", "Upsample", "MaxPool3d", "AdaptiveMaxPool2d", "AdaptiveAvgPool1d",
    ):  # fmt: skip
        assert expected in layers
    pool = next(n for n in imported.project.main_graph.nodes if n.type_id == "studio.MaxPool2d")
    assert pool.params["ceil_mode"] is True
    _assert_same_outputs(imported, source)


class ExportedForms(nn.Module):
    """Functional spellings that reach the torch.export front end as ATen ops of their own."""

    example_input_shape = (2, 8, 6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 2, 0, 1), mode="replicate")  # (8, 7, 9)
        x = F.pixel_shuffle(x, 2)  # (2, 14, 18)
        x = torch.channel_shuffle(F.pixel_unshuffle(x, 2), 4)  # (8, 7, 9)
        x = F.interpolate(x, scale_factor=2, mode="bicubic")  # (8, 14, 18)
        return F.avg_pool3d(x.unsqueeze(1), 2, ceil_mode=True).squeeze(1)  # (4, 7, 9)


def test_functional_forms_map_through_torch_export(registry: LayerRegistry, seed: int) -> None:
    source = ExportedForms().eval()
    imported = import_module_export(source, registry)
    layers = _layers(imported)
    for expected in (
        "ReplicationPad2d", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "Upsample",
        "AvgPool3d",
    ):  # fmt: skip
        assert expected in layers
    _assert_same_outputs(imported, source)


# ------------------------------------------------------------------------ refusals in words


def _onnx_model(path: Path, node: Any, shape: list[int], out: list[int], *inits: Any) -> Path:
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
        initializer=list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    return path


def test_onnx_settings_without_a_layer_are_named(registry: LayerRegistry, tmp_path: Path) -> None:
    pads = onnx.numpy_helper.from_array(torch.tensor([0, 0, 1, 0, 0, 1]).numpy(), "pads")
    wrap = helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap", name="wrap")
    with pytest.raises(UnsupportedModelError) as caught:
        import_onnx_file(
            _onnx_model(tmp_path / "wrap.onnx", wrap, [1, 2, 4], [1, 2, 6], pads), registry
        )
    assert "mode 'wrap' has no catalog layer" in caught.value.constructs[0].reason
    dcr = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="DCR", name="d2s")
    with pytest.raises(UnsupportedModelError) as caught:
        import_onnx_file(
            _onnx_model(tmp_path / "dcr.onnx", dcr, [1, 8, 2, 2], [1, 2, 4, 4]), registry
        )
    assert "PixelShuffle is mode CRD" in caught.value.constructs[0].reason


@pytest.mark.parametrize(
    ("op", "attrs", "shape", "out", "expected"),
    [
        ("GlobalMaxPool", {}, [1, 3, 5, 4], [1, 3, 1, 1], "AdaptiveMaxPool2d"),
        ("GlobalMaxPool", {}, [1, 3, 5], [1, 3, 1], "AdaptiveMaxPool1d"),
        ("GlobalAveragePool", {}, [1, 3, 5], [1, 3, 1], "AdaptiveAvgPool1d"),
        ("SpaceToDepth", {"blocksize": 2}, [1, 1, 4, 6], [1, 4, 2, 3], "PixelUnshuffle"),
        (
            "DepthToSpace",
            {"blocksize": 2, "mode": "DCR"},
            [1, 4, 3, 3],
            [1, 1, 6, 6],
            "PixelShuffle",
        ),
    ],
    ids=["GlobalMaxPool-2d", "GlobalMaxPool-1d", "GlobalAveragePool-1d", "SpaceToDepth", "DCR"],
)
def test_onnx_operators_of_other_exporters(
    op: str, attrs: dict[str, Any], shape: list[int], out: list[int], expected: str,
    registry: LayerRegistry,
) -> None:  # fmt: skip
    """Forms torch does not write but other tools do; the mapping reproduces onnxruntime's values
    (the import itself compares them)."""
    node = helper.make_node(op, ["x"], ["y"], name="op", **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    imported = import_onnx_model(model, registry, source=f"{op}.onnx")
    assert _layers(imported) == [expected]
    assert check_outputs(imported) <= 1e-5


def test_uneven_convolution_pads_become_a_zero_pad(registry: LayerRegistry) -> None:
    """TensorFlow's 'SAME' padding with a stride pads one side more: ZeroPad2d, then Conv2d."""
    weight = onnx.numpy_helper.from_array(torch.randn(4, 2, 3, 3).numpy(), "w")
    conv = helper.make_node(
        "Conv", ["x", "w"], ["y"], name="conv", pads=[0, 1, 1, 2], strides=[2, 2]
    )
    graph = helper.make_graph(
        [conv],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 7, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3, 4])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    imported = import_onnx_model(model, registry, source="same.onnx")
    assert _layers(imported) == ["ZeroPad2d", "Conv2d"]
    pad = imported.project.main_graph.node_by_name("conv_pad")
    assert pad is not None and pad.params["padding"] == (1, 2, 0, 1)
    assert check_outputs(imported) <= 1e-5


def test_space_to_depth_of_several_channels_is_refused(registry: LayerRegistry) -> None:
    node = helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=2, name="s2d")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 2, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(UnsupportedModelError) as caught:
        import_onnx_model(model, registry, source="s2d.onnx")
    assert "agree only for one input channel" in caught.value.constructs[0].reason


def test_fx_settings_without_a_layer_are_named(registry: LayerRegistry) -> None:
    class Circular(nn.Module):
        example_input_shape = (2, 3, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.pad(x, (1, 1), mode="circular")

    with pytest.raises(UnsupportedModelError) as caught:
        import_module(Circular(), registry)
    assert "mode='circular' has no catalog layer" in caught.value.constructs[0].reason


def _problem(type_id: str, params: dict[str, Any], shape: list[int]) -> str:
    graph = Graph(default_registry())
    source = graph.add_node("studio.Input", params={"shape": shape})
    node = graph.add_node(type_id, params=params)
    end = graph.add_node("studio.Output")
    graph.connect(source.id, "out", node.id, "in")
    graph.connect(node.id, "out", end.id, "in")
    (problem,) = [p for p in infer_shapes(graph).problems() if p.node_id == node.id]
    return problem.message


def test_bad_params_are_a_sentence_on_the_node() -> None:
    assert _problem("studio.PixelShuffle", {"upscale_factor": 2}, [6, 4, 4]) == (
        "PixelShuffle's upscale_factor (2) needs input channels divisible by 2² = 4; it "
        "receives (N, 6, 4, 4). Change upscale_factor, or make the layer before it produce a "
        "multiple of 4 channels."
    )
    assert _problem("studio.ReflectionPad2d", {"padding": [1, 1, 3, 0]}, [2, 3, 8]) == (
        "ReflectionPad2d's padding (3) must be smaller than the height of its input (3); it "
        "receives (N, 2, 3, 8). Lower padding to at most 2, or use ReplicationPad2d, which "
        "repeats the edge instead of mirroring."
    )
    assert "takes one number (every side) or 4 (left, right, top, bottom); it has 3" in (
        _problem("studio.ZeroPad2d", {"padding": [1, 2, 3]}, [2, 3, 8])
    )
    assert "must divide the height and width" in (
        _problem("studio.PixelUnshuffle", {"downscale_factor": 2}, [2, 3, 8])
    )
    assert "align_corners works only with the interpolating modes" in (
        _problem("studio.Upsample", {"mode": "nearest", "align_corners": True}, [2, 3, 8])
    )
    assert "output_padding (2) must be smaller than its stride (2) or its dilation (1)" in (
        _problem("studio.ConvTranspose1d", {"output_padding": 2}, [2, 8])
    )
    # torch's AvgPool3d alone refuses an input smaller than its kernel even when padded.
    assert "AvgPool3d's kernel (3×3×3) is larger than its input (2×5×5); padding does not" in (
        _problem("studio.AvgPool3d", {"kernel_size": 3, "padding": 1}, [2, 2, 5, 5])
    )


class FactorisedConvolutions(nn.Module):
    """Inception v3's factorised 7×7: a 1×7 then a 7×1 convolution, and a 3×1 with stride
    (2, 1), each padded on its own axis."""

    example_input_shape = (2, 4, 9, 10)

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Conv2d(4, 6, (1, 7), padding=(0, 3))
        self.tall = nn.Conv2d(6, 5, (7, 1), padding=(3, 0), bias=False)
        self.down = nn.Conv2d(5, 3, (3, 1), stride=(2, 1), padding=(1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.relu(self.tall(torch.relu(self.wide(x)))))


@pytest.mark.parametrize("route", ["fx", "export", "onnx-torchscript", "onnx-dynamo"])
def test_rectangular_convolutions_import_as_conv2d_rect(
    route: str, registry: LayerRegistry, tmp_path: Path
) -> None:
    source = FactorisedConvolutions().eval()
    if route == "fx":
        imported = import_module(source, registry)
    elif route == "export":
        imported = import_module_export(source, registry)
    else:
        path = export_onnx(source, tmp_path / "f.onnx", dynamo=route == "onnx-dynamo")
        imported = import_onnx_file(path, registry)
    rect = [n for n in imported.project.main_graph.nodes if n.type_id == "studio.Conv2dRect"]
    kernels = sorted((n.params["kernel_h"], n.params["kernel_w"]) for n in rect)
    assert kernels == [(1, 7), (3, 1), (7, 1)]
    assert check_outputs(imported) <= 1e-5
