"""The custom modules survive every way a compiled model leaves the studio.

Each class in `studio.layers.modules` must script with TorchScript, trace with torch.fx as a
leaf call, export with torch.export while keeping the batch dynamic, and run from its own
source alone, since the code generator copies that source into standalone files.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn

from studio.layers import modules


@dataclass(frozen=True)
class ModuleCase:
    """A module's constructor call and example inputs (batch first) for it."""

    cls: type[nn.Module]
    args: tuple[Any, ...]
    inputs: Callable[[int], tuple[torch.Tensor, ...]]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make(self, cls: type[nn.Module] | None = None) -> nn.Module:
        return (cls or self.cls)(*self.args, **self.kwargs)


def _floats(*dims: int, count: int = 1) -> Callable[[int], tuple[torch.Tensor, ...]]:
    return lambda batch: tuple(torch.randn(batch, *dims) for _ in range(count))


CASES: dict[str, ModuleCase] = {
    "Add-2": ModuleCase(modules.Add, (), _floats(4, 5, count=2)),
    "Add-3": ModuleCase(modules.Add, (), _floats(4, 5, count=3)),
    "Multiply-3": ModuleCase(modules.Multiply, (), _floats(6, count=3)),
    "Concat-2": ModuleCase(modules.Concat, (1,), _floats(3, 2, count=2)),
    "Concat-4": ModuleCase(modules.Concat, (-1,), _floats(3, 2, count=4)),
    "Reshape": ModuleCase(modules.Reshape, ((4, -1),), _floats(2, 3, 4)),
    "Permute": ModuleCase(modules.Permute, ((3, 1, 2),), _floats(2, 3, 4)),
    "GlobalAvgPool": ModuleCase(modules.GlobalAvgPool, (), _floats(8, 5, 5)),
    "SelectLast": ModuleCase(modules.SelectLast, (), _floats(7, 3)),
    "Mean": ModuleCase(modules.Mean, (1,), _floats(7, 3), {"keepdim": True}),
    "Sum": ModuleCase(modules.Sum, (-1,), _floats(7, 3)),
    "Recurrent-LSTM-last-bi": ModuleCase(
        modules.Recurrent,
        ("LSTM", 3, 8),
        _floats(6, 3),
        {"num_layers": 2, "bidirectional": True, "output": "last"},
    ),
    "Recurrent-GRU-seq": ModuleCase(modules.Recurrent, ("GRU", 3, 8), _floats(6, 3)),
    "Recurrent-RNN-last": ModuleCase(
        modules.Recurrent, ("RNN", 3, 8), _floats(6, 3), {"output": "last"}
    ),
    "SelfAttention": ModuleCase(modules.SelfAttention, (8, 2), _floats(5, 8)),
    "PositionalEncoding-sinusoidal": ModuleCase(
        modules.PositionalEncoding, (7,), _floats(5, 7), {"max_len": 20}
    ),
    "PositionalEncoding-learned": ModuleCase(
        modules.PositionalEncoding, (8,), _floats(5, 8), {"max_len": 20, "kind": "learned"}
    ),
}

MODULE_CLASSES = [
    cls
    for _, cls in inspect.getmembers(modules, inspect.isclass)
    if issubclass(cls, nn.Module) and cls.__module__ == modules.__name__
]


def _pair(name: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    case = CASES[name]
    return case.make().eval(), case.inputs(3)


def test_every_module_class_has_a_case() -> None:
    covered = {case.cls for case in CASES.values()}
    assert covered == set(MODULE_CLASSES)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", CASES)
def test_scripts_with_torchscript(name: str) -> None:
    module, inputs = _pair(name)
    scripted = torch.jit.script(module)
    torch.testing.assert_close(scripted(*inputs), module(*inputs))


# nn.RNN/LSTM/GRU refresh `_flat_weights` in forward; torch.export warns and restores them
# (pytorch/pytorch#163809 made this a warning on purpose), so it says nothing about our code.
@pytest.mark.filterwarnings("ignore:The tensor attributes self.rnn._flat_weights:UserWarning")
@pytest.mark.parametrize("name", CASES)
def test_exports_with_a_dynamic_batch(name: str) -> None:
    module, inputs = _pair(name)
    batch = torch.export.Dim("batch", min=2)
    exported = torch.export.export(module, inputs, dynamic_shapes=tuple({0: batch} for _ in inputs))
    other = CASES[name].inputs(5)
    torch.testing.assert_close(exported.module()(*other), module(*other))


class _LeafTracer(torch.fx.Tracer):
    """Treats every module as a leaf, as the studio's compiler does with layer modules."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return True


@pytest.mark.parametrize("name", CASES)
def test_runs_as_an_fx_leaf_call(name: str) -> None:
    """A graph that calls the module, built by hand as the compiler does, then traced again."""
    module, inputs = _pair(name)
    graph = torch.fx.Graph()
    args = tuple(graph.placeholder(f"x{i}") for i in range(1, len(inputs) + 1))
    graph.output(graph.call_module("layer", args))
    built = torch.fx.GraphModule({"layer": module}, graph)
    retraced = torch.fx.GraphModule(built, _LeafTracer().trace(built))
    assert [node.op for node in retraced.graph.nodes].count("call_module") == 1
    torch.testing.assert_close(retraced(*inputs), module(*inputs))


@pytest.mark.parametrize("name", CASES)
def test_class_source_runs_on_its_own(name: str) -> None:
    """Generated code holds the copied class source next to only these three imports."""
    case = CASES[name]
    source = compile(inspect.getsource(case.cls), f"<generated {name}>", "exec", dont_inherit=True)
    namespace: dict[str, Any] = {"math": math, "torch": torch, "nn": nn}
    # Our own class source, run the way generated code runs it.
    exec(source, namespace)
    module, inputs = _pair(name)
    standalone = case.make(namespace[case.cls.__name__]).eval()
    standalone.load_state_dict(module.state_dict())
    torch.testing.assert_close(standalone(*inputs), module(*inputs))


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_last_is_the_final_hidden_state(mode: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    layer = modules.Recurrent(mode, 3, 4, num_layers=2, bidirectional=bidirectional, output="last")
    x = torch.randn(2, 6, 3)
    _, hidden = layer.rnn(x)
    h_n = hidden[0] if mode == "LSTM" else hidden
    directions = 2 if bidirectional else 1
    expected = torch.cat(list(h_n[-directions:]), dim=1)
    torch.testing.assert_close(layer(x), expected)


def test_sinusoidal_table_matches_the_paper() -> None:
    table = modules.PositionalEncoding(6, max_len=4).table
    pos, i = 3, 2
    torch.testing.assert_close(
        table[pos, 2 * i], torch.tensor(math.sin(pos / 10000 ** (2 * i / 6)))
    )
    torch.testing.assert_close(
        table[pos, 2 * i + 1], torch.tensor(math.cos(pos / 10000 ** (2 * i / 6)))
    )


def test_sinusoidal_table_is_not_saved() -> None:
    """It is recomputed on construction; saving it would bloat checkpoints."""
    assert modules.PositionalEncoding(8).state_dict() == {}
