"""ONNX models with an `If` on a constant condition, and with float64 inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs
from studio.importers.mapping import UnsupportedModelError
from studio.importers.onnx_import import import_onnx_model

pytestmark = pytest.mark.timeout(60)


def _model(
    nodes: list[Any],
    inputs: list[Any],
    output: tuple[int, int],
    initializers: tuple[Any, ...] = (),
) -> Any:
    elem_type, width = output
    graph = helper.make_graph(
        nodes,
        "branches",
        inputs,
        [helper.make_tensor_value_info("y", elem_type, ["N", width])],
        initializer=list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _branch(op: str, name: str) -> Any:
    return helper.make_graph(
        [helper.make_node(op, ["x"], [f"{name}_out"], name=f"{name}_{op}")],
        name,
        [],
        [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, ["N", 4])],
    )


def _if_model(condition: Any) -> Any:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    nodes = [
        *condition,
        helper.make_node(
            "If",
            ["flag"],
            ["y"],
            name="choose",
            then_branch=_branch("Relu", "then"),
            else_branch=_branch("Sigmoid", "else"),
        ),
    ]
    return _model(nodes, [x], (TensorProto.FLOAT, 4))


def _constant_flag(value: bool) -> list[Any]:
    tensor = numpy_helper.from_array(np.array(value), "flag_value")
    return [helper.make_node("Constant", [], ["flag"], name="flag", value=tensor)]


def _types(imported: Any) -> list[str]:
    return [n.type_id.removeprefix("studio.") for n in imported.project.main_graph.nodes]


@pytest.mark.parametrize(("flag", "layer"), [(True, "ReLU"), (False, "Sigmoid")])
def test_if_on_a_constant_is_its_taken_branch(
    registry: LayerRegistry, flag: bool, layer: str
) -> None:
    imported = import_onnx_model(_if_model(_constant_flag(flag)), registry)
    assert _types(imported) == ["Input", layer, "Output"]
    check_outputs(imported)


def test_if_on_a_computed_condition_is_refused(registry: LayerRegistry) -> None:
    """The branch depends on the input's values: the first op computing the condition is
    named (the If after it is not inlined, and not blamed for its input)."""
    computed = [
        helper.make_node("ReduceSum", ["x"], ["total"], name="total", keepdims=0),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.float32(0))),
        helper.make_node("Greater", ["total", "zero"], ["flag"], name="positive"),
    ]
    with pytest.raises(UnsupportedModelError) as caught:
        import_onnx_model(_if_model(computed), registry)
    assert "total (ReduceSum) at ONNX node 'total'" in str(caught.value)


def test_float64_input_cast_to_float_imports_as_float(registry: LayerRegistry) -> None:
    rng = np.random.default_rng(1)
    weight = numpy_helper.from_array(rng.standard_normal((2, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.standard_normal(2).astype(np.float32), "b")
    nodes = [
        helper.make_node("Cast", ["x"], ["x32"], name="to_float", to=TensorProto.FLOAT),
        helper.make_node("Gemm", ["x32", "w", "b"], ["fc"], name="fc", transB=1),
        helper.make_node("Tanh", ["fc"], ["y"], name="tanh"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 3])
    model = _model(nodes, [x], (TensorProto.FLOAT, 2), (weight, bias))
    imported = import_onnx_model(model, registry)
    assert _types(imported) == ["Input", "Linear", "Tanh", "Output"]
    (node,) = [n for n in imported.project.main_graph.nodes if n.type_id == "studio.Input"]
    assert node.params["dtype"] == "float"
    assert imported.example_inputs[0].dtype.is_floating_point
    assert check_outputs(imported) < 1e-5


def test_float64_throughout_imports(registry: LayerRegistry) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 5])
    imported = import_onnx_model(
        _model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [x], (TensorProto.DOUBLE, 5)),
        registry,
    )
    assert _types(imported) == ["Input", "ReLU", "Output"]
    check_outputs(imported)
