"""Specs of the tensor operations (see `studio.layers.catalog`, which gathers them).

"Arithmetic" holds elementwise math, "Tensor" the shape, index and source operations; the
palette lists both last, after the layers a beginner looks for first. Dims count from 1 after
the batch, -1 being the last, as in every catalog layer.
"""

from __future__ import annotations

from studio.core.specs import LayerSpec, ParamSpec, PortSpec
from studio.layers.spec_kit import (
    BIG,
    INPUT_COUNT,
    MAX_DIM,
    MAX_INPUTS,
    SAMPLE_DIM_HELP,
    bool_param,
    choice_param,
    dim_param,
    float_param,
    int_param,
    layer,
    reduction,
    tuple_param,
)

TWO_INPUTS = (PortSpec("in1"), PortSpec("in2"))
NO_INPUTS: tuple[PortSpec, ...] = ()


def _arithmetic(name: str, help: str, *params: ParamSpec, two: bool = False) -> LayerSpec:
    return layer(
        name,
        "Arithmetic",
        help,
        f"ops:build_{name.lower()}",
        *params,
        key=tuple(p.name for p in params[:1]),
        inputs=TWO_INPUTS if two else (PortSpec("in"),),
    )


def _tensor(name: str, help: str, *params: ParamSpec, **options: object) -> LayerSpec:
    options.setdefault("key", tuple(p.name for p in params[:3]))
    return layer(name, "Tensor", help, f"ops:build_{name.lower()}", *params, **options)  # type: ignore[arg-type]


def _bound(name: str, help: str) -> ParamSpec:
    return ParamSpec(name, "float", None, help, minimum=-1e9, maximum=1e9, nullable=True)


def _position(name: str, default: int, help: str) -> ParamSpec:
    return ParamSpec(name, "int", default, help, minimum=-BIG, maximum=BIG)


