"""ONNX files for the importer tests: torch exports and hand-built graphs."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch
from onnx import TensorProto, helper, numpy_helper


def export_onnx(module: torch.nn.Module, path: Path, *, dynamo: bool = False) -> Path:
    """A torch export with a dynamic batch axis: the legacy (TorchScript) exporter by default,
    or the dynamo exporter as `studio export` runs it (opset 18, optimised)."""
    module.eval()
    example = torch.randn(*module.example_input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=["x"],
                output_names=["y"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                opset_version=18,
                optimize=True,
                verbose=False,
            )
            assert program is not None
            program.save(str(path), external_data=False)
            return path
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


def spelled_activation(path: Path, kind: str) -> Path:
    """x · g(x) written out in elementwise operators, as exporters spell GELU and SiLU.

    kinds: "gelu" (x · 0.5 · (1 + erf(x / √2)), the dynamo exporter's order), "gelu_scaled_last"
    ((x · (1 + erf(x / √2))) · 0.5, the TorchScript exporter's), "silu" (x · sigmoid(x)) and
    "x_tanh" (x · tanh(x), which no catalog activation is).
    """

    def const(name: str, value: float) -> onnx.TensorProto:
        return numpy_helper.from_array(torch.tensor(value).numpy(), name)

    inner = {
        "gelu": [
            helper.make_node("Div", ["h", "sqrt2"], ["d"]),
            helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["p"]),
            helper.make_node("Mul", ["half", "p"], ["g"]),
            helper.make_node("Mul", ["h", "g"], ["a"]),
        ],
        "gelu_scaled_last": [
            helper.make_node("Div", ["h", "sqrt2"], ["d"]),
            helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["p"]),
            helper.make_node("Mul", ["h", "p"], ["q"]),
            helper.make_node("Mul", ["q", "half"], ["a"]),
        ],
        "silu": [
            helper.make_node("Sigmoid", ["h"], ["s"]),
            helper.make_node("Mul", ["s", "h"], ["a"]),
        ],
        "x_tanh": [
            helper.make_node("Tanh", ["h"], ["t"]),
            helper.make_node("Mul", ["h", "t"], ["a"]),
        ],
    }[kind]
    weight = numpy_helper.from_array(torch.randn(4, 6).numpy(), "w")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="/fc/MatMul"),
            *inner,
            helper.make_node("Relu", ["a"], ["y"], name="/out/Relu"),
        ],
        kind,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 6])],
        [weight, const("sqrt2", 2**0.5), const("one", 1.0), const("half", 0.5)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    return path


def unsupported_model(path: Path) -> Path:
    """Relu → Sin (no catalog layer) → Mod by a constant (no catalog layer) → Relu."""
    scale = numpy_helper.from_array(torch.full((1,), 2.0).numpy(), "scale")
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["a"], name="first_relu"),
            helper.make_node("Sin", ["a"], ["b"], name="wave"),
            helper.make_node("Mod", ["b", "scale"], ["c"], name="double", fmod=1),
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
