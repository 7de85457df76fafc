"""The training child process: `studio train PROJECT --events`, read without blocking.

The window never trains in its own process: a crash, a stuck CUDA call or an out-of-memory
kill in training must not take the editor down. `TrainingProcess` starts the same command a
terminal user would, reads its JSON-lines events as they arrive (`readyReadStandardOutput`,
partial lines buffered), and hands them on in batches, a bounded slice at a time, so a flood
of lines never stalls the Qt thread. Stop is a "stop" line on the child's stdin (it
checkpoints and exits 0); a second Stop kills it. How the run ended is reported once, as an
`Outcome`: completed, stopped, failed (with the error event's message) or crashed (exit code
or signal, with the last lines the child wrote on stderr).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

EVENT_NAMES = frozenset(("started", "step", "epoch", "checkpoint", "log", "error", "done"))
STDERR_LINES = 50
# One slice of parsing on the Qt thread: at most this many lines or this many seconds.
SLICE_LINES = 500
SLICE_SECONDS = 0.008
# At window shutdown: how long a stopped child may take to checkpoint, then to die.
SHUTDOWN_STOP_MS = 3000
SHUTDOWN_KILL_MS = 2000

COMPLETED = "completed"
STOPPED = "stopped"
FAILED = "failed"
CRASHED = "crashed"


@dataclass
class Outcome:
    """How a training child ended, in words a person can act on.

    `status` is "completed", "stopped", "failed" (training raised; `message` is the error
    event's) or "crashed" (it died without saying: a signal, an exit code, a start failure).
    """

    status: str
    message: str = ""
    run: str | None = None
    exit_code: int | None = None
    signal_name: str | None = None
    killed_by_us: bool = False
    stderr: list[str] = field(default_factory=list)

    @property
    def resumable(self) -> bool:
        return self.status in (STOPPED, CRASHED) and self.run is not None


def parse_line(line: bytes) -> dict[str, Any]:
    """One stdout line as an event; anything else the child printed becomes a `log` event."""
    text = line.decode("utf-8", errors="replace").rstrip("\r")
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if isinstance(record, dict) and record.get("event") in EVENT_NAMES:
        return record
    return {"event": "log", "level": "output", "message": text}


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def train_command(
    project_path: Path,
    *,
    resume: str | None = None,
    epochs: int | None = None,
    device: str | None = None,
    nproc_per_node: int | None = None,
) -> list[str]:
    """The arguments after the interpreter: the same command a terminal user would run.

    `nproc_per_node` > 1 ("all GPUs of this machine") runs it under torchrun, one process
    per GPU; rank 0 alone writes the events the window reads.
    """
    # --stop-on-eof: should this window die, the child sees its stdin close and stops.
    # --low-priority: on a machine with few cores the child and the window share them; the
    # window's few milliseconds of drawing go first, and training loses almost nothing.
    arguments = [
        "-m",
        "studio",
        "train",
        str(project_path),
        "--events",
        "--stop-on-eof",
        "--low-priority",
    ]
    if resume is not None:
        arguments += ["--resume", resume]
    if epochs is not None:
        arguments += ["--epochs", str(epochs)]
    if device is not None:
        arguments += ["--device", device]
    if nproc_per_node is not None and nproc_per_node > 1:
        arguments += ["--nproc-per-node", str(nproc_per_node)]
    return arguments


class TrainingProcess(QObject):
    """One `studio train --events` child; create one per run.

    Signals carry plain dicts (the events as the child wrote them): `events_received` a
    batch in order, and one signal per event kind for listeners that want only that kind.
    `ended` fires exactly once, after every event has been delivered.
    """

    events_received = Signal(list)  # list[dict]: a batch, in the order written
    started = Signal(dict)
    epoch_ended = Signal(dict)
    checkpoint_saved = Signal(dict)
    log_received = Signal(dict)
    error_received = Signal(dict)
    done = Signal(dict)
    ended = Signal(object)  # Outcome

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        self.process.setProcessEnvironment(environment)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self.arguments: list[str] = []
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)
        self.run_id: str | None = None
        self.stop_requests = 0
        self.outcome: Outcome | None = None
        self.started_at: float | None = None
        self._stdout_rest = b""
        self._stderr_rest = b""
        self._lines: deque[bytes] = deque()
        # A timer, not a posted call: the next slice waits its turn behind other timers and
        # repaints instead of chaining posted events that keep the event loop busy.
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain)
        self._exit: tuple[int, bool] | None = None
        self._start_failure: str | None = None
        self._done_event: dict[str, Any] | None = None
        self._error_event: dict[str, Any] | None = None

    # ---------------------------------------------------------------- control
    def start(self, project_path: Path, **options: Any) -> None:
        """Start `studio train PROJECT --events` (options: resume, epochs, device)."""
        if self.process.state() != QProcess.ProcessState.NotRunning or self.started_at:
            raise RuntimeError("a TrainingProcess runs once; make a new one for the next run")
        self.arguments = train_command(Path(project_path), **options)
        self.started_at = time.monotonic()
        self.process.start(sys.executable, self.arguments)

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    @property
    def pid(self) -> int:
        return int(self.process.processId())

    def stop(self) -> str:
        """First call: ask the child to stop ("stop" on stdin); later calls: kill it.

        Returns "stopping", "killed", or "" when no child is running.
        """
        if not self.running:
            return ""
        self.stop_requests += 1
        if self.stop_requests == 1:
            self.process.write(b"stop\n")
            return "stopping"
        self.process.kill()
        return "killed"

    def shutdown(self) -> None:
        """Leave no child behind (window closing): stop, wait a bounded time, then kill."""
        if not self.running:
            return
        if self.stop_requests == 0:
            self.stop()
            if self.process.waitForFinished(SHUTDOWN_STOP_MS):
                return
        self.stop_requests = max(self.stop_requests, 1)
        self.stop()
        self.process.waitForFinished(SHUTDOWN_KILL_MS)

    # ---------------------------------------------------------------- reading
    def feed(self, data: bytes) -> None:
        """Take bytes from the child's stdout: complete lines are queued, the rest kept."""
        if not data:
            return
        chunk = self._stdout_rest + data
        lines = chunk.split(b"\n")
        self._stdout_rest = lines.pop()
        self._lines.extend(line for line in lines if line.strip())
        self._schedule_drain()

    def _read_stdout(self) -> None:
        self.feed(bytes(self.process.readAllStandardOutput().data()))

    def _read_stderr(self) -> None:
        chunk = self._stderr_rest + bytes(self.process.readAllStandardError().data())
        lines = chunk.split(b"\n")
        self._stderr_rest = lines.pop()
        for line in lines:
            # A progress bar redraws with "\r": only its last state is worth keeping.
            text = line.decode("utf-8", errors="replace").rstrip("\r").split("\r")[-1]
            if text.strip():
                self.stderr_tail.append(text)

    def _schedule_drain(self) -> None:
        if not self._drain_timer.isActive():
            self._drain_timer.start()

    def _drain(self) -> None:
        """Parse one bounded slice of the queued lines; the rest waits for the next turn."""
        deadline = time.perf_counter() + SLICE_SECONDS
        batch: list[dict[str, Any]] = []
        lines = self._lines
        while lines and len(batch) < SLICE_LINES:
            batch.append(parse_line(lines.popleft()))
            if len(batch) % 50 == 0 and time.perf_counter() > deadline:
                break
        if batch:
            self._deliver(batch)
        if lines:
            self._schedule_drain()
        elif self._exit is not None or self._start_failure is not None:
            self._finish()

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        self.events_received.emit(batch)
        for event in batch:
            kind = event["event"]
            if kind == "step":
                continue
            if kind == "started":
                self.run_id = str(event.get("run") or "") or None
                self.started.emit(event)
            elif kind == "epoch":
                self.epoch_ended.emit(event)
            elif kind == "checkpoint":
                self.checkpoint_saved.emit(event)
            elif kind == "log":
                self.log_received.emit(event)
            elif kind == "error":
                self._error_event = event
                self.error_received.emit(event)
            elif kind == "done":
                self._done_event = event
                self.run_id = str(event.get("run") or self.run_id or "") or None
                self.done.emit(event)

    # ---------------------------------------------------------------- ending
    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._read_stderr()
        if self._stderr_rest.strip():
            self.stderr_tail.append(self._stderr_rest.decode("utf-8", errors="replace"))
            self._stderr_rest = b""
        self._read_stdout()
        if self._stdout_rest.strip():
            self._lines.append(self._stdout_rest)  # a last line without its newline
            self._stdout_rest = b""
        self._exit = (exit_code, exit_status == QProcess.ExitStatus.CrashExit)
        if not self._lines and not self._drain_timer.isActive():
            self._finish()
        else:
            self._schedule_drain()

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._start_failure = (
                f"the training process could not start: {self.process.errorString()}"
            )
            self._finish()

    def _finish(self) -> None:
        if self.outcome is not None:
            return
        self.outcome = self._judge()
        self.ended.emit(self.outcome)

    def _judge(self) -> Outcome:
        tail = list(self.stderr_tail)
        killed_by_us = self.stop_requests >= 2
        if self._start_failure is not None:
            return Outcome(CRASHED, self._start_failure, stderr=tail)
        exit_code, crashed = self._exit if self._exit is not None else (None, False)
        done, error = self._done_event, self._error_event
        if done is not None and done.get("status") in (COMPLETED, STOPPED, FAILED):
            status = str(done["status"])
            message = ""
            if status == FAILED:
                message = str(error.get("message")) if error else "training failed"
            return Outcome(status, message, self.run_id, exit_code, stderr=tail)
        if error is not None and not crashed:
            message = str(error.get("message") or "training failed")
            return Outcome(FAILED, message, self.run_id, exit_code, stderr=tail)
        if crashed:
            name = signal_name(exit_code) if exit_code else "a signal"
            if killed_by_us:
                message = "killed after a second Stop; the last checkpoint is kept"
                return Outcome(STOPPED, message, self.run_id, None, name, True, tail)
            message = f"the training process was killed by {name}"
            return Outcome(CRASHED, message, self.run_id, None, name, stderr=tail)
        message = f"the training process exited with code {exit_code} without finishing"
        return Outcome(CRASHED, message, self.run_id, exit_code, stderr=tail)
