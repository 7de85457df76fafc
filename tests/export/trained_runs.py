"""Short real training runs of the bundled templates, for the export tests.

The app's prediction pipeline is what evaluation uses: the run's own project and weights, the
test split as `studio.data` prepares it, and the model run on that. `export_run` exports a run
exactly as `studio export` and the Export dialog do (samples, raw samples, preprocessing).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.export.preprocessing import raw_samples
from studio.export.project_export import ExportReport, export_project
from studio.plugins import default_registry
from studio.training.session import run_training
from studio.training.trained import TrainedRun, load_run

#: How many test samples every export is verified on.
SAMPLE_COUNT = 6


def train_template(stem: str, folder: Path, *, epochs: int = 1, **training: Any) -> TrainedRun:
    """Copy a template into `folder`, train it for `epochs`, and load the run back."""
    path = folder / f"{stem}.strata"
    shutil.copy(examples_dir() / f"{stem}.strata", path)
    project = Project.load(path, default_registry())
    project.training = project.training.model_copy(update={"device": "cpu", **training})
    project.save(path)
    with open(folder / "progress.txt", "w") as progress:
        run_training(project, epochs=epochs, progress=progress)
    return load_run(path, allow_gan=True)


@dataclass
class AppPredictions:
    """What the app computes on the first test samples: inputs, outputs and raw samples."""

    graph: str
    model: nn.Module
    weights: dict[str, torch.Tensor]
    inputs: tuple[torch.Tensor, ...]
    outputs: torch.Tensor | None
    raw: list[Any] | None
    preprocessing: dict[str, Any] | None


def app_predictions(trained: TrainedRun, count: int = SAMPLE_COUNT) -> AppPredictions:
    """The app's pipeline on the first `count` test samples (a GAN: its generator on noise)."""
    from studio.compile.compiler import compile_graph
    from studio.export.subject import placeholder_inputs

    project = trained.project
    if project.training.mode == "gan":
        name = next(iter(project.graphs))
        weights = trained.models["generator"]
        model = compile_graph(project.graphs[name]).eval()
        model.load_state_dict(weights)
        inputs = placeholder_inputs(project.graphs[name], batch=count, seed=1)
        return AppPredictions(name, model, weights, inputs, None, None, None)
    name = next(iter(project.graphs))
    model = compile_graph(project.graphs[name]).eval()
    model.load_state_dict(trained.weights)
    test = trained.data.test
    positions = torch.arange(min(len(test), count))
    batch, _ = test[positions]
    inputs = batch if isinstance(batch, tuple) else (batch,)
    with torch.no_grad():
        outputs = model(*inputs)
    raw = raw_samples(trained.data.prepared, test.rows(positions).numpy())
    return AppPredictions(
        name, model, trained.weights, inputs, outputs, raw, trained.data.preprocessing.to_json()
    )


def export_run(
    trained: TrainedRun, formats: list[str], out_dir: Path, **kwargs: Any
) -> tuple[ExportReport, AppPredictions]:
    app = app_predictions(trained)
    report = export_project(
        trained.project,
        app.graph,
        formats,
        out_dir,
        state_dict=app.weights,
        samples=app.inputs,
        preprocessing=app.preprocessing,
        raw_samples=app.raw,
        **kwargs,
    )
    return report, app
