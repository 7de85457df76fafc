"""From a project file to a trained run: what `studio train` (and the window's child) calls."""

from __future__ import annotations

import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from studio.compile.compiler import attribute_names, compile_graph, module_owner
from studio.core.errors import StudioError
from studio.core.graph import Graph
from studio.core.project import Project
from studio.training.callbacks import (
    Callback,
    Checkpoints,
    EarlyStopping,
    EventWriter,
    MetricsLog,
    ProgressBar,
    RunStatus,
    error_message,
    monitored_key,
)
from studio.training.checkpoints import (
    check_resume_state,
    checkpoint_models,
    load_checkpoint,
    main_weights,
    restore_rng_state,
)
from studio.training.devices import (
    autocast_dtype,
    choose_device,
    choose_precision,
    enable_cuda_speedups,
)
from studio.training.distributed import (
    AverageAcrossRanks,
    ProcessGroup,
    StopTogether,
    broadcast_object,
    cuda_device_for,
    destroy_process_group,
    group_from_env,
    init_process_group,
    wrap_mode,
)
from studio.training.errors import CheckpointError, TrainingError
from studio.training.events import EventStream
from studio.training.losses import loss_name_for
from studio.training.metrics import default_metrics
from studio.training.modes.base import TrainingMode
from studio.training.modes.gan import GanMode, SampleGrid
from studio.training.modes.supervised import SupervisedMode
from studio.training.runs import CONFIG, PREPROCESSING, RunFolder, RunLock, runs_folder
from studio.training.trained import run_context
from studio.training.trainer import Trainer

MAX_EPOCHS = 100_000  # as `TrainingSection.epochs` allows


@dataclass
class TrainingResult:
    run: RunFolder
    status: str
    epoch: int
    last_logs: dict[str, Any]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_training(
    project: Project,
    *,
    epochs: int | None = None,
    device: str | None = None,
    events: TextIO | None = None,
    progress: TextIO | None = None,
    resume: str | None = None,
    extra_callbacks: tuple[Callback, ...] = (),
) -> TrainingResult:
    """Train `project` into a new run (or continue run `resume`) beside the project file.

    Args:
        project: a loaded project with a path (runs live beside it).
        epochs: the total number of epochs, overriding the project's setting.
        device: "auto", "cpu", "cuda" or "mps", overriding the project's setting.
        events: write JSON-lines events here (the `--events` protocol) instead of a bar.
        progress: where the progress bar goes when `events` is None (stderr by default).
        resume: continue this run from its `last.pt` (inside the epoch a stop interrupted,
            when it was one).

    Under torchrun (WORLD_SIZE > 1) every process calls this: they join one process group,
    and only rank 0 writes the run (see `studio.training.distributed`).
    """
    path = project.path
    if path is None:
        raise TrainingError("save the project first: runs are stored beside the project file")
    group = group_from_env()
    if group.distributed:
        init_process_group(group, choose_device(device or project.training.device).device)
    try:
        return _run_training(
            project, path, group, epochs, device, events, progress, resume, extra_callbacks
        )
    finally:
        if group.distributed:
            destroy_process_group()


def _run_training(
    project: Project,
    path: Path,
    group: ProcessGroup,
    epochs: int | None,
    device: str | None,
    events: TextIO | None,
    progress: TextIO | None,
    resume: str | None,
    extra_callbacks: tuple[Callback, ...],
) -> TrainingResult:
    checkpoint: dict[str, Any] | None = None
    lock: RunLock | None = None
    if resume is not None:
        run = RunFolder.open(path, resume)
        # Before anything is read: a second writer would interleave two histories. Under
        # torchrun only rank 0 writes the run, so only it holds the lock.
        lock = run.lock_for_training() if group.is_main else None
        try:
            plan = prepare_resume(run, project, epochs)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        project, checkpoint, epochs = plan.project, plan.checkpoint, plan.epochs
    elif group.is_main:
        run = RunFolder.create(path)
        lock = run.lock_for_training()
        broadcast_object(group, run.run_id)
    else:
        # Rank 0 chose the run; the others only need its name (they never write to it).
        run = RunFolder(runs_folder(path) / broadcast_object(group, None))
    try:
        return _train_run(
            project, run, group, epochs, device, events, progress, extra_callbacks, checkpoint
        )
    finally:
        if lock is not None:
            lock.release()


