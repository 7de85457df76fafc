"""The vocabulary the catalog's spec tables are written in: param factories and spec shapes.

Each family of layers (`studio.layers.catalog` and the ``catalog_*`` modules it gathers) writes
its specs with these one-line factories, so a table row reads like the layer's documentation.
Like the catalog, this imports nothing but `studio.core.specs`. Layers never ask for sizes that
follow from their input (``in_features``, ``in_channels``, ``embed_dim``): builders read those
from the input shape.
"""

from __future__ import annotations

from typing import Literal

from studio.core.specs import LayerSpec, ParamSpec, PortSpec

BIG = 1_000_000
WIDE = 65_536
MAX_INPUTS = 8
MAX_DIM = 8

# --- param factories: one line per param keeps the spec tables readable -----------------------


def int_param(name: str, default: int, help: str, low: int = 1, high: int = WIDE) -> ParamSpec:
    return ParamSpec(name, "int", default, help, minimum=low, maximum=high)


def float_param(name: str, default: float, help: str, low: float, high: float) -> ParamSpec:
    return ParamSpec(name, "float", default, help, minimum=low, maximum=high)


def bool_param(name: str, default: bool, help: str) -> ParamSpec:
    return ParamSpec(name, "bool", default, help)


def choice_param(name: str, default: str, choices: tuple[str, ...], help: str) -> ParamSpec:
    return ParamSpec(name, "choice", default, help, choices=choices)


