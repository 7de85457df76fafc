"""Module rules (see `studio.importers.module_layers`) for the spatial family of layers."""

from __future__ import annotations