SPECS: tuple[LayerSpec, ...] = (
    # Arithmetic
    _arithmetic(
        "Subtract", "in1 minus in2, element by element, broadcast as torch does.", two=True
    ),
    _arithmetic(
        "Divide", "in1 divided by in2, element by element, broadcast as torch does.", two=True
    ),
    _arithmetic(
        "Scale",
        "Multiplies every value by a fixed number.",
        float_param("factor", 1.0, "The number every value is multiplied by.", -1e9, 1e9),
    ),
    _arithmetic(
        "Shift",
        "Adds a fixed number to every value.",
        float_param("offset", 0.0, "The number added to every value.", -1e9, 1e9),
    ),
    _arithmetic(
        "Pow",
        "Raises every value to a fixed power; 2 squares, 0.5 takes the square root.",
        float_param("exponent", 2.0, "The power every value is raised to.", -1e3, 1e3),
    ),
    _arithmetic("Exp", "e to the power of every value."),
    _arithmetic("Log", "Natural logarithm of every value (positive values only)."),
    _arithmetic("Sqrt", "Square root of every value (values of 0 or more)."),
    _arithmetic("Abs", "Absolute value of every value."),
    _arithmetic(
        "Clamp",
        "Limits every value to the range min..max.",
        _bound("min", "Values below it become it; empty for no lower limit."),
        _bound("max", "Values above it become it; empty for no upper limit."),
    ),
    layer(
        "MatMul",
        "Arithmetic",
        "Matrix product per sample: (N, R, K) times (N, K, C) gives (N, R, C), as torch.matmul.",
        "ops:build_matmul",
        inputs=TWO_INPUTS,
    ),
    layer(
        "ScaledDotProductAttention",
        "Attention",
        "softmax(q kᵀ / √E) v of a query (N, ..., L, E), key (N, ..., S, E) and value "
        "(N, ..., S, Ev) already split into heads, as torch's F.scaled_dot_product_attention; "
        "gives (N, ..., L, Ev).",
        "ops:build_scaled_dot_product_attention",
        bool_param("causal", False, "Let position i attend only positions 0..i."),
        float_param("dropout", 0.0, "Dropout on the attention weights while training.", 0.0, 1.0),
        float_param("scale", 0.0, "Factor on q kᵀ; 0 means 1/√E, torch's default.", 0.0, 1e6),
        key=("causal",),
        inputs=(
            PortSpec("query", "Queries (N, ..., L, E): heads may come before L."),
            PortSpec("key", "Keys (N, ..., S, E)."),
            PortSpec("value", "Values (N, ..., S, Ev)."),
        ),
    ),
    layer(
        "Einsum",
        "Arithmetic",
        "Sums products of inputs as an equation over one sample says, e.g. 'ij,jk->ik'; the "
        "batch is left out of the equation and kept in front.",
        "ops:build_einsum",
        int_param("inputs", 2, "How many inputs the equation names.", low=1, high=3),
        ParamSpec(
            "equation",
            "str",
            "ij,jk->ik",
            "Letters per input dimension without the batch, then -> and the result's letters.",
        ),
        key=("equation",),
        variadic_inputs="inputs",
    ),
    # Tensor: splitting and joining
    _tensor(
        "Split",
        "Cuts one dimension into pieces of the given sizes, one output port per piece.",
        tuple_param(
            "sizes", (1, 1), "Size of each piece, in order; they must add up to the dimension."
        ),
        dim_param(1, SAMPLE_DIM_HELP),
        key=("sizes", "dim"),
        variadic_outputs="sizes",
    ),
    _tensor(
        "Chunk",
        "Cuts one dimension into equal pieces (the last may be smaller), one port per piece.",
        int_param("chunks", 2, "How many pieces (output ports).", low=2, high=MAX_INPUTS),
        dim_param(1, SAMPLE_DIM_HELP),
        variadic_outputs="chunks",
    ),
    _tensor(
        "Stack",
        "Stacks inputs of one shape along a new dimension; per-model inputs repeat per sample.",
        INPUT_COUNT,
        dim_param(1, "Where the new dimension goes: 1 first after the batch, -1 last."),
        key=("inputs", "dim"),
        variadic_inputs="inputs",
    ),
    # Tensor: indexing
    _tensor(
        "Slice",
        "Keeps start:end:step of one dimension, as Python slicing does.",
        dim_param(1, SAMPLE_DIM_HELP),
        _position("start", 0, "First position kept; negative counts from the end."),
        ParamSpec(
            "end",
            "int",
            None,
            "Position where keeping stops (not kept); empty runs to the end.",
            minimum=-BIG,
            maximum=BIG,
            nullable=True,
        ),
        int_param("step", 1, "Keep every step-th position.", high=BIG),
    ),
    _tensor(
        "Index",
        "Keeps the listed positions of one dimension, in the listed order.",
        dim_param(1, SAMPLE_DIM_HELP),
        tuple_param("indices", (0,), "Positions to keep, from 0.", low=0, max_length=64),
        key=("dim", "indices"),
    ),
    _tensor(
        "Select",
        "Keeps one position of one dimension, which disappears: (N, L, F) at dim 1 gives (N, F).",
        dim_param(1, SAMPLE_DIM_HELP),
        _position("index", 0, "The position kept; -1 is the last."),
        key=("dim", "index"),
    ),
    # Tensor: rearranging
    _tensor(
        "Transpose",
        "Swaps two dimensions: 1, 2 turns (N, L, F) into (N, F, L).",
        int_param(
            "dim0", 1, "First dimension to swap (1 = first after the batch).", -MAX_DIM, MAX_DIM
        ),
        int_param("dim1", 2, "Second dimension to swap; -1 is the last.", -MAX_DIM, MAX_DIM),
        key=("dim0", "dim1"),
    ),
    _tensor("Squeeze", "Removes one dimension of size 1.", dim_param(1, SAMPLE_DIM_HELP)),
    _tensor(
        "Unsqueeze",
        "Inserts a dimension of size 1: at 1, (N, F) becomes (N, 1, F).",
        dim_param(1, "Where the new dimension goes: 1 first after the batch, -1 last."),
    ),
    _tensor(
        "Expand",
        "Repeats dimensions of size 1 without copying: (N, 1, F) to (N, 5, F) with 5, -1.",
        tuple_param(
            "sizes", (-1,), "New size per dimension, without the batch; -1 keeps a size.", low=-1
        ),
    ),
    # Reductions (beside Mean and Sum)
    reduction("Max", "Keeps the largest value over one or more dimensions."),
    reduction("Min", "Keeps the smallest value over one or more dimensions."),
    # Sources: no input, one per-model tensor
    _tensor(
        "Parameter",
        "A learned tensor shared by every sample (a class token, a position table, a bias).",
        tuple_param("shape", (1, 64), "Its shape without the batch, e.g. 1, 64 for a token."),
        choice_param(
            "init",
            "normal",
            ("zeros", "ones", "normal", "uniform"),
            "Starting values: zeros, ones, small random normal or uniform values.",
        ),
        float_param(
            "scale", 0.02, "Spread of the random start (std, or ± for uniform).", 0.0, 10.0
        ),
        key=("shape", "init"),
        inputs=NO_INPUTS,
    ),
    _tensor(
        "Constant",
        "Fixed values shared by every sample: one number, a count, or a sine position table.",
        tuple_param("shape", (1, 64), "Its shape without the batch."),
        choice_param(
            "kind",
            "fill",
            ("fill", "arange", "sinusoidal", "values"),
            "fill: value everywhere; arange: 0, 1, 2... along dim; sinusoidal: (length, "
            "features) position table; values: numbers imported with the weights.",
        ),
        float_param("value", 0.0, "The number used by kind fill.", -1e9, 1e9),
        dim_param(1, "The dimension arange counts along."),
        key=("shape", "kind"),
        inputs=NO_INPUTS,
    ),
)
