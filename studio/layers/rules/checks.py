"""Shape checks shared by the shape rules, each raising `ShapeError` with a beginner's sentence.

Messages follow one pattern, "<Layer> expects <what>; it receives <what>. <What to do>.", and
print shapes the way the canvas does, with the batch as N.
"""

from __future__ import annotations

from collections.abc import Sequence

from studio.core.shapes import ShapeError, TensorShape


def only_input(layer: str, inputs: Sequence[TensorShape]) -> TensorShape:
    """The single input of a one-input layer."""
    if len(inputs) != 1:
        raise ShapeError(f"{layer} expects one input; it receives {len(inputs)}.")
    return inputs[0]


def expect_layout(layer: str, shape: TensorShape, *layouts: str, fix: str | None = None) -> None:
    """Require one of `layouts` (sample dims named without the batch, e.g. ``"C, H, W"``).

    Without `fix`, the advice is to flatten when the layer takes flat features and the input
    has too many dimensions, and to reshape otherwise.
    """
    ranks = [len(layout.split(",")) for layout in layouts]
    received = len(shape.dims)
    if received in ranks:
        return
    if fix is None:
        flat_helps = received > max(ranks) and min(ranks) == 1
        fix = "Insert Flatten before it." if flat_helps else "Insert Reshape before it."
    expected = " or ".join(f"(N, {layout})" for layout in layouts)
    raise ShapeError(f"{layer} expects {expected}; it receives {shape}. {fix}")


def expect_at_least(layer: str, shape: TensorShape, count: int, layout: str) -> None:
    """Require at least `count` sample dims; `layout` describes them, e.g. ``"C, ..."``."""
    if len(shape.dims) < count:
        raise ShapeError(
            f"{layer} expects (N, {layout}); it receives {shape}. Insert Reshape before it."
        )


def expect_float(layer: str, shape: TensorShape) -> None:
    """Refuse integer token ids, which only Embedding (and shape-only layers) accept."""
    if shape.dtype != "float":
        raise ShapeError(
            f"{layer} expects float values; it receives integer token ids {shape}. "
            "Insert Embedding before it, or set the Input's dtype to float."
        )


def expect_same_shape(layer: str, inputs: Sequence[TensorShape], count: int) -> None:
    """Require `count` inputs whose shapes match exactly (no broadcasting)."""
    expect_input_count(layer, inputs, count)
    if len({shape.dims for shape in inputs}) > 1:
        raise ShapeError(
            f"{layer} expects inputs of exactly the same shape; it receives {listing(inputs)}. "
            "Insert Linear, Conv2d or Reshape on a branch so they match."
        )


def expect_input_count(layer: str, inputs: Sequence[TensorShape], count: int) -> None:
    if len(inputs) != count:
        raise ShapeError(
            f"{layer} has {count} inputs but receives {len(inputs)}. "
            "Connect every input port, or lower its 'inputs' setting."
        )


def sample_dim(layer: str, shape: TensorShape, dim: int) -> int:
    """Check a user's `dim` (1 = first dim after the batch, -1 = last) and return it as a
    non-negative torch dim index."""
    size = len(shape.dims)
    if dim == 0:
        raise ShapeError(
            f"{layer}'s dim 0 would be the batch. Use 1 for the first dimension after the batch, "
            "or -1 for the last."
        )
    if not -size <= dim <= size:
        raise ShapeError(
            f"{layer}'s dim is {dim}, but its input {shape} has {size} dimension"
            f"{'' if size == 1 else 's'} after the batch. Use 1 to {size}, or -1 to -{size} "
            "counting from the end."
        )
    return dim if dim > 0 else size + 1 + dim


def check_window(
    layer: str, spatial: Sequence[int], kernel: int, padding: int, dilation: int = 1
) -> None:
    """Refuse a sliding window that does not fit even once into the (padded) input."""
    span = dilation * (kernel - 1) + 1
    if all(size + 2 * padding >= span for size in spatial):
        return
    kernel_text = times([kernel] * len(spatial))
    if dilation > 1:
        kernel_text += f", dilation {dilation}, spanning {times([span] * len(spatial))}"
    padded = " even with its padding" if padding else ""
    raise ShapeError(
        f"{layer}'s kernel ({kernel_text}) is larger than its input ({times(spatial)}){padded}. "
        "Use a smaller kernel_size, add padding, or remove a pooling layer before it."
    )


def sliding_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """How many window positions fit along one side: torch's formula for conv and pooling."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def check_divides(layer: str, param: str, value: int, what: str, total: int) -> None:
    """Require `value` (the param's) to divide `total` (`what` describes it)."""
    if total % value == 0:
        return
    options = [d for d in range(1, total + 1) if total % d == 0][:8]
    raise ShapeError(
        f"{layer}'s {param} ({value}) must divide {what} ({total}). "
        f"Try {', '.join(map(str, options))}."
    )


def times(sizes: Sequence[int]) -> str:
    """Sizes as written on paper: ``5×5``."""
    return "×".join(str(size) for size in sizes)


def listing(shapes: Sequence[TensorShape]) -> str:
    """``(N, 16), (N, 16) and (N, 32)``."""
    texts = [str(shape) for shape in shapes]
    if len(texts) < 2:
        return "".join(texts)
    return ", ".join(texts[:-1]) + " and " + texts[-1]
