"""The open project's runs, read in a worker and shared by every tab that lists them.

The Training tab's Resume button, the Runs tab, the Evaluation and Explain run pickers, the
Export dialog and File ▸ Export all read this one in-memory list. Reading a run folder opens
its files (a FIFO or a link to `/dev/zero` may stand in for one), so it is never done on the
Qt thread: `RunsModel.refresh` reads in the window's task runner and `runs_changed` carries
the fresh `RunsSnapshot` back. The reading itself is `studio.training.run_index`'s and
`studio.training.trained`'s; this module only gathers it and says when it changed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from studio.training.run_index import INTERRUPTED, STOPPED, UNKNOWN, RunInfo, list_runs
from studio.training.runs import LAST

if TYPE_CHECKING:
    from studio.training.trained import RunChoice
    from studio.ui.tasks import Task, TaskRunner

# "running" is not here: the index calls a running run whose process is gone "interrupted".
RESUMABLE = (STOPPED, INTERRUPTED)


@dataclass(frozen=True)
class RunsSnapshot:
    """What one reading of a project's runs found.

    Attributes:
        project_path: the project file whose runs these are (None: no saved project).
        runs: every run folder, newest first, as the runs table shows them.
        with_weights: the runs with a checkpoint, newest first, as the run pickers list them.
        resumable: the newest run that stopped or was interrupted and has `last.pt`.
        complete: False until the first reading for `project_path` has arrived.
        error: why the runs could not be read, when they could not.
    """

    project_path: Path | None = None
    runs: tuple[RunInfo, ...] = ()
    with_weights: tuple[RunChoice, ...] = ()
    resumable: str | None = None
    complete: bool = False
    error: str | None = None

    @property
    def has_weights(self) -> bool:
        return bool(self.with_weights)


def resumable(info: RunInfo) -> bool:
    """Whether Resume may continue this run (its status as the run index judged it)."""
    if info.status in RESUMABLE:
        return True
    total = info.epochs_total
    return info.status == UNKNOWN and total is not None and info.epochs_done < total


def first_resumable(runs: Sequence[RunInfo]) -> str | None:
    """The newest resumable run with a `last.pt` (a stat per run: call it off the Qt thread)."""
    for info in sorted(runs, key=lambda r: r.run_id, reverse=True):
        if resumable(info) and (info.path / LAST).is_file():
            return info.run_id
    return None


def find_resumable_run(project_path: Path) -> str | None:
    """The newest run of the project that stopped or was interrupted and has a checkpoint.

    The run index judges each run (status.json, the run's OS lock, its files), so the
    dashboard and the runs table agree: a run whose status says "running" is offered only
    when no process holds its lock (its process is gone: "interrupted").
    """
    return first_resumable(list_runs(Path(project_path)))


def read_snapshot(project_path: Path) -> RunsSnapshot:
    """Read a project's runs (blocking: the worker's side of `RunsModel.refresh`)."""
    from studio.training.trained import runs_with_weights

    runs = list_runs(project_path)
    return RunsSnapshot(
        project_path=project_path,
        runs=tuple(runs),
        with_weights=tuple(runs_with_weights(project_path)),
        resumable=first_resumable(runs),
        complete=True,
    )


class RunsModel(QObject):
    """The current project's runs, kept in memory and read again on request, in a worker.

    Readings do not overlap: a request while one is under way reads once more after it, so a
    burst of requests (a tab shown, a run ended, a save) costs at most two readings.
    """

    runs_changed = Signal(object)  # RunsSnapshot

    def __init__(self, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.snapshot = RunsSnapshot(complete=True)
        self._task: Task | None = None
        self._again = False

    @property
    def project_path(self) -> Path | None:
        return self.snapshot.project_path

    @property
    def reading(self) -> bool:
        """A reading is under way (or wanted once the one under way ends)."""
        return self._task is not None or self._again

    def set_project_path(self, path: Path | str | None) -> None:
        """Follow the window's project file: forget another project's runs, read these."""
        path = Path(path) if path is not None else None
        if path != self.project_path:
            self.snapshot = RunsSnapshot(project_path=path, complete=path is None)
            self.runs_changed.emit(self.snapshot)
        self.refresh()

    def refresh(self) -> None:
        """Read the project's runs again; `runs_changed` says when the new list is here."""
        if self.project_path is None:
            return
        if self._task is not None:
            self._again = True
            return
        path = self.project_path

        def work(cancelled: object) -> Iterator[RunsSnapshot]:
            yield read_snapshot(path)

        task = self.tasks.start(
            "read runs",
            work,
            self._on_read,
            lambda exc, _trace: self._on_failed(path, exc),
            lambda: self._on_finished(task),
        )
        self._task = task

    def _on_read(self, item: object) -> None:
        assert isinstance(item, RunsSnapshot)
        if item.project_path == self.project_path:
            self.snapshot = item
            self.runs_changed.emit(item)

    def _on_failed(self, path: Path, exc: BaseException) -> None:
        if path == self.project_path:
            message = f"The runs of {path.name} cannot be read: {exc}"
            self.snapshot = RunsSnapshot(path, complete=True, error=message)
            self.runs_changed.emit(self.snapshot)

    def _on_finished(self, task: Task) -> None:
        if self._task is task:
            self._task = None
        if self._again:
            self._again = False
            self.refresh()
