"""ONNX op rules for the spatial family of layers, merged by `studio.importers.onnx_import.op_rules`."""

from __future__ import annotations

from typing import Any

RULES: dict[str, Any] = {}
