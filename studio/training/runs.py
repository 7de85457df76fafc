"""The run folder, `NAME.runs/RUN-ID/`, beside the project file.

A run holds `config.json` (the resolved configuration, including the graphs and the data
section, so a run can be understood and resumed after the project changed),
`preprocessing.json`, `metrics.jsonl` (one line per epoch, append-only), the checkpoints
`last.pt` and `best.pt`, and `status.json` (running, completed, stopped or failed; see
`RunFolder.write_status`). A run id is a timestamp and a short random suffix; ids that come
from outside (``--resume RUN``) are validated so they can never name a path elsewhere.

A run folder may come from someone else, or be damaged: every read of its files goes
through `studio.core.safe_files` (regular files only, bounded, no links out of the folder),
and a bad line of `metrics.jsonl` is skipped and counted, never fatal. While a process trains
a run it holds an OS lock on the run's `train.lock` (`RunLock`), so that a second `--resume`
(or a resume of a run still training) is refused instead of interleaving two histories.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import FileReadError
from studio.core.project import atomic_write_text
from studio.core.safe_files import (
    describe_kind,
    open_regular,
    read_bytes_bounded,
    read_text_bounded,
)
from studio.training.errors import TrainingError
from studio.training.events import json_safe

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CONFIG = "config.json"
METRICS = "metrics.jsonl"
PREPROCESSING = "preprocessing.json"
LAST = "last.pt"
BEST = "best.pt"
STATUS = "status.json"
LOCK = "train.lock"
RUN_STATES = ("running", "completed", "stopped", "failed")
# config.json holds the whole project (a large graph is a few MiB); the same bound as a project.
JSON_LIMIT = 64 * 1024 * 1024
SAMPLE_GRID_LIMIT = 64 * 1024 * 1024  # samples/epoch-NNNN.npy: 16 generated images are far less
# One line per epoch of about 300 bytes: a million epochs fit.
METRICS_LIMIT = 256 * 1024 * 1024
# The chooser shows each run's last record; reading this much of the end finds it.
METRICS_TAIL = 64 * 1024
# A larger epoch number is no epoch a run reached, but a damaged or hostile file.
MAX_EPOCH = 10**9


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
            document = read_json_file(self.status, self.path, "status.json")
        except FileReadError:
            return None
        return document if isinstance(document, dict) else None

    def write_json(self, name: str, document: Mapping[str, Any]) -> None:
        atomic_write_text(self.path / name, json.dumps(document, indent=2, allow_nan=False) + "\n")

    def read_config(self) -> dict[str, Any]:
        """The run's `config.json` as a JSON object.

        Raises:
            TrainingError: missing, not a regular file, too large, not JSON, not an object.
        """
        try:
            document = read_json_file(self.path / CONFIG, self.path, "run configuration")
        except FileReadError as exc:
            raise TrainingError(str(exc)) from None
        if not isinstance(document, dict):
            raise TrainingError(f"{self.path / CONFIG}: not a run configuration (no JSON object)")
        return document

    def lock_for_training(self) -> RunLock:
        """Take the run's training lock, held until `RunLock.release` (or the process ends).

        Raises:
            TrainingError: another process trains this run (the message names its pid), or
                the lock file cannot be made.
        """
        lock = RunLock(self)
        lock.acquire()
        return lock

    def training_pid(self) -> int | None:
        """The pid of the process that holds this run's training lock; None when none does."""
        return lock_holder(self.path)

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
        """On resume, drop records of epochs after the checkpoint (they will be redone).

        Lines that are not records (damaged ones) are dropped too: they held no epoch.
        """
        kept = [r for r in read_metrics(self.metrics) if r["epoch"] <= epoch]
        atomic_write_text(self.metrics, "".join(json.dumps(r, allow_nan=True) + "\n" for r in kept))


@dataclass
class MetricsFile:
    """What a `metrics.jsonl` holds: its records, and the lines that were not records.

    Attributes:
        records: every line that is a JSON object with a whole, non-negative "epoch".
        bad_lines: 1-based numbers of the lines skipped as damaged (garbage, not an object,
            no epoch, a number too large for a float); a torn last line is not counted.
        torn: the last line had no newline and was not a record (a killed run's last write).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)
    torn: bool = False

    def problem(self, path: Path) -> str | None:
        """A sentence about the damaged lines, or None when there were none."""
        if not self.bad_lines:
            return None
        shown = ", ".join(str(n) for n in self.bad_lines[:5])
        more = f" and {len(self.bad_lines) - 5} more" if len(self.bad_lines) > 5 else ""
        count = len(self.bad_lines)
        return f"{path}: {count} damaged line{'s' if count != 1 else ''} skipped ({shown}{more})"


def read_metrics_file(path: Path) -> MetricsFile:
    """Parse a run's `metrics.jsonl`, skipping the lines that are not records.

    Missing is empty (a run killed before its first epoch ended).

    Raises:
        FileReadError: not a regular file, a link out of the run folder, larger than
            `METRICS_LIMIT`, or unreadable.
    """
    try:
        text = read_text_bounded_lenient(path, METRICS_LIMIT, within=path.parent)
    except FileReadError:
        if not os.path.lexists(path):
            return MetricsFile()
        raise
    return parse_metrics(text)


def parse_metrics(text: str) -> MetricsFile:
    """`read_metrics_file` on text already read."""
    result = MetricsFile()
    lines = text.split("\n")
    last = len(lines) - 1  # the text after the last newline: empty, or a torn line
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = metrics_record(line)
        if record is not None:
            result.records.append(record)
        elif number - 1 == last:
            result.torn = True
        else:
            result.bad_lines.append(number)
    return result


def metrics_record(line: str) -> dict[str, Any] | None:
    """One line as a record, or None when it is not one a reader can use."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    epoch = record.get("epoch")
    if isinstance(epoch, float) and epoch.is_integer():
        epoch = int(epoch)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= MAX_EPOCH:
        return None
    record["epoch"] = epoch
    for value in record.values():
        if isinstance(value, int) and not isinstance(value, bool) and not _fits_float(value):
            return None  # a number no float holds: every reader would fail on it
    return record


