"""What the runs of a project are, and how a few of them differ: read from the run folders.

Nothing here imports torch: the window lists and compares runs from `config.json`,
`metrics.jsonl` and `status.json` in a worker thread, and a run folder that is half written,
torn or foreign is listed as "broken" with the reason instead of stopping the listing.
"""

from __future__ import annotations

import calendar
import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from studio.core.errors import FileReadError
from studio.core.project import DataSection, TrainingSection
from studio.training.runs import (
    BEST,
    CONFIG,
    LAST,
    METRICS,
    RUN_ID_PATTERN,
    STATUS,
    is_run_folder,
    lock_holder,
    read_json_file,
    read_metrics,
    read_metrics_file,
    runs_folder,
)

# What status.json says, and what the index concludes when it cannot say.
RUNNING = "running"
COMPLETED = "completed"
STOPPED = "stopped"
FAILED = "failed"
INTERRUPTED = "interrupted"  # status.json says running, but its process is gone
FINISHED = "finished"  # no status.json (an older run), all epochs and a checkpoint present
UNKNOWN = "unknown"  # no status.json, and the files do not tell
BROKEN = "broken"  # config.json is missing or unreadable
STATUSES = (RUNNING, COMPLETED, STOPPED, FAILED, INTERRUPTED, FINISHED, UNKNOWN, BROKEN)

# Higher is better for these (the rest are losses and errors); as in the trainer's callbacks.
MAXIMIZED = ("accuracy", "f1", "precision", "recall", "r2")
# Keys of a metrics record that are bookkeeping, not something learned.
BOOKKEEPING = ("epoch", "step", "lr", "epoch_time", "time")


@dataclass(frozen=True)
class BestValue:
    """The best value a metric reached over a run, and the epoch it was reached in."""

    value: float
    epoch: int


@dataclass
class RunInfo:
    """One run as the runs table shows it."""

    run_id: str
    path: Path
    status: str
    message: str | None = None
    started: float | None = None
    updated: float | None = None
    epochs_done: int = 0
    epochs_total: int | None = None
    device: str | None = None
    monitor: str = "val_loss"  # the metric the run judged "best" by
    best: dict[str, BestValue] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    has_checkpoint: bool = False
    pid: int | None = None

    @property
    def is_running(self) -> bool:
        return self.status == RUNNING

    @property
    def headline(self) -> tuple[str, BestValue] | None:
        """The best value of the monitored metric, else of validation loss, else nothing."""
        for key in (self.monitor, "val_loss"):
            if key in self.best:
                return key, self.best[key]
        return None


@dataclass(frozen=True)
class SettingRow:
    """One hyperparameter: its flattened name ("training.optimizer.name"), one value per run."""

    name: str
    values: tuple[str | None, ...]

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


@dataclass(frozen=True)
class MetricRow:
    """A metric's best value (with its epoch) and final value, per run (None: not logged)."""

    name: str
    best: tuple[BestValue | None, ...]
    final: tuple[float | None, ...]


@dataclass(frozen=True)
class NodeChange:
    """How one node differs between the compared runs' graphs.

    `kind` is "added" (absent in the first run), "removed" (absent in a later run), "type" or
    "param"; `values` holds, per run, the node's type (for the first three) or the param's
    value, None where the node (or param) is absent.
    """

    graph: str
    node: str
    kind: str
    param: str | None
    values: tuple[str | None, ...]


@dataclass
class RunComparison:
    """Several runs side by side, in the order they were asked for."""

    runs: list[RunInfo]
    curves: dict[str, dict[str, np.ndarray]]  # run id → metric → values; "epoch" is the x axis
    settings: list[SettingRow]
    metrics: list[MetricRow]
    graph_changes: list[NodeChange]

    @property
    def metric_names(self) -> list[str]:
        """Every metric some run logged, losses first."""
        names: set[str] = set()
        for curves in self.curves.values():
            names.update(k for k in curves if k != "epoch")
        return sorted(names, key=_metric_order)

    def differing_settings(self) -> list[SettingRow]:
        return [row for row in self.settings if row.differs]


# ----------------------------------------------------------------- listing
def list_runs(project_path: Path) -> list[RunInfo]:
    """Every run beside `project_path`, newest first; never raises for a bad run folder."""
    folder = runs_folder(Path(project_path))
    try:
        entries = [p for p in folder.iterdir() if is_run_folder(p, folder)]
    except OSError:
        return []
    runs = [read_run(path) for path in entries if RUN_ID_PATTERN.match(path.name)]
    runs.sort(key=lambda r: (r.started or 0.0, r.run_id), reverse=True)
    return runs


