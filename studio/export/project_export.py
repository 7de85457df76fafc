"""Export a project's graph in several formats, verify each, and write a model card.

`export_project` is what `studio export` and the Export dialog call. It never raises because
one format failed: each format's outcome is recorded in the `ExportReport` and the next format
goes ahead. Only requests the user can fix (an unknown format, an unusable output folder,
weights that do not fit) raise `ExportError` before anything is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from studio.compile.codegen import generate_code
from studio.compile.compiler import class_name_for, compile_graph
from studio.compile.summary import summarize
from studio.core.project import Project, atomic_write_text
from studio.export.errors import ExportError
from studio.export.exporters import get_exporter
from studio.export.model_card import CardFile, render_model_card
from studio.export.preprocessing import PREPROCESSING_FILE, fits_inputs, preprocessing_document
from studio.export.quantization import (
    QuantizationReport,
    measure_quantization,
    quantize_dynamic_int8,
)
from studio.export.registry import ExporterRegistry
from studio.export.subject import (
    ExportOptions,
    ExportSubject,
    graph_input_names,
    placeholder_inputs,
)

#: Called as (format, stage, path) with stage "check", "write", "verify" or "done"; the
#: dialog shows progress with it.
Progress = Callable[[str, str, Path | None], None]
#: What the step-wise exports yield: (format, stage, path), as `Progress` receives it.
Step = tuple[str, str, Path | None]
T = TypeVar("T")


@dataclass
class FormatResult:
    """One format's outcome.

    Attributes:
        format: the format id.
        path: the written file or folder; None when nothing was written.
        size_bytes: its size on disk (a folder's files summed).
        max_abs_diff: the verified max abs difference; None when it never got that far.
        ok: written and verified within tolerance.
        stage: where it stopped: "check", "write" or "verify" ("done" when ok).
        reason: why it failed, in a sentence.
        notes: what the user should know even when it succeeded.
    """

    format: str
    path: Path | None = None
    size_bytes: int = 0
    max_abs_diff: float | None = None
    ok: bool = False
    stage: str = "check"
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.ok:
            text = f"{self.format}: verified, max abs diff {self.max_abs_diff:.3g} → {self.path}"
        else:
            text = f"{self.format}: FAILED at {self.stage}: {self.reason}"
        return "\n".join([text, *(f"  note: {n}" for n in self.notes)])


@dataclass
class ExportReport:
    """Every format's outcome, the model card, and what quantisation changed."""

    results: list[FormatResult]
    model_card: Path | None = None
    quantization: QuantizationReport | None = None
    preprocessing: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def result(self, format_id: str) -> FormatResult:
        return next(r for r in self.results if r.format == format_id)

    def describe(self) -> str:
        lines = [r.describe() for r in self.results]
        if self.quantization is not None:
            lines.append(self.quantization.describe())
        if self.preprocessing is not None:
            lines.append(f"preprocessing → {self.preprocessing}")
        lines += [f"note: {n}" for n in self.notes]
        if self.model_card is not None:
            lines.append(f"model card → {self.model_card}")
        return "\n".join(lines)


def file_stem(text: str) -> str:
    """A file-name-safe stem: ``"MNIST digits v2"`` → ``"MNIST_digits_v2"``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "model"


def size_on_disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def prepare_folder(out_dir: Path) -> Path:
    """Create the output folder; `ExportError` in a sentence when it cannot be used."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} is a file; choose a folder to export into")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"{out_dir} cannot be created ({exc.strerror or exc}); choose another folder"
        ) from None
    return out_dir


def export_formats(
    subject: ExportSubject,
    formats: Sequence[str],
    out_dir: Path,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
    registry: ExporterRegistry | None = None,
) -> list[FormatResult]:
    """Check, write and verify each format in turn; a failure is recorded, never raised.

    `registry` holds the exporters by format id (the built-ins when None; the application
    passes `studio.plugins.default_exporters()`'s, plugins included); a plugin's exporter
    goes through the same check → write → verify.
    """
    return run_steps(export_format_steps(subject, formats, out_dir, options, registry), progress)


