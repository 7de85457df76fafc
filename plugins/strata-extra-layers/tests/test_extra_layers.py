"""The example plugin on its own: rules match builders, modules export, dataset and format work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from strata_extra_layers import LAYERS, register_datasets, register_exporters, register_layers
from strata_extra_layers.npz_export import NpzWeightsExporter
from strata_extra_layers.spirals import SPIRALS, read_spirals
from studio.core.registry import LayerRegistry
from studio.core.shapes import ShapeError, TensorShape
from studio.data.registry import DatasetRegistry
from studio.export.registry import ExporterRegistry
from studio.export.subject import ExportOptions, ExportSubject
from studio.layers import load_builder, load_shape_rule

IMAGE_SHAPES = [(3, 8, 8), (16, 5, 7), (1, 28, 28)]
PARAMS = {
    "extra.SqueezeExcite": [{"reduction": 1}, {"reduction": 3}],
    "extra.SeparableConv2d": [
        {"out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 1, "bias": True},
        {"out_channels": 4, "kernel_size": 5, "stride": 2, "padding": 0, "bias": False},
    ],
    "extra.Mish": [{}],
}


def _specs() -> dict[str, object]:
    registry = LayerRegistry()
    register_layers(registry)
    return {spec.type_id: spec for spec in registry}


@pytest.mark.parametrize("type_id", sorted(PARAMS))
@pytest.mark.parametrize("dims", IMAGE_SHAPES)
def test_shape_rule_equals_the_built_module(type_id: str, dims: tuple[int, ...]) -> None:
    spec = _specs()[type_id]
    for params in PARAMS[type_id]:
        params = spec.validate_params(params)
        inputs = [TensorShape(dims)]
        rule = load_shape_rule(spec)
        assert rule is not None
        expected = rule(params, inputs)
        module = load_builder(spec)(params, inputs)
        out = module(torch.randn(2, *dims))
        assert [TensorShape(tuple(out.shape[1:]))] == expected


def test_rules_refuse_with_a_sentence() -> None:
    specs = _specs()
    flat = [TensorShape((16,))]
    for type_id in ("extra.SqueezeExcite", "extra.SeparableConv2d"):
        spec = specs[type_id]
        rule = load_shape_rule(spec)
        with pytest.raises(ShapeError, match=r"expects \(N, C, H, W\); it receives \(N, 16\)"):
            rule(spec.defaults(), flat)
    with pytest.raises(ShapeError, match="Embedding"):
        load_shape_rule(specs["extra.Mish"])({}, [TensorShape((10,), "long")])


def _model() -> nn.Module:
    specs = _specs()
    shape = [TensorShape((3, 8, 8))]
    conv = specs["extra.SeparableConv2d"]
    se = specs["extra.SqueezeExcite"]
    return nn.Sequential(
        load_builder(conv)(conv.defaults(), shape),
        load_builder(se)(se.defaults(), [TensorShape((16, 8, 8))]),
        load_builder(specs["extra.Mish"])({}, [TensorShape((16, 8, 8))]),
    ).eval()


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_modules_script_and_export_with_a_dynamic_batch() -> None:
    model = _model()
    x = torch.randn(3, 3, 8, 8)
    scripted = torch.jit.script(model)
    torch.testing.assert_close(scripted(x), model(x))
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    y = torch.randn(5, 3, 8, 8)
    torch.testing.assert_close(program.module()(y), model(y))


def test_spirals_are_what_their_description_says() -> None:
    registry = DatasetRegistry()
    register_datasets(registry)
    assert registry.get("extra.spirals") is SPIRALS
    raw = read_spirals(None)  # type: ignore[arg-type]  # the generator needs no settings
    assert len(raw) == SPIRALS.size
    assert raw.encoder.input_specs() == SPIRALS.signature.inputs
    assert tuple(raw.class_names) == SPIRALS.signature.target.class_names
    assert np.bincount(raw.target).tolist() == [SPIRALS.size // 2] * 2
    np.testing.assert_array_equal(read_spirals(None).encoder.encode()[0], raw.encoder.encode()[0])  # type: ignore[arg-type]


def test_npz_export_checks_writes_and_verifies(tmp_path: Path) -> None:
    registry = ExporterRegistry()
    register_exporters(registry)
    exporter = registry.get("extra.npz")
    assert isinstance(exporter, NpzWeightsExporter)
    model = _model()
    samples = (torch.randn(4, 3, 8, 8),)
    subject = ExportSubject(model, samples, samples, rebuild=_model)
    options = ExportOptions()
    plan = exporter.check(subject, options)
    assert not plan.blockers
    path = exporter.output_path(tmp_path, subject)
    exporter.write(plan, path)
    assert path.name == "model.weights.npz" and not list(tmp_path.glob(".*tmp*"))
    assert exporter.verify(path, subject, options).ok
    with np.load(path, allow_pickle=False) as archive:
        assert set(archive.files) == set(model.state_dict())

    path.write_bytes(b"not an archive")
    assert not exporter.verify(path, subject, options).ok


def test_npz_export_blocks_what_numpy_cannot_hold() -> None:
    model = _model().to(torch.bfloat16)
    samples = (torch.randn(1, 3, 8, 8, dtype=torch.bfloat16),)
    plan = NpzWeightsExporter().check(
        ExportSubject(model, samples, samples, _model), ExportOptions()
    )
    assert plan.blockers and "bfloat16" in plan.blockers[0]


def test_every_layer_is_namespaced() -> None:
    assert {spec.namespace for spec in LAYERS} == {"extra"}