def tuple_param(
    name: str,
    default: tuple[int, ...],
    help: str,
    low: int = 1,
    high: int = BIG,
    length: int | None = None,
    max_length: int = MAX_DIM,
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


def layer(
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
    variadic_outputs: str | None = None,
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
        variadic_outputs=variadic_outputs,
        shape_rule=f"studio.layers.rules.{rule}" if rule else None,
        role=role,
        key_params=key,
    )


# --- params shared by several layers ----------------------------------------------------------


def kernel_param(default: int = 3) -> ParamSpec:
    return int_param(
        "kernel_size",
        default,
        "Width of the sliding window (the same in every direction).",
        high=64,
    )


def stride_param(default: int = 1) -> ParamSpec:
    return int_param(
        "stride", default, "Step between window positions; 2 halves the size.", high=64
    )


def padding_param(default: int = 0) -> ParamSpec:
    return int_param(
        "padding", default, "Zeros added on each side before sliding the window.", low=0, high=64
    )


def pool_stride_param() -> ParamSpec:
    return int_param(
        "stride", 0, "Step between windows; 0 means the same as kernel_size.", low=0, high=64
    )


def dropout_param(
    default: float, help: str = "Fraction of values zeroed during training."
) -> ParamSpec:
    return float_param("dropout", default, help, 0.0, 1.0)


def dim_param(default: int, help: str) -> ParamSpec:
    return int_param("dim", default, help, low=-MAX_DIM, high=MAX_DIM)


EPS = float_param(
    "eps", 1e-5, "Small number added to the variance to avoid dividing by zero.", 1e-12, 1.0
)
MOMENTUM = float_param(
    "momentum", 0.1, "How fast the running statistics follow new batches.", 0.0, 1.0
)
INPUT_COUNT = int_param("inputs", 2, "How many inputs to combine.", low=2, high=MAX_INPUTS)
SAMPLE_DIM_HELP = "Dimension counted after the batch: 1 is the first, -1 the last."


OUT_CHANNELS = int_param("out_channels", 16, "Number of filters, i.e. channels the layer produces.")
# A convolution's settings after its window: the same for every convolution layer.
CONV_TAIL = (
    int_param("dilation", 1, "Spacing between kernel taps; >1 widens the view cheaply.", high=64),
    int_param(
        "groups", 1, "Split channels into independent groups; must divide both channel counts."
    ),
    bool_param("bias", True, "Learn an offset added to every output channel."),
)


def conv(name: str, help: str, builder: str) -> LayerSpec:
    return layer(
        name,
        "Convolution",
        help,
        builder,
        OUT_CHANNELS,
        kernel_param(3),
        stride_param(1),
        padding_param(1),
        *CONV_TAIL,
        key=("out_channels", "kernel_size", "stride"),
    )


def pool(name: str, help: str, builder: str) -> LayerSpec:
    return layer(
        name,
        "Pooling",
        help,
        builder,
        kernel_param(2),
        pool_stride_param(),
        padding_param(0),
        bool_param(
            "ceil_mode",
            False,
            "Round the output size up: keep a last, partial window that starts inside the input.",
        ),
        key=("kernel_size", "stride"),
    )


def conv_transpose(name: str, help: str, builder: str) -> LayerSpec:
    return layer(
        name,
        "Convolution",
        help,
        builder,
        int_param("out_channels", 16, "Number of channels the layer produces."),
        kernel_param(2),
        stride_param(2),
        padding_param(0),
        int_param(
            "output_padding",
            0,
            "Extra rows/columns added to one side; below stride or dilation.",
            low=0,
            high=63,
        ),
        int_param(
            "dilation", 1, "Spacing between kernel taps; >1 widens the view cheaply.", high=64
        ),
        int_param(
            "groups", 1, "Split channels into independent groups; must divide both channel counts."
        ),
        bool_param("bias", True, "Learn an offset added to every output channel."),
        key=("out_channels", "kernel_size", "stride"),
    )


STATE_LAYOUT = "(N, num_layers·directions, H): batch first, unlike torch's (layers, N, H)"


def recurrent(name: str, help: str) -> LayerSpec:
    """RNN, LSTM or GRU: a sequence in, optional starting state in, final state out on demand.

    The state ports read batch first like every other tensor on the canvas; the module
    transposes to and from torch's (num_layers·directions, N, H).
    """
    pairs = name == "LSTM"
    memory = (" and c0" if pairs else "", "s h and c" if pairs else " h")
    inputs = [
        PortSpec("in", "The sequence (N, L, F)."),
        PortSpec(
            "h0",
            f"Optional starting state {STATE_LAYOUT}, e.g. an encoder's final h; "
            "unconnected, it starts from zeros." + (" Connect c0 with it." if pairs else ""),
            optional=True,
        ),
    ]
    outputs = [
        PortSpec("out", "The sequence (N, L, H·directions), or its last step with 'last'."),
        PortSpec("h", f"Final hidden state {STATE_LAYOUT}.", when="return_state"),
    ]
    if pairs:
        inputs.append(
            PortSpec("c0", f"Optional starting cell state {STATE_LAYOUT}.", optional=True)
        )
        outputs.append(PortSpec("c", f"Final cell state {STATE_LAYOUT}.", when="return_state"))
    return layer(
        name,
        "Recurrent",
        help + " Expects (N, L, F): batch, sequence length, features.",
        f"recurrent:build_{name.lower()}",
        int_param("hidden_size", 64, "Size of the memory carried from step to step."),
        int_param("num_layers", 1, "How many recurrent layers are stacked.", high=16),
        bool_param(
            "bidirectional", False, "Also read the sequence backwards; doubles the output size."
        ),
        dropout_param(0.0, "Dropout between stacked layers (needs num_layers of 2 or more)."),
        choice_param(
            "output",
            "sequence",
            ("sequence", "last"),
            "'sequence' returns every step (N, L, H); 'last' returns only the last step (N, H) "
            "(each direction's final one when bidirectional).",
        ),
        bool_param(
            "return_state",
            False,
            f"Also output the final state on port{memory[1]}, {STATE_LAYOUT}, to start "
            f"another recurrent layer (its h0{memory[0]}), as a sequence-to-sequence decoder "
            "does.",
        ),
        key=("hidden_size", "output"),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
    )


def activation(
    name: str,
    help: str,
    *params: ParamSpec,
    key: tuple[str, ...] = (),
    builder: str | None = None,
) -> LayerSpec:
    builder = builder or f"activation:build_{name.lower()}"
    return layer(name, "Activation", help, builder, *params, key=key)


def merge(name: str, help: str, *params: ParamSpec, key: tuple[str, ...] = ()) -> LayerSpec:
    return layer(
        name,
        "Merge",
        help,
        f"merge:build_{name.lower()}",
        INPUT_COUNT,
        *params,
        key=key or ("inputs",),
        variadic_inputs="inputs",
    )


def reduction(name: str, help: str) -> LayerSpec:
    return layer(
        name,
        "Reshape",
        help,
        f"reshape:build_{name.lower()}",
        dim_param(1, SAMPLE_DIM_HELP),
        bool_param("keepdim", False, "Keep the reduced dimension with size 1."),
        ParamSpec(
            "dims",
            "int_tuple",
            None,
            "Several dimensions reduced together, e.g. 2, 3; when set, it replaces dim.",
            minimum=-MAX_DIM,
            maximum=MAX_DIM,
            nullable=True,
        ),
        key=("dim",),
        rule=f"reshape:{name.lower()}_over",
    )
