"""A finished run, loaded back: the project as it was trained, its weights and its data.

`studio evaluate`, `explain` and `export` and the window's Evaluation tab all start here.
Listing runs (`runs_with_weights`, `latest_run_id`) touches only the file system, so the
window can fill its run chooser without importing torch; `load_run` reads the checkpoint.
Every way a run can fail to load raises `RunError`, whose message names the path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.errors import StudioError
from studio.core.project import Project
from studio.training.errors import TrainingError
from studio.training.runs import (
    BEST,
    CONFIG,
    LAST,
    MAX_EPOCH,
    METRICS,
    RUN_ID_PATTERN,
    RunFolder,
    is_run_folder,
    last_metrics_record,
    runs_folder,
)

if TYPE_CHECKING:
    from torch import nn

    from studio.core.registry import LayerRegistry
    from studio.data.pipeline import LoadedData


class RunError(TrainingError):
    """A run cannot be loaded or used: missing, damaged, or not matching its model.

    Attributes:
        path: the file or folder at fault.
    """

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class RunChoice:
    """One run as the run chooser lists it (read from the folder, no torch)."""

    run_id: str
    path: Path
    epochs: int
    last_logs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``20260101-120000.250-a1b2c3 · 5 epochs · val_accuracy 0.93``."""
        parts = [self.run_id, f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}"]
        for key in ("val_accuracy", "val_r2", "val_loss"):
            value = self.last_logs.get(key)
            if isinstance(value, int | float):
                parts.append(f"{key.removeprefix('val_')} {value:.3g}")
                break
        return " · ".join(parts)


def _has_weights(folder: Path) -> bool:
    return (folder / BEST).is_file() or (folder / LAST).is_file()


def runs_with_weights(project_path: Path) -> list[RunChoice]:
    """The project's runs that have weights, newest first (run ids sort by start time).

    Reads only the end of each run's `metrics.jsonl`, through `safe_files`: a run whose
    metrics are damaged, a FIFO or a link elsewhere is listed without its last values
    (evaluating it says what is wrong), and never hides or breaks the other runs.
    """
    folder = runs_folder(project_path)
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name, reverse=True)
    except OSError:
        return []
    infos = []
    for path in entries:
        if not RUN_ID_PATTERN.match(path.name) or not is_run_folder(path, folder):
            continue
        if not _has_weights(path):
            continue
        try:
            last = last_metrics_record(path / METRICS) or {}
        except StudioError:
            last = {}
        infos.append(RunChoice(path.name, path, int(last.get("epoch", 0)), last))
    return infos


# The first name of `runs_with_weights`, which the Export dialog and the window use.
list_runs = runs_with_weights


def latest_run_id(project_path: Path) -> str:
    """The newest run with weights.

    Raises:
        RunError: the project has not been trained yet.
    """
    runs = runs_with_weights(project_path)
    if not runs:
        raise RunError(
            f"{project_path} has no trained run yet; "
            f"train it first with `studio train {project_path}`",
            runs_folder(project_path),
        )
    return runs[0].run_id


@dataclass
class RunWeights:
    """A run's own copy of the project and its best weights; its data when it names any.

    An imported model that names no dataset still exports and explains (on inputs of its
    recorded shapes), so the commands that can work without data load a run this way.
    `weights` is the main model's entry of `models` (the same dicts, read from the one copy
    of the weights a checkpoint holds; see `checkpoints.checkpoint_models`).
    """

    run_id: str
    project: Project
    weights: dict[str, Any]
    path: Path = Path()
    checkpoint_path: Path = Path()
    epoch: int = 0
    # Every model's weights by role: {"model": ...} or {"generator": ..., "discriminator": ...}.
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: LoadedData | None = None

    @property
    def metrics(self) -> dict[str, float]:
        """What the run recorded at the epoch its checkpoint holds (for the model card)."""
        from studio.training.run_index import recorded_metrics

        return recorded_metrics(self.path, self.epoch)


@dataclass
class TrainedRun(RunWeights):
    """A run's own copy of the project, its best weights and the project's data."""

    data: LoadedData = field(kw_only=True)


def names_data(project: Project) -> bool:
    """Whether the project names a dataset or a file (an imported model may name neither)."""
    return project.data.source is not None or bool(project.data.dataset)


def load_run(
    project_path: Path,
    run_id: str | None = None,
    *,
    registry: LayerRegistry | None = None,
    allow_gan: bool = False,
) -> TrainedRun:
    """Read run `run_id` (default: the latest) of the project at `project_path`.

    The project is the run's own copy (what was trained), with the data settings it had;
    the weights are `best.pt`'s, else `last.pt`'s.

    Raises:
        RunError: no such run, a damaged config or checkpoint, or (unless `allow_gan`) a GAN.
        DataError: the project's data cannot be read (or it names none).
    """
    run = _read_run(project_path, run_id, registry, allow_gan)
    return _with_data(run, _run_data(run))


