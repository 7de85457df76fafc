"""The run folder, `NAME.runs/RUN-ID/`, beside the project file.

A run holds `config.json` (the resolved configuration, including the graphs and the data
section, so a run can be understood and resumed after the project changed),
`preprocessing.json`, `metrics.jsonl` (one line per epoch, append-only), the checkpoints
`last.pt` and `best.pt`, and `status.json` (running, completed, stopped or failed; see
`RunFolder.write_status`). A run id is a timestamp and a short random suffix; ids that come
from outside (``--resume RUN``) are validated so they can never name a path elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.core.project import atomic_write_text
from studio.training.errors import TrainingError
from studio.training.events import json_safe

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CONFIG = "config.json"
METRICS = "metrics.jsonl"
PREPROCESSING = "preprocessing.json"
LAST = "last.pt"
BEST = "best.pt"
STATUS = "status.json"
RUN_STATES = ("running", "completed", "stopped", "failed")


def runs_folder(project_path: Path) -> Path:
    """`demo.strata` → `demo.runs` in the same folder."""
    return project_path.with_name(project_path.stem + ".runs")


def is_run_folder(path: Path, folder: Path) -> bool:
    """`path` is a folder that really lies in the runs folder `folder`.

    The runs folder itself may be a link (to a bigger disk); a run inside it that links
    elsewhere would let a shared project make the app read or overwrite files outside it.
    """
    try:
        return path.is_dir() and path.resolve().is_relative_to(folder.resolve())
    except OSError:  # a link loop
        return False


def new_run_id() -> str:
    """Sortable by start time to the millisecond ("20260101-120000.250-a1b2c3"), so that
    "the latest run" is right even for runs started within one second, and unique when two
    start in the same millisecond."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    return f"{stamp}.{int(now * 1000) % 1000:03d}-{secrets.token_hex(3)}"


def check_run_id(run_id: str) -> str:
    """Refuse ids that could leave the runs folder ("..", "/", "\\", empty, too long)."""
    if not RUN_ID_PATTERN.match(run_id) or ".." in run_id:
        raise TrainingError(
            f"{run_id!r} is not a run id (letters, digits, '-', '_' and '.', e.g. "
            "20260101-120000.250-a1b2c3)"
        )
    return run_id


class RunFolder:
    """One run's folder and the files in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = path.name

    @classmethod
    def create(cls, project_path: Path, run_id: str | None = None) -> RunFolder:
        run_id = check_run_id(run_id or new_run_id())
        path = runs_folder(project_path) / run_id
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise TrainingError(f"the run {run_id} already exists in {path.parent}") from None
        except OSError as exc:
            raise TrainingError(f"{path}: cannot create the run folder ({exc.strerror})") from None
        return cls(path)

    @classmethod
    def open(cls, project_path: Path, run_id: str) -> RunFolder:
        folder = runs_folder(project_path)
        path = folder / check_run_id(run_id)
        if not path.is_dir():
            raise TrainingError(f"no run {run_id!r} in {path.parent}")
        if not is_run_folder(path, folder):
            raise TrainingError(
                f"{path}: the run folder is a link to {path.resolve()}, outside {folder}; "
                "runs are only opened inside the project's runs folder"
            )
        return cls(path)

    @property
    def last(self) -> Path:
        return self.path / LAST

    @property
    def best(self) -> Path:
        return self.path / BEST

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def status(self) -> Path:
        return self.path / STATUS

    def write_status(
        self,
        status: str,
        *,
        started: float,
        epoch: int,
        step: int,
        epochs: int,
        message: str | None = None,
    ) -> None:
        """Replace `status.json` atomically: a reader never sees half of one.

        The training process writes it at the start, after every epoch and at the end, with
        its own pid: a run left "running" by a process that no longer exists was killed
        (a reader calls that "interrupted"). `started` is when this process began, so that
        (pid, started) names the process even after its pid is reused.
        """
        if status not in RUN_STATES:
            raise ValueError(f"unknown run status {status!r}")
        self.write_json(
            STATUS,
            {
                "status": status,
                "pid": os.getpid(),
                "started": started,
                "updated": time.time(),
                "epoch": epoch,
                "step": step,
                "epochs": epochs,
                "message": message,
            },
        )

    def read_status(self) -> dict[str, Any] | None:
        """The run's `status.json`, or None when it has none (older runs) or it is unreadable."""
        try:
            document = json.loads(self.status.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def write_json(self, name: str, document: Mapping[str, Any]) -> None:
        atomic_write_text(self.path / name, json.dumps(document, indent=2, allow_nan=False) + "\n")

    def read_config(self) -> dict[str, Any]:
        try:
            document = json.loads((self.path / CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrainingError(f"{self.path / CONFIG}: cannot be read ({exc})") from None
        if not isinstance(document, dict):
            raise TrainingError(f"{self.path / CONFIG}: not a run configuration")
        return document

    def append_metrics(self, record: Mapping[str, Any]) -> None:
        """Append one line in one write: a killed process loses at most the line being written
        (readers skip a torn last line).

        Not fsynced: once `write` returns the line survives the process being killed, which is
        the failure that matters here; an fsync per epoch would cost a small model more time
        than the epoch itself, for the rarer case of the whole machine going down.
        """
        line = json.dumps(json_safe(record), allow_nan=False) + "\n"
        with self.metrics.open("a", encoding="utf-8") as handle:
            handle.write(line)

    def truncate_metrics_after(self, epoch: int) -> None:
        """On resume, drop records of epochs after the checkpoint (they will be redone)."""
        kept = [r for r in read_metrics(self.metrics) if int(r.get("epoch", 0)) <= epoch]
        atomic_write_text(self.metrics, "".join(json.dumps(r) + "\n" for r in kept))


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every complete record of a `metrics.jsonl`; a torn last line (a killed run) is skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
