"""Modules for the catalog's tensor operations (elementwise math, products, shape and index ops).

The rules of `studio.layers.modules` hold here too: every class stands alone (only ``math``,
``torch`` and ``nn``), takes plain Python values, and is copied into generated code by
``inspect.getsource``; ``forward`` never branches on tensor values and never bakes in the batch
size, so TorchScript, ``torch.fx`` (as a leaf call) and ``torch.export`` with a dynamic batch
all accept it. Dims are torch dims (0 is the batch, which the catalog never lets a user pick).

Split and Chunk return torch's own result, as many tensors as their node has output ports: a
tuple in Python, a list under TorchScript (which has no type for a tuple whose length is a
setting, hence the ``list`` annotation); the compiled graph and generated code index either.
A per-model tensor (`LearnedTensor`, `ConstantTensor`) has a leading 1 where the batch goes;
broadcasting spreads it, and `Stack` repeats it.
"""

import math

import torch
from torch import nn


class Subtract(nn.Module):
    """``x1 - x2`` with torch's broadcasting."""

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return x1 - x2


class Divide(nn.Module):
    """``x1 / x2`` with torch's broadcasting; whole numbers divide into floats."""

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return x1 / x2


class Scale(nn.Module):
    """Multiplies by a fixed number."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class Shift(nn.Module):
    """Adds a fixed number."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.offset

    def extra_repr(self) -> str:
        return f"offset={self.offset}"


class Pow(nn.Module):
    """Raises every value to a fixed power."""

    def __init__(self, exponent: float) -> None:
        super().__init__()
        self.exponent = exponent

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.pow(x, self.exponent)

    def extra_repr(self) -> str:
        return f"exponent={self.exponent}"


class Exp(nn.Module):
    """e to the power of every value."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


class Log(nn.Module):
    """Natural logarithm of every value."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


class Sqrt(nn.Module):
    """Square root of every value."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x)


class Abs(nn.Module):
    """Absolute value of every value."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.abs(x)


class Clamp(nn.Module):
    """Limits values to [min, max]; an unset bound does not limit."""

    min: float | None
    max: float | None

    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        super().__init__()
        self.min = min
        self.max = max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=self.min, max=self.max)

    def extra_repr(self) -> str:
        return f"min={self.min}, max={self.max}"


class MatMul(nn.Module):
    """``torch.matmul``: the last two dims multiply as matrices, the leading ones broadcast."""

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x1, x2)


class ScaledDotProductAttention(nn.Module):
    """``F.scaled_dot_product_attention`` of query, key and value already split into heads.

    What a hand-written attention does after its projections (nanoGPT, Hugging Face's BERT
    and ViT): softmax(q kᵀ · scale) v, with the causal mask when `causal`, and dropout on the
    attention weights only while training. `scale` 0 means torch's default, 1/√E.
    """

    def __init__(self, causal: bool = False, dropout: float = 0.0, scale: float = 0.0) -> None:
        super().__init__()
        self.causal = causal
        self.dropout = dropout
        self.scale = scale

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        p = self.dropout if self.training else 0.0
        if self.scale > 0.0:
            return nn.functional.scaled_dot_product_attention(
                q, k, v, dropout_p=p, is_causal=self.causal, scale=self.scale
            )
        return nn.functional.scaled_dot_product_attention(
            q, k, v, dropout_p=p, is_causal=self.causal
        )

    def extra_repr(self) -> str:
        return f"causal={self.causal}, dropout={self.dropout}, scale={self.scale}"


class Einsum(nn.Module):
    """``torch.einsum`` of an equation written for one sample (``"ij,jk->ik"``).

    Every operand and the result get a leading ``...``, which carries the batch (and spreads a
    per-model operand's leading 1 over it), so the equation never mentions the batch.
    """

    def __init__(self, equation: str) -> None:
        super().__init__()
        operands, result = equation.replace(" ", "").split("->")
        self.equation = ",".join("..." + o for o in operands.split(",")) + "->..." + result

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor | None = None, x3: torch.Tensor | None = None
    ) -> torch.Tensor:
        operands = [x1]
        for x in [x2, x3]:
            if x is not None:
                operands.append(x)
        return torch.einsum(self.equation, operands)

    def extra_repr(self) -> str:
        return f"equation={self.equation!r}"


class Split(nn.Module):
    """Cuts `dim` into pieces of the given sizes; returns them as a tuple."""

    sizes: list[int]

    def __init__(self, sizes: tuple[int, ...], dim: int) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return torch.split(x, self.sizes, dim=self.dim)  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return f"sizes={tuple(self.sizes)}, dim={self.dim}"


class Chunk(nn.Module):
    """Cuts `dim` into `chunks` pieces as ``torch.chunk`` does; returns them as a tuple."""

    def __init__(self, chunks: int, dim: int) -> None:
        super().__init__()
        self.chunks = chunks
        self.dim = dim

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return torch.chunk(x, self.chunks, dim=self.dim)  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, dim={self.dim}"


