"""Methods × models: every method in the table runs on every model kind, or says why not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.explain import METHODS, ExplainError, explain, get_method
from tests.explain.conftest import ModelCase


def _layer_output_shape(case: ModelCase, inputs: torch.Tensor) -> tuple[int, ...]:
    captured: list[tuple[int, ...]] = []
    layer = dict(case.model.named_modules())[case.layer]
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(tuple(out.shape)))
    with torch.no_grad():
        case.model(inputs)
    handle.remove()
    return captured[0]


@pytest.mark.parametrize("method", list(METHODS))
def test_method_returns_input_shaped_finite_arrays_or_explains_why_not(
    model_case: ModelCase, method: str
) -> None:
    spec = get_method(method)
    layer = model_case.layer if spec.needs_layer else None
    inputs = model_case.inputs[:4]
    if model_case.kind not in spec.kinds:
        with pytest.raises(ExplainError, match=model_case.kind):
            explain(model_case.model, inputs, method=method, layer=layer, n_steps=8)
        return
    result = explain(model_case.model, inputs, method=method, layer=layer, n_steps=8, samples=4)
    expected = (
        tuple(inputs.shape) if spec.space == "input" else _layer_output_shape(model_case, inputs)
    )
    assert result.values.shape == expected
    assert np.isfinite(result.values).all()
    assert result.kind == model_case.kind
    assert result.method == method
    assert isinstance(result.values, np.ndarray)
    assert result.target is not None and result.target.shape == (len(inputs),)


def test_default_target_is_the_predicted_class(table_case: ModelCase) -> None:
    with torch.no_grad():
        predicted = table_case.model(table_case.inputs).argmax(1).numpy()
    result = explain(table_case.model, table_case.inputs, method="Saliency")
    np.testing.assert_array_equal(result.target, predicted)


def test_explicit_target_changes_the_map(table_case: ModelCase) -> None:
    first = explain(table_case.model, table_case.inputs, method="Saliency", target=0)
    second = explain(table_case.model, table_case.inputs, method="Saliency", target=2)
    assert (first.target == 0).all()
    assert not np.allclose(first.values, second.values)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "NoSuchMethod"}, "Unknown explanation method"),
        ({"method": "LayerConductance"}, "choose a layer"),
        ({"method": "LayerConductance", "layer": "nope"}, "no layer named 'nope'"),
        ({"method": "Saliency", "target": 7}, "between 0 and 2"),
        ({"method": "IntegratedGradients", "baseline": "blur"}, "image or a sequence"),
        ({"method": "IntegratedGradients", "baseline": "mean"}, "data mean"),
    ],
)
def test_mistakes_are_sentences_not_tracebacks(
    table_case: ModelCase, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ExplainError, match=message):
        explain(table_case.model, table_case.inputs, **options)  # type: ignore[arg-type]


def test_text_is_attributed_per_token_at_the_embedding(text_case: ModelCase) -> None:
    result = explain(text_case.model, text_case.inputs, method="IntegratedGradients", n_steps=32)
    assert result.values.shape == tuple(text_case.inputs.shape)
    # The model learned "token 5 present → class 1": for those samples token 5 matters most.
    for tokens, scores, target in zip(text_case.inputs, result.values, result.target, strict=True):
        if target == 1 and (tokens == 5).any():
            assert tokens[int(np.argmax(scores))] == 5


def test_gradcam_is_upsampled_to_the_image(image_case: ModelCase) -> None:
    result = explain(image_case.model, image_case.inputs[:2], method="LayerGradCam", layer="conv3")
    assert result.values.shape == (2, 1, 32, 32)
    assert result.extras["layer_map"].shape == (2, 1, 8, 8)
    assert result.layer == "conv3"


def test_model_mode_is_restored(table_case: ModelCase) -> None:
    table_case.model.train()
    explain(table_case.model, table_case.inputs, method="Saliency")
    assert table_case.model.training
    table_case.model.eval()


def test_numpy_inputs_are_accepted(table_case: ModelCase) -> None:
    result = explain(table_case.model, table_case.inputs.numpy(), method="InputXGradient")
    assert result.values.shape == tuple(table_case.inputs.shape)


def test_numpy_float64_inputs_follow_the_model_precision(table_case: ModelCase) -> None:
    rows = table_case.inputs.numpy().astype(np.float64)
    result = explain(table_case.model, rows, method="Saliency")
    assert result.values.dtype == np.float32


def test_a_layer_captum_cannot_use_is_reported_as_explain_error(
    sequence_case: ModelCase,
) -> None:
    # The GRU returns a tuple (outputs, state): conductance through it is not defined.
    with pytest.raises(ExplainError, match="could not explain"):
        explain(sequence_case.model, sequence_case.inputs, method="LayerConductance", layer="gru")
