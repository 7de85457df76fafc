"""What is exported: a model, how to build a fresh one, example inputs and the samples to check.

Exporters never see a project or a graph: `ExportSubject` carries everything they need, so the
same exporters serve a template, a trained run (its state dict loaded by the caller) or a model
built in a test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from studio.core.graph import Graph
from studio.export.errors import ExportError

#: Outputs above this max abs difference from the source model mark an export failed.
TOLERANCE = 1e-4
#: Seconds the Python export's verification process may run, torch's import included.
VERIFY_TIMEOUT_S = 300.0
#: The ONNX opsets offered, as the Export dialog offers them; the exporter writes 18 and
#: converts to the others (`studio.export.exporters.onnx_model`).
ONNX_OPSETS = range(14, 24)


@dataclass
class ExportOptions:
    """Settings that apply across formats.

    Attributes:
        opset: the ONNX opset version; 18 is what onnxruntime and the dynamo exporter agree on.
        dynamic_batch: export a symbolic batch dimension where the format has one.
        tolerance: the largest max abs difference that still counts as a verified export.
        verify_timeout_s: how long the Python export's own process may take to load and run
            the model when it is verified (a fresh interpreter imports torch first).
    """

    opset: int = 18
    dynamic_batch: bool = True
    tolerance: float = TOLERANCE
    verify_timeout_s: float = VERIFY_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.opset not in ONNX_OPSETS:
            raise ExportError(
                f"ONNX opset {self.opset} is not offered; choose one from "
                f"{ONNX_OPSETS[0]} to {ONNX_OPSETS[-1]}"
            )


@dataclass
class ExportSubject:
    """The model to export and everything the formats need besides it.

    Attributes:
        module: the model in eval mode on the CPU, weights loaded; what every export copies.
        inputs: example inputs used to trace or export (one tensor per forward argument).
        samples: real inputs every written file is run on and compared against `module`.
        rebuild: makes a fresh module of the same structure; weights-only formats load into it.
        name: a file-name-safe stem for the exported files.
        class_name: the class name of the generated Python code.
        input_names: forward argument names, in order (ONNX input names).
        source: the generated standalone source (`generate_code`), when there is a graph.
        quantized: whether `module` holds dynamically quantised layers.
        preprocessing: the exported preprocessing document (`preprocessing_document`);
            the Python export then carries ``preprocess``/``predict``.
        raw_samples: `samples` before preprocessing, as a user hands them to ``predict``;
            when given, the Python export is verified from raw data.
        cache: results formats share (one `torch.export` capture serves pt2 and ONNX).
    """

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    samples: tuple[torch.Tensor, ...]
    rebuild: Callable[[], nn.Module]
    name: str = "model"
    class_name: str = "Model"
    input_names: list[str] = field(default_factory=list)
    source: str | None = None
    quantized: bool = False
    preprocessing: dict[str, Any] | None = None
    raw_samples: list[Any] | None = None
    cache: dict[object, object] = field(default_factory=dict, repr=False)


def flatten_outputs(result: object) -> list[torch.Tensor]:
    """A model's result as a flat list of tensors, whether it returned one or a tuple."""
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, list | tuple):
        return [t for item in result for t in flatten_outputs(item)]
    raise TypeError(f"a model output of type {type(result).__name__} is not a tensor")


def run_model(module: Callable[..., object], samples: tuple[torch.Tensor, ...]) -> list:
    """Run a (loaded) model on samples without gradients; a flat list of tensors."""
    with torch.no_grad():
        return flatten_outputs(module(*samples))


def graph_input_names(graph: Graph) -> list[str]:
    """The compiled module's forward argument names: Input nodes in document order."""
    from studio.compile.compiler import attribute_names

    names = attribute_names(graph)
    return [names[n.id] for n in graph.nodes if graph.spec(n.id).role == "input"]


def placeholder_inputs(graph: Graph, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs matching the graph's Input nodes, for when no real samples are given.

    Token ids are kept below the smallest Embedding vocabulary in the graph so that any id is
    valid; real samples from the data pipeline are always the better check.
    """
    generator = torch.Generator().manual_seed(seed)
    vocab = min(
        (
            int(n.params["num_embeddings"])  # type: ignore[arg-type]
            for n in graph.nodes
            if "num_embeddings" in n.params
        ),
        default=2,
    )
    tensors = []
    for node in graph.nodes:
        if graph.spec(node.id).role != "input":
            continue
        dims: tuple[int, ...] = tuple(node.params["shape"])  # type: ignore[arg-type]
        shape = (batch, *dims)
        if node.params.get("dtype") == "long":
            tensors.append(torch.randint(0, vocab, shape, generator=generator))
        else:
            tensors.append(torch.randn(shape, generator=generator))
    return tuple(tensors)