def read_run(path: Path) -> RunInfo:
    """One run folder, judged from status.json when there is one, else from its files.

    Damaged lines of `metrics.jsonl` are skipped (the message counts them); a metrics file
    that cannot be read at all (a FIFO, a link out of the run) makes the run "broken".
    """
    config, problem = _read_json(path / CONFIG)
    status, status_problem = _read_json(path / STATUS)
    try:
        metrics = read_metrics_file(path / METRICS)
    except FileReadError as exc:
        metrics, problem = None, problem or str(exc)
        config = None
    records = metrics.records if metrics is not None else []
    info = RunInfo(run_id=path.name, path=path, status=UNKNOWN)
    info.has_checkpoint = (path / LAST).is_file() or (path / BEST).is_file()
    info.started = _started_from_id(path.name) or _latest_mtime([path / CONFIG])
    info.updated = _latest_mtime(path / n for n in (METRICS, LAST, BEST, STATUS, CONFIG))
    info.epochs_done = max((_as_int(r.get("epoch")) or 0 for r in records), default=0)
    _summarise_metrics(info, records)
    if config is not None:
        resolved = config.get("resolved")
        resolved = resolved if isinstance(resolved, dict) else {}
        info.epochs_total = _as_int(resolved.get("epochs"))
        device = resolved.get("device")
        info.device = str(device) if device is not None else None
        info.monitor = _monitored_key(config)
    if status is not None:
        _apply_status(info, status)
    elif status_problem is not None and os.path.lexists(path / STATUS):
        info.message = f"status.json: {status_problem}"
    holder = lock_holder(path)
    if holder is not None:
        # The OS lock is the truth: a process trains the run now, whatever status.json says.
        info.status, info.pid = RUNNING, holder or info.pid
    if config is None:
        info.status = BROKEN
        info.message = problem if metrics is None else f"config.json: {problem}"
    elif status is None and holder is None:
        total = info.epochs_total
        complete = total is not None and info.epochs_done >= total
        info.status = FINISHED if complete and info.has_checkpoint else UNKNOWN
    if metrics is not None and metrics.bad_lines and info.message is None:
        info.message = metrics.problem(path / METRICS)
    return info


def _apply_status(info: RunInfo, status: Mapping[str, Any]) -> None:
    state = status.get("status")
    info.status = state if isinstance(state, str) and state in STATUSES else UNKNOWN
    message = status.get("message")
    info.message = str(message) if message else None
    info.pid = _as_int(status.get("pid"))
    for key in ("started", "updated"):
        value = status.get(key)
        # "started" is when the last process began (a resumed run's is later): the run id's
        # own time, when it has one, says when the run began.
        if key == "started" and info.started is not None and _started_from_id(info.run_id):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool) and _finite(value):
            setattr(info, key, float(value))
    epoch = _as_int(status.get("epoch"))
    if epoch is not None:
        info.epochs_done = max(info.epochs_done, epoch)
    epochs = _as_int(status.get("epochs"))
    if epochs is not None:
        info.epochs_total = epochs
    if info.status == RUNNING and not _still_training(info):
        info.status = INTERRUPTED
        info.message = info.message or "the training process ended without saying why"


def _still_training(info: RunInfo) -> bool:
    """A run that says "running" is, while its process holds the run's lock.

    Runs from before the lock have no `train.lock`: their pid must name a live process.
    With the lock file present and free, the process is gone, even if its pid was reused.
    """
    if lock_holder(info.path) is not None:
        return True
    if os.path.lexists(info.path / "train.lock"):
        return False
    return process_alive(info.pid)


def process_alive(pid: int | None) -> bool:
    """Whether a process with this id exists (a run whose process is gone was killed)."""
    if pid is None or not 0 < pid < 2**31:  # status.json may say anything
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except OSError:
        return False
    return True


def recorded_metrics(run_folder: Path, epoch: int) -> dict[str, float]:
    """What the run logged at the end of `epoch` (losses, accuracy, ...); {} when nothing.

    A resumed run may log an epoch again: its last record is the checkpoint's. A torn last
    line (a killed run), bookkeeping and non-numeric or non-finite values are left out.
    """
    metrics: dict[str, float] = {}
    for record in _records_or_none(run_folder / METRICS):
        if record.get("epoch") != epoch:
            continue
        metrics = {
            key: float(value)
            for key, value in record.items()
            if key not in BOOKKEEPING and _is_number(value) and math.isfinite(value)
        }
    return metrics


