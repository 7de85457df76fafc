"""Tensor operations: broadcasting as torch does, several output ports, per-model tensors.

The module classes of `studio.layers.modules_ops` are held to the same standard as those of
`studio.layers.modules` (TorchScript, torch.fx leaf call, torch.export with a dynamic batch,
their copied source alone), and a class-token graph (a Parameter joined to a batch of patches)
compiles, generates code equal to the GraphModule, exports to ONNX and trains.
"""

from __future__ import annotations

import inspect
import io
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn

from studio.compile.codegen import generate_code
from studio.compile.compiler import compile_graph
from studio.compile.inference import infer_shapes
from studio.compile.summary import summarize
from studio.core.errors import GraphEditError
from studio.core.graph import Graph
from studio.core.shapes import ShapeError, TensorShape
from studio.layers import CATALOG, load_builder, load_shape_rule
from studio.layers import modules_ops as ops
from studio.plugins import default_registry

SPECS = {spec.type_id: spec for spec in CATALOG}
BATCH = 3  # no sample size below is 3, so torch cannot line the batch up by coincidence

# --- broadcasting ------------------------------------------------------------------------------

SAMPLE_SHAPES = [(4,), (1,), (2, 4), (2, 1), (1, 4), (5, 2, 4), (5, 1, 1)]
OPERANDS = [TensorShape(dims) for dims in SAMPLE_SHAPES] + [
    TensorShape(dims, batched=False) for dims in SAMPLE_SHAPES[:5]
]
PAIRS = list(itertools.product(OPERANDS, repeat=2))
TORCH_OPS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "studio.Add": torch.add,
    "studio.Multiply": torch.mul,
    "studio.Subtract": torch.sub,
    "studio.Divide": torch.div,
}


def _full(shape: TensorShape) -> torch.Tensor:
    return torch.randn(BATCH if shape.batched else 1, *shape.dims)


def _predicted(type_id: str, shapes: list[TensorShape]) -> TensorShape | str:
    spec = SPECS[type_id]
    rule = load_shape_rule(spec)
    assert rule is not None
    params = spec.validate_params({"inputs": len(shapes)} if spec.variadic_inputs else {})
    try:
        return rule(params, shapes)[0]
    except ShapeError as exc:
        return str(exc)


@pytest.mark.parametrize("type_id", TORCH_OPS)
def test_elementwise_rules_broadcast_as_torch_does(type_id: str) -> None:
    """Where the rule accepts, torch gives that shape; where it refuses, torch fails too,
    except where torch would line one input's batch up with another's sample dimension."""
    for a, b in PAIRS:
        predicted = _predicted(type_id, [a, b])
        try:
            out = TORCH_OPS[type_id](_full(a), _full(b))
        except RuntimeError:
            assert isinstance(predicted, str), (a, b)
            continue
        if isinstance(predicted, str):
            assert "line its batch up" in predicted, (a, b, predicted)
            continue
        batched = a.batched or b.batched
        assert out.shape[0] == (BATCH if batched else 1), (a, b)
        assert predicted == TensorShape(tuple(out.shape[1:]), "float", batched), (a, b)


def test_a_per_model_tensor_spreads_over_the_batch() -> None:
    bias = TensorShape((1, 4), batched=False)
    assert _predicted("studio.Add", [TensorShape((6, 4)), bias]) == TensorShape((6, 4))
    model = load_builder(SPECS["studio.Add"])({"inputs": 2}, [TensorShape((6, 4)), bias])
    x, b = torch.randn(BATCH, 6, 4), torch.randn(1, 1, 4)
    torch.testing.assert_close(model(x, b), x + b)


def test_add_of_long_ids_stays_long_and_divide_gives_floats() -> None:
    ids = TensorShape((5,), "long")
    assert _predicted("studio.Add", [ids, ids]) == ids
    assert _predicted("studio.Divide", [ids, ids]) == TensorShape((5,), "float")


def test_matmul_names_the_sizes_that_must_agree() -> None:
    message = _predicted("studio.MatMul", [TensorShape((4, 8)), TensorShape((5, 3))])
    assert message == (
        "MatMul multiplies (N, 4, 8) by (N, 5, 3): the first's last size (8) must equal the "
        "second's second-to-last (5). Insert Transpose or Linear on a branch so they match."
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (TensorShape((4, 8)), TensorShape((8, 3))),
        (TensorShape((2, 4, 8)), TensorShape((1, 8, 3))),
        (TensorShape((4, 8)), TensorShape((8, 3), batched=False)),
        (TensorShape((1, 8), batched=False), TensorShape((2, 8, 5))),
    ],
    ids=str,
)
def test_matmul_follows_torch_matmul(first: TensorShape, second: TensorShape) -> None:
    predicted = _predicted("studio.MatMul", [first, second])
    out = torch.matmul(_full(first), _full(second))
    assert predicted == TensorShape(tuple(out.shape[1:]), "float", out.shape[0] == BATCH)


