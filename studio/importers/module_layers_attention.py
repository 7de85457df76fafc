"""Module rules (see `studio.importers.module_layers`) for the attention family of layers."""

from __future__ import annotations
