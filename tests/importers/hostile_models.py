"""Hand-built ONNX models that attack the importer's example run: loops, sizes, domains."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]
WIDTH = 4


def _model(
    nodes: list[onnx.NodeProto],
    initializers: list[onnx.TensorProto] | None = None,
    *,
    input_shape: list[int | str] | None = None,
    output: str = "y",
    opset: list[onnx.OperatorSetIdProto] | None = None,
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape or ["batch", WIDTH])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["n", "m"])],
        initializers or [],
    )
    return helper.make_model(graph, opset_imports=opset or OPSET)


def _scalar(name: str, value: object, dtype: type) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def loop_body(width: int = WIDTH, matrix: bool = False, prefix: str = "") -> onnx.GraphProto:
    """One step: x ↦ tanh(x + 1) (or tanh(x · W) with `matrix`, a (width, width) weight);
    `prefix` names its values apart from an enclosing body's."""

    def named(name: str) -> str:
        return prefix + name

    step = (
        helper.make_node("MatMul", [named("x_in"), named("w")], [named("s")])
        if matrix
        else helper.make_node("Add", [named("x_in"), named("one")], [named("s")])
    )
    constant = (
        numpy_helper.from_array(np.full((width, width), 1 / width, np.float32), named("w"))
        if matrix
        else numpy_helper.from_array(np.ones((1, width), np.float32), named("one"))
    )
    return helper.make_graph(
        [
            helper.make_node("Identity", [named("cond_in")], [named("cond_out")]),
            step,
            helper.make_node("Tanh", [named("s")], [named("x_out")]),
        ],
        "body",
        [
            helper.make_tensor_value_info(named("i"), TensorProto.INT64, []),
            helper.make_tensor_value_info(named("cond_in"), TensorProto.BOOL, []),
            helper.make_tensor_value_info(named("x_in"), TensorProto.FLOAT, [1, width]),
        ],
        [
            helper.make_tensor_value_info(named("cond_out"), TensorProto.BOOL, []),
            helper.make_tensor_value_info(named("x_out"), TensorProto.FLOAT, [1, width]),
        ],
        [constant],
    )


def loop_node(trip: str, output: str = "y", body: onnx.GraphProto | None = None) -> onnx.NodeProto:
    return helper.make_node(
        "Loop", [trip, "cond", "x"], [output], name="loop", body=body or loop_body()
    )


def counted_loop(trips: int, *, width: int = WIDTH, matrix: bool = False) -> onnx.ModelProto:
    """x run through a Loop of `trips` iterations, its trip count a constant."""
    return _model(
        [loop_node("trips", body=loop_body(width, matrix))],
        [_scalar("trips", trips, np.int64), _scalar("cond", True, np.bool_)],
        input_shape=[1, width],
    )


def unbounded_loop() -> onnx.ModelProto:
    """A Loop with no trip count: it runs while its condition (always true) holds."""
    return _model([loop_node("")], [_scalar("cond", True, np.bool_)], input_shape=[1, WIDTH])


def computed_trip_count() -> onnx.ModelProto:
    """A Loop whose trip count is the input's size, known only once the model runs."""
    return _model(
        [helper.make_node("Size", ["x"], ["n"]), loop_node("n")],
        [_scalar("cond", True, np.bool_)],
        input_shape=[1, WIDTH],
    )


def branching(then_branch: onnx.GraphProto) -> onnx.ModelProto:
    """An `If` on a constant true whose other branch passes `x` through."""
    else_branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, ["n", "m"])],
    )
    return _model(
        [
            helper.make_node(
                "If",
                ["cond"],
                ["y"],
                name="branch",
                then_branch=then_branch,
                else_branch=else_branch,
            )
        ],
        [_scalar("cond", True, np.bool_)],
        input_shape=[1, WIDTH],
    )


def loop_in_branch(trips: int) -> onnx.ModelProto:
    """An If whose then-branch holds a Loop of `trips` iterations (a nested subgraph)."""
    then_branch = helper.make_graph(
        [loop_node("trips", output="t")],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, ["n", "m"])],
        [_scalar("trips", trips, np.int64)],
    )
    return branching(then_branch)


