"""Shape rules accept what torch accepts: each layer's rule, against its real torch module.

For every core and elementwise-family layer, every input rank (1 to 4 dims after the batch)
and both dtypes (with the defaults, and with each example's params where this family keeps the
rule), the rule refuses exactly when the torch module raises, and it warns exactly when
torch warns. Every size is 4, so the module built for one rank (channels, features: all 4) is
the same module torch would be handed at every other rank; a rank the rule refuses is tried
on the module the builder recorded for a rank it accepts.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from torch import nn

from studio.core.shapes import DType, ShapeError, TensorShape, collect_warnings
from studio.core.specs import LayerSpec
from studio.layers import catalog, catalog_elementwise, load_builder, load_shape_rule
from studio.layers.construct import constructor_of

from .layer_examples import EXAMPLES

SIZE = 4
BATCH = 3
RANKS = (1, 2, 3, 4)
DTYPES: tuple[DType, ...] = ("float", "long")
LAYERS = {
    spec.type_id: spec
    for spec in (*catalog._CORE, *catalog_elementwise.SPECS)
    if spec.role == "layer"
}

# torch reads a 2-D input to these as one unbatched sequence whose steps are the samples, so
# the samples would attend to (or carry state into) each other. The rules refuse it on purpose.
BATCH_MIXING = {
    ("studio.RNN", 1),
    ("studio.LSTM", 1),
    ("studio.GRU", 1),
    ("studio.TransformerEncoderLayer", 1),
}

# Where torch runs silently but the result is rarely what was meant, the rule still accepts and
# warns: Dropout1d on (N, C) takes the samples for the channels and zeroes whole samples.
# Linear on three or more dims after the batch (an image) mixes only the last one: a beginner
# almost always wanted Flatten first.
WARNS_WHERE_TORCH_DOES_NOT = {
    ("studio.Dropout1d", 1),
    ("studio.Linear", 3),
    ("studio.Linear", 4),
}

# Rules that still refuse what torch runs, each entry with the file to change; each entry fails
# (strict) once its rule accepts, and is then removed.
PENDING: dict[tuple[str, int, str], str] = {}


_OWN_RULES = ("activation", "normalization", "regularization", "recurrent", "io")


def _param_sets(spec: LayerSpec) -> list[dict[str, Any]]:
    """The defaults, and for the layers whose rules this family keeps, each example's params."""
    sets: list[dict[str, Any]] = [{}]
    rule_module = (spec.shape_rule or "").rsplit(":", 1)[0].rsplit(".", 1)[-1]
    if rule_module in _OWN_RULES:
        sets += [example.params for example in EXAMPLES[spec.type_id] if example.params]
    return sets


@functools.cache
def _template(type_id: str, which: int) -> nn.Module:
    """The module the builder makes for the first rank (and dtype) its rule accepts."""
    spec = LAYERS[type_id]
    for dtype in DTYPES:
        for rank in RANKS:
            try:
                return load_builder(spec)(_params(spec, which), _shapes(spec, rank, dtype))
            except ShapeError:
                continue
    raise AssertionError(f"{type_id} accepts no rank from 1 to 4")


def _params(spec: LayerSpec, which: int) -> dict[str, Any]:
    return spec.validate_params(_param_sets(spec)[which])


def _shapes(
    spec: LayerSpec, rank: int, dtype: DType = "float", which: int = 0
) -> list[TensorShape]:
    params = _params(spec, which)
    count = params[spec.variadic_inputs] if spec.variadic_inputs else len(spec.inputs)
    return [TensorShape((SIZE,) * rank, dtype)] * count


def _rule(
    spec: LayerSpec, which: int, shapes: list[TensorShape]
) -> tuple[list[TensorShape] | None, list[str]]:
    """The rule's output shapes (None when it refuses) and its warnings."""
    rule = load_shape_rule(spec)
    assert rule is not None
    with collect_warnings() as notes:
        try:
            return rule(_params(spec, which), shapes), notes
        except ShapeError:
            return None, notes


