"""Exceptions nobody caught: logged, shown in a dialog, and the window goes on working.

PySide6 hands an exception raised in a slot (a button's handler, a timer's callback, a
paint event) to `sys.excepthook` and carries on; Python hands one raised in a thread to
`threading.excepthook`. `install_exception_hook` replaces both, for the application only:
`run_app` calls it, and the test suite does not (pytest-qt has its own capture), except in
the test of this module, which installs and removes it itself.

Each exception is written with its traceback to the log file in the settings folder and to
stderr, and shown in one non-modal `ErrorDialog` with a "Copy details" button. A burst of
exceptions (a failing paint event repeats at every frame) lands in the same dialog, counted,
instead of opening a dialog per exception.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import platform
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio import __version__
from studio.ui import theme

LOGGER_NAME = "studio.errors"
MAX_DETAILS = 20  # tracebacks kept in the dialog; the log file has every one


class ErrorDialog(QDialog):
    """Non-modal: shows the latest error's summary, and every error's traceback on demand."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{theme.APP_NAME}: unexpected error")
        self.setModal(False)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.resize(640, 420)
        self.count = 0
        self._details: list[str] = []
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel()
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setObjectName("details")
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = theme.canvas_fonts().shape
        self.details.setFont(font)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setToolTip("Copy the tracebacks and versions, to paste into a bug report")
        self.copy_button.clicked.connect(self.copy_details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        row = QHBoxLayout()
        row.addWidget(self.copy_button)
        row.addStretch(1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.note)
        layout.addWidget(self.details, 1)
        layout.addLayout(row)

    def add_error(self, summary: str, details: str, log_file: Path | None) -> None:
        self.count += 1
        self._details.append(details)
        del self._details[:-MAX_DETAILS]
        heading = "Something went wrong" if self.count == 1 else f"{self.count} errors"
        self.summary.setText(
            f"<b>{heading}.</b> The window keeps working; your project is unchanged "
            f"unless the step that failed had already changed it.<br><br>{_escape(summary)}"
        )
        where = f" It is also in {log_file}." if log_file is not None else ""
        self.note.setText(
            "The details below help us fix it: please copy them into a bug report." + where
        )
        self.details.setPlainText(self.text())
        bar = self.details.verticalScrollBar()
        bar.setValue(bar.maximum())

    def text(self) -> str:
        header = (
            f"{theme.APP_NAME} {__version__} · Python {platform.python_version()} · "
            f"{platform.platform()}"
        )
        return "\n\n".join([header, *self._details])

    def copy_details(self) -> None:
        clipboard = QApplication.clipboard()
        clipboard.setText(self.text())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Relay(QObject):
    """Carries a report from any thread to the Qt thread."""

    reported = Signal(str, str)  # summary, details


class ExceptionReporter(QObject):
    """Logs uncaught exceptions and shows them; `install` / `uninstall` swap the hooks."""

    def __init__(
        self,
        log_file: Path | None = None,
        parent_widget: QWidget | None = None,
        *,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.parent_widget = parent_widget
        self.dialog: ErrorDialog | None = None
        self.logger = logging.getLogger(LOGGER_NAME)
        self._handler: logging.Handler | None = None
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        self._installed = False
        self._relay = _Relay()
        self._relay.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        if self._installed:
            return
        self._installed = True
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self.handle_exception
        threading.excepthook = self.handle_thread_exception
        if self.log_file is not None and self._handler is None:
            try:
                self.log_file.parent.mkdir(parents=True, exist_ok=True)
                handler: logging.Handler = logging.handlers.RotatingFileHandler(
                    self.log_file, maxBytes=1_000_000, backupCount=2, encoding="utf-8"
                )
            except OSError:
                self.log_file = None
            else:
                handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
                self.logger.addHandler(handler)
                self._handler = handler
        self.logger.setLevel(logging.INFO)

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        if sys.excepthook == self.handle_exception:
            sys.excepthook = self._previous_hook
        if threading.excepthook == self.handle_thread_exception:
            threading.excepthook = self._previous_thread_hook
        if self._handler is not None:
            self.logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def handle_exception(
        self,
        kind: type[BaseException],
        value: BaseException,
        trace: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._previous_hook(kind, value, trace)
            return
        self.report(kind, value, trace)

    def handle_thread_exception(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        where = f" in thread {args.thread.name}" if args.thread is not None else ""
        self.report(args.exc_type, args.exc_value, args.exc_traceback, where)

    def report(
        self,
        kind: type[BaseException],
        value: BaseException,
        trace: TracebackType | None,
        where: str = "",
    ) -> None:
        details = "".join(traceback.format_exception(kind, value, trace))
        summary = f"{kind.__name__}{where}: {value}"
        # Neither the log nor stderr may raise out of an excepthook.
        with contextlib.suppress(Exception):
            self.logger.error("uncaught %s\n%s", summary, details.rstrip())
        with contextlib.suppress(Exception):
            print(details, file=sys.stderr, end="")
        if QThread.currentThread() is self.thread():
            self._show(summary, details)
        else:
            self._relay.reported.emit(summary, details)

    def _show(self, summary: str, details: str) -> None:
        if QApplication.instance() is None:
            return
        if self.dialog is None:
            self.dialog = ErrorDialog(self.parent_widget)
            self.dialog.finished.connect(self._dialog_closed)
        self.dialog.add_error(summary, details, self.log_file)
        self.dialog.show()
        self.dialog.raise_()

    def _dialog_closed(self, _result: int) -> None:
        # The next error starts a fresh count.
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None


def install_exception_hook(
    log_file: Path | None, parent_widget: QWidget | None = None
) -> ExceptionReporter:
    """Route uncaught exceptions (Qt thread and worker threads) to the log and a dialog."""
    reporter = ExceptionReporter(log_file, parent_widget)
    reporter.install()
    return reporter