@pytest.mark.parametrize(
    ("equation", "shapes", "words"),
    [
        ("ij,jk", [(4, 8), (8, 3)], "after '->'"),
        ("...ij,jk->ik", [(4, 8), (8, 3)], "after '->'"),
        ("ij,jk->ik", [(4, 8), (7, 3)], "letter 'j' stands for sizes 8 and 7"),
        ("ijk,jk->ik", [(4, 8), (8, 3)], "names 3 dimensions"),
        ("ij,jk->iq", [(4, 8), (8, 3)], "only letters of its inputs"),
        ("ij->i", [(4, 8), (8, 3)], "names 1 operand"),
    ],
)
def test_einsum_checks_its_equation(
    equation: str, shapes: list[tuple[int, ...]], words: str
) -> None:
    spec = SPECS["studio.Einsum"]
    params = spec.validate_params({"equation": equation})
    with pytest.raises(ShapeError, match=words.replace("(", r"\(").replace(".", r"\.")):
        load_builder(spec)(params, [TensorShape(s) for s in shapes])


def test_einsum_matches_torch_per_sample() -> None:
    spec = SPECS["studio.Einsum"]
    params = spec.validate_params({"equation": "id,jd->ij"})
    module = load_builder(spec)(params, [TensorShape((5, 6)), TensorShape((7, 6))])
    a, b = torch.randn(BATCH, 5, 6), torch.randn(BATCH, 7, 6)
    torch.testing.assert_close(module(a, b), a @ b.transpose(1, 2))


# --- several outputs ---------------------------------------------------------------------------


def test_split_has_one_port_per_size_and_chunk_one_per_chunk() -> None:
    split, chunk = SPECS["studio.Split"], SPECS["studio.Chunk"]
    assert [p.name for p in split.output_ports({"sizes": (2, 3, 1)})] == ["out1", "out2", "out3"]
    assert [p.name for p in split.output_ports({})] == ["out1", "out2"]
    assert [p.name for p in chunk.output_ports({"chunks": 4})] == ["out1", "out2", "out3", "out4"]


@pytest.mark.parametrize(
    ("type_id", "params", "words"),
    [
        ("studio.Split", {"sizes": (2, 2)}, "add up to 4, but dim 1 of its input (N, 6, 4)"),
        ("studio.Chunk", {"chunks": 4}, "into 4 pieces: torch makes pieces of 2, which gives 3"),
        ("studio.Slice", {"start": 6}, "keeps nothing"),
        ("studio.Index", {"indices": (0, 6)}, "include 6"),
        ("studio.Select", {"index": -7}, "outside dim 1"),
        ("studio.Squeeze", {}, "size 6"),
        ("studio.Expand", {"sizes": (6, 5)}, "only repeat dimensions of size 1"),
        ("studio.Max", {"dims": (1, -2)}, "same dimension twice"),
        ("studio.Clamp", {}, "needs a min, a max or both"),
        ("studio.Clamp", {"min": 2.0, "max": 1.0}, "above its max"),
        ("studio.Transpose", {"dim0": 0}, "would be the batch"),
    ],
)
def test_bad_settings_are_problems_in_words(
    type_id: str, params: dict[str, Any], words: str
) -> None:
    graph = Graph(default_registry())
    source = graph.add_node("studio.Input", params={"shape": (6, 4)})
    node = graph.add_node(type_id, params=params)
    graph.connect(source.id, "out", node.id, "in")
    problems = [p for p in infer_shapes(graph).errors() if p.node_id == node.id]
    assert len(problems) == 1
    assert problems[0].message[0].isupper() and problems[0].message.endswith(".")
    assert words in problems[0].message, problems[0].message


def _split_graph() -> tuple[Graph, str]:
    graph = Graph(default_registry())
    source = graph.add_node("studio.Input", params={"shape": (6, 4)})
    split = graph.add_node("studio.Split", name="split", params={"sizes": (1, 2, 3)})
    graph.connect(source.id, "out", split.id, "in")
    for port in ("out1", "out3"):
        sink = graph.add_node("studio.Output", name=f"y_{port}")
        graph.connect(split.id, port, sink.id, "in")
    return graph, split.id


