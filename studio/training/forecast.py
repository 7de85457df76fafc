"""How much memory training will take, before it starts, and the largest batch that fits.

Peak training memory is modelled as a part that does not depend on the batch size and a part
that grows linearly with it:

- fixed: parameters + gradients (trainable parameters only) + optimizer state (Adam and AdamW
  keep 2 copies of each trainable parameter, SGD with momentum and RMSprop 1, plain SGD 0);
- per sample: the activations autograd saves for backward, the input batch, and the backward
  pass's working gradients (about two of the largest activation, the one being computed and
  the one it came from). The activations are the summary's per-layer output memory, counted
  for the layers whose output is kept: by the layer itself (ReLU keeps its output), or by a
  layer that reads it (Linear and Conv keep their input; Add and Dropout do not, so a
  BatchNorm output that only feeds a ReLU is freed as soon as the ReLU has run). Views
  (Flatten, Reshape) take no memory; Dropout adds a 1-byte mask per element and MaxPool its
  int64 indices.

Mixed precision (bf16/fp16 autocast, CUDA only) halves the saved activations of the layers; the
input batch stays float32. Not counted: the CUDA context (a few hundred MiB outside the
allocator) and allocator fragmentation; `budget_bytes` keeps a reserve for them.
The figures for the bundled templates, measured on the CPU with torch's profiler, are in the
tests (`tests/training/test_forecast.py`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.core.memory import machine_memory as core_machine_memory
from studio.core.units import human_bytes

if TYPE_CHECKING:
    import torch

    from studio.compile.inference import Problem
    from studio.compile.summary import ModelSummary
    from studio.core.graph import Graph
    from studio.core.project import Project, TrainingSection

FLOAT_BYTES = 4
MIB = 2**20
MIN_RESERVE = 512 * MIB
RESERVE_FRACTION = 0.1
LARGEST_BATCH_CAP = 1 << 20

# What autograd keeps of a layer's output depends on the layers that read it. These keep
# their own output for backward (not their input):
SAVES_OUTPUT = frozenset({"ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"})
# These keep none of their input (a sum's gradient needs no values; Dropout keeps a mask):
KEEPS_NO_INPUT = frozenset({"Add", "Concat", "Dropout", "Dropout2d", "Sum", "Mean"})
# Views share their input's memory.
VIEWS = frozenset({"Flatten", "Reshape", "Identity", "Permute", "SelectLast"})


def optimizer_state_copies(name: str, momentum: float = 0.0) -> int:
    """How many parameter-sized tensors the optimizer keeps per trainable parameter."""
    if name in ("adam", "adamw"):
        return 2  # first and second moments
    if name == "rmsprop":
        return 1 + (1 if momentum else 0)  # square average (+ momentum buffer)
    if name == "sgd":
        return 1 if momentum else 0  # momentum buffer
    return 2


@dataclass(frozen=True)
class MemoryForecast:
    """The forecast peak for one batch size, by component, in bytes."""

    batch_size: int
    parameters: int
    gradients: int
    optimizer_state: int
    activations: int
    inputs: int
    workspace: int

    @property
    def total(self) -> int:
        return (
            self.parameters
            + self.gradients
            + self.optimizer_state
            + self.activations
            + self.inputs
            + self.workspace
        )

    def components(self) -> dict[str, int]:
        return {
            "parameters": self.parameters,
            "gradients": self.gradients,
            "optimizer state": self.optimizer_state,
            "activations": self.activations,
            "input batch": self.inputs,
            "backward workspace": self.workspace,
        }

    def describe(self) -> str:
        parts = ", ".join(f"{k} {human_bytes(v)}" for k, v in self.components().items() if v)
        return f"about {human_bytes(self.total)} at batch {self.batch_size} ({parts})"


@dataclass(frozen=True)
class MemoryModel:
    """Bytes that do not depend on the batch, and bytes per sample, for one model and setup."""

    parameters: int
    trainable: int
    optimizer_copies: int
    activations_per_sample: int
    inputs_per_sample: int
    workspace_per_sample: int
    mixed_precision: bool = False

    @property
    def fixed_bytes(self) -> int:
        return FLOAT_BYTES * (self.parameters + self.trainable * (1 + self.optimizer_copies))

    @property
    def per_sample_bytes(self) -> int:
        return self.activations_per_sample + self.inputs_per_sample + self.workspace_per_sample

    def at(self, batch_size: int) -> MemoryForecast:
        return MemoryForecast(
            batch_size=batch_size,
            parameters=FLOAT_BYTES * self.parameters,
            gradients=FLOAT_BYTES * self.trainable,
            optimizer_state=FLOAT_BYTES * self.trainable * self.optimizer_copies,
            activations=self.activations_per_sample * batch_size,
            inputs=self.inputs_per_sample * batch_size,
            workspace=self.workspace_per_sample * batch_size,
        )

    def largest_batch(self, budget: int) -> int:
        """The largest batch whose forecast fits in `budget` bytes (0: not even one sample)."""
        room = budget - self.fixed_bytes
        if room < self.per_sample_bytes:
            return 0
        if self.per_sample_bytes <= 0:
            return LARGEST_BATCH_CAP
        return min(room // self.per_sample_bytes, LARGEST_BATCH_CAP)


def budget_bytes(device_memory: int, reserve: int | None = None) -> int:
    """What training may use of a device: its memory less a reserve (context, fragmentation)."""
    if reserve is None:
        reserve = max(MIN_RESERVE, math.ceil(device_memory * RESERVE_FRACTION))
    return max(device_memory - reserve, 0)


def memory_model(
    graph: Graph,
    summary: ModelSummary,
    *,
    optimizer: str = "adam",
    momentum: float = 0.0,
    frozen: tuple[str, ...] | list[str] = (),
    mixed_precision: bool = False,
) -> MemoryModel:
    """The memory model of `graph` from its summary (any batch size: it is divided out)."""
    batch = max(summary.batch_size, 1)
    frozen_names = set(frozen)
    parameters = trainable = 0
    activations = inputs = largest = 0
    for row in summary.rows:
        parameters += row.params
        if row.name not in frozen_names:
            trainable += row.params
        per_sample = row.activation_bytes // batch
        if graph.spec(row.node_id).role == "input":
            inputs += per_sample
            continue
        if mixed_precision:
            per_sample //= 2
        largest = max(largest, per_sample)
        activations += saved_bytes(graph, row.node_id, per_sample)
    return MemoryModel(
        parameters=parameters,
        trainable=trainable,
        optimizer_copies=optimizer_state_copies(optimizer, momentum),
        activations_per_sample=activations,
        inputs_per_sample=inputs,
        workspace_per_sample=2 * largest,
        mixed_precision=mixed_precision,
    )


def _kind(graph: Graph, node_id: str) -> str:
    return graph.node(node_id).type_id.rsplit(".", 1)[-1]


def _reader_keeps_input(graph: Graph, node_id: str) -> bool:
    """Whether a layer keeps the tensor it reads for its backward pass."""
    if graph.spec(node_id).role == "output":
        return True  # the loss keeps the model's output
    kind = _kind(graph, node_id)
    if kind in VIEWS:
        return _output_is_read_and_kept(graph, node_id)
    return kind not in SAVES_OUTPUT and kind not in KEEPS_NO_INPUT


def _output_is_read_and_kept(graph: Graph, node_id: str) -> bool:
    return any(_reader_keeps_input(graph, edge.dst) for edge in graph.outgoing(node_id))


def saved_bytes(graph: Graph, node_id: str, output_bytes: int) -> int:
    """Bytes of one sample's activation that stay alive from the forward to the backward pass."""
    kind = _kind(graph, node_id)
    if kind in VIEWS:
        return 0
    kept = kind in SAVES_OUTPUT or _output_is_read_and_kept(graph, node_id)
    total = output_bytes if kept else 0
    if kind in ("Dropout", "Dropout2d"):
        total += output_bytes // FLOAT_BYTES  # the mask, one byte per element
    elif kind.startswith("MaxPool"):
        total += 2 * output_bytes  # int64 indices of the maxima
    return total