def _train_run(
    project: Project,
    run: RunFolder,
    group: ProcessGroup,
    epochs: int | None,
    device: str | None,
    events: TextIO | None,
    progress: TextIO | None,
    extra_callbacks: tuple[Callback, ...],
    checkpoint: dict[str, Any] | None,
) -> TrainingResult:
    try:
        trainer, start = prepare_trainer(
            project, run, epochs, device, events, progress, extra_callbacks, checkpoint, group
        )
    except Exception as exc:
        # A new run that never got to train still says why; a failed resume leaves the
        # status the run had, since the run itself did not change.
        if checkpoint is None and group.is_main:
            run.write_status(
                "failed",
                started=time.time(),
                epoch=0,
                step=0,
                epochs=epochs or project.training.epochs,
                message=error_message(exc),
            )
        raise
    status = trainer.fit(**start)
    return TrainingResult(run, status, trainer.epoch, trainer.epoch_logs)


@dataclass
class ResumePlan:
    """What a resume continues from: the run's own project, its checkpoint, the epoch goal."""

    project: Project
    checkpoint: dict[str, Any]
    epochs: int


def prepare_resume(run: RunFolder, project: Project, epochs: int | None = None) -> ResumePlan:
    """Read and check everything a resume of `run` needs, changing nothing.

    Args:
        run: the run to continue.
        project: the project file's project (for its path and registry; the run's own copy
            is what is resumed).
        epochs: the total epochs asked for; None keeps the run's own.

    Raises:
        TrainingError: config.json or last.pt is missing, damaged, or holds values a run
            cannot continue from; the message names the file and the field.
    """
    config = run.read_config()
    config_path = run.path / CONFIG
    document = config.get("project")
    if not isinstance(document, dict):
        raise TrainingError(f"{config_path}: 'project' is missing or not an object")
    try:
        resumed = Project.from_dict(document, project.registry, source=str(config_path))
    except StudioError as exc:
        raise TrainingError(str(exc)) from None
    resumed.path = project.path
    if epochs is None:
        epochs = _configured_epochs(config, config_path, resumed.training.epochs)
    if not os.path.lexists(run.last):
        raise TrainingError(_no_checkpoint_message(run))
    checkpoint = load_checkpoint(run.last, within=run.path)
    check_resume_state(checkpoint, run.last, epochs)
    return ResumePlan(resumed, checkpoint, epochs)