def test_an_edit_that_would_drop_a_connected_output_is_refused() -> None:
    graph, split = _split_graph()
    with pytest.raises(GraphEditError, match=r"split\.out3 is connected"):
        graph.set_param(split, "sizes", (3, 3))
    graph.set_param(split, "sizes", (1, 1, 4))  # same ports: allowed
    chunk_graph = Graph(default_registry())
    source = chunk_graph.add_node("studio.Input", params={"shape": (6, 4)})
    chunk = chunk_graph.add_node("studio.Chunk", name="chunk", params={"chunks": 3})
    chunk_graph.connect(source.id, "out", chunk.id, "in")
    sink = chunk_graph.add_node("studio.Output")
    chunk_graph.connect(chunk.id, "out3", sink.id, "in")
    with pytest.raises(GraphEditError, match=r"chunk\.out3 is connected"):
        chunk_graph.set_param(chunk.id, "chunks", 2)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_a_model_with_split_scripts_with_torchscript() -> None:
    graph, _ = _split_graph()
    model = compile_graph(graph).eval()
    x = torch.randn(BATCH, 6, 4)
    for got, expected in zip(torch.jit.script(model)(x), model(x), strict=True):
        torch.testing.assert_close(got, expected)


def test_split_outputs_compile_and_generate_the_same_model() -> None:
    graph, _ = _split_graph()
    model = compile_graph(graph)
    x = torch.randn(BATCH, 6, 4)
    first, last = model(x)
    torch.testing.assert_close(first, x[:, :1])
    torch.testing.assert_close(last, x[:, 3:])
    namespace: dict[str, Any] = {}
    exec(compile(generate_code(graph), "generated.py", "exec"), namespace)
    written = namespace["build_model"]()
    for got, expected in zip(written(x), model(x), strict=True):
        torch.testing.assert_close(got, expected)


# --- a class token: a per-model Parameter joined to a batch ------------------------------------


def _class_token_graph() -> Graph:
    graph = Graph(default_registry())
    patches = graph.add_node("studio.Input", name="patches", params={"shape": (4, 8)})
    token = graph.add_node(
        "studio.Parameter", name="cls_token", params={"shape": (1, 8), "init": "normal"}
    )
    positions = graph.add_node(
        "studio.Constant", name="positions", params={"shape": (5, 8), "kind": "sinusoidal"}
    )
    join = graph.add_node("studio.Concat", name="join", params={"dim": 1})
    add = graph.add_node("studio.Add", name="add")
    first = graph.add_node("studio.Select", name="first", params={"dim": 1, "index": 0})
    head = graph.add_node("studio.Linear", name="head", params={"out_features": 2})
    out = graph.add_node("studio.Output", name="y")
    graph.connect(token.id, "out", join.id, "in1")
    graph.connect(patches.id, "out", join.id, "in2")
    graph.connect(join.id, "out", add.id, "in1")
    graph.connect(positions.id, "out", add.id, "in2")
    graph.connect(add.id, "out", first.id, "in")
    graph.connect(first.id, "out", head.id, "in")
    graph.connect(head.id, "out", out.id, "in")
    return graph


def test_class_token_graph_infers_compiles_and_generates_the_same_model() -> None:
    graph = _class_token_graph()
    inference = infer_shapes(graph)
    assert inference.errors() == []
    by_name = {node.name: node.id for node in graph.nodes}
    assert str(inference.output_shape(by_name["cls_token"])) == "(1, 1, 8)"
    assert str(inference.output_shape(by_name["join"])) == "(N, 5, 8)"
    torch.manual_seed(0)
    model = compile_graph(graph)
    x = torch.randn(BATCH, 4, 8)
    joined = torch.cat([model.cls_token.weight.expand(BATCH, -1, -1), x], dim=1)
    expected = model.head((joined + model.positions.value)[:, 0])
    torch.testing.assert_close(model(x), expected)
    namespace: dict[str, Any] = {}
    exec(compile(generate_code(graph), "generated.py", "exec"), namespace)
    written = namespace["build_model"]()
    written.load_state_dict(model.state_dict())
    torch.testing.assert_close(written(x), model(x))
    rows = {row.name: row for row in summarize(graph, batch_size=BATCH).rows}
    assert rows["cls_token"].params == 8 and rows["cls_token"].output_shape == "(1, 1, 8)"


