"""Start the window: `run_app(project)` is what `studio gui` calls.

The window is shown before anything heavy loads: torch arrives later, in the worker that
analyses the first graph, and its results reach the window by signal.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio.ui import theme
from studio.ui.main_window import MainWindow


def create_application() -> QApplication:
    """The process's QApplication, named and themed (an existing one is reused)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName(theme.APP_NAME)
    app.setOrganizationName(theme.ORGANIZATION)
    theme.apply_theme(app)
    return app


def run_app(project: Path | None = None) -> int:
    """Show the main window, open `project` if given, and run until the window closes."""
    app = create_application()
    window = MainWindow()
    window.show()
    if project is not None:
        # Once the event loop runs, so the empty window paints before the file is read.
        QTimer.singleShot(0, lambda: window.open_project(project))
    status = app.exec()
    window.shutdown()
    return int(status)
