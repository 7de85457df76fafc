"""Qt's undo stack over the core's commands: one implementation of every edit.

`QUndoStack.push` calls `redo()` at once, and an exception raised inside that C++ call
cannot reach the caller. So the window does the core command itself first (in Python, where
a refusal is an ordinary `GraphEditError`) and pushes it already done; only later redos run
through Qt.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from studio.core.commands import Command, SetParamCommand
from studio.core.graph import Graph


class TypedParamCommand(SetParamCommand):
    """A param edit made in the inspector; the edits of one burst of typing are one step.

    A burst is the time the person stays in one field: every keystroke in a spin box is an
    edit (shapes follow as they type), and leaving the field starts a new burst, so typing
    ``128`` then undoing goes back to the value before the ``1``, not to ``12``.
    """

    def __init__(self, graph: Graph, node_id: str, name: str, value: object, *, burst: int) -> None:
        super().__init__(graph, node_id, name, value)
        self.burst = burst


class CoreUndoCommand(QUndoCommand):
    """A done core `Command` on Qt's stack; the edits of one param in one burst of typing
    (`TypedParamCommand`) merge into one step."""

    PARAM_ID = 1002

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
        # Moves never merge: a drag is already one command, and two drags (or two layouts)
        # in a row are two steps the user may want to undo separately.
        return self.PARAM_ID if isinstance(self.command, TypedParamCommand) else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Typing in one field is one step until the field is left."""
        mine, theirs = self.command, getattr(other, "command", None)
        if isinstance(mine, TypedParamCommand) and isinstance(theirs, TypedParamCommand):
            key = (mine.node_id, mine.name, mine.burst)
            same = mine.graph is theirs.graph and key == (theirs.node_id, theirs.name, theirs.burst)
            if same:
                mine.value = theirs.value  # `mine.old` stays: undo goes back before the burst
            return same
        return False