class Stack(nn.Module):
    """Stacks two to eight tensors of one shape along a new dim.

    `expand` lists the per-model inputs (leading 1), repeated over the batch of input
    `batch_from` first, as ``torch.stack`` needs equal sizes.
    """

    expand: list[int]

    def __init__(self, dim: int = 1, expand: tuple[int, ...] = (), batch_from: int = 0) -> None:
        super().__init__()
        self.dim = dim
        self.expand = list(expand)
        self.batch_from = batch_from

    def forward(
        self,
        x1: torch.Tensor,
        x2: torch.Tensor,
        x3: torch.Tensor | None = None,
        x4: torch.Tensor | None = None,
        x5: torch.Tensor | None = None,
        x6: torch.Tensor | None = None,
        x7: torch.Tensor | None = None,
        x8: torch.Tensor | None = None,
    ) -> torch.Tensor:
        tensors = [x1, x2]
        for x in [x3, x4, x5, x6, x7, x8]:
            if x is not None:
                tensors.append(x)
        batch = tensors[self.batch_from].shape[0]
        for i in self.expand:
            tensors[i] = tensors[i].expand([batch] + [-1] * (tensors[i].dim() - 1))
        return torch.stack(tensors, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Slice(nn.Module):
    """``start:end:step`` along one dim (Python's slicing; an unset end runs to the end)."""

    end: int | None

    def __init__(self, dim: int, start: int = 0, end: int | None = None, step: int = 1) -> None:
        super().__init__()
        self.dim = dim
        self.start = start
        self.end = end
        self.step = step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten.slice(x, self.dim, self.start, self.end, self.step)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, end={self.end}, step={self.step}"


class Index(nn.Module):
    """Keeps the listed positions of one dim, in order (``torch.index_select``)."""

    indices: torch.Tensor
    positions: list[int]

    def __init__(self, dim: int, indices: tuple[int, ...]) -> None:
        super().__init__()
        self.dim = dim
        self.positions = list(indices)
        self.register_buffer("indices", torch.tensor(list(indices)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.index_select(x, self.dim, self.indices)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, indices={tuple(self.positions)}"


class Select(nn.Module):
    """One position of one dim, which disappears."""

    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim = dim
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"


class Transpose(nn.Module):
    """Swaps two dims."""

    def __init__(self, dim0: int, dim1: int) -> None:
        super().__init__()
        self.dim0 = dim0
        self.dim1 = dim1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(self.dim0, self.dim1)

    def extra_repr(self) -> str:
        return f"dim0={self.dim0}, dim1={self.dim1}"


class Squeeze(nn.Module):
    """Removes one dim of size 1."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Unsqueeze(nn.Module):
    """Inserts a dim of size 1."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Expand(nn.Module):
    """Repeats dims of size 1 without copying; `sizes` leave out the batch, -1 keeps a size."""

    sizes: list[int]

    def __init__(self, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.sizes = list(sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand([-1] + self.sizes)  # noqa: RUF005 - TorchScript cannot unpack in a list

    def extra_repr(self) -> str:
        return f"sizes={tuple(self.sizes)}"


class Max(nn.Module):
    """Largest value over one or more dims (values only)."""

    dim: list[int]

    def __init__(self, dim: int | tuple[int, ...] = 1, keepdim: bool = False) -> None:
        super().__init__()
        self.dim = [dim] if isinstance(dim, int) else list(dim)
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.amax(x, dim=self.dim, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"dim={tuple(self.dim)}, keepdim={self.keepdim}"


class Min(nn.Module):
    """Smallest value over one or more dims (values only)."""

    dim: list[int]

    def __init__(self, dim: int | tuple[int, ...] = 1, keepdim: bool = False) -> None:
        super().__init__()
        self.dim = [dim] if isinstance(dim, int) else list(dim)
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.amin(x, dim=self.dim, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"dim={tuple(self.dim)}, keepdim={self.keepdim}"


class LearnedTensor(nn.Module):
    """A learned tensor of one sample's `shape`, shared by every sample (a class token, a bias).

    Stored as (1, *shape): the leading 1 stands where the batch goes and broadcasting spreads
    it. `init` is "zeros", "ones", "normal" (std `scale`) or "uniform" (within ±`scale`).
    """

    def __init__(self, shape: tuple[int, ...], init: str = "zeros", scale: float = 0.02) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, *shape))
        if init == "ones":
            nn.init.ones_(self.weight)
        elif init == "normal":
            nn.init.normal_(self.weight, std=scale)
        elif init == "uniform":
            nn.init.uniform_(self.weight, -scale, scale)

    def forward(self) -> torch.Tensor:
        return self.weight


class ConstantTensor(nn.Module):
    """Fixed values of one sample's `shape`, shared by every sample, stored as (1, *shape).

    `kind` "fill" repeats `value`; "arange" counts 0, 1, 2... along `dim` (a torch dim);
    "sinusoidal" is the (length, features) position table of "Attention Is All You Need";
    "values" holds numbers loaded with the weights (an imported model's constant), so only it
    is saved in the state dict: the others are recomputed on construction.
    """

    value: torch.Tensor

    def __init__(
        self, shape: tuple[int, ...], kind: str = "fill", value: float = 0.0, dim: int = 1
    ) -> None:
        super().__init__()
        table = torch.full((1, *shape), value)
        if kind == "arange":
            sizes = [1] * (len(shape) + 1)
            sizes[dim] = table.shape[dim]
            steps = torch.arange(table.shape[dim], dtype=torch.float32).reshape(sizes)
            table = steps.expand(table.shape).clone()
        elif kind == "sinusoidal":
            length, features = shape[0], shape[1]
            position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
            half = torch.arange(0, features, 2, dtype=torch.float32)
            angle = position * torch.exp(half * (-math.log(10000.0) / features))
            table = torch.zeros(1, length, features)
            table[0, :, 0::2] = torch.sin(angle)
            table[0, :, 1::2] = torch.cos(angle)
        self.kind = kind
        self.register_buffer("value", table, persistent=kind == "values")

    def forward(self) -> torch.Tensor:
        return self.value

    def extra_repr(self) -> str:
        return f"shape={tuple(self.value.shape[1:])}, kind={self.kind!r}"
