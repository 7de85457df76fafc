"""`studio --self-test`: prove that this copy of the application works, end to end.

It is what an installer (or a user, or CI) runs right after installing: the window opens
(offscreen when there is no display), a bundled example loads through the same background
task File ▸ Open uses, the window's own analysis infers its shapes, the project validates
and compiles, the compiled model runs one forward pass on zeros, and the window closes.
Each step prints one line with its timing as it ends; the first failure says what failed
and the exit status is 1.

It never hangs: every wait has a deadline, a dialog that pops up (an error message box) is
a failure that is closed, not waited on, and `faulthandler` ends the process should the Qt
thread itself block. It leaves no trace: the settings, autosaves and recent files go to a
temporary folder unless `$STRATA_SETTINGS_DIR` is already set.
"""

from __future__ import annotations

import faulthandler
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TextIO

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from studio import __version__
from studio.core.autosave import SETTINGS_ENV
from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.ui.app import create_application
from studio.ui.main_window import MainWindow

DEFAULT_EXAMPLE = "mlp_classifier.strata"
DEFAULT_TIMEOUT_S = 120.0
# Beyond the deadline, the grace the Qt thread gets before faulthandler ends the process.
HARD_STOP_GRACE_S = 15.0
FORWARD_BATCH = 2
_POLL_MS = 20


class StepFailed(Exception):
    """A step of the self-test went wrong; the message says what, in one line."""


def default_example() -> Path:
    return examples_dir() / DEFAULT_EXAMPLE


