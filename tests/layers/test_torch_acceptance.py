"""Shape rules accept what torch accepts: each layer's rule, against its real torch module.

For every core and elementwise-family layer and every input rank (1 to 4 dims after the
batch, float), the rule refuses exactly when the torch module raises, and it warns exactly when
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

from studio.core.shapes import ShapeError, TensorShape, collect_warnings
from studio.core.specs import LayerSpec
from studio.layers import catalog, catalog_elementwise, load_builder, load_shape_rule
from studio.layers.construct import constructor_of

SIZE = 4
BATCH = 3
RANKS = (1, 2, 3, 4)
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

# Rules that still refuse what torch runs, in files another part of issue 16 is rewriting; each
# entry fails (strict) once its rule accepts, and is then removed.
PENDING = {
    ("studio.Linear", 3): "rules/dense.py: Linear takes (N, *, F) of any rank",
    ("studio.Linear", 4): "rules/dense.py: Linear takes (N, *, F) of any rank",
    ("studio.MaxPool1d", 1): "rules/pooling.py: (N, L) is pooled per sample",
    ("studio.AvgPool1d", 1): "rules/pooling.py: (N, L) is pooled per sample",
    ("studio.MaxPool2d", 2): "rules/pooling.py: (N, H, W) is pooled per sample",
    ("studio.AvgPool2d", 2): "rules/pooling.py: (N, H, W) is pooled per sample",
    ("studio.AdaptiveAvgPool2d", 2): "rules/pooling.py: (N, H, W) is pooled per sample",
    ("studio.AdaptiveAvgPool2d", 4): "rules/pooling.py: any (N, ..., H, W)",
    ("studio.PositionalEncoding", 3): "rules/attention.py: the module runs on (N, L, ..., E)",
    ("studio.PositionalEncoding", 4): "rules/attention.py: the module runs on (N, L, ..., E)",
    ("studio.SelectLast", 1): "rules/reshape.py: x[:, -1] runs on (N, F)",
    ("studio.SelectLast", 3): "rules/reshape.py: x[:, -1] runs on any rank",
    ("studio.SelectLast", 4): "rules/reshape.py: x[:, -1] runs on any rank",
}


@functools.cache
def _template(type_id: str) -> nn.Module:
    """The module the builder makes for the lowest rank its rule accepts."""
    spec = LAYERS[type_id]
    for rank in RANKS:
        try:
            return load_builder(spec)(_params(spec), _shapes(spec, rank))
        except ShapeError:
            continue
    raise AssertionError(f"{type_id} accepts no rank from 1 to 4")


def _params(spec: LayerSpec) -> dict[str, Any]:
    return spec.validate_params({})


def _shapes(spec: LayerSpec, rank: int) -> list[TensorShape]:
    params = _params(spec)
    count = params[spec.variadic_inputs] if spec.variadic_inputs else len(spec.inputs)
    return [TensorShape((SIZE,) * rank)] * count


def _rule(spec: LayerSpec, rank: int) -> tuple[list[TensorShape] | None, list[str]]:
    """The rule's output shapes (None when it refuses) and its warnings."""
    rule = load_shape_rule(spec)
    assert rule is not None
    with collect_warnings() as notes:
        try:
            return rule(_params(spec), _shapes(spec, rank)), notes
        except ShapeError:
            return None, notes


def _torch(spec: LayerSpec, rank: int, accepted: bool) -> tuple[Any, list[str]]:
    """The module's output (None when it or the builder raises) and torch's warnings."""
    torch.manual_seed(0)
    inputs = [torch.randn(BATCH, *shape.dims) for shape in _shapes(spec, rank)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if accepted:
                module = load_builder(spec)(_params(spec), _shapes(spec, rank))
            else:
                recorded = constructor_of(_template(spec.type_id))
                assert recorded is not None
                module = recorded.cls(*recorded.args, **recorded.kwargs)
            result = module.train()(*inputs)
        except (ShapeError, RuntimeError, ValueError, IndexError, AssertionError) as exc:
            return None, [f"raised {exc}"]
    return result, [str(w.message) for w in caught]


def _dims(result: Any) -> list[tuple[int, ...]]:
    outputs: Sequence[torch.Tensor] = result if isinstance(result, tuple) else (result,)
    return [tuple(tensor.shape[1:]) for tensor in outputs]


CASES = [
    pytest.param(
        type_id,
        rank,
        id=f"{type_id.removeprefix('studio.')}-{rank}",
        marks=[pytest.mark.xfail(reason=PENDING[type_id, rank], strict=True)]
        if (type_id, rank) in PENDING
        else [],
    )
    for type_id in LAYERS
    for rank in RANKS
]


@pytest.mark.parametrize(("type_id", "rank"), CASES)
def test_rule_refuses_and_warns_as_torch_does(type_id: str, rank: int) -> None:
    spec = LAYERS[type_id]
    predicted, notes = _rule(spec, rank)
    result, torch_notes = _torch(spec, rank, accepted=predicted is not None)
    if (type_id, rank) in BATCH_MIXING:
        assert predicted is None and result is not None
        return
    raised = result is None
    assert (predicted is None) == raised, (
        f"rule {'refuses' if predicted is None else 'accepts'}, torch: {torch_notes}"
    )
    if raised:
        return
    assert bool(notes) == bool(torch_notes), f"rule warns {notes}; torch warns {torch_notes}"
    assert predicted is not None
    assert [shape.dims for shape in predicted] == _dims(result)


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
        assert rule(_params(spec), _shapes(spec, rank)) == _shapes(spec, rank)
    assert bool(notes) == warns
