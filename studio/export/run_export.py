"""Export a trained run: what `studio export` and the Export dialog both call.

A run is exported from the checkpoint it was loaded with. A one-model run is verified on its
first test samples and carries its preprocessing; a quantised classifier is measured on the
whole test split. A run whose project names no data (an imported model) is verified on random
inputs of its Input nodes' shapes and dtypes, token ids below the Embedding's vocabulary.
A GAN exports its generator, the model people use, which runs on noise rather than data.
The model card gets the metrics the run recorded for the checkpoint's epoch.

`studio.training` sits above this package, so a run comes in as anything shaped like its
`TrainedRun` (`ExportableRun`), which also reads the run's recorded metrics.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

from studio.export.project_export import (
    ExportReport,
    Progress,
    Step,
    export_project_steps,
    run_steps,
)
from studio.export.registry import ExporterRegistry
from studio.export.subject import ExportOptions

if TYPE_CHECKING:
    from studio.core.project import Project
    from studio.data.pipeline import LoadedData

#: How many test samples every export of a run is verified on.
VERIFIED_SAMPLES = 8
#: Said when a run has no test split to verify on (an imported model naming no data).
NO_DATA_NOTE = (
    "the project names no data, so each file was verified on random inputs of the Input "
    "nodes' shapes and dtypes; no preprocessing file was written"
)


class ExportableRun(Protocol):
    """What exporting needs of a loaded run (`studio.training.trained.TrainedRun` has it)."""

    @property
    def run_id(self) -> str: ...

    @property
    def project(self) -> Project: ...

    @property
    def weights(self) -> Mapping[str, Any]: ...

    @property
    def models(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def data(self) -> LoadedData | None:
        """The project's data; None when it names none (an imported model)."""
        ...

    @property
    def epoch(self) -> int: ...

    @property
    def metrics(self) -> Mapping[str, float]:
        """What the run recorded at the checkpoint's epoch."""
        ...


def export_trained_run(
    trained: ExportableRun,
    formats: Sequence[str],
    out_dir: Path,
    *,
    progress: Progress | None = None,
    **kwargs: Any,
) -> ExportReport:
    """Export a loaded run in `formats` into `out_dir`, verified, with a model card.

    The arguments are `export_trained_run_steps`'s; `progress` is called as each format
    moves through its stages.
    """
    return run_steps(export_trained_run_steps(trained, formats, out_dir, **kwargs), progress)


def export_trained_run_steps(
    trained: ExportableRun,
    formats: Sequence[str],
    out_dir: Path,
    *,
    options: ExportOptions | None = None,
    quantize: bool = False,
    registry: ExporterRegistry | None = None,
) -> Generator[Step, None, ExportReport]:
    """`export_trained_run` one stage at a time, as `export_project_steps` yields them.

    Args:
        trained: the loaded run (`studio.training.trained.load_run`, GANs allowed).
        formats: format ids, e.g. ``["onnx", "python"]``.
        out_dir: the folder to write into; created when missing.
        options: opset, dynamic batch and tolerance.
        quantize: export a dynamically int8-quantised model; a classifier's accuracy change
            is measured on the test split.
        registry: the exporters to use (the built-in formats when None).
    """
    project = trained.project
    kwargs: dict[str, Any] = {}
    data = trained.data
    if project.training.mode == "gan":
        kwargs["state_dict"] = trained.models.get("generator", trained.weights)
    else:
        kwargs["state_dict"] = trained.weights
    if project.training.mode != "gan" and data is not None:
        # The Python export's `predict` prepares raw data as the app does.
        kwargs["preprocessing"] = data.preprocessing.to_json()
        test = data.test
        if len(test):
            positions = torch.arange(min(len(test), VERIFIED_SAMPLES))
            batch, _ = test[positions]
            kwargs["samples"] = batch if isinstance(batch, tuple) else (batch,)
            kwargs["raw_samples"] = raw_samples_of(data, positions)
            if quantize and project.training.task == "classification":
                inputs, labels = test[torch.arange(len(test))]
                kwargs["labelled"] = (inputs if isinstance(inputs, tuple) else (inputs,), labels)
    metrics = trained.metrics
    if metrics:
        kwargs["metrics"] = dict(metrics)
        kwargs["metrics_source"] = (
            f"Recorded by run {trained.run_id} at epoch {trained.epoch}, the checkpoint these "
            "files hold: `train_` metrics on the training split, `val_` on the validation split."
        )
    report = yield from export_project_steps(
        project,
        next(iter(project.graphs)),  # a GAN's first graph is its generator
        formats,
        out_dir,
        options=options,
        quantize=quantize,
        registry=registry,
        **kwargs,
    )
    if data is None and project.training.mode != "gan":
        report.notes.append(NO_DATA_NOTE)
    return report


def raw_samples_of(data: LoadedData, positions: torch.Tensor) -> list[Any]:
    """The test samples at `positions` before preprocessing, as ``predict`` takes them."""
    from studio.export.preprocessing import raw_samples

    return raw_samples(data.prepared, data.test.rows(positions).numpy())
