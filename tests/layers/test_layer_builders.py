"""Every built-in layer builds under meta and on the CPU, runs on a real batch, and produces
exactly the shape its torch-free shape rule predicts."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from studio.core.shapes import TensorShape
from studio.layers import CATALOG, load_builder, load_shape_rule
from studio.layers.construct import constructor_of

from .layer_examples import EXAMPLES, Example

BATCH = 3
SPECS = {spec.type_id: spec for spec in CATALOG}
CASES = [
    pytest.param(type_id, example, id=f"{type_id.removeprefix('studio.')}-{index}")
    for type_id, examples in EXAMPLES.items()
    for index, example in enumerate(examples)
]
# Defined on part of the number line only: random inputs give NaN or inf, as in torch.
PARTIAL_FUNCTIONS = {"studio.Log", "studio.Sqrt", "studio.Divide"}
LAYER_CASES = [case for case in CASES if SPECS[case.values[0]].role == "layer"]


def _params(type_id: str, example: Example) -> dict[str, Any]:
    return SPECS[type_id].validate_params(example.params)


def _batch(example: Example, device: str) -> list[torch.Tensor]:
    batch = BATCH if example.batched else 1
    if example.dtype == "long":
        return [torch.randint(0, 10, (batch, *dims), device=device) for dims in example.inputs]
    return [torch.randn(batch, *dims, device=device) for dims in example.inputs]


def _shapes(result: torch.Tensor | tuple[torch.Tensor, ...], example: Example) -> list[TensorShape]:
    """The sample shapes of a module's output(s); a per-model result keeps its leading 1."""
    outputs = result if isinstance(result, tuple) else (result,)
    batch = BATCH if example.batched and example.out_batched else 1
    found = []
    for tensor in outputs:
        assert tensor.shape[0] == batch
        dtype = "float" if tensor.is_floating_point() else "long"
        found.append(TensorShape(tuple(tensor.shape[1:]), dtype, example.out_batched))
    return found


def test_every_layer_has_an_example() -> None:
    assert set(EXAMPLES) == set(SPECS)


@pytest.mark.parametrize(("type_id", "example"), LAYER_CASES)
def test_shape_rule_predicts_the_output(type_id: str, example: Example) -> None:
    rule = load_shape_rule(SPECS[type_id])
    assert rule is not None
    assert rule(_params(type_id, example), example.shapes()) == example.outputs()


@pytest.mark.parametrize(("type_id", "example"), CASES)
def test_builds_and_runs_under_meta(type_id: str, example: Example) -> None:
    """Shape inference may build and run layers on meta tensors: no memory, no compute."""
    builder = load_builder(SPECS[type_id])
    with torch.device("meta"):
        module = builder(_params(type_id, example), example.shapes())
    assert all(p.is_meta for p in module.parameters())
    assert _shapes(module(*_batch(example, "meta")), example) == example.outputs()


@pytest.mark.parametrize(("type_id", "example"), CASES)
def test_builds_and_runs_on_cpu(type_id: str, example: Example) -> None:
    module = load_builder(SPECS[type_id])(_params(type_id, example), example.shapes())
    result = module(*_batch(example, "cpu"))
    assert _shapes(result, example) == example.outputs()
    for out in result if isinstance(result, tuple) else (result,):
        partial = type_id in PARTIAL_FUNCTIONS
        assert partial or not out.is_floating_point() or bool(out.isfinite().all())


@pytest.mark.parametrize(("type_id", "example"), CASES)
def test_recorded_constructor_rebuilds_the_module(type_id: str, example: Example) -> None:
    """Code generation repeats the recorded call; it must give the same module."""
    module = load_builder(SPECS[type_id])(_params(type_id, example), example.shapes())
    recorded = constructor_of(module)
    assert recorded is not None and recorded.cls is type(module)
    again: nn.Module = recorded.cls(*recorded.args, **recorded.kwargs)
    assert repr(again) == repr(module)
    assert {k: v.shape for k, v in again.state_dict().items()} == {
        k: v.shape for k, v in module.state_dict().items()
    }
