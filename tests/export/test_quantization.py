"""Dynamic int8 quantisation: applied where it can be, its effect measured and reported."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from studio.export.quantization import measure_quantization, quantize_dynamic_int8
from studio.export.run_export import export_trained_run
from studio.training.trained import TrainedRun, trained_model
from tests.export.conftest import load_template, template_inputs


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_quantised_export_reports_output_and_accuracy_change(
    trained_mlp: TrainedRun, out_dir: Path, seed: None
):
    report = export_trained_run(trained_mlp, ["torchscript", "onnx"], out_dir, quantize=True)
    quantization = report.quantization
    assert quantization is not None
    assert quantization.quantized_layers == 3  # hidden1, hidden2, classifier
    assert 0 < quantization.max_output_change < 0.1  # logits; 0.066 with these weights
    script, onnx = report.results
    assert script.ok and script.path is not None, script.describe()
    # Measured on the whole test split: the float model's accuracy is the app's, and the
    # quantised one's is what the written TorchScript file scores.
    test = trained_mlp.data.test
    inputs, labels = test[torch.arange(len(test))]
    with torch.no_grad():
        app = trained_model(trained_mlp)(inputs).argmax(dim=-1)
        written = torch.jit.load(str(script.path))(inputs).argmax(dim=-1)
    assert quantization.accuracy_before == pytest.approx(float((app == labels).float().mean()))
    assert quantization.accuracy_after == pytest.approx(float((written == labels).float().mean()))
    assert quantization.accuracy_before >= 0.8  # trained: far above chance (1/3)
    change = quantization.accuracy_change
    assert change is not None and abs(change) <= 1 / len(test)  # one sample at most
    assert f"{quantization.accuracy_before:.2%} → " in quantization.describe()
    assert not onnx.ok and onnx.stage == "check" and "quantised" in onnx.reason
    assert report.model_card is not None
    card = report.model_card.read_text(encoding="utf-8")
    assert "## Quantisation" in card and quantization.describe() in card


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
