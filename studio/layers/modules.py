"""Modules for layers that torch.nn does not provide in the shape the canvas needs.

Every class here stands alone: it uses only ``math``, ``torch`` and ``nn``, takes plain Python
values in its constructor and keeps no helper outside itself, because the code generator copies
each class's source (``inspect.getsource``) into the standalone code it writes. Each one also has
to survive ``torch.jit.script``, ``torch.fx`` (as a leaf call) and ``torch.export`` with a
dynamic batch, so ``forward`` never branches on tensor values and never reads the batch size.

Merge layers accept up to eight inputs through optional parameters, since TorchScript refuses
``*inputs``; the compiler passes exactly as many tensors as the node has ports.
"""

import math

import torch
from torch import nn


class Add(nn.Module):
    """Element-wise sum of two to eight tensors, broadcast as torch does (residual connections)."""

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
        out = x1 + x2
        for x in [x3, x4, x5, x6, x7, x8]:
            if x is not None:
                out = out + x
        return out


class Multiply(nn.Module):
    """Element-wise product of two to eight tensors, broadcast as torch does (gating)."""

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
        out = x1 * x2
        for x in [x3, x4, x5, x6, x7, x8]:
            if x is not None:
                out = out * x
        return out


class Concat(nn.Module):
    """Concatenates two to eight tensors along `dim` (a torch dim; 0 would be the batch).

    `expand` lists the per-model inputs (a class token with a leading 1), repeated over the
    batch of input `batch_from` first, as ``torch.cat`` needs equal sizes but along `dim`.
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
        return torch.cat(tensors, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Reshape(nn.Module):
    """Reshapes each sample to `shape` (one -1 allowed), leaving the batch dimension alone.

    Flattening then unflattening dim 1 keeps the batch symbolic; ``x.view(N, ...)`` would bake
    the example batch size into an exported graph.
    """

    shape: list[int]

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = list(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1).unflatten(1, self.shape)

    def extra_repr(self) -> str:
        return f"shape={tuple(self.shape)}"


class Permute(nn.Module):
    """Reorders the sample dimensions; `dims` numbers them from 1 and the batch stays first."""

    dims: list[int]

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute([0] + self.dims)  # noqa: RUF005 - TorchScript cannot unpack in a list

    def extra_repr(self) -> str:
        return f"dims={tuple(self.dims)}"


class GlobalAvgPool(nn.Module):
    """Averages every spatial position: (N, C, ...) becomes (N, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).mean(dim=2)


