"""Specs of the elementwise family of layers (see `studio.layers.catalog`, which gathers them).

More activations, the per-sample normalizations (instance, RMS, local response) and the
dropout variants: layers that keep their input's shape (GLU halves one dimension).
"""

from __future__ import annotations

from studio.core.specs import LayerSpec
from studio.layers.spec_kit import (
    EPS,
    MOMENTUM,
    SAMPLE_DIM_HELP,
    activation,
    bool_param,
    dim_param,
    float_param,
    int_param,
    layer,
)

_LIMIT = 1000.0


def _instance_norm(name: str, layout: str, builder: str) -> LayerSpec:
    return layer(
        name,
        "Normalization",
        f"Normalizes each channel of each sample {layout} on its own; usual in style transfer.",
        f"normalization:{builder}",
        EPS,
        MOMENTUM,
        bool_param("affine", False, "Learn a scale and an offset per channel."),
        bool_param(
            "track_running_stats",
            False,
            "Keep running statistics during training and use them in evaluation.",
        ),
        key=("affine",),
    )


def _dropout(name: str, help: str, what: str = "values") -> LayerSpec:
    builder = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return layer(
        name,
        "Regularization",
        help,
        f"regularization:build_{builder}",
        float_param("p", 0.5, f"Fraction of {what} zeroed during training.", 0.0, 1.0),
        key=("p",),
    )


SPECS: tuple[LayerSpec, ...] = (
    # Activation
    activation("ReLU6", "ReLU capped at 6: min(max(x, 0), 6); usual in mobile networks."),
    activation("Hardswish", "A cheap, piecewise-linear SiLU: x · ReLU6(x + 3) / 6."),
    activation("Hardsigmoid", "A cheap, piecewise-linear sigmoid: ReLU6(x + 3) / 6."),
    activation(
        "Hardtanh",
        "Clips values into min_val..max_val.",
        float_param("min_val", -1.0, "Smallest value let through.", -_LIMIT, _LIMIT),
        float_param("max_val", 1.0, "Largest value let through; above min_val.", -_LIMIT, _LIMIT),
        key=("min_val", "max_val"),
    ),
    activation(
        "PReLU",
        "Like LeakyReLU, but the slope of negative values is learned.",
        bool_param("per_channel", False, "Learn one slope per channel (dim 1) instead of one."),
        float_param("init", 0.25, "Starting value of the learned slope.", 0.0, 1.0),
        key=("per_channel",),
        builder="activation:build_prelu",
    ),
    activation("SELU", "Self-normalizing ELU, scaled so activations keep mean 0 and variance 1."),
    activation(
        "CELU",
        "ELU that stays smooth for any alpha: max(0, x) + min(0, alpha · (exp(x / alpha) - 1)).",
        float_param(
            "alpha", 1.0, "Value that large negative inputs approach (as -alpha).", 0.01, 10.0
        ),
        key=("alpha",),
    ),
    activation("Mish", "x · tanh(softplus(x)); a smooth ReLU."),
    activation(
        "Softplus",
        "A smooth ReLU: log(1 + exp(beta · x)) / beta.",
        float_param("beta", 1.0, "Sharpness of the bend; larger is closer to ReLU.", 0.001, 100.0),
        float_param(
            "threshold", 20.0, "Above this (times beta) the input passes unchanged.", 0.0, _LIMIT
        ),
        key=("beta",),
    ),
    activation("Softsign", "Squashes values into -1..1 more gently than Tanh: x / (1 + |x|)."),
    activation(
        "GLU",
        "Gated linear unit: splits one dimension in halves a, b and returns a · sigmoid(b).",
        dim_param(-1, SAMPLE_DIM_HELP + " Its size must be even."),
        key=("dim",),
    ),
    activation(
        "Threshold",
        "Keeps values above threshold and replaces the others with value.",
        float_param("threshold", 0.1, "Values at or below this are replaced.", -_LIMIT, _LIMIT),
        float_param("value", 0.0, "What replaces them.", -_LIMIT, _LIMIT),
        key=("threshold", "value"),
    ),
    activation(
        "LogSigmoid",
        "Logarithm of Sigmoid; numerically safer than the two in a row.",
        builder="activation:build_log_sigmoid",
    ),
    # Normalization
    layer(
        "BatchNorm3d",
        "Normalization",
        "Normalizes each channel of volumes (N, C, D, H, W) over the batch.",
        "normalization:build_batch_norm3d",
        EPS,
        MOMENTUM,
        key=("momentum",),
    ),
    _instance_norm("InstanceNorm1d", "(N, C, L)", "build_instance_norm1d"),
    _instance_norm("InstanceNorm2d", "(N, C, H, W)", "build_instance_norm2d"),
    layer(
        "RMSNorm",
        "Normalization",
        "Divides each sample's last dimension by its root mean square; LayerNorm without the "
        "mean, usual in large language models.",
        "normalization:build_rms_norm",
        float_param(
            "eps",
            0.0,
            "Small number added to the mean square; 0 uses the float type's own epsilon.",
            0.0,
            1.0,
        ),
        bool_param("elementwise_affine", True, "Learn a scale per feature."),
        key=("eps",),
    ),
    layer(
        "LocalResponseNorm",
        "Normalization",
        "Divides each channel by the activity of its neighbouring channels (N, C, ...); "
        "from AlexNet.",
        "normalization:build_local_response_norm",
        int_param("size", 5, "How many neighbouring channels are counted.", high=1024),
        float_param("alpha", 1e-4, "Weight of the neighbours' squared sum.", 0.0, 10.0),
        float_param("beta", 0.75, "Exponent of the divisor.", 0.0, 10.0),
        float_param("k", 1.0, "Constant added to the divisor.", 0.0, 100.0),
        key=("size",),
    ),
    # Regularization
    _dropout(
        "Dropout1d",
        "Randomly zeroes whole channels of sequences (N, C, L) during training.",
        "channels",
    ),
    _dropout(
        "AlphaDropout",
        "Dropout for SELU networks: keeps the mean and variance of its input.",
    ),
)
