"""Typed errors of the document layer; each message is a sentence a beginner can act on."""

from __future__ import annotations


class StudioError(Exception):
    """Base of every error the application reports to the user instead of a traceback."""


class GraphEditError(StudioError):
    """An edit was refused; the graph is unchanged."""


class CycleError(GraphEditError):
    """The connection would make the data flow in a circle."""


class PortOccupiedError(GraphEditError):
    """The input port already receives a connection."""


class UnknownPortError(GraphEditError):
    """The node has no port of that name."""


class IncompatiblePortError(GraphEditError):
    """The connection joins two ports that cannot be joined (output to output, self loop)."""


class UnknownNodeError(GraphEditError):
    """No node has that id."""


class UnknownLayerError(StudioError):
    """No registered layer type has that id."""


class DuplicateLayerError(StudioError):
    """A layer type id was registered twice."""


class ProjectError(StudioError):
    """A project file could not be read or written; the message names the file and where."""


class FileReadError(StudioError):
    """A file from a project, run or data folder was refused: missing, not a regular file
    (a pipe, a device, a folder), a link out of its folder, or larger than it may be."""