def _summarise_metrics(info: RunInfo, records: Sequence[Mapping[str, Any]]) -> None:
    for record in records:
        epoch = _as_int(record.get("epoch")) or 0
        for key, value in record.items():
            if key in BOOKKEEPING or not _is_number(value):
                continue
            number = float(value)
            info.final[key] = number
            if not key.startswith("val_") or not math.isfinite(number):
                continue
            best = info.best.get(key)
            if best is None or _better(key, number, best.value):
                info.best[key] = BestValue(number, epoch)


def _better(key: str, value: float, best: float) -> bool:
    return value > best if key.removeprefix("val_") in MAXIMIZED else value < best


def _monitored_key(config: Mapping[str, Any]) -> str:
    """The metric early stopping (and `best.pt`) watched, as the trainer names it."""
    project = config.get("project")
    training = project.get("training") if isinstance(project, dict) else None
    stopping = training.get("early_stopping") if isinstance(training, dict) else None
    metric = stopping.get("metric", "auto") if isinstance(stopping, dict) else "auto"
    if not isinstance(metric, str) or metric == "auto":
        return "val_loss"
    return metric if metric.startswith(("val_", "train_")) else f"val_{metric}"


# ----------------------------------------------------------------- comparing
def compare_runs(project_path: Path, run_ids: Sequence[str]) -> RunComparison:
    """Curves, settings, metrics and graph differences of the named runs, in that order.

    An id that is not a run of this project is skipped; a run without a readable config
    takes part with its curves only.
    """
    folder = runs_folder(Path(project_path))
    runs: list[RunInfo] = []
    configs: list[dict[str, Any]] = []
    curves: dict[str, dict[str, np.ndarray]] = {}
    for run_id in run_ids:
        path = folder / run_id
        if not RUN_ID_PATTERN.match(run_id) or ".." in run_id or not is_run_folder(path, folder):
            continue
        info = read_run(path)
        config, _problem = _read_json(path / CONFIG)
        runs.append(info)
        configs.append(config or {})
        curves[run_id] = epoch_curves(_records_or_none(path / METRICS))
    return RunComparison(
        runs=runs,
        curves=curves,
        settings=_setting_rows(configs),
        metrics=_metric_rows(runs),
        graph_changes=graph_differences([_graphs_of(c) for c in configs]),
    )