def _configured_epochs(config: dict[str, Any], config_path: Path, default: int) -> int:
    """`resolved.epochs` of a run's config.json: a whole number from 1 to 100,000."""
    resolved = config.get("resolved", {})
    if not isinstance(resolved, dict):
        raise TrainingError(f"{config_path}: 'resolved' is not an object")
    value = resolved.get("epochs", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EPOCHS:
        raise TrainingError(
            f"{config_path}: resolved.epochs is {value!r}; it must be a whole number from 1 "
            f"to {MAX_EPOCHS:,} (or pass --epochs)"
        )
    return value


def _no_checkpoint_message(run: RunFolder) -> str:
    status = run.read_status() or {}
    state = status.get("status")
    how = f" (its status.json says {state!r})" if isinstance(state, str) else ""
    return (
        f"run {run.run_id} cannot be resumed: it has no {run.last.name} yet{how}, because it "
        "ended before its first epoch did and a checkpoint is written at the end of an "
        "epoch; start a new run instead"
    )


def prepare_trainer(
    project: Project,
    run: RunFolder,
    epochs: int | None,
    device: str | None,
    events: TextIO | None,
    progress: TextIO | None,
    extra_callbacks: tuple[Callback, ...],
    checkpoint: dict[str, Any] | None,
    group: ProcessGroup | None = None,
) -> tuple[Trainer, dict[str, Any]]:
    """Data, model, mode and callbacks for `run`; returns the trainer and `fit`'s arguments."""
    group = group or ProcessGroup()
    settings = project.training.model_copy()
    if epochs is not None:
        settings = settings.model_copy(update={"epochs": epochs})
    choice = choose_device(device or settings.device)
    if group.distributed:
        choice = replace(
            choice,
            device=cuda_device_for(group, choice.device),
            reason=f"{choice.reason}; process {group.rank} of {group.world_size}",
        )

    from studio.data.pipeline import load_project_data

    data = load_project_data(project)
    seed_everything(settings.seed)
    loaders = data.loaders(batch_size=settings.batch_size, device=choice.device, seed=settings.seed)
    if group.distributed:
        loaders = replace(loaders, train=sharded_loader(data, settings, choice.device, group))
    # A resumed run trains its own copy of the project: a graph problem is in its config.json.
    within_run = run_context(run.run_id, run.path) if checkpoint is not None else nullcontext()
    with within_run:
        mode = build_mode(project, settings, choice.device, len(loaders.train))
    if settings.initial_weights and checkpoint is None:
        copy_initial_weights(project, mode, settings.initial_weights)
    if checkpoint is None and group.is_main:
        run.write_json(
            CONFIG,
            {
                "run": run.run_id,
                "project_path": str(project.path),
                "project": project.to_dict(),
                "resolved": {
                    "epochs": settings.epochs,
                    "device": str(choice.device),
                    "device_reason": choice.reason,
                    "loss": loss_name_for(settings.task, settings.loss),
                },
            },
        )
        run.write_json(PREPROCESSING, data.preprocessing.to_json())
    monitor = monitored_key(settings.early_stopping.metric)
    start: dict[str, Any] = {}
    best = None
    if checkpoint is not None:
        load_mode_state(mode, checkpoint, run.last)
        start = {"start_epoch": int(checkpoint["epoch"]), "start_step": int(checkpoint["step"])}
        # Set when a stop interrupted an epoch: finish that epoch instead of redoing it.
        progress_in_epoch = checkpoint.get("epoch_progress")
        if progress_in_epoch:
            start["start_batch"] = int(progress_in_epoch["batches"])
            start["start_loss_sum"] = float(progress_in_epoch["loss_sum"])
        best = checkpoint.get("best")
        restore_rng_state(checkpoint["rng"])
        if group.is_main:
            run.truncate_metrics_after(start["start_epoch"])
    if group.distributed:
        # After loading a checkpoint: DDP starts every rank from rank 0's weights.
        wrap_mode(mode, group)
    callbacks: list[Callback] = []
    if group.distributed:
        # First, so that every later callback records the loss of all ranks.
        callbacks.append(AverageAcrossRanks(group, choice.device))
    if group.is_main:
        # Checkpoints before RunStatus: a run says "completed" once its last checkpoint is
        # written.
        callbacks += [MetricsLog(run), Checkpoints(run, monitor, best), RunStatus(run)]
    if settings.early_stopping.patience:
        callbacks.append(EarlyStopping(monitor, settings.early_stopping.patience))
    if isinstance(mode, GanMode) and group.is_main:
        callbacks.append(SampleGrid(mode, run.path / "samples", seed=settings.seed))
    if settings.mode == "autoencoder" and group.is_main:
        from studio.training.previews import Reconstructions

        callbacks.append(
            Reconstructions(
                mode.main_model, loaders.validation, run.path / "samples", choice.device
            )
        )
    if group.is_main:
        callbacks.append(
            EventWriter(EventStream(events)) if events is not None else ProgressBar(progress)
        )
    callbacks.extend(extra_callbacks)
    if group.distributed:
        callbacks.append(StopTogether(choice.device))
    trainer = Trainer(
        mode,
        loaders.train,
        loaders.validation,
        epochs=settings.epochs,
        callbacks=callbacks,
        seed=settings.seed,
        run_id=run.run_id,
        monitor=monitor,
        info={
            "run_dir": str(run.path),
            "mode": settings.mode,
            "task": settings.task,
            "device": str(choice.device),
            "device_reason": choice.reason,
        },
    )
    for speedup in enable_cuda_speedups(choice.device):
        trainer.log(f"on: {speedup}")
    precision = choose_precision(choice.device, settings.precision)
    if precision.note:
        trainer.log(precision.note)
    if precision.dtype is not None:
        scaler = " with a gradient scaler" if precision.needs_grad_scaler else ""
        trainer.log(f"on: mixed precision, {str(precision.dtype).removeprefix('torch.')}{scaler}")
    if mode.channels_last:
        trainer.log("on: channels-last memory layout for the convolutions")
    if settings.compile:
        trainer.log("on: torch.compile (the first steps wait for the compiler)")
    if checkpoint is not None:
        done = start.get("start_batch", 0)
        where = (
            f"in epoch {start['start_epoch'] + 1} after batch {done} of {trainer.batches}"
            if done
            else f"after epoch {start['start_epoch']}"
        )
        trainer.log(f"resumed run {run.run_id} {where}")
    return trainer, start


def load_mode_state(mode: TrainingMode, checkpoint: dict[str, Any], path: Path) -> None:
    """Put a checkpoint's weights, optimizer and scheduler state into `mode`.

    Raises:
        CheckpointError: the state does not fit this run's model (renamed or missing keys,
            other tensor shapes), naming the checkpoint.
    """
    state = dict(checkpoint["mode"])
    state["models"] = checkpoint_models(checkpoint, path)  # old checkpoints: the one rule
    try:
        mode.load_state_dict(state)
    except KeyError as exc:
        raise CheckpointError(
            f"{path}: the checkpoint has no {exc.args[0]!r} in its 'mode' state; it does not "
            "belong to this run's model"
        ) from None
    except (RuntimeError, ValueError, TypeError, IndexError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: the checkpoint does not fit this run's model and optimizer ({first})"
        ) from None


def sharded_loader(
    data: Any, settings: Any, device: torch.device, group: ProcessGroup
) -> DataLoader[object]:
    """This rank's share of the training split; `batch_size` is per process."""
    from studio.data.loaders import make_loader

    loader = data.section.loader
    return make_loader(
        data.train,
        batch_size=settings.batch_size,
        seed=settings.seed,
        shuffle=loader.shuffle,
        workers=loader.workers,
        device=device,
        drop_last=loader.drop_last,
        shard=(group.rank, group.world_size),
    )


def build_mode(
    project: Project, settings: Any, device: torch.device, steps_per_epoch: int
) -> TrainingMode:
    """Compile the graphs and wrap them in the project's training mode."""
    if settings.mode == "gan":
        if len(project.graphs) < 2:
            raise TrainingError("a GAN needs two graphs: a generator and a discriminator")
        g_graph, d_graph = list(project.graphs.values())[:2]
        noise = next(n for n in g_graph.nodes if g_graph.spec(n.id).role == "input")
        shape = noise.params["shape"]
        if not isinstance(shape, tuple | list):
            raise TrainingError("the generator's Input node has no shape for the noise")
        generator, discriminator = compile_graph(g_graph), compile_graph(d_graph)
        return GanMode(
            generator,
            discriminator,
            settings,
            noise_shape=[int(v) for v in shape],
            device=device,
            autocast=autocast_dtype(device, settings.precision),
        )
    model = compile_graph(project.main_graph)
    freeze(model, project.main_graph, settings.frozen)
    loss = loss_name_for(settings.task, settings.loss)
    metrics = settings.metrics or default_metrics(settings.task)
    return SupervisedMode(
        model,
        settings,
        loss=loss,
        metrics=metrics,
        steps_per_epoch=steps_per_epoch,
        device=device,
        autocast=autocast_dtype(device, settings.precision),
    )


def freeze(model: nn.Module, graph: Graph, node_names: list[str]) -> None:
    """Fix the weights of the named nodes (transfer learning).

    A node that uses another's weights freezes those: they are the same tensors.
    """
    attributes = attribute_names(graph)
    for name in node_names:
        node = graph.node_by_name(name)
        owner = None if node is None else attributes.get(module_owner(graph, node.id))
        submodule = None if owner is None else getattr(model, owner, None)
        if not isinstance(submodule, nn.Module):
            raise TrainingError(f"training.frozen: no layer named {name!r} in the model")
        for parameter in submodule.parameters():
            parameter.requires_grad_(False)


def copy_initial_weights(project: Project, mode: TrainingMode, run_id: str) -> None:
    """Copy weights from another run, tensor by tensor where names and shapes match."""
    assert project.path is not None
    source = RunFolder.open(project.path, run_id)
    path = source.best if source.best.is_file() else source.last
    weights = main_weights(checkpoint_models(load_checkpoint(path, within=source.path), path))
    target = mode.main_model.state_dict()
    matched = {k: v for k, v in weights.items() if k in target and target[k].shape == v.shape}
    if not matched:
        raise TrainingError(
            f"training.initial_weights: no layer of run {run_id} matches this model"
        )
    mode.main_model.load_state_dict(matched, strict=False)
