"""Start the window: `run_app(project)` is what `studio gui` calls.

The window is shown before anything heavy loads: torch arrives later, in the worker that
analyses the first graph, and its results reach the window by signal. Once the event loop
runs, the window offers to recover what a crash left (autosaves whose session is gone),
then opens the project it was given. Uncaught exceptions are logged and shown from here on
(`studio.ui.errors`), not in the test suite, where pytest-qt captures them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from studio.ui import theme
from studio.ui.errors import install_exception_hook
from studio.ui.main_window import MainWindow
from studio.ui.settings import THEME_KEY, app_settings, log_path


def create_application() -> QApplication:
    """The process's QApplication, named and themed (an existing one is reused)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        # Fractional scale factors (125 %, 150 %) as they are, so nothing is drawn blurred
        # at a rounded scale; Qt 6's default, set explicitly because it must precede the app.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(sys.argv[:1])
    app.setApplicationName(theme.APP_NAME)
    app.setOrganizationName(theme.ORGANIZATION)
    app.setWindowIcon(theme.app_icon())
    # Ties the window to installers/linux/strata-studio.desktop (Wayland app id, taskbar icon).
    QGuiApplication.setDesktopFileName("strata-studio")
    remembered = app_settings().value(THEME_KEY, theme.DEFAULT_THEME)
    theme.apply_theme(app, str(remembered))
    return app


def run_self_test(project: Path | None = None) -> int:
    """`studio --self-test`: open the window, load, validate and compile an example, close.

    `project` replaces the bundled example (the tests pass a broken one). Prints a line per
    step with its timing; returns 0 when every step passed, 1 otherwise.
    """
    from studio.ui.self_test import run_self_test as run_steps  # it imports this module

    return run_steps(project)


def run_app(project: Path | None = None) -> int:
    """Show the main window, offer recovery, open `project` if given; run until it closes."""
    app = create_application()
    window = MainWindow()
    reporter = install_exception_hook(log_path(), window)
    window.show()

    def start() -> None:
        # Once the event loop runs, so the empty window paints before any file is read.
        dialog = window.offer_recovery()
        if project is None:
            return
        if dialog is None:
            window.open_project(project)
            return

        recovered: list[object] = []
        dialog.recover_requested.connect(recovered.append)

        def after_recovery(_result: int) -> None:
            if not recovered:
                window.open_project(project)
            else:  # the recovered project is on screen; the one given waits for File ▸ Open
                window.statusBar().showMessage(
                    f"Recovered an autosave; {project} not opened", 10000
                )

        dialog.finished.connect(after_recovery)

    QTimer.singleShot(0, start)
    try:
        status = app.exec()
    finally:
        window.shutdown()
        reporter.uninstall()
    return int(status)