def loop_in_loop(outer: int, inner: int) -> onnx.ModelProto:
    """A Loop whose body runs another Loop on its value: the two counts multiply."""
    body = loop_body()
    inner_loop = helper.make_node(
        "Loop",
        ["inner_trips", "cond", "x_in"],
        ["x_inner"],
        name="inner",
        body=loop_body(prefix="inner_"),
    )
    body.node.insert(1, inner_loop)
    body.node[2].input[0] = "x_inner"
    body.initializer.extend([_scalar("inner_trips", inner, np.int64)])
    return _model(
        [loop_node("trips", body=body)],
        [_scalar("trips", outer, np.int64), _scalar("cond", True, np.bool_)],
        input_shape=[1, WIDTH],
    )


def scan_in_branch() -> onnx.ModelProto:
    """An If whose branch scans the input's non-zero positions: how many is known only once
    the model runs."""
    scan_body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "e_in"], ["s_out"])],
        "scan_body",
        [
            helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("e_in", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [2])],
    )
    then_branch = helper.make_graph(
        [
            helper.make_node("NonZero", ["x"], ["picked"]),
            helper.make_node("Cast", ["picked"], ["positions"], to=TensorProto.FLOAT),
            helper.make_node(
                "Scan",
                ["start", "positions"],
                ["total"],
                name="scan",
                body=scan_body,
                num_scan_inputs=1,
                scan_input_axes=[1],
            ),
            helper.make_node("Reshape", ["total", "row"], ["t"]),
        ],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, ["n", "m"])],
        [
            numpy_helper.from_array(np.zeros((2,), np.float32), "start"),
            numpy_helper.from_array(np.array([1, 2], np.int64), "row"),
        ],
    )
    return branching(then_branch)


def huge_input() -> onnx.ModelProto:
    """An input declared 1×30000×30000 (3.4 GiB of float32) through one Relu."""
    return _model([helper.make_node("Relu", ["x"], ["y"])], input_shape=[1, 30000, 30000])


def constant_of_huge_shape() -> onnx.ModelProto:
    """A ConstantOfShape of 30000×30000 from a 16-byte constant, added to nothing useful."""
    return _model(
        [
            helper.make_node("ConstantOfShape", ["shape"], ["big"], name="fill"),
            helper.make_node("ReduceSum", ["big"], ["total"], keepdims=1),
            helper.make_node("Add", ["x", "total"], ["y"]),
        ],
        [numpy_helper.from_array(np.array([30000, 30000], np.int64), "shape")],
    )


def expand_to_computed_shape() -> onnx.ModelProto:
    """A 1×1 constant expanded to n×n, n read from the input's values: unknown before the run
    (the largest input value, 10⁹ say, would make 4 EiB)."""
    return _model(
        [
            helper.make_node("Cast", ["x"], ["as_int"], to=TensorProto.INT64),
            helper.make_node("ReduceMax", ["as_int"], ["top"], keepdims=0),
            helper.make_node("Reshape", ["top", "flat"], ["side"]),
            helper.make_node("Concat", ["side", "side"], ["dims"], axis=0),
            helper.make_node("Expand", ["one", "dims"], ["wide"], name="expand"),
            helper.make_node("ReduceSum", ["wide"], ["total"], keepdims=1),
            helper.make_node("Add", ["x", "total"], ["y"]),
        ],
        [
            numpy_helper.from_array(np.array([1], np.int64), "flat"),
            numpy_helper.from_array(np.ones((1, 1), np.float32), "one"),
        ],
    )


def custom_operator() -> onnx.ModelProto:
    """An operator of a domain other than ONNX's: onnxruntime's contrib ops, say."""
    return _model(
        [helper.make_node("FusedGemm", ["x", "x"], ["y"], name="fused", domain="com.microsoft")],
        opset=[*OPSET, helper.make_opsetid("com.microsoft", 1)],
    )


def external_weight(location: str, rows: int) -> onnx.ModelProto:
    """A MatMul by a (rows, WIDTH) weight whose data is in `location` beside the model."""
    weight = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[WIDTH, rows])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    return _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [weight])
