"""Builders for CosineSimilarity and PairwiseDistance, which compare two inputs of one shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.core.shapes import TensorShape
from studio.layers.builders.concise import construct_concise
from studio.layers.rules import distance as rules
from studio.layers.rules.checks import sample_dim


def build_cosine_similarity(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """torch counts the batch as dim 0, so the sample dim is turned into torch's."""
    rules.cosine_similarity(params, inputs)
    dim = sample_dim("CosineSimilarity", inputs[0], params["dim"])
    return construct_concise(nn.CosineSimilarity, dim=dim, eps=params["eps"])


def build_pairwise_distance(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> nn.Module:
    """Distance over the last dimension, as torch's PairwiseDistance always measures it."""
    rules.pairwise_distance(params, inputs)
    return construct_concise(
        nn.PairwiseDistance, p=params["p"], eps=params["eps"], keepdim=params["keepdim"]
    )
