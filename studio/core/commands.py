"""Undoable edits. Each command calls only the graph's API and remembers what undo needs.

The window wraps these same commands in `QUndoCommand`s, so the command line, the tests and
the canvas share one implementation of every edit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from psygnal import Signal

from studio.core.graph import Edge, Graph, Position, check_position, new_id
from studio.core.specs import ParamValue


class Command:
    """An edit with `do` and `undo`. `do` may run again after `undo` (redo)."""

    text = "edit"

    def do(self) -> None:
        raise NotImplementedError

    def undo(self) -> None:
        raise NotImplementedError


class MacroCommand(Command):
    """Several commands done in order and undone in reverse, as one step."""

    def __init__(self, text: str, children: list[Command] | None = None) -> None:
        self.text = text
        self.children: list[Command] = children or []

    def do(self) -> None:
        done: list[Command] = []
        try:
            for child in self.children:
                child.do()
                done.append(child)
        except Exception:
            for child in reversed(done):
                child.undo()
            raise

    def undo(self) -> None:
        for child in reversed(self.children):
            child.undo()


class AddNodeCommand(Command):
    def __init__(
        self,
        graph: Graph,
        type_id: str,
        *,
        name: str | None = None,
        params: Mapping[str, object] | None = None,
        position: Position = (0.0, 0.0),
        node_id: str | None = None,
    ) -> None:
        self.graph = graph
        self.type_id = type_id
        self.params = dict(params or {})
        self.position = position
        self.node_id = node_id or new_id()
        # The name is fixed on first `do` so redo recreates exactly the same node.
        self.name = name
        self.text = f"Add {type_id.rsplit('.', 1)[1]}"

    def do(self) -> None:
        node = self.graph.add_node(
            self.type_id,
            name=self.name,
            params=self.params,
            position=self.position,
            node_id=self.node_id,
        )
        self.name = node.name

    def undo(self) -> None:
        self.graph.remove_node(self.node_id)


class ConnectCommand(Command):
    def __init__(
        self,
        graph: Graph,
        src: str,
        src_port: str,
        dst: str,
        dst_port: str,
        *,
        edge_id: str | None = None,
    ) -> None:
        graph.check_connect(src, src_port, dst, dst_port)
        self.graph = graph
        self.edge = Edge(edge_id or new_id(), src, src_port, dst, dst_port)
        self.text = "Connect"

    def do(self) -> None:
        e = self.edge
        self.graph.connect(e.src, e.src_port, e.dst, e.dst_port, edge_id=e.id)

    def undo(self) -> None:
        self.graph.disconnect(self.edge.id)


class DisconnectCommand(Command):
    def __init__(self, graph: Graph, edge_id: str) -> None:
        self.graph = graph
        self.edge = graph.edge(edge_id)
        self.text = "Disconnect"

    def do(self) -> None:
        self.graph.disconnect(self.edge.id)

    def undo(self) -> None:
        e = self.edge
        self.graph.connect(e.src, e.src_port, e.dst, e.dst_port, edge_id=e.id)


class RemoveNodeCommand(Command):
    """Remove a node and, first, its connections; undo puts it back at its old index."""

    def __init__(self, graph: Graph, node_id: str) -> None:
        self.graph = graph
        self.node_id = node_id
        node = graph.node(node_id)
        self.text = f"Remove {node.name}"
        # Collected on the first `do`, not here: commands made up front for a selection (two
        # connected nodes) must not both try to remove the edge between them.
        self._disconnects: list[DisconnectCommand] | None = None
        self._snapshot: dict[str, Any] = {}
        self._index = 0

    def do(self) -> None:
        if self._disconnects is None:
            edges = self.graph.edges_of(self.node_id)
            self._disconnects = [DisconnectCommand(self.graph, e.id) for e in edges]
        for child in self._disconnects:
            child.do()
        node = self.graph.node(self.node_id)
        self._snapshot = {
            "type_id": node.type_id,
            "name": node.name,
            "params": dict(node.params),
            "position": node.position,
            "shares": node.shares,
        }
        self._index = self.graph.index_of(self.node_id)
        self.graph.remove_node(self.node_id)

    def undo(self) -> None:
        snap = self._snapshot
        self.graph.add_node(
            snap["type_id"],
            name=snap["name"],
            params=snap["params"],
            position=snap["position"],
            node_id=self.node_id,
            index=self._index,
            shares=snap["shares"],
        )
        for child in reversed(self._disconnects or []):
            child.undo()


class SetParamCommand(Command):
    def __init__(self, graph: Graph, node_id: str, name: str, value: object) -> None:
        self.graph = graph
        self.node_id = node_id
        self.name = name
        self.value = graph.check_param(node_id, name, value)
        self.old: ParamValue = graph.node(node_id).params[name]
        self.text = f"Set {graph.node(node_id).name}.{name}"

    def do(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.value)

    def undo(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.old)


class SetSharesCommand(Command):
    """Make a node use another's weights (tie them), or its own again (`owner` None)."""

    def __init__(self, graph: Graph, node_id: str, owner: str | None) -> None:
        self.graph = graph
        self.node_id = node_id
        self.owner = owner
        self.old = graph.node(node_id).shares
        name = graph.node(node_id).name
        self.text = f"Untie {name}" if owner is None else f"Tie {name} to {graph.node(owner).name}"

    def do(self) -> None:
        self.graph.set_shares(self.node_id, self.owner)

    def undo(self) -> None:
        self.graph.set_shares(self.node_id, self.old)


