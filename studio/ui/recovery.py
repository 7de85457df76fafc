"""Autosave on a timer, and the dialog that offers what a crash left behind.

`AutosaveController` writes the window's project to its side file (see
`studio.core.autosave`) every `interval` while it has unsaved changes. The document is
copied on the Qt thread (`Project.to_dict`, a few milliseconds for 2,000 nodes) and
serialised and written, atomically and fsynced, in a worker. A save, a new project or a
clean close discards the side file; a write that was under way when that happened is
discarded again when it finishes, so no stale side file survives a save.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.autosave import (
    Autosave,
    AutosaveSession,
    key_for_path,
    recovery_dir,
    untitled_key,
)
from studio.core.project import Project
from studio.ui import theme

if TYPE_CHECKING:
    from studio.ui.tasks import Task, TaskRunner

AUTOSAVE_INTERVAL_MS = 60_000
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1


def describe_time(timestamp: float, now: float | None = None) -> str:
    """`today 14:05`, `yesterday 09:12` or `2024-03-01 18:40`, in local time."""
    moment = dt.datetime.fromtimestamp(timestamp)
    today = dt.datetime.fromtimestamp(now).date() if now is not None else dt.date.today()
    clock = moment.strftime("%H:%M")
    if moment.date() == today:
        return f"today {clock}"
    if moment.date() == today - dt.timedelta(days=1):
        return f"yesterday {clock}"
    return moment.strftime("%Y-%m-%d %H:%M")


class AutosaveController(QObject):
    """Keeps one window's project autosaved while it has unsaved changes.

    The window tells it when a project is shown (`project_shown`), saved (`saved`) and
    when the window closes cleanly (`close`); it reads `project` and `modified` from the
    callables it was given.
    """

    written = Signal(object)  # Autosave
    failed = Signal(str)

    def __init__(
        self,
        tasks: TaskRunner,
        project: Callable[[], Project | None],
        modified: Callable[[], bool],
        *,
        folder: Path | None = None,
        interval_ms: int = AUTOSAVE_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self._project = project
        self._modified = modified
        self.session = AutosaveSession(folder if folder is not None else recovery_dir())
        self.key: str | None = None
        self.last: Autosave | None = None
        self._last_document: dict[str, Any] | None = None
        self._epoch = 0
        self._adopt: str | None = None
        self._closed = False
        self.task: Task | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start()

    @property
    def folder(self) -> Path:
        return self.session.folder

    def set_interval(self, interval_ms: int) -> None:
        self.timer.setInterval(interval_ms)
        if not self._closed:
            self.timer.start()

    @property
    def adopting(self) -> bool:
        """True between `adopt_next` and the project it announces being shown."""
        return self._adopt is not None

    def adopt_next(self, key: str) -> None:
        """The next project shown continues the autosave `key` (a recovered project)."""
        self._adopt = key

    def project_shown(self, project: Project) -> None:
        """A project replaced the previous one (whose changes the user let go)."""
        self._forget_current()
        if self._adopt is not None:
            self.key, self._adopt = self._adopt, None
        elif project.path is not None:
            self.key = key_for_path(project.path)
        else:
            self.key = untitled_key()

    def saved(self, path: Path) -> None:
        """The project is on disk: its side file is obsolete, and its key follows the file."""
        self._forget_current()
        self.key = key_for_path(path)

    def autosave_now(self) -> Task | None:
        """Write the side file if there is something new to write; the worker's task, if any."""
        project = self._project()
        if self._closed or project is None or self.key is None:
            return None
        if not self._modified():
            if self.last is not None:  # undone back to the saved state
                self._forget_current()
            return None
        document = project.to_dict()
        document["view"] = copy.deepcopy(document.get("view", {}))
        if document == self._last_document:
            return None
        epoch, key, session = self._epoch, self.key, self.session
        name, original = project.name, project.path

        def work(cancelled: Callable[[], bool]) -> Iterator[object]:
            yield session.write(key, document, name=name, original_path=original)

        def done(item: object) -> None:
            assert isinstance(item, Autosave)
            if epoch != self._epoch or self._closed:
                session.discard(key)  # saved, replaced or closed while this was written
                return
            self._last_document = document
            self.last = item
            self.written.emit(item)

        def failed(exc: BaseException, trace: str) -> None:
            self.failed.emit(f"Autosave failed: {exc}")

        def finished() -> None:
            if self.task is task:
                self.task = None

        if self.task is not None:
            self.task.cancel()
        task = self.tasks.start("autosave", work, done, failed, finished)
        self.task = task
        return task

    def close(self) -> None:
        """The clean end: no side file and no session lock remain (workers must be done)."""
        if self._closed:
            return
        self._closed = True
        self.timer.stop()
        self._forget_current()
        self.session.close()

    def abandon(self) -> None:
        """What a crash does: stop, release the lock, leave the side files for recovery."""
        self._closed = True
        self.timer.stop()
        self.session.release()

    def _forget_current(self) -> None:
        self._epoch += 1
        if self.key is not None:
            self.session.discard(self.key)
        self.last = None
        self._last_document = None


