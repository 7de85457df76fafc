"""Per-layer output shapes, parameter counts, FLOPs and activation memory, with totals.

Counts come from the real builders run on the meta device, so they are the numbers of the
module that training will use (the tests hold the total equal to ``sum(p.numel())``).
FLOPs are torch's own count (`FlopCounterMode`: a multiply-add is two FLOPs) for one forward
pass at the given batch size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch.utils.flop_counter import FlopCounterMode

from studio.compile.compiler import CompileError, live_nodes
from studio.compile.inference import ShapeInference, infer_shapes
from studio.core.graph import Graph
from studio.core.shapes import TensorShape
from studio.core.units import human_bytes, human_count
from studio.layers import load_builder

if TYPE_CHECKING:
    from studio.layers import Builder

_BYTES = {"float": 4, "long": 8}


@dataclass(frozen=True)
class LayerRow:
    node_id: str
    name: str
    layer: str
    output_shape: str
    params: int
    flops: int
    activation_bytes: int


@dataclass(frozen=True)
class ModelSummary:
    rows: list[LayerRow]
    batch_size: int

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_flops(self) -> int:
        return sum(r.flops for r in self.rows)

    @property
    def total_activation_bytes(self) -> int:
        return sum(r.activation_bytes for r in self.rows)

    def format_table(self) -> str:
        """A fixed-width table, as `studio summary` prints it."""
        header = ("Layer", "Type", "Output shape", "Params", "FLOPs", "Activations")
        body = [
            (
                r.name,
                r.layer,
                r.output_shape,
                f"{r.params:,}",
                human_count(r.flops),
                human_bytes(r.activation_bytes),
            )
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        right = {3, 4, 5}

        def line(cells: tuple[str, ...]) -> str:
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        rule = "-" * len(line(header))
        totals = (
            f"Total parameters: {self.total_params:,}\n"
            f"FLOPs per forward pass (batch {self.batch_size}): {human_count(self.total_flops)}"
            f" ({self.total_flops:,})\n"
            f"Activation memory (batch {self.batch_size}): "
            f"{human_bytes(self.total_activation_bytes)}"
        )
        return "\n".join([line(header), rule, *(line(b) for b in body), rule, totals])


def summarize(
    graph: Graph,
    *,
    batch_size: int = 1,
    inference: ShapeInference | None = None,
    flops: bool = True,
) -> ModelSummary:
    """Summarise every node that feeds an Output; raise `CompileError` on graph errors.

    Nothing is allocated: modules are built on the meta device. `flops=False` skips the
    forward pass that counts FLOPs (they read 0) when only sizes are wanted.
    """
    inference = inference or infer_shapes(graph)
    errors = inference.errors()
    if errors:
        raise CompileError(graph, errors)
    rows: list[LayerRow] = []
    live = live_nodes(graph)
    for node_id in live:
        node = graph.node(node_id)
        spec = graph.spec(node_id)
        if spec.role == "output":
            continue
        out = inference.output_shape(node_id)
        params = count = 0
        if spec.role == "layer":
            params, count = _measure(
                load_builder(spec),
                node.params,
                inference.input_shapes(node_id),
                batch_size if flops else 0,
            )
            if node.shares in live and graph.is_weight_tied(node_id):
                params -= _table_size(graph, node_id)  # the one shared tensor, counted there
            elif node.shares in live:
                params = 0  # the weights are the other layer's, counted there
        rows.append(
            LayerRow(
                node_id=node_id,
                name=node.name,
                layer=spec.title,
                output_shape=str(out) if out else "?",
                params=params,
                flops=count,
                activation_bytes=_activation_bytes(out, batch_size),
            )
        )
    return ModelSummary(rows, batch_size)


def _table_size(graph: Graph, node_id: str) -> int:
    """The numbers in the Embedding table a weight tie shares (the Linear's weight too)."""
    node = graph.node(node_id)
    owner = graph.node(node.shares) if node.shares else node
    table = node if node.type_id == "studio.Embedding" else owner
    rows, width = table.params["num_embeddings"], table.params["embedding_dim"]
    assert isinstance(rows, int) and isinstance(width, int)
    return rows * width


def _measure(
    builder: Builder, params: dict, inputs: list[TensorShape], batch_size: int
) -> tuple[int, int]:
    """Parameters and FLOPs (at `batch_size`; 0: not counted) of one layer, on meta tensors."""
    counter = FlopCounterMode(display=False)
    with torch.device("meta"), torch.no_grad():
        # Eval mode: FLOPs are those of inference, and BatchNorm accepts a batch of one.
        module = builder(params, inputs).eval()
        if not batch_size:
            return sum(p.numel() for p in module.parameters()), 0
        tensors = [
            torch.empty(
                (batch_size if s.batched else 1, *s.dims),
                dtype=torch.long if s.dtype == "long" else torch.float32,
            )
            for s in inputs
        ]
        with counter:
            module(*tensors)
    return sum(p.numel() for p in module.parameters()), int(counter.get_total_flops())


def _activation_bytes(shape: TensorShape | None, batch_size: int) -> int:
    if shape is None:
        return 0
    return shape.numel() * (batch_size if shape.batched else 1) * _BYTES[shape.dtype]