def epoch_curves(records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Metric → one value per epoch (NaN where an epoch did not log it); "epoch" is x."""
    by_epoch: dict[int, Mapping[str, Any]] = {}
    for record in records:
        epoch = _as_int(record.get("epoch"))
        if epoch is not None:
            by_epoch[epoch] = record  # a resumed run redid the epoch: the later line counts
    epochs = sorted(by_epoch)
    keys: set[str] = set()
    for record in by_epoch.values():
        keys.update(k for k, v in record.items() if k not in ("epoch", "step") and _is_number(v))
    curves = {"epoch": np.asarray(epochs, dtype=float)}
    for key in sorted(keys):
        values = [by_epoch[e].get(key) for e in epochs]
        curves[key] = np.asarray([v if _is_number(v) else np.nan for v in values], dtype=float)
    return curves


def flatten_settings(config: Mapping[str, Any]) -> dict[str, str]:
    """ "training.optimizer.name" → "adam", …: every setting a run trained with, defaults
    included (a file saves only what was chosen), then the data settings and what was resolved."""
    project = config.get("project")
    project = project if isinstance(project, dict) else {}
    flat: dict[str, str] = {}
    for section, model in (("training", TrainingSection), ("data", DataSection)):
        raw = project.get(section, {})
        try:
            _flatten_model(model.model_validate(raw), section, flat)
        except ValidationError:
            _flatten_plain(raw, section, flat)
    resolved = config.get("resolved")
    if isinstance(resolved, dict):
        _flatten_plain(resolved, "resolved", flat)
    return flat


def _flatten_model(model: BaseModel, prefix: str, out: dict[str, str]) -> None:
    names = list(type(model).model_fields) + list(model.model_extra or {})
    for name in names:
        _flatten_value(getattr(model, name, None), f"{prefix}.{name}", out)


def _flatten_value(value: object, key: str, out: dict[str, str]) -> None:
    if isinstance(value, BaseModel):
        _flatten_model(value, key, out)
    elif isinstance(value, dict):
        _flatten_plain(value, key, out)
    else:
        out[key] = _display(value)


def _flatten_plain(value: object, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _flatten_value(item, f"{prefix}.{name}", out)
    else:
        out[prefix] = _display(value)


def _display(value: object) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _setting_rows(configs: Sequence[Mapping[str, Any]]) -> list[SettingRow]:
    flats = [flatten_settings(c) for c in configs]
    names: list[str] = []
    seen: set[str] = set()
    for flat in flats:
        for name in flat:
            if name not in seen:
                seen.add(name)
                names.append(name)
    return [SettingRow(name, tuple(flat.get(name) for flat in flats)) for name in names]


def _metric_rows(runs: Sequence[RunInfo]) -> list[MetricRow]:
    names: set[str] = set()
    for run in runs:
        names.update(run.final)
    return [
        MetricRow(
            name,
            tuple(run.best.get(name) for run in runs),
            tuple(run.final.get(name) for run in runs),
        )
        for name in sorted(names, key=_metric_order)
    ]


def _metric_order(name: str) -> tuple[int, str]:
    rank = {"train_loss": 0, "val_loss": 1}.get(name, 2 if name.startswith("val_") else 3)
    return rank, name


GraphNodes = dict[str, dict[str, tuple[str, dict[str, Any]]]]  # graph → node name → (type, params)


def _graphs_of(config: Mapping[str, Any]) -> GraphNodes:
    project = config.get("project")
    graphs = project.get("graphs") if isinstance(project, dict) else None
    result: GraphNodes = {}
    for graph in graphs if isinstance(graphs, list) else []:
        if not isinstance(graph, dict):
            continue
        nodes: dict[str, tuple[str, dict[str, Any]]] = {}
        for node in graph.get("nodes", []) if isinstance(graph.get("nodes"), list) else []:
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                params = node.get("params")
                nodes[node["name"]] = (
                    str(node.get("type")),
                    params if isinstance(params, dict) else {},
                )
        result[str(graph.get("name", "model"))] = nodes
    return result


def graph_differences(graphs: Sequence[GraphNodes]) -> list[NodeChange]:
    """Nodes (matched by name) added, removed, retyped or with other params, across runs."""
    if len(graphs) < 2:
        return []
    changes: list[NodeChange] = []
    for graph_name in _ordered_union(g.keys() for g in graphs):
        per_run = [g.get(graph_name, {}) for g in graphs]
        for node in _ordered_union(nodes.keys() for nodes in per_run):
            entries = [nodes.get(node) for nodes in per_run]
            types = tuple(e[0] if e is not None else None for e in entries)
            if any(e is None for e in entries):
                kind = "added" if entries[0] is None else "removed"
                changes.append(NodeChange(graph_name, node, kind, None, types))
                continue
            if len(set(types)) > 1:
                changes.append(NodeChange(graph_name, node, "type", None, types))
                continue
            params = [e[1] for e in entries if e is not None]
            for param in _ordered_union(p.keys() for p in params):
                values = tuple(_display(p[param]) if param in p else None for p in params)
                if len(set(values)) > 1:
                    changes.append(NodeChange(graph_name, node, "param", param, values))
    return changes


def _ordered_union(groups: Iterable[Iterable[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return list(seen)


# ----------------------------------------------------------------- small readers
def _read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(document, None), or (None, why not) for a missing, unreadable or non-object file.

    Read through `safe_files`: a FIFO, a device or a link out of the run is refused, not
    waited on.
    """
    if not os.path.lexists(path):
        return None, "missing"
    try:
        document = read_json_file(path, path.parent, path.name)
    except FileReadError as exc:
        return None, str(exc)
    if not isinstance(document, dict):
        return None, "not a JSON object"
    return document, None


def _records_or_none(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics file; none when it cannot be read (the run list says why)."""
    try:
        return read_metrics(path)
    except FileReadError:
        return []


def _finite(value: float) -> bool:
    """`math.isfinite`, False for an int too large for a float (status.json may hold one)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _started_from_id(run_id: str) -> float | None:
    """Run ids begin with their UTC start time, "20260101-120000-…"."""
    try:
        return float(calendar.timegm(time.strptime(run_id[:15], "%Y%m%d-%H%M%S")))
    except ValueError:
        return None


def _latest_mtime(paths: Iterable[Path]) -> float | None:
    latest = None
    for path in paths:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        latest = mtime if latest is None else max(latest, mtime)
    return latest
