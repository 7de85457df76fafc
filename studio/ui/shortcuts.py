"""Help ▸ Keyboard Shortcuts: every shortcut the window has, read from its actions.

The list is built when the dialog opens, from the menus (in menu order) and then from any
other action of the window that has a shortcut, so a new action appears here by existing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

# Mouse and held-key gestures of the canvas, which no action carries.
GESTURES: list[tuple[str, str]] = [
    ("Zoom in or out", "Mouse wheel"),
    ("Pan", "Middle-drag, or Space + drag"),
    ("Select several", "Drag a rectangle on empty canvas; Ctrl+click"),
    ("Connect", "Drag from an output port to an input port"),
    ("Add a layer", "Drag it from the palette, or double-click it"),
]


def _label(action: QAction) -> str:
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".…")


def _keys(action: QAction) -> str:
    native = QKeySequence.SequenceFormat.NativeText
    return ", ".join(s.toString(native) for s in action.shortcuts() if not s.isEmpty())


def collect_shortcuts(window: QMainWindow) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group, [(command, keys)]) for each menu, then "Other" and "Canvas"."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    seen: set[int] = set()

    def walk(menu: QMenu, prefix: str, rows: list[tuple[str, str]]) -> None:
        for action in menu.actions():
            submenu = action.menu()
            if isinstance(submenu, QMenu):
                walk(submenu, f"{prefix}{_label(action)} ▸ ", rows)
                continue
            if action.isSeparator():
                continue
            seen.add(id(action))
            keys = _keys(action)
            if keys:
                rows.append((prefix + _label(action), keys))

    for top in window.menuBar().actions():
        menu = top.menu()
        if not isinstance(menu, QMenu):
            continue
        rows: list[tuple[str, str]] = []
        walk(menu, "", rows)
        if rows:
            groups.append((_label(top), rows))
    others = [
        (_label(a), _keys(a))
        for a in window.findChildren(QAction)
        if id(a) not in seen and _keys(a) and a.text()
    ]
    if others:
        groups.append(("Other", sorted(set(others))))
    groups.append(("Canvas", GESTURES))
    return groups


class ShortcutsDialog(QDialog):
    """A searchable, non-modal table of shortcuts."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard Shortcuts")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter…")
        self.filter.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Command", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.resize(680, 640)
        for group, rows in collect_shortcuts(window):
            header = QTreeWidgetItem([group, ""])
            font = header.font(0)
            font.setBold(True)
            header.setFont(0, font)
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(header)
            for command, keys in rows:
                header.addChild(QTreeWidgetItem([command, keys]))
            header.setExpanded(True)
        self.tree.setRootIsDecorated(False)
        self.tree.expandAll()
        self.filter.textChanged.connect(self.apply_filter)

    def rows(self) -> list[tuple[str, str]]:
        """(command, keys) of every visible row."""
        found: list[tuple[str, str]] = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            if group is None or group.isHidden():
                continue
            for j in range(group.childCount()):
                child = group.child(j)
                if child is not None and not child.isHidden():
                    found.append((child.text(0), child.text(1)))
        return found

    def apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            if group is None:
                continue
            shown = 0
            for j in range(group.childCount()):
                child = group.child(j)
                if child is None:
                    continue
                haystack = f"{group.text(0)} {child.text(0)} {child.text(1)}".lower()
                match = all(w in haystack for w in words)
                child.setHidden(not match)
                shown += match
            group.setHidden(shown == 0)
