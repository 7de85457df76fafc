"""Help ▸ Plugins…: every installed plugin, what it registered, and why a broken one was skipped.

Discovery imports what the plugins import (the exporters load torch) and builds each plugin
layer once, so the dialog asks a worker of the window's `TaskRunner` for
`studio.plugins.survey_plugins` and fills its tree when the answer arrives. One top-level row
per distribution (Strata Studio's built-ins first, marked as such), one row per entry-point
group under it with what that group registered, and each error in red with its message: an
entry point that failed and was skipped, an item skipped for a clash, an id outside the
plugin's namespace or a builder path that names nothing, and a layer whose builder raised.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.plugins import InstalledPlugin, PluginReport, survey_plugins
from studio.ui import theme
from studio.ui.tasks import Task, TaskRunner

GROUP_TITLES = {
    "studio.layers": ("Layers", "layer", "layers"),
    "studio.datasets": ("Datasets", "dataset", "datasets"),
    "studio.explainers": ("Explainers", "explainer", "explainers"),
    "studio.exporters": ("Export formats", "format", "formats"),
}
_EXPAND = Qt.ItemDataRole.UserRole + 1
#: Characters per line of an error message.
ERROR_WIDTH = 90
#: Ids listed in a group row's own text before the rest go to its children only.
LISTED_IDS = 4


def _count(group: str, count: int) -> str:
    _, one, many = GROUP_TITLES.get(group, (group, "item", "items"))
    return f"{count} {one if count == 1 else many}"


class PluginsDialog(QDialog):
    """The installed plugins, discovered off the Qt thread when the dialog opens."""

    loaded = Signal()

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.setObjectName("plugins_dialog")
        self.resize(900, 600)
        self.plugins: list[InstalledPlugin] | None = None
        self.summary = QLabel("Looking for installed plugins…")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Plugin", "Registers"])
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.tree.setColumnWidth(0, 260)
        hint = QLabel(
            "Plugins are Python packages that declare entry points in the groups "
            "studio.layers, studio.datasets, studio.explainers and studio.exporters; "
            "see docs/plugins.md. What a broken plugin breaks is skipped and listed in red; "
            "the rest of the app works."
        )
        hint.setWordWrap(True)
        hint.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self._task: Task | None = tasks.start(
            "discover plugins", self._discover, self._show, self._failed, self._finished
        )

    @staticmethod
    def _discover(cancelled: object) -> Iterator[list[InstalledPlugin]]:
        yield survey_plugins()

    def _finished(self) -> None:
        self._task = None

    def _failed(self, exc: BaseException, trace: str) -> None:
        self.summary.setText(f"Could not list the plugins: {type(exc).__name__}: {exc}")
        self.loaded.emit()

    def done(self, result: int) -> None:
        # A result arriving after the dialog closed must not touch it.
        if self._task is not None:
            self._task.cancel()
            self._task = None
        super().done(result)

    # ---- filling the tree
    def _show(self, item: object) -> None:
        assert isinstance(item, list)
        self.plugins = item
        self.tree.clear()
        for plugin in item:
            row = self._plugin_item(plugin)
            self.tree.addTopLevelItem(row)
            # Expanding works only once an item is in the tree.
            row.setExpanded(True)
            for i in range(row.childCount()):
                group = row.child(i)
                if group is not None:
                    group.setExpanded(bool(group.data(0, _EXPAND)))
        others = [p for p in item if not p.builtin]
        broken = [p for p in others if not p.ok]
        text = (
            f"{len(others)} plugin{'' if len(others) == 1 else 's'} installed besides "
            "Strata Studio's built-ins"
            if others
            else "No plugins installed; Strata Studio's built-ins are listed below"
        )
        if broken:
            names = ", ".join(p.distribution for p in broken)
            text += f". With errors, listed in red below: {names}"
        self.summary.setText(text + ".")
        self.loaded.emit()

    def _plugin_item(self, plugin: InstalledPlugin) -> QTreeWidgetItem:
        title = f"{plugin.distribution} {plugin.version}".strip()
        groups = [GROUP_TITLES.get(g, (g,))[0].lower() for g in plugin.reports]
        kind = "built-in" if plugin.builtin else "plugin"
        details = f"{kind}: {', '.join(groups)}"
        item = QTreeWidgetItem([title, details])
        item.setData(0, Qt.ItemDataRole.UserRole, plugin.distribution)
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        if not plugin.ok:
            errors = sum(len(r.errors) for rs in plugin.reports.values() for r in rs)
            item.setText(1, f"{details}; {errors} error{'' if errors == 1 else 's'}")
            item.setForeground(1, theme.colour("error"))
        for group, reports in plugin.reports.items():
            item.addChild(self._group_item(group, reports))
        return item

    def _group_item(self, group: str, reports: list[PluginReport]) -> QTreeWidgetItem:
        registered = [name for report in reports for name in report.registered]
        shown = ", ".join(registered[:LISTED_IDS])
        if len(registered) > LISTED_IDS:
            shown += f", … (+{len(registered) - LISTED_IDS})"
        text = _count(group, len(registered)) + (f": {shown}" if shown else "")
        item = QTreeWidgetItem([GROUP_TITLES.get(group, (group,))[0], text])
        item.setToolTip(0, f"entry-point group {group}")
        item.setToolTip(1, "\n".join(registered))
        if len(registered) > LISTED_IDS:  # the rest of a long list, one per row on demand
            for name in registered:
                item.addChild(QTreeWidgetItem(["", name]))
        red = theme.colour("error")
        for report in reports:
            for error in report.errors:
                # Broken over lines, so the whole message shows (rows grow to fit).
                child = QTreeWidgetItem([f"✖ {report.name}", textwrap.fill(error, ERROR_WIDTH)])
                child.setToolTip(1, f"{report.name} = {report.value}\n{error}")
                child.setForeground(0, red)
                child.setForeground(1, red)
                item.addChild(child)
        # Errors show at once; a long list of ids (the built-in catalog) on demand.
        item.setData(0, _EXPAND, any(r.errors for r in reports))
        return item

    # ---- for tests and scripts
    def rows(self) -> list[tuple[int, str, str]]:
        """Every row as (depth, first column, second column), in tree order."""
        found: list[tuple[int, str, str]] = []

        def walk(item: QTreeWidgetItem | None, depth: int) -> None:
            if item is None:
                return
            found.append((depth, item.text(0), item.text(1)))
            for i in range(item.childCount()):
                walk(item.child(i), depth + 1)

        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i), 0)
        return found
