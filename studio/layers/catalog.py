"""The built-in layer types, described without importing torch.

The palette and the inspector read these specs at start-up, so this module imports nothing but
`studio.core.specs`. Each spec names its builder by import path, and the builder (with torch) is
imported only when a graph is compiled; it also names a torch-free shape rule
(`studio.layers.rules`), so the canvas can show shapes before torch has loaded. Layers never ask
for sizes that follow from their input (``in_features``, ``in_channels``, ``embed_dim``):
builders read those from the input shape.
"""

from __future__ import annotations

from typing import Literal

from studio.core.specs import LayerSpec, ParamSpec, PortSpec

_BIG = 1_000_000
_WIDE = 65_536
_MAX_INPUTS = 8
_MAX_DIM = 8

# --- param factories: one line per param keeps the table below readable -----------------------


def _int(name: str, default: int, help: str, low: int = 1, high: int = _WIDE) -> ParamSpec:
    return ParamSpec(name, "int", default, help, minimum=low, maximum=high)


def _float(name: str, default: float, help: str, low: float, high: float) -> ParamSpec:
    return ParamSpec(name, "float", default, help, minimum=low, maximum=high)


def _bool(name: str, default: bool, help: str) -> ParamSpec:
    return ParamSpec(name, "bool", default, help)


def _choice(name: str, default: str, choices: tuple[str, ...], help: str) -> ParamSpec:
    return ParamSpec(name, "choice", default, help, choices=choices)


def _tuple(
    name: str,
    default: tuple[int, ...],
    help: str,
    low: int = 1,
    high: int = _BIG,
    length: int | None = None,
    max_length: int = _MAX_DIM,
) -> ParamSpec:
    return ParamSpec(
        name,
        "int_tuple",
        default,
        help,
        minimum=low,
        maximum=high,
        length=length,
        max_length=max_length,
    )


def _layer(
    name: str,
    category: str,
    help: str,
    builder: str,
    *params: ParamSpec,
    key: tuple[str, ...] = (),
    inputs: tuple[PortSpec, ...] = (PortSpec("in"),),
    outputs: tuple[PortSpec, ...] = (PortSpec("out"),),
    role: Literal["layer", "input", "output"] = "layer",
    variadic_inputs: str | None = None,
    rule: str | None = None,
) -> LayerSpec:
    """A spec with id ``studio.<name>`` whose builder lives in ``studio.layers.builders``.

    Its shape rule has the builder's name without ``build_`` in the same-named module of
    ``studio.layers.rules`` unless `rule` names another; Input and Output need none, because
    shape inference reads the Input's params and Output produces nothing.
    """
    module, function = builder.split(":")
    if rule is None and role == "layer":
        rule = f"{module}:{function.removeprefix('build_')}"
    return LayerSpec(
        type_id=f"studio.{name}",
        title=name,
        category=category,
        help=help,
        builder=f"studio.layers.builders.{builder}",
        params=params,
        inputs=inputs,
        outputs=outputs,
        variadic_inputs=variadic_inputs,
        shape_rule=f"studio.layers.rules.{rule}" if rule else None,
        role=role,
        key_params=key,
    )


# --- params shared by several layers ----------------------------------------------------------


def _kernel(default: int = 3) -> ParamSpec:
    return _int(
        "kernel_size",
        default,
        "Width of the sliding window (the same in every direction).",
        high=64,
    )


def _stride(default: int = 1) -> ParamSpec:
    return _int("stride", default, "Step between window positions; 2 halves the size.", high=64)


def _padding(default: int = 0) -> ParamSpec:
    return _int(
        "padding", default, "Zeros added on each side before sliding the window.", low=0, high=64
    )


def _pool_stride() -> ParamSpec:
    return _int(
        "stride", 0, "Step between windows; 0 means the same as kernel_size.", low=0, high=64
    )


def _dropout(default: float, help: str = "Fraction of values zeroed during training.") -> ParamSpec:
    return _float("dropout", default, help, 0.0, 1.0)


def _dim(default: int, help: str) -> ParamSpec:
    return _int("dim", default, help, low=-_MAX_DIM, high=_MAX_DIM)


_EPS = _float(
    "eps", 1e-5, "Small number added to the variance to avoid dividing by zero.", 1e-12, 1.0
)
_MOMENTUM = _float("momentum", 0.1, "How fast the running statistics follow new batches.", 0.0, 1.0)
_INPUT_COUNT = _int("inputs", 2, "How many inputs to combine.", low=2, high=_MAX_INPUTS)
_SAMPLE_DIM_HELP = "Dimension counted after the batch: 1 is the first, -1 the last."