def load_run_weights(
    project_path: Path,
    run_id: str | None = None,
    *,
    registry: LayerRegistry | None = None,
    allow_gan: bool = False,
) -> RunWeights:
    """`load_run` for the commands that also work without data (export, explain).

    The data is loaded when the run's project names any, and is None when it names none:
    an imported model, say. The same errors as `load_run` otherwise.
    """
    run = _read_run(project_path, run_id, registry, allow_gan)
    if names_data(run.project):
        run.data = _run_data(run)
    return run


def require_data(run: RunWeights, purpose: str) -> TrainedRun:
    """The run with its data, or a `RunError` saying that `purpose` needs data and how to set it.

    Args:
        run: what `load_run_weights` read.
        purpose: what needs the data, e.g. "evaluating it needs a test split".
    """
    if run.data is None:
        project_path = run.project.path or run.path
        raise RunError(
            f"{project_path}: the project names no data, and {purpose}; choose a bundled "
            "dataset (`studio datasets`) or a file in the window's Data tab, or import the "
            "model again with `--dataset NAME`",
            run.path,
        )
    return _with_data(run, run.data)


def _with_data(run: RunWeights, data: LoadedData) -> TrainedRun:
    return TrainedRun(
        run.run_id,
        run.project,
        run.weights,
        run.path,
        run.checkpoint_path,
        run.epoch,
        run.models,
        data=data,
    )


def _run_data(run: RunWeights) -> LoadedData:
    from studio.data.pipeline import load_project_data

    with run_context(run.run_id, run.path, "data settings"):
        return load_project_data(run.project)


def _read_run(
    project_path: Path, run_id: str | None, registry: LayerRegistry | None, allow_gan: bool
) -> RunWeights:
    """The run's project and weights, without its data."""
    from studio.training.checkpoints import checkpoint_models, load_checkpoint, main_weights

    if registry is None:
        from studio.plugins import default_registry

        registry = default_registry()
    project_path = Path(project_path)
    if not project_path.is_file():
        raise RunError(f"{project_path}: no such project file", project_path)
    try:
        run = RunFolder.open(project_path, run_id or latest_run_id(project_path))
        config = run.read_config()
    except RunError:
        raise
    except TrainingError as exc:
        raise RunError(str(exc), runs_folder(project_path)) from None
    if not isinstance(config.get("project"), dict):
        raise RunError(f"{run.path / CONFIG}: the run's config.json holds no project", run.path)
    try:
        project = Project.from_dict(config["project"], registry, source=str(run.path))
    except StudioError as exc:
        raise RunError(f"{run.path / CONFIG}: {exc}", run.path) from None
    project.path = project_path
    if project.training.mode == "gan" and not allow_gan:
        raise RunError(
            f"{run.path}: this command works on one-model projects; a GAN run has two models",
            run.path,
        )
    checkpoint_path = run.best if run.best.is_file() else run.last
    if not os.path.lexists(checkpoint_path):
        raise RunError(
            f"run {run.run_id} has no checkpoint ({run.path} holds neither {BEST} nor {LAST}): "
            "it ended before its first epoch did; train the project again",
            run.path,
        )
    try:
        checkpoint = load_checkpoint(checkpoint_path, within=run.path)
        models = checkpoint_models(checkpoint, checkpoint_path)
    except TrainingError as exc:
        raise RunError(str(exc), checkpoint_path) from None
    epoch = checkpoint.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= MAX_EPOCH:
        raise RunError(
            f"{checkpoint_path}: epoch in the checkpoint is {epoch!r}, not an epoch number",
            checkpoint_path,
        )
    return RunWeights(
        run.run_id,
        project,
        main_weights(models),
        run.path,
        checkpoint_path,
        epoch,
        models,
    )


@contextlib.contextmanager
def run_context(run_id: str, run_path: Path, what: str = "graph") -> Iterator[None]:
    """Add where a failing project setting comes from: the run's own copy in config.json.

    The error keeps its type (a DataError stays one); only its message gains the place.
    """
    try:
        yield
    except StudioError as exc:
        exc.args = (f"{exc} (the {what} of run {run_id}, in {run_path / CONFIG})",)
        raise


def trained_model(trained: RunWeights) -> nn.Module:
    """The run's model (its first graph) compiled, with the run's weights, in eval mode.

    Raises:
        RunError: the weights do not fit the model.
    """
    from studio.compile.compiler import compile_graph

    with run_context(trained.run_id, trained.path):
        model = compile_graph(trained.project.main_graph)
    load_weights(model, trained.weights, trained)
    return model.eval()


def load_weights(model: nn.Module, weights: dict[str, Any], trained: RunWeights) -> None:
    """`model.load_state_dict(weights)`, failing with the checkpoint's path in the message."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise RunError(
            f"run {trained.run_id}: the weights in {trained.checkpoint_path} do not fit the "
            f"model: {str(exc).strip().splitlines()[0]}",
            trained.checkpoint_path,
        ) from None
