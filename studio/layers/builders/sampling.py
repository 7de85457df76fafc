"""Builder for GaussianSample, the sampling step of a variational autoencoder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.modules_sampling import GaussianSample
from studio.layers.rules import sampling as rules


def build_gaussian_sample(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Called as (mean, logvar); it has no settings and no weights."""
    rules.gaussian_sample(params, inputs)
    return construct_concise(GaussianSample)
