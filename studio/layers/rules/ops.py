"""Rules for tensor operations: elementwise math, matrix products, and shape and index ops.

Dimensions are the user's, as everywhere in the catalog: 1 is the first after the batch, -1 the
last, and 0 (the batch) is refused. A per-model input (a Parameter or Constant, leading 1 where
the batch goes) keeps its leading 1 through one-input operations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from studio.core.shapes import ShapeError, TensorShape
from studio.layers.rules.checks import (
    expect_at_least,
    expect_float,
    expect_input_count,
    listing,
    only_input,
    sample_dim,
)
from studio.layers.rules.merge import (
    any_batched,
    broadcast,
    broadcast_sizes,
    from_full,
    full_sizes,
    promoted,
)

# --- elementwise -------------------------------------------------------------------------------


def subtract(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    expect_input_count("Subtract", inputs, 2)
    return [broadcast("Subtract", inputs)]


def divide(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """torch's true division: whole numbers divide into fractions, so the result is float."""
    expect_input_count("Divide", inputs, 2)
    return [broadcast("Divide", inputs, "float")]


def scale(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_as_float(only_input("Scale", inputs))]


def shift(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_as_float(only_input("Shift", inputs))]


def pow(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_as_float(only_input("Pow", inputs))]


def exp(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_as_float(only_input("Exp", inputs))]


def log(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_as_float(only_input("Log", inputs))]