def settings_memory_model(
    graph: Graph,
    settings: TrainingSection,
    device_type: str = "cpu",
    summary: ModelSummary | None = None,
) -> MemoryModel:
    """The memory model of `graph` trained with `settings` on a `device_type` device.

    `summary` is the graph's summary when the caller has one (the window's analysis makes
    it); without it the summary is computed, which runs the builders and imports torch.
    """
    if summary is None:
        from studio.compile.summary import summarize

        summary = summarize(graph, batch_size=1)
    return memory_model(
        graph,
        summary,
        optimizer=settings.optimizer.name,
        momentum=settings.optimizer.momentum,
        frozen=settings.frozen,
        mixed_precision=device_type == "cuda" and settings.precision != "fp32",
    )


def project_memory_model(project: Project, device_type: str = "cpu") -> MemoryModel:
    """The memory model of a project's main graph with its training settings (imports torch)."""
    return settings_memory_model(project.main_graph, project.training, device_type)


def measure_peak_cpu(step: Callable[[], Any]) -> int:
    """The peak bytes torch's CPU allocator holds while `step()` runs, from profiler events.

    torch's CPU allocator has no peak counter (and process RSS moves in allocator-sized jumps),
    so this replays the profiler's allocation and free events in order and takes the highest
    running total of the ops' own allocations. Only what `step` allocates counts: build the
    model inside it.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    # Each op's own (self) allocations less frees, in the order the ops started; frees outside
    # any op come as "[memory]" events. A temporary an op allocates and frees inside itself
    # is not seen, so this is a lower bound on the true peak by at most one op's scratch.
    events = [e for e in prof.events() if e.self_cpu_memory_usage]
    events.sort(key=lambda e: e.time_range.start)
    current = peak = 0
    for event in events:
        current += event.self_cpu_memory_usage
        peak = max(peak, current)
    return peak


def training_step_peak(
    build: Callable[[], torch.nn.Module],
    inputs: Callable[[], tuple[torch.Tensor, ...]],
    loss: Callable[[torch.Tensor], torch.Tensor],
    optimizer: Callable[[Any], torch.optim.Optimizer],
    steps: int = 2,
    device: torch.device | str = "cpu",
) -> int:
    """Measure the peak of building a model and taking `steps` optimizer steps.

    On the CPU the peak is replayed from the profiler (`measure_peak_cpu`); on CUDA it is the
    caching allocator's own `max_memory_allocated`, less what was allocated before.
    """
    import torch

    def run() -> None:
        model = build()
        opt = optimizer(model.parameters())
        for _ in range(steps):
            out = model(*inputs())
            opt.zero_grad(set_to_none=True)
            loss(out).backward()
            opt.step()

    device = torch.device(device)
    if device.type != "cuda":
        return measure_peak_cpu(run)
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    run()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


def machine_memory(device: torch.device) -> int | None:
    """The total memory of the device that training would use (None: unknown here).

    The CPU and Apple GPUs (unified memory) use the machine's RAM; a CUDA device its own.
    """
    import torch

    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    return core_machine_memory()


def training_problems(
    project: Project,
    device: torch.device | None,
    summaries: Mapping[str, ModelSummary],
    memory: int | None,
) -> list[tuple[str, Problem]]:
    """Why the project's graphs cannot train here, as (graph name, problem) pairs.

    A model without weights gives the optimizer nothing to do; a model whose forecast peak
    exceeds the device's whole memory would fail, after minutes or by thrashing the machine,
    once torch allocates it. Each problem names the node to change, or the batch size.
    """
    from studio.compile.inference import Problem

    settings = project.training
    gan = settings.mode == "gan"
    frozen = () if gan else tuple(settings.frozen)
    found: list[tuple[str, Problem]] = []
    for name, summary in summaries.items():
        if summary.total_params == 0 or all(r.name in frozen for r in summary.rows if r.params):
            found.append((name, Problem(_no_weights(summary, frozen))))
    if found or memory is None or device is None:
        return found
    models = {
        name: settings_memory_model(project.graphs[name], settings, device.type, summary)
        for name, summary in summaries.items()
    }
    need = sum(m.at(settings.batch_size).total for m in models.values())
    if need <= memory:
        return []
    where = f"{'the GPU' if device.type == 'cuda' else 'this machine'}'s {human_bytes(memory)}"
    fixed = sum(m.fixed_bytes for m in models.values())
    need_text = f"training needs about {human_bytes(need)} at batch {settings.batch_size}"
    if fixed > memory:
        name, row = max(
            ((n, r) for n, s in summaries.items() for r in s.rows), key=lambda item: item[1].params
        )
        spec = project.graphs[name].spec(row.node_id)
        knobs = ", ".join(spec.key_params) or "its size"
        weights = human_bytes(FLOAT_BYTES * row.params)
        return [
            (
                name,
                Problem(
                    f"{row.layer} holds {row.params:,} parameters ({weights}; "
                    f"{human_bytes(fixed)} for the model's weights, gradients and "
                    f"{settings.optimizer.name} state); {need_text}, more than {where}. Make "
                    f"this layer smaller ({knobs}) or its input smaller.",
                    row.node_id,
                ),
            )
        ]
    budget = budget_bytes(memory)
    largest = min(m.largest_batch(budget - fixed + m.fixed_bytes) for m in models.values())
    name, row = max(
        ((n, r) for n, s in summaries.items() for r in s.rows),
        key=lambda item: item[1].activation_bytes,
    )
    per_sample = row.activation_bytes // max(summaries[name].batch_size, 1)
    fix = (
        f"Lower training.batch_size to {largest:,} or less."
        if largest
        else "Make this layer's output (or the input) smaller: not even a batch of 1 fits."
    )
    return [
        (
            name,
            Problem(
                f"its output takes {human_bytes(per_sample)} per sample; {need_text}, more than "
                f"{where}. {fix}",
                row.node_id,
            ),
        )
    ]


def _no_weights(summary: ModelSummary, frozen: tuple[str, ...]) -> str:
    if summary.total_params:
        return (
            "every layer with weights is frozen (training.frozen), so training would change "
            "nothing; untick at least one layer."
        )
    return (
        "the model has no weights to train (none of its layers has parameters); add a layer "
        "with weights, such as Linear or Conv2d."
    )


def training_checks(project: Project, device: str | None = None) -> list[str]:
    """What stops the project from training on this machine, as `studio validate` lines.

    Settings that name what the model lacks (training.frozen), a model without weights, and
    a forecast peak beyond the device's memory; each names the node or the setting to change.
    Nothing is allocated: the parameter counts come from the builders on the meta device.
    A graph with shape problems is left to those problems.
    """
    from studio.compile.inference import infer_shapes
    from studio.compile.summary import summarize
    from studio.training.devices import choose_device
    from studio.training.errors import TrainingError

    lines = project.setting_problems()
    summaries = {}
    for name, graph in project.graphs.items():
        inference = infer_shapes(graph)
        if inference.errors():
            return lines
        summaries[name] = summarize(graph, batch_size=1, inference=inference, flops=False)
    memory = None
    try:
        choice = choose_device(device or project.training.device).device
    except TrainingError:  # the device is not here: training says so itself
        choice = None
    if choice is not None:
        memory = machine_memory(choice)
    for name, problem in training_problems(project, choice, summaries, memory):
        if problem.node_id is None:  # the whole graph: named by its own name ("model: ...")
            lines.append(f"{name}: {problem.message}")
        else:
            line = problem.format(project.graphs[name])
            lines.append(f"{name}/{line}" if len(project.graphs) > 1 else line)
    return lines