def _conv(name: str, help: str, builder: str) -> LayerSpec:
    return _layer(
        name,
        "Convolution",
        help,
        builder,
        _int("out_channels", 16, "Number of filters, i.e. channels the layer produces."),
        _kernel(3),
        _stride(1),
        _padding(1),
        _int("dilation", 1, "Spacing between kernel taps; >1 widens the view cheaply.", high=64),
        _int(
            "groups", 1, "Split channels into independent groups; must divide both channel counts."
        ),
        _bool("bias", True, "Learn an offset added to every output channel."),
        key=("out_channels", "kernel_size", "stride"),
    )


def _pool(name: str, help: str, builder: str) -> LayerSpec:
    return _layer(
        name,
        "Pooling",
        help,
        builder,
        _kernel(2),
        _pool_stride(),
        _padding(0),
        key=("kernel_size", "stride"),
    )


def _recurrent(name: str, help: str) -> LayerSpec:
    return _layer(
        name,
        "Recurrent",
        help + " Expects (N, L, F): batch, sequence length, features.",
        f"recurrent:build_{name.lower()}",
        _int("hidden_size", 64, "Size of the memory carried from step to step."),
        _int("num_layers", 1, "How many recurrent layers are stacked.", high=16),
        _bool("bidirectional", False, "Also read the sequence backwards; doubles the output size."),
        _dropout(0.0, "Dropout between stacked layers (needs num_layers of 2 or more)."),
        _choice(
            "output",
            "sequence",
            ("sequence", "last"),
            "'sequence' returns every step (N, L, H); 'last' returns the final state (N, H).",
        ),
        key=("hidden_size", "output"),
    )


def _activation(
    name: str,
    help: str,
    *params: ParamSpec,
    key: tuple[str, ...] = (),
    builder: str | None = None,
) -> LayerSpec:
    builder = builder or f"activation:build_{name.lower()}"
    return _layer(name, "Activation", help, builder, *params, key=key)


def _merge(name: str, help: str, *params: ParamSpec, key: tuple[str, ...] = ()) -> LayerSpec:
    return _layer(
        name,
        "Merge",
        help,
        f"merge:build_{name.lower()}",
        _INPUT_COUNT,
        *params,
        key=key or ("inputs",),
        variadic_inputs="inputs",
    )


def _reduction(name: str, help: str) -> LayerSpec:
    return _layer(
        name,
        "Reshape",
        help,
        f"reshape:build_{name.lower()}",
        _dim(1, _SAMPLE_DIM_HELP),
        _bool("keepdim", False, "Keep the reduced dimension with size 1."),
        key=("dim",),
        rule=f"reshape:{name.lower()}_over",
    )


