"""ONNX files for the importer tests: torch exports and hand-built graphs."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch
from onnx import TensorProto, helper, numpy_helper


def export_onnx(module: torch.nn.Module, path: Path) -> Path:
    """The legacy (TorchScript-based) exporter: offline, and a dynamic batch axis."""
    module.eval()
    example = torch.randn(*module.example_input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
        )
    return path


def unsupported_model(path: Path) -> Path:
    """Relu → Sin (no catalog layer) → Mul by a constant (no catalog layer) → Relu."""
    scale = numpy_helper.from_array(torch.full((1,), 2.0).numpy(), "scale")
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["a"], name="first_relu"),
            helper.make_node("Sin", ["a"], ["b"], name="wave"),
            helper.make_node("Mul", ["b", "scale"], ["c"], name="double"),
            helper.make_node("Relu", ["c"], ["y"], name="last_relu"),
        ],
        "unsupported",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [scale],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    return path
