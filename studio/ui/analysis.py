"""What the window learns about a graph in the background: shapes, problems, summary, device.

Shape inference is fast for the built-in layers (pure-Python shape rules), but a plugin layer
without a rule runs on meta tensors, and the summary measures real modules: both need torch
(1.5 s to import) and can take seconds on a large graph. The window
therefore hands a *snapshot* of the graph (plain data, taken in milliseconds) to a worker
thread, which rebuilds a private copy and yields reports one by one; the live document is
never touched off the Qt thread. Node and edge ids survive the copy, so every report maps
straight back onto the canvas. Nothing here imports Qt.

The project's data is checked against the graph too (an Input of (1, 28, 28) fed digits of
(1, 8, 8) is a problem on that Input), from a snapshot of the data settings (`DataContext`):
a bundled dataset is checked from the registry's description (no file read, no torch), a
file the user chose is read by the worker.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.compile.inference import Problem, ShapeInference, infer_shapes
from studio.core.graph import Graph
from studio.core.project import DataSection, Project, TrainingSection
from studio.core.registry import LayerRegistry
from studio.core.shapes import TensorShape

if TYPE_CHECKING:
    from studio.compile.summary import ModelSummary


@dataclass(frozen=True)
class ShapeReport:
    """Every node's input and output shapes, and every problem with its sentence."""

    outputs: dict[str, dict[str, TensorShape]]
    inputs: dict[str, list[TensorShape | None]]
    problems: list[Problem]
    lines: list[str]
    # The problems that come from the data settings, not the graph (they never stop the code).
    data_problems: tuple[Problem, ...] = ()

    by_node: dict[str, list[Problem]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[Problem]] = {}
        for problem in self.problems:
            if problem.node_id is not None:
                index.setdefault(problem.node_id, []).append(problem)
        object.__setattr__(self, "by_node", index)

    def problem_for(self, node_id: str) -> Problem | None:
        """The node's most serious problem: an error before a warning."""
        found = self.by_node.get(node_id)
        if not found:
            return None
        return min(found, key=lambda p: p.severity != "error")

    @property
    def error_count(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def graph_error_count(self) -> int:
        """Errors that stop the graph from compiling (data mismatches do not)."""
        return sum(
            1 for p in self.problems if p.severity == "error" and p not in self.data_problems
        )

    @property
    def warning_count(self) -> int:
        return sum(1 for p in self.problems if p.severity == "warning")


@dataclass(frozen=True)
class DeviceReport:
    """Where torch would train: ``"CPU"``, ``"CUDA: <name>"`` or ``"MPS"``."""

    label: str


@dataclass(frozen=True)
class SummaryRow:
    node_id: str
    name: str
    layer: str
    output_shape: str
    params: int
    flops: int


@dataclass(frozen=True)
class SummaryReport:
    """The model summary at batch size 1, or why there is none (the graph has errors).

    `summary` and `graph` are the full summary and the graph it describes (the worker's
    copy, never edited): the Training tab's memory forecast is computed from them, so the
    builders are not run a second time.
    """

    rows: list[SummaryRow] = field(default_factory=list)
    total_params: int = 0
    total_flops: int = 0
    unavailable: str | None = None
    summary: ModelSummary | None = None
    graph: Graph | None = None


Report = ShapeReport | DeviceReport | SummaryReport


def graph_snapshot(graph: Graph) -> dict[str, Any]:
    """Plain data that `graph_from_snapshot` rebuilds in another thread (ids preserved)."""
    return graph.to_dict()


def graph_from_snapshot(snapshot: Mapping[str, Any], registry: LayerRegistry) -> Graph:
    return Graph.from_dict(snapshot, registry)


@dataclass(frozen=True)
class DataContext:
    """A snapshot of what checking one graph against the project's data needs (plain data).

    Taken on the Qt thread in microseconds (`from_project`); the worker rebuilds the data
    and training sections from it, so later edits never reach a running analysis.
    """

    graph_name: str
    graph_names: tuple[str, ...]
    data: dict[str, Any]
    training: dict[str, Any]
    project_path: Path | None = None

    @classmethod
    def from_project(cls, project: Project, graph_name: str) -> DataContext:
        return cls(
            graph_name,
            tuple(project.graphs),
            project.data.model_dump(mode="json"),
            project.training.model_dump(mode="json"),
            project.path,
        )

    @property
    def names_data(self) -> bool:
        return bool(self.data.get("source") or self.data.get("dataset"))

    @property
    def reads_files(self) -> bool:
        """Whether the check reads the user's files (a bundled dataset is only described)."""
        return self.data.get("source") is not None


def check_data(
    graph: Graph, inference: ShapeInference, registry: LayerRegistry, context: DataContext
) -> list[Problem]:
    """The data's problems that belong to this graph (or to no graph: the data itself)."""
    from studio.data.compatibility import check_project_data

    # Only this graph is checked; the project's other graphs stand in empty (a GAN's
    # checks look the critic up by name), and their problems are dropped below.
    graphs = {
        name: graph if name == context.graph_name else Graph(registry)
        for name in context.graph_names
    }
    project = Project(
        "data check",
        registry,
        graphs=graphs,
        data=DataSection.model_validate(context.data),
        training=TrainingSection.model_validate(context.training),
        path=context.project_path,
    )
    found = check_project_data(project, inferences={context.graph_name: inference})
    return [problem for name, problem in found if name in (None, context.graph_name)]


def data_problem_line(problem: Problem, graph: Graph) -> str:
    """``input: sentence`` on a node, ``data: sentence`` about the data (as `studio validate`)."""
    if problem.node_id is not None and problem.node_id in graph:
        return problem.format(graph)
    prefix = "warning: " if problem.severity == "warning" else ""
    return f"{prefix}data: {problem.message}"


def with_problems(report: ShapeReport, graph: Graph, extra: list[Problem]) -> ShapeReport:
    """The report with `extra` problems added (and its per-node index rebuilt)."""
    if not extra:
        return report
    return replace(
        report,
        problems=[*report.problems, *extra],
        lines=[*report.lines, *(data_problem_line(p, graph) for p in extra)],
        data_problems=tuple(extra),
    )


def analyse_graph(
    snapshot: Mapping[str, Any],
    registry: LayerRegistry,
    *,
    batch_size: int = 1,
    data: DataContext | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[Report]:
    """Yield a `ShapeReport`, then a `DeviceReport`, then a `SummaryReport`.

    With `data`, the shape report holds the data's problems too. Checking a file the user
    chose means reading it, so then the graph's own report comes first and a second
    `ShapeReport`, with the data's problems added, follows it.

    Meant for a worker thread; `cancelled` is polled between steps so a stale analysis
    (the graph changed again) stops early.
    """
    graph = graph_from_snapshot(snapshot, registry)
    inference = infer_shapes(graph)
    problems = inference.problems()
    outputs: dict[str, dict[str, TensorShape]] = {}
    inputs: dict[str, list[TensorShape | None]] = {}
    for node_id, result in inference.results.items():
        outputs[node_id] = dict(result.outputs)
        inputs[node_id] = list(result.inputs)
    report = ShapeReport(outputs, inputs, problems, [p.format(graph) for p in problems])
    if data is not None and data.names_data:
        if data.reads_files:
            yield report
            if cancelled():
                return
        yield with_problems(report, graph, check_data(graph, inference, registry, data))
    else:
        yield report
    if cancelled():
        return
    yield DeviceReport(torch_device_label())
    if cancelled():
        return
    errors = sum(1 for p in problems if p.severity == "error")
    if errors:
        noun = "problem" if errors == 1 else "problems"
        yield SummaryReport(unavailable=f"Fix the {errors} {noun} to see the summary.")
        return
    from studio.compile.summary import summarize

    summary = summarize(graph, batch_size=batch_size, inference=inference)
    rows = [
        SummaryRow(r.node_id, r.name, r.layer, r.output_shape, r.params, r.flops)
        for r in summary.rows
    ]
    yield SummaryReport(
        rows, summary.total_params, summary.total_flops, summary=summary, graph=graph
    )


@cache
def torch_device_label() -> str:
    """The device `--device auto` picks, in words; imports torch (call it off the Qt thread)."""
    import torch

    # torch brings a million long-lived objects; left to the cyclic collector, each full
    # collection would pause every thread (the Qt thread included) for a tenth of a second.
    gc.freeze()

    if torch.cuda.is_available():
        return f"CUDA: {torch.cuda.get_device_name(0)}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "MPS (Apple GPU)"
    return "CPU"


def shape_text(shape: TensorShape | None) -> str:
    """``(N, 16, 8, 8)``, or an em dash when unknown."""
    return "—" if shape is None else str(shape)


def compact_shape_text(shape: TensorShape) -> str:
    """``16×8×8`` for an edge label; the batch dimension is left out, ``long`` is marked."""
    dims = "×".join(str(d) for d in shape.dims) or "scalar"
    return dims if shape.dtype == "float" else f"{dims} {shape.dtype}"