def run_steps(steps: Generator[Step, None, T], progress: Progress | None) -> T:
    """Drive a step-wise export to its end, reporting each step to `progress`."""
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if progress is not None:
            progress(*step)


def export_format_steps(
    subject: ExportSubject,
    formats: Sequence[str],
    out_dir: Path,
    options: ExportOptions | None = None,
    registry: ExporterRegistry | None = None,
) -> Generator[Step, None, list[FormatResult]]:
    """`export_formats` one stage at a time: yields each (format, stage, path) as it starts.

    A caller that stops iterating stops the export between two stages (the Export dialog's
    worker cancels this way); the results are the generator's return value.
    """
    options = options or ExportOptions()
    exporters = [get_exporter(f, registry) for f in formats]
    out_dir = prepare_folder(out_dir)
    results = []
    for exporter in exporters:
        result = FormatResult(exporter.format)
        results.append(result)
        yield (exporter.format, "check", None)
        try:
            plan = exporter.check(subject, options)
        except Exception as exc:
            result.reason = f"checking the model failed unexpectedly: {exc}"
            continue
        result.notes += plan.notes
        if plan.blockers:
            result.reason = "; ".join(plan.blockers)
            continue
        path = exporter.output_path(out_dir, subject)
        result.stage = "write"
        yield (exporter.format, "write", path)
        try:
            exporter.write(plan, path)
        except Exception as exc:
            result.reason = f"writing {path.name} failed: {exc}"
            continue
        result.path = path
        result.size_bytes = size_on_disk(path)
        result.stage = "verify"
        yield (exporter.format, "verify", path)
        verification = exporter.verify(path, subject, options)
        result.max_abs_diff = verification.max_abs_diff
        result.ok = verification.ok
        result.reason = verification.reason
        if result.ok:
            result.stage = "done"
        yield (exporter.format, "done", path)
    return results


def export_project(
    project: Project,
    graph_name: str,
    formats: Sequence[str],
    out_dir: Path,
    *,
    progress: Progress | None = None,
    **kwargs: Any,
) -> ExportReport:
    """Export one graph of a project in `formats` into `out_dir`, verified, with a model card.

    The arguments are `export_project_steps`'s; `progress` is called as each format moves
    through its stages. Only requests the user can fix raise (`ExportError`).
    """
    steps = export_project_steps(project, graph_name, formats, out_dir, **kwargs)
    return run_steps(steps, progress)