def _fits_float(value: int) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every record of a `metrics.jsonl`; damaged lines and a torn last line are skipped.

    Raises:
        FileReadError: as `read_metrics_file`.
    """
    return read_metrics_file(path).records


def last_metrics_record(path: Path) -> dict[str, Any] | None:
    """The last record of a `metrics.jsonl`, reading only its end (the run chooser's cost).

    Raises:
        FileReadError: as `read_metrics_file`, except that size is no limit.
    """
    try:
        with open_regular(path, within=path.parent, what="metrics file") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - METRICS_TAIL))
            tail = handle.read(METRICS_TAIL)
    except FileReadError:
        if not os.path.lexists(path):
            return None
        raise
    except OSError as exc:
        raise FileReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    text = tail.decode("utf-8", errors="replace")
    if size > METRICS_TAIL:
        text = text.partition("\n")[2]  # the first line is cut by the seek
    records = parse_metrics(text).records
    return records[-1] if records else None


def read_text_bounded_lenient(path: Path, limit: int, *, within: Path) -> str:
    """`read_text_bounded`, with bytes that are not UTF-8 replaced (a damaged line is skipped
    by the parser instead of the whole file being refused)."""
    data = read_bytes_bounded(path, limit, within=within, what="metrics file")
    return data.decode("utf-8", errors="replace")


def read_json_file(path: Path, run_path: Path, what: str) -> object:
    """A JSON document of the run folder `run_path`, read through `safe_files`.

    Raises:
        FileReadError: as `read_text_bounded`, or not JSON (the message names the place).
    """
    text = read_text_bounded(path, JSON_LIMIT, within=run_path, what=what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileReadError(
            f"{path}: the {what} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})"
        ) from None
    except RecursionError:
        raise FileReadError(f"{path}: the {what} is nested too deeply to read") from None


# ----------------------------------------------------------------- the training lock
class RunLock:
    """An OS lock on `train.lock` in a run folder, held while one process trains the run.

    `fcntl.flock` on POSIX, `msvcrt.locking` on Windows: the OS drops it when the process
    ends in any way (a SIGKILL included), so a killed run never stays locked. The file
    holds the holder's pid, for the message that refuses a second writer.
    """

    def __init__(self, run: RunFolder) -> None:
        self.run = run
        self.path = run.path / LOCK
        self.fd: int | None = None

    def acquire(self) -> None:
        """Raises: TrainingError: another process holds the lock, or it cannot be made."""
        fd = _open_lock_file(self.path, create=True)
        try:
            if not _try_lock(fd, exclusive=True):
                holder = _read_pid(fd)
                who = f"process {holder}" if holder else "another process"
                raise TrainingError(
                    f"run {self.run.run_id} is being trained by {who}; stop it first "
                    f"(or wait for it to end), then resume it"
                )
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except OSError as exc:
            os.close(fd)
            raise TrainingError(
                f"{self.path}: cannot lock the run for training ({exc.strerror or exc})"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def release(self) -> None:
        """Drop the lock (closing the file drops it; the file stays, empty of meaning)."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        with contextlib.suppress(OSError):
            _unlock(fd)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


@contextlib.contextmanager
def training_lock(run: RunFolder) -> Iterator[RunLock]:
    """`RunFolder.lock_for_training` as a context manager."""
    lock = run.lock_for_training()
    try:
        yield lock
    finally:
        lock.release()


def lock_holder(run_path: Path) -> int | None:
    """The pid holding `run_path`'s training lock (0 when it cannot be read); None if free.

    Probes with a shared, non-blocking lock, and never creates the file: listing runs
    changes nothing in them.
    """
    try:
        fd = _open_lock_file(run_path / LOCK, create=False)
    except (TrainingError, OSError):
        return None
    try:
        if _try_lock(fd, exclusive=False):
            _unlock(fd)
            return None
        return _read_pid(fd) or 0
    except OSError:
        return None
    finally:
        os.close(fd)


_LOCK_OFFSET = 64  # Windows locks are mandatory: lock a byte past the pid, which stays readable


def _open_lock_file(path: Path, *, create: bool) -> int:
    flags = os.O_RDWR if create else os.O_RDONLY
    if create:
        flags |= os.O_CREAT
    for name in ("O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC", "O_BINARY", "O_NOINHERIT"):
        flags |= getattr(os, name, 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise TrainingError(
            f"{path}: cannot open the run's lock file ({exc.strerror or exc}); if it is a "
            "link or a folder, remove it"
        ) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise TrainingError(f"{path}: the run's lock file is {describe_kind(mode)}; remove it")
    return fd


def _try_lock(fd: int, *, exclusive: bool) -> bool:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 2**31 else None
