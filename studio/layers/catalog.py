"""The built-in layer types, described without importing torch.

The palette and the inspector read these specs at start-up, so this module (and each
``catalog_*`` family module it gathers) imports nothing but `studio.core.specs` and
`studio.layers.spec_kit`. Each spec names its builder by import path, and the builder (with
torch) is imported only when a graph is compiled; it also names a torch-free shape rule
(`studio.layers.rules`), so the canvas can show shapes before torch has loaded.
"""

from __future__ import annotations

from studio.core.specs import LayerSpec, PortSpec
from studio.layers import catalog_attention, catalog_elementwise, catalog_ops, catalog_spatial
from studio.layers.spec_kit import (
    BIG,
    EPS,
    MAX_DIM,
    MOMENTUM,
    SAMPLE_DIM_HELP,
    activation,
    bool_param,
    choice_param,
    conv,
    conv_transpose,
    dim_param,
    dropout_param,
    float_param,
    int_param,
    layer,
    merge,
    pool,
    recurrent,
    reduction,
    tuple_param,
)

_CORE: tuple[LayerSpec, ...] = (
    # Input/Output
    layer(
        "Input",
        "Input/Output",
        "Where data enters the model; the shape is one sample's, without the batch.",
        "io:build_identity",
        tuple_param(
            "shape",
            (1, 28, 28),
            "One sample's size, 1 to 4 numbers, e.g. 3, 32, 32 for an image.",
            max_length=4,
        ),
        choice_param(
            "dtype", "float", ("float", "long"), "'long' for integer token ids fed to Embedding."
        ),
        key=("shape", "dtype"),
        inputs=(),
        role="input",
    ),
    layer(
        "Output",
        "Input/Output",
        "What the model returns; the loss compares it with the targets.",
        "io:build_identity",
        outputs=(),
        role="output",
    ),
    # Dense
    layer(
        "Linear",
        "Dense",
        "Fully connected layer: every output is a weighted sum of all input features.",
        "dense:build_linear",
        int_param("out_features", 64, "Number of output features.", high=BIG),
        bool_param("bias", True, "Learn an offset added to every output."),
        key=("out_features",),
    ),
    layer(
        "Embedding",
        "Dense",
        "Turns integer token ids into learned vectors: (N, L) ids become (N, L, D).",
        "dense:build_embedding",
        int_param(
            "num_embeddings", 1000, "Vocabulary size: token ids must be below it.", high=10 * BIG
        ),
        int_param("embedding_dim", 64, "Length D of each token's vector."),
        key=("num_embeddings", "embedding_dim"),
    ),
    # Convolution
    conv("Conv1d", "Slides learned filters along sequences (N, C, L).", "conv:build_conv1d"),
    conv("Conv2d", "Slides learned filters over images (N, C, H, W).", "conv:build_conv2d"),
    conv_transpose(
        "ConvTranspose2d",
        "Learned upsampling of images (N, C, H, W); the decoder's counterpart of Conv2d.",
        "conv:build_conv_transpose2d",
    ),
    layer(
        "Upsample",
        "Convolution",
        "Enlarges feature maps by repeating (nearest) or interpolating values.",
        "conv:build_upsample",
        int_param("scale_factor", 2, "How many times larger each spatial side becomes.", high=16),
        choice_param(
            "mode",
            "nearest",
            ("nearest", "linear", "bilinear", "bicubic", "trilinear"),
            "linear needs sequences (N, C, L); bilinear and bicubic images (N, C, H, W); "
            "trilinear volumes (N, C, D, H, W).",
        ),
        bool_param(
            "align_corners",
            False,
            "Interpolating modes only: line up the corner pixels of input and output.",
        ),
        key=("scale_factor", "mode"),
    ),
    # Pooling
    pool(
        "MaxPool1d",
        "Keeps the largest value of each window along sequences.",
        "pooling:build_max_pool1d",
    ),
    pool(
        "MaxPool2d",
        "Keeps the largest value of each window of an image.",
        "pooling:build_max_pool2d",
    ),
    pool("AvgPool1d", "Averages each window along sequences.", "pooling:build_avg_pool1d"),
    pool("AvgPool2d", "Averages each window of an image.", "pooling:build_avg_pool2d"),
    layer(
        "AdaptiveAvgPool2d",
        "Pooling",
        "Averages an image down to a fixed size, whatever size comes in.",
        "pooling:build_adaptive_avg_pool2d",
        tuple_param("output_size", (1, 1), "Height and width of the result.", high=4096, length=2),
        key=("output_size",),
    ),
    layer(
        "GlobalAvgPool",
        "Pooling",
        "Averages every spatial position: (N, C, H, W) or (N, C, L) becomes (N, C).",
        "pooling:build_global_avg_pool",
    ),
    # Normalization
    layer(
        "BatchNorm1d",
        "Normalization",
        "Normalizes each feature over the batch: (N, C) or (N, C, L).",
        "normalization:build_batch_norm1d",
        EPS,
        MOMENTUM,
        key=("momentum",),
    ),
    layer(
        "BatchNorm2d",
        "Normalization",
        "Normalizes each channel of images (N, C, H, W) over the batch.",
        "normalization:build_batch_norm2d",
        EPS,
        MOMENTUM,
        key=("momentum",),
    ),
    layer(
        "LayerNorm",
        "Normalization",
        "Normalizes each sample over its last dimension; usual in transformers.",
        "normalization:build_layer_norm",
        EPS,
        key=("eps",),
    ),
    layer(
        "GroupNorm",
        "Normalization",
        "Normalizes groups of channels per sample; works with small batches.",
        "normalization:build_group_norm",
        int_param("num_groups", 8, "Number of channel groups; must divide the channel count."),
        EPS,
        key=("num_groups",),
    ),
    # Regularization
    layer(
        "Dropout",
        "Regularization",
        "Randomly zeroes values during training to reduce overfitting.",
        "regularization:build_dropout",
        float_param("p", 0.5, "Fraction of values zeroed during training.", 0.0, 1.0),
        key=("p",),
    ),
    layer(
        "Dropout2d",
        "Regularization",
        "Randomly zeroes whole channels of images (N, C, H, W) during training.",
        "regularization:build_dropout2d",
        float_param("p", 0.5, "Fraction of channels zeroed during training.", 0.0, 1.0),
        key=("p",),
    ),
    # Recurrent
    recurrent("RNN", "Simple recurrent layer that reads a sequence step by step."),
    recurrent("LSTM", "Long short-term memory: a recurrent layer that keeps long context."),
    recurrent("GRU", "Gated recurrent unit: a lighter LSTM."),
    # Attention
    layer(
        "MultiheadAttention",
        "Attention",
        "Self-attention over a sequence (N, L, E): every step looks at every other step.",
        "attention:build_multihead_attention",
        int_param(
            "num_heads", 4, "Parallel attention heads; must divide the embedding size E.", high=256
        ),
        dropout_param(0.0, "Dropout on the attention weights during training."),
        bool_param("causal", False, "Let step i attend only steps 0..i (next-step prediction)."),
        key=("num_heads",),
        inputs=(
            PortSpec("in", "The query sequence (N, L, E)."),
            PortSpec(
                "memory",
                "Optional (N, S, E) that keys and values come from (cross-attention); "
                "unconnected, the layer attends the query to itself.",
                optional=True,
            ),
            PortSpec(
                "padding_mask",
                "Optional (N, S) of 0/1 integers (dtype long): 1 marks a padding step "
                "that no query attends to.",
                optional=True,
            ),
        ),
    ),
    layer(
        "TransformerEncoderLayer",
        "Attention",
        "One transformer block on (N, L, E): self-attention then a feed-forward network.",
        "attention:build_transformer_encoder_layer",
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
        bool_param("causal", False, "Let step i attend only steps 0..i (next-step prediction)."),
        key=("nhead", "dim_feedforward"),
    ),
    layer(
        "PositionalEncoding",
        "Attention",
        "Adds position information to a sequence (N, L, E) so attention knows the order.",
        "attention:build_positional_encoding",
        choice_param(
            "kind", "sinusoidal", ("sinusoidal", "learned"), "Fixed sine waves or learned vectors."
        ),
        int_param("max_len", 512, "Longest sequence the layer accepts.", high=BIG),
        key=("kind", "max_len"),
    ),
    # Activation
    activation("ReLU", "Keeps positive values, sets negative ones to zero."),
    activation(
        "LeakyReLU",
        "Like ReLU, but negative values keep a small slope.",
        float_param("negative_slope", 0.01, "Slope applied to negative values.", 0.0, 1.0),
        key=("negative_slope",),
        builder="activation:build_leaky_relu",
    ),
    activation(
        "GELU",
        "Smooth ReLU used in transformers.",
        choice_param(
            "approximate",
            "none",
            ("none", "tanh"),
            "'tanh' computes a faster approximation (as GPT-2 and BERT's originals did).",
        ),
        key=("approximate",),
    ),
    activation("SiLU", "x times sigmoid(x), also called swish."),
    activation(
        "ELU",
        "Like ReLU, but negative values curve smoothly towards -alpha.",
        float_param(
            "alpha", 1.0, "Value that large negative inputs approach (as -alpha).", 0.0, 10.0
        ),
        key=("alpha",),
    ),
    activation("Sigmoid", "Squashes values into 0..1; for yes/no probabilities."),
    activation("Tanh", "Squashes values into -1..1."),
    activation(
        "Softmax",
        "Turns scores into probabilities that sum to 1 along one dimension.",
        dim_param(-1, SAMPLE_DIM_HELP),
        key=("dim",),
    ),
    activation(
        "LogSoftmax",
        "Logarithm of Softmax; pairs with the negative log-likelihood loss.",
        dim_param(-1, SAMPLE_DIM_HELP),
        key=("dim",),
        builder="activation:build_log_softmax",
    ),
    activation(
        "Identity",
        "Passes its input through unchanged; a placeholder.",
        builder="io:build_identity",
    ),
    # Merge
    merge("Add", "Adds inputs element by element, broadcast as torch does; for residual links."),
    merge("Multiply", "Multiplies inputs element by element, broadcast as torch does; for gating."),
    merge(
        "Concat",
        "Joins inputs along one dimension; the other dimensions must match.",
        dim_param(1, SAMPLE_DIM_HELP),
        key=("inputs", "dim"),
    ),
    # Reshape
    layer(
        "Flatten",
        "Reshape",
        "Turns each sample into one long vector: (N, 16, 8, 8) becomes (N, 1024).",
        "reshape:build_flatten",
    ),
    layer(
        "Reshape",
        "Reshape",
        "Rearranges each sample into a new shape with the same number of values.",
        "reshape:build_reshape",
        tuple_param(
            "shape", (-1,), "New shape without the batch; one -1 means 'whatever is left'.", low=-1
        ),
        key=("shape",),
    ),
    layer(
        "Permute",
        "Reshape",
        "Reorders dimensions; 2, 1 turns (N, L, F) into (N, F, L).",
        "reshape:build_permute",
        tuple_param(
            "dims",
            (2, 1),
            "New order of the dimensions after the batch, numbered from 1.",
            high=MAX_DIM,
        ),
        key=("dims",),
    ),
    layer(
        "SelectLast",
        "Reshape",
        "Keeps the last step of a sequence: (N, L, F) becomes (N, F).",
        "reshape:build_select_last",
    ),
    reduction("Mean", "Averages over one dimension or several."),
    reduction("Sum", "Adds up over one dimension or several."),
)

CATALOG: tuple[LayerSpec, ...] = (
    _CORE
    + catalog_spatial.SPECS
    + catalog_elementwise.SPECS
    + catalog_attention.SPECS
    + catalog_ops.SPECS
)
"""Every built-in layer. The palette groups them by category in the order categories first
appear, so the families added after the core (tensor operations last) never push Linear down."""
