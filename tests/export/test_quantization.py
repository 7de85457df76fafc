"""Dynamic int8 quantisation: applied where it can be, its effect measured and reported."""

from __future__ import annotations

import torch

from studio.export.project_export import export_project
from studio.export.quantization import measure_quantization, quantize_dynamic_int8
from tests.export.conftest import load_template, template_inputs


def test_quantised_export_reports_output_and_accuracy_change(mlp_project, out_dir):
    inputs, samples = template_inputs(mlp_project)
    test_inputs = (torch.randn(64, 4),)
    labels = torch.randint(0, 3, (64,))
    report = export_project(
        mlp_project,
        "model",
        ["torchscript", "onnx"],
        out_dir,
        inputs=inputs,
        samples=samples,
        quantize=True,
        labelled=(test_inputs, labels),
    )
    quantization = report.quantization
    assert quantization is not None
    assert quantization.quantized_layers > 0
    assert 0 < quantization.max_output_change < 0.1
    assert quantization.accuracy_before is not None and quantization.accuracy_change is not None
    assert "accuracy" in quantization.describe()
    script, onnx = report.results
    assert script.ok, script.describe()
    assert not onnx.ok and onnx.stage == "check" and "quantised" in onnx.reason
    assert report.model_card is not None
    card = report.model_card.read_text(encoding="utf-8")
    assert "## Quantisation" in card and "int8" in card


def test_transformer_blocks_are_left_unquantised_and_still_run():
    project = load_template("transformer_classifier")
    from studio.compile.compiler import compile_graph

    module = compile_graph(project.main_graph).eval()
    _, samples = template_inputs(project)
    quantized = quantize_dynamic_int8(module)
    report = measure_quantization(module, quantized, samples)
    assert report.max_output_change < 0.1
    assert all(
        "quantized" not in type(m).__module__
        for name, m in quantized.named_modules()
        if ".self_attn" in name or ".linear1" in name
    )
