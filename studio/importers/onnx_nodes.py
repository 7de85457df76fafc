"""What an ONNX node says about itself: its attributes, and the module that made it.

Names: the TorchScript exporter names nodes by module path (``/encoder/layers.0/Add``); the
dynamo exporter names them ``node_Add_114`` and keeps the path in metadata (``name_scopes``). Either
way a node is named after the innermost module that made it, so the canvas shows ``proj`` and
``layers_0`` rather than operator numbers. Files from other tools fall back to the node's name.
"""

from __future__ import annotations

import ast
from typing import Any

from studio.importers.mapping import node_name

_SCOPES_KEY = "pkg.torch.onnx.name_scopes"
_MAX_SCOPES_TEXT = 4096


def layer_name(node: Any, fallback: str | None = None) -> str:
    """``/block/block.0/Gemm`` or scopes ``['', 'block', 'block.0', 'linear']`` → ``block_0``."""
    fallback = fallback or node.op_type.lower()
    module = _module_path(node)
    if module:
        parts = module.split(".")
        return node_name(".".join(parts[-2:]) if parts[-1].isdigit() else parts[-1], fallback)
    parts = [p for p in (node.name or "").split("/") if p]
    if len(parts) >= 2:
        return node_name(parts[-2], fallback)
    return node_name(parts[-1] if parts else node.op_type, fallback)


def _module_path(node: Any) -> str:
    """The innermost module path the dynamo exporter recorded, or "" (also for bad metadata)."""
    for prop in getattr(node, "metadata_props", ()):
        if prop.key != _SCOPES_KEY or len(prop.value) > _MAX_SCOPES_TEXT:
            continue
        try:
            scopes = ast.literal_eval(prop.value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return ""
        named = isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)
        if named and len(scopes) >= 2:
            # The last scope is the operation itself: named after it at the model's top level.
            return scopes[-2] or scopes[-1]
    return ""


def attributes(node: Any) -> dict[str, Any]:
    """The node's attributes as Python values (ints, floats, lists, bytes, arrays)."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}
