"""Qt's undo stack over the core's commands: one implementation of every edit.

`QUndoStack.push` calls `redo()` at once, and an exception raised inside that C++ call
cannot reach the caller. So the window does the core command itself first (in Python, where
a refusal is an ordinary `GraphEditError`) and pushes it already done; only later redos run
through Qt.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from studio.core.commands import Command, MoveNodesCommand


class CoreUndoCommand(QUndoCommand):
    """A done core `Command` on Qt's stack; consecutive moves of the same nodes merge."""

    MOVE_ID = 1001

    def __init__(self, command: Command, *, done: bool = True) -> None:
        super().__init__(command.text)
        self.command = command
        self._skip_first_redo = done

    def redo(self) -> None:
        if self._skip_first_redo:
            self._skip_first_redo = False
            return
        self.command.do()

    def undo(self) -> None:
        self.command.undo()

    def id(self) -> int:
        return self.MOVE_ID if isinstance(self.command, MoveNodesCommand) else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Nudging the same selection repeatedly is one step; a different selection is not."""
        mine, theirs = self.command, getattr(other, "command", None)
        if not isinstance(mine, MoveNodesCommand) or not isinstance(theirs, MoveNodesCommand):
            return False
        if mine.graph is not theirs.graph or set(mine.moves) != set(theirs.moves):
            return False
        mine.moves = dict(theirs.moves)
        return True