CATALOG: tuple[LayerSpec, ...] = (
    # Input/Output
    _layer(
        "Input",
        "Input/Output",
        "Where data enters the model; the shape is one sample's, without the batch.",
        "io:build_identity",
        _tuple(
            "shape",
            (1, 28, 28),
            "One sample's size, 1 to 4 numbers, e.g. 3, 32, 32 for an image.",
            max_length=4,
        ),
        _choice(
            "dtype", "float", ("float", "long"), "'long' for integer token ids fed to Embedding."
        ),
        key=("shape", "dtype"),
        inputs=(),
        role="input",
    ),
    _layer(
        "Output",
        "Input/Output",
        "What the model returns; the loss compares it with the targets.",
        "io:build_identity",
        outputs=(),
        role="output",
    ),
    # Dense
    _layer(
        "Linear",
        "Dense",
        "Fully connected layer: every output is a weighted sum of all input features.",
        "dense:build_linear",
        _int("out_features", 64, "Number of output features.", high=_BIG),
        _bool("bias", True, "Learn an offset added to every output."),
        key=("out_features",),
    ),
    _layer(
        "Embedding",
        "Dense",
        "Turns integer token ids into learned vectors: (N, L) ids become (N, L, D).",
        "dense:build_embedding",
        _int(
            "num_embeddings", 1000, "Vocabulary size: token ids must be below it.", high=10 * _BIG
        ),
        _int("embedding_dim", 64, "Length D of each token's vector."),
        key=("num_embeddings", "embedding_dim"),
    ),
    # Convolution
    _conv("Conv1d", "Slides learned filters along sequences (N, C, L).", "conv:build_conv1d"),
    _conv("Conv2d", "Slides learned filters over images (N, C, H, W).", "conv:build_conv2d"),
    _layer(
        "ConvTranspose2d",
        "Convolution",
        "Learned upsampling of images (N, C, H, W); the decoder's counterpart of Conv2d.",
        "conv:build_conv_transpose2d",
        _int("out_channels", 16, "Number of channels the layer produces."),
        _kernel(2),
        _stride(2),
        _padding(0),
        _int(
            "output_padding",
            0,
            "Extra rows/columns added to one side; below stride.",
            low=0,
            high=63,
        ),
        key=("out_channels", "kernel_size", "stride"),
    ),
    _layer(
        "Upsample",
        "Convolution",
        "Enlarges feature maps by repeating (nearest) or interpolating (bilinear) values.",
        "conv:build_upsample",
        _int("scale_factor", 2, "How many times larger each spatial side becomes.", high=16),
        _choice("mode", "nearest", ("nearest", "bilinear"), "bilinear needs images (N, C, H, W)."),
        key=("scale_factor", "mode"),
    ),
    # Pooling
    _pool(
        "MaxPool1d",
        "Keeps the largest value of each window along sequences.",
        "pooling:build_max_pool1d",
    ),
    _pool(
        "MaxPool2d",
        "Keeps the largest value of each window of an image.",
        "pooling:build_max_pool2d",
    ),
    _pool("AvgPool1d", "Averages each window along sequences.", "pooling:build_avg_pool1d"),
    _pool("AvgPool2d", "Averages each window of an image.", "pooling:build_avg_pool2d"),
    _layer(
        "AdaptiveAvgPool2d",
        "Pooling",
        "Averages an image down to a fixed size, whatever size comes in.",
        "pooling:build_adaptive_avg_pool2d",
        _tuple("output_size", (1, 1), "Height and width of the result.", high=4096, length=2),
        key=("output_size",),
    ),
    _layer(
        "GlobalAvgPool",
        "Pooling",
        "Averages every spatial position: (N, C, H, W) or (N, C, L) becomes (N, C).",
        "pooling:build_global_avg_pool",
    ),
    # Normalization
    _layer(
        "BatchNorm1d",
        "Normalization",
        "Normalizes each feature over the batch: (N, C) or (N, C, L).",
        "normalization:build_batch_norm1d",
        _EPS,
        _MOMENTUM,
        key=("momentum",),
    ),
    _layer(
        "BatchNorm2d",
        "Normalization",
        "Normalizes each channel of images (N, C, H, W) over the batch.",
        "normalization:build_batch_norm2d",
        _EPS,
        _MOMENTUM,
        key=("momentum",),
    ),
    _layer(
        "LayerNorm",
        "Normalization",
        "Normalizes each sample over its last dimension; usual in transformers.",
        "normalization:build_layer_norm",
        _EPS,
        key=("eps",),
    ),
    _layer(
        "GroupNorm",
        "Normalization",
        "Normalizes groups of channels per sample; works with small batches.",
        "normalization:build_group_norm",
        _int("num_groups", 8, "Number of channel groups; must divide the channel count."),
        _EPS,
        key=("num_groups",),
    ),
    # Regularization
    _layer(
        "Dropout",
        "Regularization",
        "Randomly zeroes values during training to reduce overfitting.",
        "regularization:build_dropout",
        _float("p", 0.5, "Fraction of values zeroed during training.", 0.0, 1.0),
        key=("p",),
    ),
    _layer(
        "Dropout2d",
        "Regularization",
        "Randomly zeroes whole channels of images (N, C, H, W) during training.",
        "regularization:build_dropout2d",
        _float("p", 0.5, "Fraction of channels zeroed during training.", 0.0, 1.0),
        key=("p",),
    ),
    # Recurrent
    _recurrent("RNN", "Simple recurrent layer that reads a sequence step by step."),
    _recurrent("LSTM", "Long short-term memory: a recurrent layer that keeps long context."),
    _recurrent("GRU", "Gated recurrent unit: a lighter LSTM."),
    # Attention
    _layer(
        "MultiheadAttention",
        "Attention",
        "Self-attention over a sequence (N, L, E): every step looks at every other step.",
        "attention:build_multihead_attention",
        _int(
            "num_heads", 4, "Parallel attention heads; must divide the embedding size E.", high=256
        ),
        _dropout(0.0, "Dropout on the attention weights during training."),
        key=("num_heads",),
    ),
    _layer(
        "TransformerEncoderLayer",
        "Attention",
        "One transformer block on (N, L, E): self-attention then a feed-forward network.",
        "attention:build_transformer_encoder_layer",
        _int("nhead", 4, "Parallel attention heads; must divide the embedding size E.", high=256),
        _int(
            "dim_feedforward", 256, "Width of the feed-forward network inside the block.", high=_BIG
        ),
        _dropout(0.1),
        _choice(
            "activation", "relu", ("relu", "gelu"), "Activation inside the feed-forward network."
        ),
        _bool("norm_first", False, "Normalize before attention (often trains more stably)."),
        key=("nhead", "dim_feedforward"),
    ),
    _layer(
        "PositionalEncoding",
        "Attention",
        "Adds position information to a sequence (N, L, E) so attention knows the order.",
        "attention:build_positional_encoding",
        _choice(
            "kind", "sinusoidal", ("sinusoidal", "learned"), "Fixed sine waves or learned vectors."
        ),
        _int("max_len", 512, "Longest sequence the layer accepts.", high=_BIG),
        key=("kind", "max_len"),
    ),
    # Activation
    _activation("ReLU", "Keeps positive values, sets negative ones to zero."),
    _activation(
        "LeakyReLU",
        "Like ReLU, but negative values keep a small slope.",
        _float("negative_slope", 0.01, "Slope applied to negative values.", 0.0, 1.0),
        key=("negative_slope",),
        builder="activation:build_leaky_relu",
    ),
    _activation("GELU", "Smooth ReLU used in transformers."),
    _activation("SiLU", "x times sigmoid(x), also called swish."),
    _activation(
        "ELU",
        "Like ReLU, but negative values curve smoothly towards -alpha.",
        _float("alpha", 1.0, "Value that large negative inputs approach (as -alpha).", 0.0, 10.0),
        key=("alpha",),
    ),
    _activation("Sigmoid", "Squashes values into 0..1; for yes/no probabilities."),
    _activation("Tanh", "Squashes values into -1..1."),
    _activation(
        "Softmax",
        "Turns scores into probabilities that sum to 1 along one dimension.",
        _dim(-1, _SAMPLE_DIM_HELP),
        key=("dim",),
    ),
    _activation(
        "LogSoftmax",
        "Logarithm of Softmax; pairs with the negative log-likelihood loss.",
        _dim(-1, _SAMPLE_DIM_HELP),
        key=("dim",),
        builder="activation:build_log_softmax",
    ),
    _activation(
        "Identity",
        "Passes its input through unchanged; a placeholder.",
        builder="io:build_identity",
    ),
    # Merge
    _merge("Add", "Adds inputs of the same shape element by element; for residual connections."),
    _merge("Multiply", "Multiplies inputs of the same shape element by element; for gating."),
    _merge(
        "Concat",
        "Joins inputs along one dimension; the other dimensions must match.",
        _dim(1, _SAMPLE_DIM_HELP),
        key=("inputs", "dim"),
    ),
    # Reshape
    _layer(
        "Flatten",
        "Reshape",
        "Turns each sample into one long vector: (N, 16, 8, 8) becomes (N, 1024).",
        "reshape:build_flatten",
    ),
    _layer(
        "Reshape",
        "Reshape",
        "Rearranges each sample into a new shape with the same number of values.",
        "reshape:build_reshape",
        _tuple(
            "shape", (-1,), "New shape without the batch; one -1 means 'whatever is left'.", low=-1
        ),
        key=("shape",),
    ),
    _layer(
        "Permute",
        "Reshape",
        "Reorders dimensions; 2, 1 turns (N, L, F) into (N, F, L).",
        "reshape:build_permute",
        _tuple(
            "dims",
            (2, 1),
            "New order of the dimensions after the batch, numbered from 1.",
            high=_MAX_DIM,
        ),
        key=("dims",),
    ),
    _layer(
        "SelectLast",
        "Reshape",
        "Keeps the last step of a sequence: (N, L, F) becomes (N, F).",
        "reshape:build_select_last",
    ),
    _reduction("Mean", "Averages over one dimension."),
    _reduction("Sum", "Adds up over one dimension."),
)
"""Every built-in layer, in palette order."""