class SelfTest:
    """The steps, their report lines, and the waiting that never outlives the deadline."""

    def __init__(self, project: Path, *, timeout: float, out: TextIO) -> None:
        self.project_path = project
        self.timeout = timeout
        self.out = out
        self.deadline = time.monotonic() + timeout
        self.failures: list[str] = []
        self.steps_passed = 0

    # ------------------------------------------------------------------ report
    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    @contextmanager
    def step(self, title: str) -> Iterator[list[str]]:
        """Time one step; the body appends a detail to the list it receives."""
        details: list[str] = []
        started = time.perf_counter()
        try:
            yield details
            self._raise_failures()
        except Exception as exc:
            seconds = time.perf_counter() - started
            message = str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}"
            self.say(f"  FAIL  {title:<26} {seconds:7.2f} s  {message}")
            raise StepFailed(f"{title}: {message}") from exc
        seconds = time.perf_counter() - started
        detail = f"  ({'; '.join(details)})" if details else ""
        self.say(f"  ok    {title:<26} {seconds:7.2f} s{detail}")
        self.steps_passed += 1

    def _raise_failures(self) -> None:
        if self.failures:
            failures, self.failures = self.failures, []
            raise StepFailed("; ".join(failures))

    # ----------------------------------------------------------------- waiting
    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        """Run the event loop until `done()`, a failure, or the deadline (then raise)."""
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(_POLL_MS)

        def check() -> None:
            self._close_dialogs()
            if done() or self.failures or time.monotonic() >= self.deadline:
                loop.quit()

        poll.timeout.connect(check)
        poll.start()
        check()
        if not (done() or self.failures or time.monotonic() >= self.deadline):
            loop.exec()
        poll.stop()
        self._raise_failures()
        if not done():
            raise StepFailed(f"timed out after {self.timeout:g} s waiting for {what}")

    def _close_dialogs(self) -> None:
        """A dialog nobody will answer is a failure: note what it says, then close it."""
        modal = QApplication.activeModalWidget()
        if isinstance(modal, QDialog):
            text = modal.text() if isinstance(modal, QMessageBox) else ""
            self.failures.append(f"the window showed {modal.windowTitle()!r}: {text}".rstrip(": "))
            modal.reject()

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, trace: TracebackType | None
    ) -> None:
        """An exception in a slot: Qt would print and go on; the self-test fails instead."""
        self.failures.append(f"uncaught {kind.__name__}: {exc}")
        sys.__excepthook__(kind, exc, trace)

    # ------------------------------------------------------------------- steps
    def run(self) -> int:
        frozen = "yes" if getattr(sys, "frozen", False) else "no"
        self.say(
            f"Strata Studio {__version__} self-test (Python {platform.python_version()}, "
            f"PySide6 {PYSIDE_VERSION}, bundled: {frozen})"
        )
        started = time.perf_counter()
        window: MainWindow | None = None
        try:
            with self.step("start Qt") as detail:
                app = create_application()
                detail.append(f"platform {app.platformName()}")
            with self.step("open window"):
                window = MainWindow()
                window.setWindowIcon(app.windowIcon())
                window.show()
                shown = window
                self.wait_until(shown.isVisible, "the window to show")
            self._load_and_check(window)
            with self.step("close window"):
                closing, window = window, None
                if not closing.close():
                    raise StepFailed("the window refused to close")
                closing.deleteLater()
        except StepFailed as exc:
            self.say(f"self-test FAILED: {exc}")
            return 1
        finally:
            if window is not None:  # a step failed with the window still open
                window.shutdown()
                window.hide()
                window.deleteLater()
        self.say(
            f"self-test passed: {self.steps_passed} steps in {time.perf_counter() - started:.1f} s"
        )
        return 0

    def _load_and_check(self, window: MainWindow) -> None:
        opened: list[Project] = []
        with self.step(f"load {self.project_path.name}") as detail:
            if not self.project_path.is_file():
                raise StepFailed(f"{self.project_path}: no such file")
            window.project_opened.connect(opened.append)
            window.open_project(self.project_path)
            self.wait_until(lambda: bool(opened), "the project to open")
            project = opened[0]
            layers = sum(len(g) for g in project.graphs.values())
            detail.append(f"{_count(len(project.graphs), 'graph')}, {_count(layers, 'node')}")

        with self.step("analyse in the window") as detail:
            self.wait_until(
                lambda: window.current is not None and window.current.shapes is not None,
                "the window's shape analysis",
            )
            assert window.current is not None and window.current.shapes is not None
            report = window.current.shapes
            if report.graph_error_count:
                raise StepFailed("; ".join(report.lines[: report.graph_error_count]))
            detail.append(
                _count(report.warning_count, "warning") if report.problems else "no problems"
            )

        from studio.compile.inference import ShapeInference

        inferences = {name: ShapeInference(g, listen=False) for name, g in project.graphs.items()}
        with self.step("validate") as detail:
            errors = [
                problem.format(project.graphs[name])
                for name, inference in inferences.items()
                for problem in inference.errors()
            ]
            if errors:
                raise StepFailed("; ".join(errors))
            detail.append("no problems")

        modules = {}
        with self.step("compile") as detail:
            from studio.compile.compiler import class_name_for, compile_graph, count_parameters

            for name, graph in project.graphs.items():
                module = compile_graph(
                    graph,
                    class_name=class_name_for(f"{project.name} {name}"),
                    inference=inferences[name],
                )
                modules[name] = module
                detail.append(f"{name}: {count_parameters(module):,} parameters")

        with self.step("forward pass") as detail:
            import torch

            for name, module in modules.items():
                graph = project.graphs[name]
                shapes = [
                    inferences[name].output_shape(node.id)
                    for node in graph.nodes
                    if graph.spec(node.id).role == "input"
                ]
                inputs = [
                    torch.zeros(
                        (FORWARD_BATCH, *s.dims),
                        dtype=torch.long if s.dtype == "long" else torch.float32,
                    )
                    for s in shapes
                    if s is not None
                ]
                module.eval()
                with torch.no_grad():
                    result = module(*inputs)
                outputs = result if isinstance(result, (tuple, list)) else (result,)
                dims = ", ".join(str(tuple(t.shape)) for t in outputs)
                detail.append(f"{name} → {dims}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@contextmanager
def _private_settings() -> Iterator[None]:
    """Settings, autosaves and recent files in a temporary folder, unless one is chosen."""
    if os.environ.get(SETTINGS_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="strata-self-test-", ignore_cleanup_errors=True) as d:
        os.environ[SETTINGS_ENV] = d
        try:
            yield
        finally:
            os.environ.pop(SETTINGS_ENV, None)


def run_self_test(
    project: Path | None = None, *, timeout: float = DEFAULT_TIMEOUT_S, out: TextIO | None = None
) -> int:
    """Run every step; 0 when all passed, 1 (after a line saying what failed) otherwise."""
    stream = out if out is not None else sys.stdout
    test = SelfTest(
        project if project is not None else default_example(), timeout=timeout, out=stream
    )
    hard_stop = sys.stderr is not None and hasattr(sys.stderr, "fileno")
    if hard_stop:  # the Qt thread itself blocked: dump every thread's stack and exit 1
        faulthandler.dump_traceback_later(timeout + HARD_STOP_GRACE_S, exit=True)
    previous_hook = sys.excepthook
    sys.excepthook = test.excepthook
    try:
        with _private_settings():
            return test.run()
    finally:
        sys.excepthook = previous_hook
        if hard_stop:
            faulthandler.cancel_dump_traceback_later()
