"""How the user describes a model's inputs on the command line (torch-free).

``--input-shape 2,3,32,32`` gives one float tensor. ``--input`` says more, in plain words:

- ``2,16`` or ``long:2,16`` or ``tokens:long:2,16``: an optional name, an optional dtype and the
  shape, batch included. Dtypes: ``float`` (float32, the default), ``double`` (float64),
  ``long`` (int64 token ids, drawn below the smallest Embedding's vocabulary), ``int``.
- ``state:float:1,2,16+float:1,2,16``: a tuple argument (an LSTM's ``(h, c)``): its tensors
  joined by ``+``; each becomes one Input of the imported graph.

A float64 input imports as a float Input: the catalog computes in float32, so the imported
model is checked on the same values rounded to float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from studio.core.errors import StudioError

DTYPES = {
    "float": "float32",
    "float32": "float32",
    "double": "float64",
    "float64": "float64",
    "long": "int64",
    "int64": "int64",
    "int": "int32",
    "int32": "int32",
}

INPUT_HELP = (
    "an input, described as [NAME:][DTYPE:]SHAPE with the batch included, e.g. 2,3,32,32 or "
    "tokens:long:2,16; DTYPE is float (default), double (imported as float), long (token ids) "
    "or int; a tuple argument joins its tensors with +, e.g. state:float:1,2,16+float:1,2,16. "
    "Repeat --input for each argument of forward, in order"
)


@dataclass(frozen=True)
class TensorInput:
    """One example tensor: its shape (batch included) and torch dtype name."""

    shape: tuple[int, ...]
    dtype: str | None = None  # None: float32, or int64 where it feeds an Embedding
    name: str | None = None

    def describe(self) -> str:
        text = f"{self.dtype or 'float32'}:{','.join(str(d) for d in self.shape)}"
        return f"{self.name}:{text}" if self.name else text


InputArg = TensorInput | tuple[TensorInput, ...]
"""One argument of ``forward``: a tensor, or a tuple of tensors."""


def parse_input(text: str) -> InputArg:
    """``"tokens:long:2,16"`` → TensorInput; ``"a+b"`` → a tuple of them.

    Raises:
        StudioError: the text is not a description of an input (says what is wrong).
    """
    parts = [part.strip() for part in text.split("+")]
    tensors = [_parse_tensor(part, text, first=i == 0) for i, part in enumerate(parts)]
    if len(tensors) == 1:
        return tensors[0]
    return tuple(tensors)


def _parse_tensor(part: str, whole: str, *, first: bool) -> TensorInput:
    fields = part.split(":")
    shape_text = fields.pop() if fields else ""
    dtype = None
    name = None
    if fields and fields[-1].strip().lower() in DTYPES:
        dtype = DTYPES[fields.pop().strip().lower()]
    if fields and first and len(fields) == 1 and fields[0].strip().isidentifier():
        name = fields.pop().strip()
    if fields:
        raise StudioError(
            f"--input {whole!r}: {':'.join(fields)!r} is neither a name nor a dtype; dtypes are "
            f"{', '.join(sorted(set(DTYPES)))}"
        )
    return TensorInput(_parse_shape(shape_text, whole), dtype, name)


def _parse_shape(text: str, whole: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise StudioError(
            f"--input {whole!r}: give the shape as positive sizes separated by commas, batch "
            "included, e.g. 2,16 or tokens:long:2,16"
        )
    return shape


def from_shapes(shapes: Sequence[Sequence[int]]) -> list[InputArg]:
    """The float32 inputs ``--input-shape`` describes."""
    return [TensorInput(tuple(int(d) for d in shape)) for shape in shapes]


def flat(args: Sequence[InputArg]) -> list[TensorInput]:
    """Every tensor of `args`, tuples opened, in order (the imported graph's Inputs)."""
    return [t for arg in args for t in (arg if isinstance(arg, tuple) else (arg,))]