def export_project_steps(
    project: Project,
    graph_name: str,
    formats: Sequence[str],
    out_dir: Path,
    *,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    inputs: tuple[torch.Tensor, ...] | None = None,
    samples: tuple[torch.Tensor, ...] | None = None,
    options: ExportOptions | None = None,
    quantize: bool = False,
    labelled: tuple[tuple[torch.Tensor, ...], torch.Tensor] | None = None,
    metrics: Mapping[str, float] | None = None,
    metrics_source: str | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    raw_samples: Sequence[Any] | None = None,
    registry: ExporterRegistry | None = None,
) -> Generator[Step, None, ExportReport]:
    """`export_project` one stage at a time: yields (format, stage, path) as each starts.

    Stopping the iteration stops the export between two stages; the report is the
    generator's return value.

    Args:
        project: the loaded project.
        graph_name: which of its graphs (a GAN has a generator and a discriminator).
        formats: format ids, e.g. ``["onnx", "python"]``.
        out_dir: the folder to write into; created when missing.
        state_dict: trained weights (a run's checkpoint); fresh weights when None.
        inputs: example inputs to trace with; placeholders from the Input nodes when None.
        samples: real samples every export is checked on; `inputs` when None (placeholders
            of another batch size when `inputs` is None too).
        options: opset, dynamic batch and tolerance.
        quantize: export a dynamically int8-quantised model (Linear/LSTM).
        labelled: a labelled test set (inputs, integer labels) to measure quantisation on.
        metrics: evaluation results for the model card.
        metrics_source: where `metrics` come from, a sentence for the card.
        preprocessing: the run's ``preprocessing.json`` content; written beside the exports
            (and into the Python export, whose ``predict`` applies it).
        raw_samples: `samples` before preprocessing (`studio.export.preprocessing.raw_samples`);
            the Python export is then verified from raw data.
        registry: the exporters to use (`studio.plugins.default_exporters()`'s, plugins
            included); the built-in formats when None.
    """
    for format_id in formats:
        get_exporter(format_id, registry)
    if graph_name not in project.graphs:
        raise ExportError(
            f"the project has no graph {graph_name!r}; it has {', '.join(project.graphs)}"
        )
    out_dir = prepare_folder(Path(out_dir))
    graph = project.graphs[graph_name]
    class_name = class_name_for(project.name)

    def build() -> nn.Module:
        return compile_graph(graph, class_name=class_name).eval()

    module = build()
    if state_dict is not None:
        try:
            module.load_state_dict(state_dict)
        except RuntimeError as exc:
            raise ExportError(
                f"the weights do not fit the graph {graph_name!r} (was it edited after "
                f"training?): {str(exc).splitlines()[0]}"
            ) from None
    if inputs is None:
        inputs = placeholder_inputs(graph, batch=2, seed=0)
        # A different batch size than the traced one, so a frozen batch cannot pass unseen.
        samples = samples if samples is not None else placeholder_inputs(graph, batch=5, seed=1)
    samples = samples if samples is not None else inputs
    quantization = None
    if quantize:
        float_module = module
        module = quantize_dynamic_int8(float_module)
        quantization = measure_quantization(float_module, module, samples, labelled)

    stem = file_stem(project.name)
    if len(project.graphs) > 1:
        stem = f"{stem}_{file_stem(graph_name)}"
    notes: list[str] = []
    document = None
    preprocessing_path = None
    if preprocessing is not None:
        document = preprocessing_document(preprocessing, project.data.model_dump(mode="json"))
        misfit = fits_inputs(document, [tuple(t.shape[1:]) for t in samples])
        if misfit:
            notes.append(misfit)
            document = None
        else:
            preprocessing_path = out_dir / PREPROCESSING_FILE
            atomic_write_text(preprocessing_path, json.dumps(document, indent=1) + "\n")
    subject = ExportSubject(
        module=module,
        inputs=inputs,
        samples=samples,
        rebuild=build,
        name=stem,
        class_name=class_name,
        input_names=graph_input_names(graph),
        source=generate_code(graph, class_name=class_name, title=project.name),
        quantized=quantize,
        preprocessing=document,
        raw_samples=list(raw_samples) if raw_samples is not None and document else None,
    )
    results = yield from export_format_steps(subject, formats, out_dir, options, registry)
    card_path = out_dir / f"{stem}.model_card.md"
    card = render_model_card(
        name=project.name,
        description=project.description,
        summary_table=summarize(graph).format_table(),
        data=project.data.model_dump(mode="json"),
        training=project.training.model_dump(mode="json"),
        files=[_card_file(r, subject, registry) for r in results if r.path is not None],
        metrics=metrics,
        metrics_source=metrics_source,
        quantization=quantization.describe() if quantization else None,
        preprocessing_file=preprocessing_path.name if preprocessing_path else None,
    )
    atomic_write_text(card_path, card)
    return ExportReport(results, card_path, quantization, preprocessing_path, notes)


def _card_file(
    result: FormatResult, subject: ExportSubject, registry: ExporterRegistry | None
) -> CardFile:
    exporter = get_exporter(result.format, registry)
    assert result.path is not None
    if result.ok:
        verified = f"verified, max abs diff {result.max_abs_diff:.2g}"
    else:
        verified = f"**failed**: {result.reason}"
    return CardFile(
        format=result.format,
        title=exporter.title,
        filename=result.path.name,
        snippet=exporter.load_snippet(result.path.name, subject),
        verified=verified,
    )
