"""Honesty checks: model randomisation (Adebayo et al., 2018) and IG's convergence delta."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from studio.explain import METHODS, explain, get_method
from studio.explain.methods import (
    ALL_FLOAT_KINDS,
    MethodCall,
    MethodResult,
    MethodSpec,
    register_method,
    unregister_method,
)
from studio.explain.sanity import (
    SIMILARITY_WARNING,
    convergence_check,
    randomisation_check,
    randomised_copy,
    rank_correlation,
)
from tests.explain.conftest import ModelCase


def _input_itself(call: MethodCall) -> MethodResult:
    """A "method" that ignores the model: what an edge detector or the image itself would show."""
    return call.inputs.detach().clone(), {}


@pytest.fixture
def weight_independent_method() -> Iterator[str]:
    register_method(MethodSpec("InputItself", "The input itself", ALL_FLOAT_KINDS, _input_itself))
    yield "InputItself"
    unregister_method("InputItself")


def test_rank_correlation_matches_known_values() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert rank_correlation(a, a**3) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    # Ties share their average rank (same value as scipy.stats.spearmanr gives).
    assert rank_correlation(np.array([1, 2, 2, 3.0]), np.array([1, 2, 3, 4.0])) == pytest.approx(
        0.9486832980505138
    )
    assert rank_correlation(np.ones(4), a[:4]) == 0.0


def test_randomised_copy_changes_every_layer_and_keeps_the_original(
    image_case: ModelCase,
) -> None:
    original = {k: v.clone() for k, v in image_case.model.state_dict().items()}
    clone = randomised_copy(image_case.model)
    for name, tensor in image_case.model.state_dict().items():
        assert torch.equal(tensor, original[name])
    assert not torch.equal(clone.conv1.weight, image_case.model.conv1.weight)
    assert not torch.equal(clone.head.weight, image_case.model.head.weight)


def test_randomisation_check_flags_a_weight_independent_method(
    image_case: ModelCase, weight_independent_method: str
) -> None:
    check = randomisation_check(
        image_case.model, image_case.inputs[:8], method=weight_independent_method
    )
    assert check.warning
    assert check.rank_correlation == pytest.approx(1.0)
    assert "may show the input" in check.message


@pytest.mark.parametrize(
    ("method", "layer"),
    [("Saliency", None), ("IntegratedGradients", None), ("LayerGradCam", "conv3")],
)
def test_randomisation_check_passes_the_trained_cnn(
    image_case: ModelCase, method: str, layer: str | None
) -> None:
    check = randomisation_check(
        image_case.model, image_case.inputs[:16], method=method, layer=layer, n_steps=32
    )
    assert not check.warning, check.message
    assert len(check.per_sample) == 16


def test_integrated_gradients_depends_on_weights_far_more_than_the_input_itself(
    image_case: ModelCase, weight_independent_method: str
) -> None:
    # IG multiplies by (input − baseline), so part of its map is the image itself; on this CNN
    # its rho sits around 0.35-0.5 depending on the re-initialisation, against 1.0 for a
    # weight-independent map. This margin is the robust part of the check.
    images = image_case.inputs[:16]
    ig = randomisation_check(image_case.model, images, method="IntegratedGradients", n_steps=32)
    itself = randomisation_check(image_case.model, images, method=weight_independent_method)
    assert ig.rank_correlation < itself.rank_correlation - 0.4


@pytest.mark.parametrize("case_name", ["table_case", "image_case"])
def test_integrated_gradients_delta_is_small_with_enough_steps(
    request: pytest.FixtureRequest, case_name: str
) -> None:
    case: ModelCase = request.getfixturevalue(case_name)
    result = explain(case.model, case.inputs[:4], method="IntegratedGradients", n_steps=200)
    check = convergence_check(result)
    assert not check.warning, check.message
    # Completeness: the attributions sum to the score change within the reported delta.
    totals = result.values.reshape(len(result.values), -1).sum(axis=1)
    np.testing.assert_allclose(totals - check.output_difference, check.delta, rtol=1e-3, atol=1e-4)


def test_convergence_check_warns_when_steps_are_too_few(image_case: ModelCase) -> None:
    coarse = explain(
        image_case.model, image_case.inputs[:4], method="IntegratedGradients", n_steps=2
    )
    fine = explain(
        image_case.model, image_case.inputs[:4], method="IntegratedGradients", n_steps=100
    )
    assert convergence_check(coarse).relative > convergence_check(fine).relative
    assert convergence_check(coarse, tolerance=1e-6).warning


@pytest.mark.parametrize("method", list(METHODS))
def test_no_builtin_method_is_flagged_on_the_trained_cnn(
    image_case: ModelCase, method: str
) -> None:
    # The threshold (SIMILARITY_WARNING, 0.8) sits where Adebayo et al. find the methods that
    # ignore the weights; every built-in method here depends on them, input-multiplying ones too.
    layer = image_case.layer if get_method(method).needs_layer else None
    check = randomisation_check(
        image_case.model, image_case.inputs[:16], method=method, layer=layer, n_steps=16, samples=8
    )
    assert not check.warning, check.message
    assert check.rank_correlation < SIMILARITY_WARNING


def test_a_given_trained_attribution_is_reused(image_case: ModelCase) -> None:
    images = image_case.inputs[:4]
    trained = explain(image_case.model, images, method="Saliency")
    reused = randomisation_check(image_case.model, images, method="Saliency", trained=trained)
    fresh = randomisation_check(image_case.model, images, method="Saliency")
    assert reused.per_sample == pytest.approx(fresh.per_sample)