def _torch(
    spec: LayerSpec, which: int, shapes: list[TensorShape], accepted: bool
) -> tuple[Any, list[str]]:
    """The module's output (None when it or the builder raises) and torch's warnings."""
    torch.manual_seed(0)
    inputs = [
        torch.randint(0, 5, (BATCH, *shape.dims))
        if shape.dtype == "long"
        else torch.randn(BATCH, *shape.dims)
        for shape in shapes
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if accepted:
                module = load_builder(spec)(_params(spec, which), shapes)
            else:
                recorded = constructor_of(_template(spec.type_id, which))
                assert recorded is not None
                module = recorded.cls(*recorded.args, **recorded.kwargs)
            result = module.train()(*inputs)
        except (ShapeError, RuntimeError, ValueError, IndexError, AssertionError) as exc:
            return None, [f"raised {exc}"]
    return result, [str(w.message) for w in caught]


def _found(result: Any) -> list[TensorShape]:
    outputs: Sequence[torch.Tensor] = result if isinstance(result, tuple) else (result,)
    return [
        TensorShape(tuple(t.shape[1:]), "float" if t.is_floating_point() else "long")
        for t in outputs
    ]


CASES = [
    pytest.param(
        type_id,
        which,
        rank,
        dtype,
        id=f"{type_id.removeprefix('studio.')}-{which}-{dtype}-{rank}",
        marks=[pytest.mark.xfail(reason=PENDING[type_id, rank, dtype], strict=True)]
        if (type_id, rank, dtype) in PENDING and not which
        else [],
    )
    for type_id, spec in LAYERS.items()
    for which in range(len(_param_sets(spec)))
    for dtype in DTYPES
    for rank in RANKS
]


@pytest.mark.parametrize(("type_id", "which", "rank", "dtype"), CASES)
def test_rule_refuses_and_warns_as_torch_does(
    type_id: str, which: int, rank: int, dtype: DType
) -> None:
    spec = LAYERS[type_id]
    shapes = _shapes(spec, rank, dtype, which)
    predicted, notes = _rule(spec, which, shapes)
    result, torch_notes = _torch(spec, which, shapes, accepted=predicted is not None)
    if (type_id, rank) in BATCH_MIXING and dtype == "float":
        assert predicted is None
        return
    raised = result is None
    assert (predicted is None) == raised, (
        f"rule {'refuses' if predicted is None else 'accepts'}, torch: {torch_notes}"
    )
    if raised:
        return
    warns = bool(torch_notes) or (type_id, rank) in WARNS_WHERE_TORCH_DOES_NOT
    assert bool(notes) == warns, f"rule warns {notes}; torch warns {torch_notes}"
    assert predicted == _found(result)


def test_recurrent_dropout_with_one_layer_warns_as_torch_does() -> None:
    """torch builds the layer and warns that the dropout does nothing: the node warns too."""
    spec = LAYERS["studio.LSTM"]
    params = spec.validate_params({"dropout": 0.2})
    rule = load_shape_rule(spec)
    assert rule is not None
    with collect_warnings() as notes:
        assert rule(params, [TensorShape((9, 5))]) == [TensorShape((9, 64))]
    assert notes == [
        "LSTM's dropout acts between stacked layers, so it does nothing with num_layers 1. Set "
        "num_layers to 2 or more, or dropout to 0 (add a Dropout layer after it instead)."
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_builder(spec)(params, [TensorShape((9, 5))])
    assert any("num_layers greater than 1" in str(w.message) for w in caught)


@pytest.mark.parametrize(("rank", "warns"), [(1, True), (2, True), (3, False), (4, True)])
def test_dropout2d_warns_where_torch_does(rank: int, warns: bool) -> None:
    """It used to refuse (N, C) and (N, C, L), which torch runs (with a deprecation warning)."""
    spec = LAYERS["studio.Dropout2d"]
    rule = load_shape_rule(spec)
    assert rule is not None
    with collect_warnings() as notes:
        assert rule(_params(spec, 0), _shapes(spec, rank)) == _shapes(spec, rank)
    assert bool(notes) == warns