class RenameNodeCommand(Command):
    def __init__(self, graph: Graph, node_id: str, name: str) -> None:
        self.graph = graph
        self.node_id = node_id
        self.name = name
        self.old = graph.node(node_id).name
        self.text = f"Rename {self.old} to {name}"

    def do(self) -> None:
        self.graph.rename_node(self.node_id, self.name)

    def undo(self) -> None:
        self.graph.rename_node(self.node_id, self.old)


class MoveNodesCommand(Command):
    """Move one or more nodes; the canvas merges a drag into one of these."""

    def __init__(self, graph: Graph, moves: Mapping[str, Position]) -> None:
        self.graph = graph
        # Checked now, so that `do` cannot fail halfway with some nodes already moved.
        self.moves = {node_id: check_position(pos) for node_id, pos in moves.items()}
        self.old = {node_id: graph.node(node_id).position for node_id in moves}
        self.text = "Move" if len(moves) == 1 else f"Move {len(moves)} nodes"

    def do(self) -> None:
        for node_id, pos in self.moves.items():
            self.graph.move_node(node_id, pos)

    def undo(self) -> None:
        for node_id, pos in self.old.items():
            self.graph.move_node(node_id, pos)


class UndoStack:
    """A linear history of commands, with `macro()` to group edits into one step.

    A command is done when pushed. If it raises, nothing is recorded and the graph is as
    before (commands validate before they change anything; macros undo what they did).
    """

    changed = Signal()

    def __init__(self) -> None:
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._macros: list[MacroCommand] = []
        self._clean_index: int | None = 0

    def push(self, command: Command) -> None:
        command.do()
        if self._macros:
            self._macros[-1].children.append(command)
            return
        self._record(command)

    def _record(self, command: Command) -> None:
        self._done.append(command)
        if self._clean_index is not None and self._clean_index > len(self._done) - 1:
            self._clean_index = None
        self._undone.clear()
        self.changed.emit()

    @contextmanager
    def macro(self, text: str) -> Iterator[MacroCommand]:
        """Group the commands pushed inside the block; an exception undoes them all."""
        group = MacroCommand(text)
        self._macros.append(group)
        try:
            yield group
        except BaseException:
            self._macros.pop()
            group.undo()
            raise
        self._macros.pop()
        if not group.children:
            return
        if self._macros:
            self._macros[-1].children.append(group)
        else:
            self._record(group)

    def undo(self) -> bool:
        if not self._done or self._macros:
            return False
        command = self._done.pop()
        command.undo()
        self._undone.append(command)
        self.changed.emit()
        return True

    def redo(self) -> bool:
        if not self._undone or self._macros:
            return False
        command = self._undone.pop()
        command.do()
        self._done.append(command)
        self.changed.emit()
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    def set_clean(self) -> None:
        self._clean_index = len(self._done)
        self.changed.emit()

    @property
    def is_clean(self) -> bool:
        return self._clean_index == len(self._done)
