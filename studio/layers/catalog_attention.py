"""Specs of the attention family of layers (see `studio.layers.catalog`, which gathers them).

Besides the transformer decoder block, the family holds the layers that take two inputs of
their own kind (Bilinear, CosineSimilarity, PairwiseDistance, GaussianSample) and Unflatten,
which splits one dimension, as attention heads are split.
"""

from __future__ import annotations

from studio.core.specs import LayerSpec, PortSpec
from studio.layers.spec_kit import (
    BIG,
    MAX_DIM,
    SAMPLE_DIM_HELP,
    bool_param,
    choice_param,
    dim_param,
    dropout_param,
    float_param,
    int_param,
    layer,
    tuple_param,
)

CAUSAL_HELP = "Let step i attend only steps 0..i (next-step prediction)."

SPECS: tuple[LayerSpec, ...] = (
    layer(
        "TransformerDecoderLayer",
        "Attention",
        "One transformer decoder block: self-attention over the target (N, L, E), attention "
        "to the memory (N, S, E), then a feed-forward network.",
        "attention:build_transformer_decoder_layer",
        int_param(
            "nhead", 4, "Parallel attention heads; must divide the embedding size E.", high=256
        ),
        int_param(
            "dim_feedforward", 256, "Width of the feed-forward network inside the block.", high=BIG
        ),
        dropout_param(0.1),
        choice_param(
            "activation", "relu", ("relu", "gelu"), "Activation inside the feed-forward network."
        ),
        bool_param("norm_first", False, "Normalize before attention (often trains more stably)."),
        bool_param("causal", True, CAUSAL_HELP),
        key=("nhead", "dim_feedforward", "causal"),
        inputs=(
            PortSpec("tgt", "The target sequence (N, L, E) the block refines."),
            PortSpec("memory", "The sequence (N, S, E) it attends to, e.g. an encoder's output."),
        ),
    ),
    layer(
        "Bilinear",
        "Dense",
        "Learned product of two inputs over their last dimension: out = x1ᵀ A x2 + b; the "
        "other dimensions must match.",
        "dense:build_bilinear",
        int_param("out_features", 64, "Number of output features.", high=BIG),
        bool_param("bias", True, "Learn an offset added to every output."),
        key=("out_features",),
        inputs=(PortSpec("in1", "First input (N, ..., F1)."), PortSpec("in2", "Second input.")),
    ),
    layer(
        "CosineSimilarity",
        "Merge",
        "Cosine of the angle between two inputs along one dimension, which disappears.",
        "distance:build_cosine_similarity",
        dim_param(1, SAMPLE_DIM_HELP),
        float_param(
            "eps", 1e-8, "Smallest norm divided by, to avoid dividing by zero.", 1e-12, 1.0
        ),
        key=("dim",),
        inputs=(PortSpec("x1", "First input."), PortSpec("x2", "Second input, the same shape.")),
    ),
    layer(
        "PairwiseDistance",
        "Merge",
        "p-norm distance between two inputs along their last dimension, which disappears.",
        "distance:build_pairwise_distance",
        float_param("p", 2.0, "Order of the norm: 2 is the Euclidean distance.", 0.0, 1e6),
        float_param("eps", 1e-6, "Small number added to the difference.", 0.0, 1.0),
        bool_param("keepdim", False, "Keep the last dimension with size 1."),
        key=("p",),
        inputs=(PortSpec("x1", "First input."), PortSpec("x2", "Second input, the same shape.")),
    ),
    layer(
        "Unflatten",
        "Reshape",
        "Splits one dimension into several: dim 1 of (N, 12) with sizes 3, 4 gives (N, 3, 4).",
        "unflatten:build_unflatten",
        dim_param(1, SAMPLE_DIM_HELP),
        tuple_param(
            "sizes", (1, -1), "Sizes it splits into; one -1 means 'whatever is left'.", low=-1
        ),
        key=("dim", "sizes"),
    ),
    layer(
        "GaussianSample",
        "Sampling",
        "Draws mean + exp(logvar / 2) · noise in training (a VAE's sampling step); returns the "
        "mean in evaluation.",
        "sampling:build_gaussian_sample",
        inputs=(
            PortSpec("mean", "Mean of the distribution."),
            PortSpec("logvar", "Log-variance of the distribution, the same shape as the mean."),
        ),
    ),
)

__all__ = ["CAUSAL_HELP", "MAX_DIM", "SPECS"]