def test_class_token_graph_trains_and_exports_to_onnx() -> None:
    torch.manual_seed(0)
    model = compile_graph(_class_token_graph())
    x, target = torch.randn(16, 4, 8), torch.randint(0, 2, (16,))
    before = model.cls_token.weight.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(8):
        loss = nn.functional.cross_entropy(model(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert not torch.equal(model.cls_token.weight, before)
    buffer = io.BytesIO()
    torch.onnx.export(
        model.eval(),
        (x,),
        buffer,
        dynamo=False,
        input_names=["patches"],
        output_names=["y"],
        dynamic_axes={"patches": {0: "batch"}},
    )
    import onnxruntime

    session = onnxruntime.InferenceSession(buffer.getvalue())
    other = torch.randn(5, 4, 8)
    (got,) = session.run(None, {"patches": other.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), model(other).detach(), rtol=1e-5, atol=1e-5)


def test_stack_repeats_a_per_model_input_over_the_batch() -> None:
    spec = SPECS["studio.Stack"]
    shapes = [TensorShape((4,)), TensorShape((4,), batched=False)]
    assert _predicted("studio.Stack", shapes) == TensorShape((2, 4))
    module = load_builder(spec)(spec.validate_params({}), shapes)
    x, p = torch.randn(BATCH, 4), torch.randn(1, 4)
    torch.testing.assert_close(module(x, p), torch.stack([x, p.expand(BATCH, 4)], dim=1))


def test_old_mean_with_one_dim_loads_and_dims_reduce_several() -> None:
    spec = SPECS["studio.Mean"]
    shape = [TensorShape((4, 5, 6))]
    old = load_builder(spec)(spec.validate_params({"dim": 2}), shape)
    assert repr(old) == "Mean(dim=2, keepdim=False)"
    several = load_builder(spec)(spec.validate_params({"dims": (2, 3), "keepdim": True}), shape)
    x = torch.randn(BATCH, 4, 5, 6)
    torch.testing.assert_close(several(x), x.mean(dim=(2, 3), keepdim=True))


# --- the module classes, as `tests/layers/test_layer_modules.py` holds the others -------------


@dataclass(frozen=True)
class Case:
    cls: type[nn.Module]
    args: tuple[Any, ...]
    inputs: Callable[[int], tuple[torch.Tensor, ...]]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make(self, cls: type[nn.Module] | None = None) -> nn.Module:
        return (cls or self.cls)(*self.args, **self.kwargs)


def _floats(*dims: int, count: int = 1) -> Callable[[int], tuple[torch.Tensor, ...]]:
    return lambda batch: tuple(torch.rand(batch, *dims) + 0.1 for _ in range(count))


def _none(batch: int) -> tuple[torch.Tensor, ...]:
    return ()


CASES: dict[str, Case] = {
    "Subtract": Case(ops.Subtract, (), _floats(4, 5, count=2)),
    "Divide": Case(ops.Divide, (), _floats(4, 5, count=2)),
    "Scale": Case(ops.Scale, (0.5,), _floats(4)),
    "Shift": Case(ops.Shift, (-2.0,), _floats(4)),
    "Pow": Case(ops.Pow, (3.0,), _floats(4)),
    "Exp": Case(ops.Exp, (), _floats(4)),
    "Log": Case(ops.Log, (), _floats(4)),
    "Sqrt": Case(ops.Sqrt, (), _floats(4)),
    "Abs": Case(ops.Abs, (), _floats(4)),
    "Clamp": Case(ops.Clamp, (), _floats(4), {"min": 0.3, "max": 0.6}),
    "Clamp-min": Case(ops.Clamp, (), _floats(4), {"min": 0.3}),
    "MatMul": Case(ops.MatMul, (), lambda b: (torch.randn(b, 4, 8), torch.randn(b, 8, 3))),
    "ScaledDotProductAttention": Case(
        ops.ScaledDotProductAttention,
        (True,),
        lambda b: (torch.randn(b, 2, 5, 4), torch.randn(b, 2, 5, 4), torch.randn(b, 2, 5, 3)),
    ),
    "ScaledDotProductAttention-scale": Case(
        ops.ScaledDotProductAttention, (False, 0.0, 0.25), _floats(5, 4, count=3)
    ),
    "Einsum": Case(ops.Einsum, ("ij,kj->ik",), _floats(4, 8, count=2)),
    "Einsum-one": Case(ops.Einsum, ("ld->d",), _floats(4, 8)),
    "Split": Case(ops.Split, ((2, 4), 1), _floats(6, 2)),
    "Chunk": Case(ops.Chunk, (3, -1), _floats(2, 7)),
    "Stack": Case(ops.Stack, (), _floats(4, count=3), {"dim": 2}),
    "Slice": Case(ops.Slice, (1,), _floats(9, 2), {"start": 1, "end": -2, "step": 2}),
    "Slice-to-end": Case(ops.Slice, (-1,), _floats(2, 9), {"start": -4}),
    "Index": Case(ops.Index, (1, (3, 0, 3)), _floats(5, 2)),
    "Select": Case(ops.Select, (2, -1), _floats(3, 4)),
    "Transpose": Case(ops.Transpose, (1, 2), _floats(3, 4)),
    "Squeeze": Case(ops.Squeeze, (1,), _floats(1, 4)),
    "Unsqueeze": Case(ops.Unsqueeze, (-1,), _floats(4)),
    "Expand": Case(ops.Expand, ((5, -1),), _floats(1, 4)),
    "Max": Case(ops.Max, ((1, 2),), _floats(3, 4, 2), {"keepdim": True}),
    "Min": Case(ops.Min, (-1,), _floats(3, 4)),
    "LearnedTensor": Case(ops.LearnedTensor, ((2, 3),), _none, {"init": "normal"}),
    "ConstantTensor": Case(ops.ConstantTensor, ((4, 6),), _none, {"kind": "sinusoidal"}),
    "ConstantTensor-arange": Case(ops.ConstantTensor, ((4, 6),), _none, {"kind": "arange"}),
}
MODULE_CLASSES = {
    cls
    for _, cls in inspect.getmembers(ops, inspect.isclass)
    if issubclass(cls, nn.Module) and cls.__module__ == ops.__name__
}


def _pair(name: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    case = CASES[name]
    return case.make().eval(), case.inputs(3)


def _close(got: Any, expected: Any) -> None:
    """Split and Chunk give a list under TorchScript, a tuple in Python: the same tensors."""
    torch.testing.assert_close(tuple(got) if isinstance(got, list) else got, expected)


def test_every_module_class_has_a_case() -> None:
    assert {case.cls for case in CASES.values()} == MODULE_CLASSES


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", CASES)
def test_scripts_with_torchscript(name: str) -> None:
    module, inputs = _pair(name)
    _close(torch.jit.script(module)(*inputs), module(*inputs))


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.inputs is not _none])
def test_exports_with_a_dynamic_batch(name: str) -> None:
    module, inputs = _pair(name)
    batch = torch.export.Dim("batch", min=2)
    exported = torch.export.export(module, inputs, dynamic_shapes=tuple({0: batch} for _ in inputs))
    other = CASES[name].inputs(5)
    _close(exported.module()(*other), module(*other))


class _LeafTracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return True


@pytest.mark.parametrize("name", CASES)
def test_runs_as_an_fx_leaf_call(name: str) -> None:
    module, inputs = _pair(name)
    graph = torch.fx.Graph()
    args = tuple(graph.placeholder(f"x{i}") for i in range(1, len(inputs) + 1))
    graph.output(graph.call_module("layer", args))
    built = torch.fx.GraphModule({"layer": module}, graph)
    retraced = torch.fx.GraphModule(built, _LeafTracer().trace(built))
    _close(retraced(*inputs), module(*inputs))


@pytest.mark.parametrize("name", CASES)
def test_class_source_runs_on_its_own(name: str) -> None:
    case = CASES[name]
    source = compile(inspect.getsource(case.cls), f"<generated {name}>", "exec", dont_inherit=True)
    namespace: dict[str, Any] = {"math": math, "torch": torch, "nn": nn}
    exec(source, namespace)
    module, inputs = _pair(name)
    standalone = case.make(namespace[case.cls.__name__]).eval()
    standalone.load_state_dict(module.state_dict())
    _close(standalone(*inputs), module(*inputs))


def test_constant_tables() -> None:
    arange = ops.ConstantTensor((2, 3), kind="arange", dim=2).value
    assert arange.tolist() == [[[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]]
    table = ops.ConstantTensor((4, 6), kind="sinusoidal").value[0]
    pos, i = 3, 2
    torch.testing.assert_close(
        table[pos, 2 * i], torch.tensor(math.sin(pos / 10000 ** (2 * i / 6)))
    )
    assert ops.ConstantTensor((2,), kind="fill", value=1.5).state_dict() == {}
    assert list(ops.ConstantTensor((2,), kind="values").state_dict()) == ["value"]