class SelectLast(nn.Module):
    """Keeps the last step of a sequence: (N, L, F) becomes (N, F)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1]


class Mean(nn.Module):
    """Averages over one dimension or several (torch dims; 0 would be the batch)."""

    dim: list[int]

    def __init__(self, dim: int | tuple[int, ...] = 1, keepdim: bool = False) -> None:
        super().__init__()
        self.dim = [dim] if isinstance(dim, int) else list(dim)
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dim, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        shown = self.dim[0] if len(self.dim) == 1 else tuple(self.dim)
        return f"dim={shown}, keepdim={self.keepdim}"


class Sum(nn.Module):
    """Adds up over one dimension or several (torch dims; 0 would be the batch)."""

    dim: list[int]

    def __init__(self, dim: int | tuple[int, ...] = 1, keepdim: bool = False) -> None:
        super().__init__()
        self.dim = [dim] if isinstance(dim, int) else list(dim)
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=self.dim, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        shown = self.dim[0] if len(self.dim) == 1 else tuple(self.dim)
        return f"dim={shown}, keepdim={self.keepdim}"


class Recurrent(nn.Module):
    """An RNN, LSTM or GRU (batch first) that returns one tensor, or a tuple with its state.

    With ``output="last"`` it returns the final state of the top layer, (N, H) or (N, 2H) when
    bidirectional: the forward direction ends at the last step, the backward one at the first.
    Reading it from the output sequence rather than ``h_n`` gives the same values for all three
    kinds, whose hidden states differ in type (the LSTM's is a pair).

    States are batch first, (N, num_layers * directions, H), like every tensor on the canvas;
    torch's own are (num_layers * directions, N, H), so they are transposed on the way in and
    out. `h0` (and, for an LSTM, `c0` with it) start the layer from a given state instead of
    zeros; with `return_state` the module returns ``(out, h)``, or ``(out, h, c)`` for an LSTM.

    The kind and `return_state` are marked by attributes that exist only when they hold
    (``cells``, ``gives_state``): TorchScript decides ``hasattr`` while compiling and skips the
    other branch, so each instance has one return type and calls its torch layer one way.

    Args:
        mode: "RNN", "LSTM" or "GRU".
        input_size: Features per step, F of the (N, L, F) input.
        hidden_size: Features of the state, H.
        num_layers: Stacked recurrent layers.
        bidirectional: Also read the sequence backwards.
        dropout: Dropout between stacked layers.
        output: "sequence" for (N, L, H * directions) or "last" for (N, H * directions).
        return_state: Also return the final state(s), batch first.
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        output: str = "sequence",
        return_state: bool = False,
    ) -> None:
        super().__init__()
        kinds = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
        self.rnn = kinds[mode](
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        self.hidden_size = hidden_size
        self.bidirectional = bidirectional
        self.last_only = output == "last"
        if mode == "LSTM":
            self.cells = True
        if return_state:
            self.gives_state = True

    def forward(
        self,
        x: torch.Tensor,
        h0: torch.Tensor | None = None,
        c0: torch.Tensor | None = None,
    ):  # -> Tensor, or a tuple of 2 or 3 with return_state (TorchScript infers each instance's)
        if hasattr(self, "cells"):
            hx: tuple[torch.Tensor, torch.Tensor] | None = None
            if h0 is not None and c0 is not None:
                hx = (h0.transpose(0, 1).contiguous(), c0.transpose(0, 1).contiguous())
            out, (h, c) = self.rnn(x, hx)
            if hasattr(self, "gives_state"):
                return self._sequence_or_last(out), h.transpose(0, 1), c.transpose(0, 1)
            return self._sequence_or_last(out)
        start: torch.Tensor | None = None
        if h0 is not None:
            start = h0.transpose(0, 1).contiguous()
        out, h = self.rnn(x, start)
        if hasattr(self, "gives_state"):
            return self._sequence_or_last(out), h.transpose(0, 1)
        return self._sequence_or_last(out)

    def _sequence_or_last(self, out: torch.Tensor) -> torch.Tensor:
        if not self.last_only:
            return out
        if self.bidirectional:
            forward_end = out[:, -1, : self.hidden_size]
            backward_end = out[:, 0, self.hidden_size :]
            return torch.cat([forward_end, backward_end], dim=1)
        return out[:, -1]


class SelfAttention(nn.Module):
    """Multi-head attention on (N, L, E) that returns only the attended sequence.

    ``nn.MultiheadAttention`` takes query, key and value and returns a pair; on the canvas it is
    one input and one output, and skipping the weights lets PyTorch use its fused kernel.

    Optional inputs follow the query. With `cross`, keys and values come from `memory`
    (N, S, E) instead of the query itself; with `masked`, a padding mask (N, S) of 0/1 values
    (1 = a padding step no query may attend to) comes last. The compiler passes only connected
    inputs, in port order, so without `cross` the mask is the second argument. `causal` lets
    query step i attend key steps 0..i only, for models that predict the next step.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        causal: bool = False,
        cross: bool = False,
        masked: bool = False,
    ) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout, batch_first=True)
        self.causal = causal
        self.cross = cross
        self.masked = masked

    def forward(
        self,
        x: torch.Tensor,
        second: torch.Tensor | None = None,
        third: torch.Tensor | None = None,
    ) -> torch.Tensor:
        memory = x
        padding: torch.Tensor | None = None
        if self.cross and second is not None:
            memory = second
            padding = third
        elif self.masked:
            padding = second
        key_padding_mask: torch.Tensor | None = None
        if padding is not None:
            key_padding_mask = padding != 0
        attn_mask: torch.Tensor | None = None
        if self.causal:
            ones = torch.ones((x.shape[1], memory.shape[1]), dtype=torch.bool, device=x.device)
            attn_mask = torch.triu(ones, diagonal=1)
        out, _ = self.attn(
            x,
            memory,
            memory,
            key_padding_mask=key_padding_mask,
            attn_mask=attn_mask,
            need_weights=False,
        )
        return out

    def extra_repr(self) -> str:
        return f"causal={self.causal}, cross={self.cross}, masked={self.masked}"


class PositionalEncoding(nn.Module):
    """Adds a position vector to every step of (N, L, E), for sequences up to `max_len`.

    "sinusoidal" uses the fixed sine/cosine table of "Attention Is All You Need", stored as a
    non-persistent buffer since it is recomputed on construction; "learned" trains one vector
    per position, initialised small so it does not drown the embeddings at first.
    """

    table: torch.Tensor

    def __init__(self, embed_dim: int, max_len: int = 512, kind: str = "sinusoidal") -> None:
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, embed_dim) * 0.02)
        else:
            position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
            half = torch.arange(0, embed_dim, 2, dtype=torch.float32)
            angle = position * torch.exp(half * (-math.log(10000.0) / embed_dim))
            table = torch.zeros(max_len, embed_dim)
            table[:, 0::2] = torch.sin(angle)
            table[:, 1::2] = torch.cos(angle[:, : embed_dim // 2])
            self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[: x.shape[1]]

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
