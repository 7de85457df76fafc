"""What kind of data a model input is, which decides the methods, windows and views that apply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

from studio.explain.errors import ExplainError

if TYPE_CHECKING:
    import torch

InputKind = Literal["image", "table", "sequence", "text"]
INPUT_KINDS: tuple[InputKind, ...] = get_args(InputKind)


def infer_input_kind(inputs: torch.Tensor) -> InputKind:
    """Guess the kind from a batch: token ids are text, else the number of dimensions decides.

    (N, C, H, W) is an image, (N, T, C) a sequence and (N, F) a table row, which is how
    `studio.data` hands samples to a model.
    """
    if not inputs.is_floating_point():
        return "text"
    by_rank: dict[int, InputKind] = {2: "table", 3: "sequence", 4: "image"}
    if inputs.dim() not in by_rank:
        raise ExplainError(
            f"Cannot tell what kind of data an input of shape {tuple(inputs.shape)} is; "
            "pass input_kind= (image, table, sequence or text)."
        )
    return by_rank[inputs.dim()]


def check_input_kind(kind: str) -> InputKind:
    """Return `kind` typed as an InputKind, or say which kinds exist."""
    for known in INPUT_KINDS:
        if kind == known:
            return known
    raise ExplainError(f"Unknown input kind {kind!r}; choose one of {', '.join(INPUT_KINDS)}.")