class RecoveryDialog(QDialog):
    """Lists the autosaves a crash left; Recover opens one, Discard deletes one, Later keeps all."""

    recover_requested = Signal(object)  # Autosave
    discard_requested = Signal(object)  # Autosave

    def __init__(self, entries: list[Autosave], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover unsaved changes")
        self.entries = list(entries)
        heading = QLabel(f"{theme.APP_NAME} did not close properly last time")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() + 2)
        font.setBold(True)
        heading.setFont(font)
        text = QLabel(
            "Unsaved changes to the projects below were autosaved. Recover one to continue "
            "where you left off: it opens with the changes still unsaved, so you can review "
            "them and save. Discard deletes an autosave; Later keeps them for next time."
        )
        text.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Project", "Autosaved", "File"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        for entry in self.entries:
            self.tree.addTopLevelItem(self._row(entry))
        self.tree.itemDoubleClicked.connect(lambda *_: self.recover_selected())
        self.recover_button = QPushButton(theme.icon("recover"), "Recover")
        self.recover_button.setDefault(True)
        self.recover_button.clicked.connect(self.recover_selected)
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Delete the selected autosave: its changes are lost")
        self.discard_button.clicked.connect(self.discard_selected)
        buttons = QDialogButtonBox()
        buttons.addButton(self.recover_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.later_button = buttons.addButton("Later", QDialogButtonBox.ButtonRole.RejectRole)
        self.later_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.addWidget(heading)
        layout.addWidget(text)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.resize(720, 340)
        first = self.tree.topLevelItem(0)
        if first is not None:
            self.tree.setCurrentItem(first)

    @staticmethod
    def _row(entry: Autosave) -> QTreeWidgetItem:
        if entry.original_path is None:
            where, tip = "never saved", "This project had not been saved to a file yet."
        else:
            where, tip = str(entry.original_path), str(entry.original_path)
            try:
                if entry.original_path.stat().st_mtime > entry.saved_at:
                    where += "  (the file changed after this autosave)"
            except OSError:
                where += "  (the file is gone)"
        item = QTreeWidgetItem([entry.name, describe_time(entry.saved_at), where])
        item.setToolTip(2, tip)
        item.setData(0, ENTRY_ROLE, entry)
        return item

    def selected(self) -> Autosave | None:
        item = self.tree.currentItem()
        entry = item.data(0, ENTRY_ROLE) if item is not None else None
        return entry if isinstance(entry, Autosave) else None

    def recover_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        self.recover_requested.emit(entry)
        self.accept()

    def discard_selected(self) -> None:
        item = self.tree.currentItem()
        entry = self.selected()
        if item is None or entry is None:
            return
        self.discard_requested.emit(entry)
        self.entries.remove(entry)
        self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        if not self.entries:
            self.reject()
