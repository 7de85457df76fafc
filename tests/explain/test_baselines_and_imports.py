"""Baselines differ as they should, and importing the package does not import Captum."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from studio.explain import ExplainError, explain
from studio.explain.baselines import blur, make_baseline
from tests.explain.conftest import ModelCase


def test_blur_and_mean_differ_from_zeros(image_case: ModelCase) -> None:
    images = image_case.inputs[:4]
    zeros = make_baseline(images, "zeros", kind="image")
    blurred = make_baseline(images, "blur", kind="image")
    mean = make_baseline(images, "mean", kind="image", data_mean=images.mean(0).numpy())
    assert not torch.allclose(blurred, zeros) and not torch.allclose(mean, zeros)
    assert blurred.shape == mean.shape == images.shape
    # Blurring keeps the overall brightness but removes the edges.
    assert torch.allclose(blurred.mean(), images.mean(), rtol=0.05)
    assert blurred.diff(dim=-1).abs().mean() < 0.5 * images.diff(dim=-1).abs().mean()


def test_baseline_changes_integrated_gradients(image_case: ModelCase) -> None:
    images = image_case.inputs[:2]
    from_zeros = explain(image_case.model, images, method="IntegratedGradients", n_steps=16)
    from_blur = explain(
        image_case.model, images, method="IntegratedGradients", n_steps=16, baseline="blur"
    )
    assert from_blur.baseline == "blur" and from_zeros.baseline == "zeros"
    assert not np.allclose(from_zeros.values, from_blur.values)


def test_sequences_blur_along_time() -> None:
    series = torch.randn(2, 40, 3)
    blurred = blur(series, kind="sequence")
    assert blurred.shape == series.shape
    assert blurred.diff(dim=1).abs().mean() < series.diff(dim=1).abs().mean()


def test_text_admits_only_the_padding_baseline(text_case: ModelCase) -> None:
    with pytest.raises(ExplainError, match="padding"):
        explain(text_case.model, text_case.inputs, method="IntegratedGradients", baseline="blur")


def test_baseline_of_the_wrong_shape_is_refused(table_case: ModelCase) -> None:
    with pytest.raises(ExplainError, match="does not fit"):
        make_baseline(table_case.inputs, np.zeros(7), kind="table")


def test_importing_the_package_does_not_import_captum() -> None:
    code = "import sys, studio.explain; print('captum' in sys.modules, 'matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