def sqrt(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    return [_as_float(only_input("Sqrt", inputs))]


def abs(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """The absolute value of whole numbers stays whole."""
    return [only_input("Abs", inputs)]


def clamp(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Clamp", inputs)
    low, high = params["min"], params["max"]
    if low is None and high is None:
        raise ShapeError("Clamp needs a min, a max or both; set at least one of them.")
    if low is not None and high is not None and low > high:
        raise ShapeError(
            f"Clamp's min ({low:g}) is above its max ({high:g}); every value would become the "
            "max. Swap them."
        )
    return [_as_float(shape)]


def _as_float(shape: TensorShape) -> TensorShape:
    """Math with a float setting (a factor, an exponent, a bound) gives floats, as in torch."""
    return replace(shape, dtype="float")


# --- matrix products ---------------------------------------------------------------------------


def matmul(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """torch.matmul on the full tensors: the last two dims multiply, the rest broadcast."""
    expect_input_count("MatMul", inputs, 2)
    first, second = inputs
    for shape in inputs:
        if shape.batched and len(shape.dims) < 2:
            raise ShapeError(
                f"MatMul expects a matrix per sample (N, rows, columns); it receives {shape}, "
                "which torch would multiply as one matrix whose rows are the samples. "
                "Insert Unsqueeze before it to make each sample a matrix."
            )
    a, b = full_sizes(first), full_sizes(second)
    if a[-1] != b[-2]:
        raise ShapeError(
            f"MatMul multiplies {first} by {second}: the first's last size ({a[-1]}) must equal "
            f"the second's second-to-last ({b[-2]}). Insert Transpose or Linear on a branch so "
            "they match."
        )
    leading = broadcast_sizes("MatMul", [a[:-2], b[:-2]], inputs)
    full = (*leading, a[-2], b[-1])
    return [from_full("MatMul", full, promoted(inputs), inputs)]


def scaled_dot_product_attention(
    params: Mapping[str, Any], inputs: Sequence[TensorShape]
) -> list[TensorShape]:
    """softmax(q kᵀ · scale) v on the last two dims: q (N, ..., L, E), k (N, ..., S, E) and
    v (N, ..., S, Ev) give (N, ..., L, Ev); the leading dims (heads) broadcast."""
    layer = "ScaledDotProductAttention"
    expect_input_count(layer, inputs, 3)
    for shape in inputs:
        expect_float(layer, shape)
        if len(shape.dims) < 2:
            raise ShapeError(
                f"{layer} expects sequences (N, L, E) or heads (N, H, L, E) at every input; it "
                f"receives {shape}. Insert Unsqueeze or Reshape before it."
            )
    query, key, value = (full_sizes(shape) for shape in inputs)
    if query[-1] != key[-1]:
        raise ShapeError(
            f"{layer}: the query's last size ({query[-1]}) must equal the key's ({key[-1]}); "
            f"it receives query {inputs[0]} and key {inputs[1]}."
        )
    if key[-2] != value[-2]:
        raise ShapeError(
            f"{layer}: the key and the value must have as many positions; it receives key "
            f"{inputs[1]} ({key[-2]}) and value {inputs[2]} ({value[-2]})."
        )
    leading = broadcast_sizes(layer, [query[:-2], key[:-2], value[:-2]], inputs)
    return [from_full(layer, (*leading, query[-2], value[-1]), "float", inputs)]


def einsum(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """An equation over one sample, e.g. ``ij,jk->ik``; the batch is added in front of every
    operand and of the result (as torch's ``...``), so it never appears in the equation."""
    count = params["inputs"]
    expect_input_count("Einsum", inputs, count)
    for shape in inputs:
        expect_float("Einsum", shape)
    operands, result = _parse_equation(params["equation"], count)
    sizes: dict[str, int] = {}
    for letters, shape in zip(operands, inputs, strict=True):
        if len(letters) != len(shape.dims):
            raise ShapeError(
                f"Einsum's equation names {len(letters)} dimension"
                f"{'' if len(letters) == 1 else 's'} ({letters or 'none'}) for an input of shape "
                f"{shape}, which has {len(shape.dims)} after the batch. Write one letter per "
                "dimension, without the batch."
            )
        for letter, size in zip(letters, shape.dims, strict=True):
            if sizes.setdefault(letter, size) != size:
                raise ShapeError(
                    f"Einsum's letter {letter!r} stands for sizes {sizes[letter]} and {size} in "
                    f"{listing(inputs)}; a letter must mean one size everywhere."
                )
    return [TensorShape(tuple(sizes[letter] for letter in result), "float", any_batched(inputs))]


def _parse_equation(equation: str, count: int) -> tuple[list[str], str]:
    text = equation.replace(" ", "")
    if "->" not in text or "." in text:
        raise ShapeError(
            f"Einsum's equation {equation!r} must name the result after '->' and leave out "
            "the batch, e.g. 'ij,jk->ik' for a matrix product per sample."
        )
    left, result = text.split("->", 1)
    operands = left.split(",")
    if len(operands) != count:
        raise ShapeError(
            f"Einsum's equation {equation!r} names {len(operands)} operand"
            f"{'' if len(operands) == 1 else 's'}, but the layer has {count} inputs. "
            "Change 'inputs' or the equation."
        )
    if not all(part.isalpha() and part.isascii() for part in [*operands, result] if part):
        raise ShapeError(
            f"Einsum's equation {equation!r} may hold only letters a-z and A-Z, commas and '->'."
        )
    used = set("".join(operands))
    unknown = sorted(set(result) - used)
    if unknown or len(set(result)) != len(result):
        raise ShapeError(
            f"Einsum's result {result!r} must name each dimension once, using only letters of "
            f"its inputs ({''.join(sorted(used))})."
        )
    return operands, result


# --- splitting and joining ---------------------------------------------------------------------


def split(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Split", inputs)
    index = sample_dim("Split", shape, params["dim"]) - 1
    sizes = tuple(params["sizes"])
    size = shape.dims[index]
    if sum(sizes) != size:
        raise ShapeError(
            f"Split's sizes {_plain(sizes)} add up to {sum(sizes)}, but dim {params['dim']} of "
            f"its input {shape} has size {size}. Make the sizes add up to {size}."
        )
    return [_resized(shape, index, part) for part in sizes]


def chunk(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """torch.chunk: equal pieces of ceil(size / chunks), the last one smaller."""
    shape = only_input("Chunk", inputs)
    index = sample_dim("Chunk", shape, params["dim"]) - 1
    chunks, size = params["chunks"], shape.dims[index]
    step = -(-size // chunks)
    parts = [min(step, size - start) for start in range(0, size, step)]
    if len(parts) != chunks:
        raise ShapeError(
            f"Chunk cannot cut size {size} (dim {params['dim']} of {shape}) into {chunks} "
            f"pieces: torch makes pieces of {step}, which gives {len(parts)}. Use a number of "
            "chunks that divides the size, or Split with explicit sizes."
        )
    return [_resized(shape, index, part) for part in parts]


def stack(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """A new dimension of size `inputs`; per-model inputs repeat over the batch."""
    expect_input_count("Stack", inputs, params["inputs"])
    if len({shape.dims for shape in inputs}) > 1:
        raise ShapeError(
            f"Stack expects inputs of the same shape; it receives {listing(inputs)}. Insert "
            "Reshape or Linear on a branch so they match."
        )
    first = inputs[0]
    dim = params["dim"]
    index = _new_dim("Stack", first, dim)
    dims = (*first.dims[:index], len(inputs), *first.dims[index:])
    return [TensorShape(dims, promoted(inputs), any_batched(inputs))]


# --- indexing ----------------------------------------------------------------------------------


def slice(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Python's ``start:end:step`` along one dimension."""
    shape = only_input("Slice", inputs)
    index = sample_dim("Slice", shape, params["dim"]) - 1
    size = shape.dims[index]
    start, end, step = params["start"], params["end"], params["step"]
    kept = len(range(size)[start:end:step])
    if kept == 0:
        shown = f"{start}:{'' if end is None else end}:{step}"
        raise ShapeError(
            f"Slice {shown} keeps nothing of dim {params['dim']} of its input {shape} (size "
            f"{size}). Use a start below the end, within 0 to {size - 1} (or -{size} to -1)."
        )
    return [_resized(shape, index, kept)]


def index(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """torch.index_select: the listed positions, in order, repeats allowed."""
    shape = only_input("Index", inputs)
    position = sample_dim("Index", shape, params["dim"]) - 1
    size = shape.dims[position]
    indices = tuple(params["indices"])
    outside = [i for i in indices if i >= size]
    if outside:
        raise ShapeError(
            f"Index's indices {_plain(indices)} include {outside[0]}, but dim {params['dim']} "
            f"of its input {shape} has size {size}: use 0 to {size - 1}."
        )
    return [_resized(shape, position, len(indices))]


def select(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """One position along a dimension, which disappears: on (N, D) that leaves (N), one value
    per sample, as ``x[:, 0]`` does in torch."""
    shape = only_input("Select", inputs)
    expect_at_least("Select", shape, 1, "..., D")
    position = sample_dim("Select", shape, params["dim"]) - 1
    size = shape.dims[position]
    chosen = params["index"]
    if not -size <= chosen < size:
        raise ShapeError(
            f"Select's index {chosen} is outside dim {params['dim']} of its input {shape} "
            f"(size {size}): use 0 to {size - 1}, or -{size} to -1 from the end."
        )
    return [replace(shape, dims=shape.dims[:position] + shape.dims[position + 1 :])]


# --- rearranging -------------------------------------------------------------------------------


def transpose(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Transpose", inputs)
    a = sample_dim("Transpose", shape, params["dim0"]) - 1
    b = sample_dim("Transpose", shape, params["dim1"]) - 1
    dims = list(shape.dims)
    dims[a], dims[b] = dims[b], dims[a]
    return [replace(shape, dims=tuple(dims))]


def squeeze(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Removes one dim of size 1; (N, 1) becomes (N), one value per sample, as in torch."""
    shape = only_input("Squeeze", inputs)
    expect_at_least("Squeeze", shape, 1, "..., 1, ...")
    position = sample_dim("Squeeze", shape, params["dim"]) - 1
    if shape.dims[position] != 1:
        raise ShapeError(
            f"Squeeze removes a dimension of size 1, but dim {params['dim']} of its input "
            f"{shape} has size {shape.dims[position]}. Choose a dim of size 1."
        )
    return [replace(shape, dims=shape.dims[:position] + shape.dims[position + 1 :])]


def unsqueeze(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    shape = only_input("Unsqueeze", inputs)
    if len(shape.dims) >= 7:
        raise ShapeError(
            f"Unsqueeze expects at most 6 dimensions after the batch; it receives {shape}."
        )
    position = _new_dim("Unsqueeze", shape, params["dim"])
    return [replace(shape, dims=(*shape.dims[:position], 1, *shape.dims[position:]))]


def expand(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """Repeats dims of size 1 without copying; -1 keeps a size."""
    shape = only_input("Expand", inputs)
    sizes = tuple(params["sizes"])
    if len(sizes) != len(shape.dims):
        raise ShapeError(
            f"Expand's sizes {_plain(sizes)} must give one size per dimension of its input "
            f"{shape} ({len(shape.dims)}, without the batch); use -1 to keep a size."
        )
    dims = []
    for old, new in zip(shape.dims, sizes, strict=True):
        if new not in (-1, old) and old != 1:
            raise ShapeError(
                f"Expand can only repeat dimensions of size 1; its input {shape} has size {old} "
                f"where its sizes {_plain(sizes)} ask for {new}. Use -1 or {old} there."
            )
        dims.append(old if new == -1 else new)
    return [replace(shape, dims=tuple(dims))]


# --- reductions --------------------------------------------------------------------------------


def reduced(layer: str, shape: TensorShape, params: Mapping[str, Any]) -> TensorShape:
    """`dims` (several) when set, otherwise `dim`; each reduced dim goes, or stays as 1."""
    chosen = params.get("dims") or (params["dim"],)
    indices = sorted({sample_dim(layer, shape, d) - 1 for d in chosen})
    if len(indices) != len(chosen):
        raise ShapeError(
            f"{layer}'s dims {_plain(tuple(chosen))} name the same dimension twice for its "
            f"input {shape}; list each once."
        )
    keep = params["keepdim"]
    dims = tuple(
        (1 if i in indices else size)
        for i, size in enumerate(shape.dims)
        if keep or i not in indices
    )
    return replace(shape, dims=dims)


# --- sources -----------------------------------------------------------------------------------


def parameter(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    """A learned per-model tensor: leading 1 where the batch goes, spread by broadcasting."""
    _no_inputs("Parameter", inputs)
    return [TensorShape(tuple(params["shape"]), "float", batched=False)]


def constant(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> list[TensorShape]:
    _no_inputs("Constant", inputs)
    dims = tuple(params["shape"])
    kind = params["kind"]
    if kind == "arange":
        sample_dim("Constant", TensorShape(dims), params["dim"])
    if kind == "sinusoidal" and (len(dims) != 2 or dims[1] % 2):
        raise ShapeError(
            f"Constant's sinusoidal table needs a shape of (length, features) with an even "
            f"number of features; its shape is {_plain(dims)}."
        )
    return [TensorShape(dims, "float", batched=False)]


def _no_inputs(layer: str, inputs: Sequence[TensorShape]) -> None:
    if inputs:
        raise ShapeError(f"{layer} takes no input; it receives {listing(inputs)}.")


# --- helpers -----------------------------------------------------------------------------------


def _resized(shape: TensorShape, index: int, size: int) -> TensorShape:
    dims = list(shape.dims)
    dims[index] = size
    return replace(shape, dims=tuple(dims))


def _new_dim(layer: str, shape: TensorShape, dim: int) -> int:
    """Where a new dimension goes (0-based among the sample dims): 1 = first, -1 = last."""
    rank = len(shape.dims) + 1
    if dim == 0 or not -rank <= dim <= rank:
        raise ShapeError(
            f"{layer}'s dim is {dim}, but the result of {shape} has {rank} dimensions after the "
            f"batch. Use 1 to {rank}, or -1 to -{rank} counting from the end."
        )
    return dim - 1 if dim > 0 else rank + dim


def _plain(values: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, values)) + ")"
