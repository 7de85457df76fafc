"""ONNX ``If`` nodes whose condition is a constant, replaced by the branch they always take.

Exporters write an ``If`` for Python ``if`` statements they could not decide while tracing
(a flag read from a tensor, a shape test); when the condition is an initializer or a
``Constant`` node, the model always runs the same branch, so the importer reads the model with
that branch's nodes in place of the ``If`` (its results renamed to the ``If``'s by Identity
nodes). An ``If`` on a value computed from the inputs stays, and is reported as unmapped.
"""

from __future__ import annotations

from typing import Any

_MAX_ROUNDS = 16  # a taken branch may itself hold constant Ifs; nesting is bounded by the checks


def inline_constant_ifs(model: Any) -> Any:
    """`model`, or a copy of it where every If with a constant condition is its taken branch."""
    if not any(node.op_type == "If" for node in model.graph.node):
        return model
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for _ in range(_MAX_ROUNDS):
        if not _inline_once(copy.graph):
            break
    return copy


def _inline_once(graph: Any) -> bool:
    from onnx import helper

    nodes: list[Any] = []
    changed = False
    for node in graph.node:
        condition = _constant(graph, node.input[0]) if node.op_type == "If" else None
        if condition is None or condition.size != 1:
            nodes.append(node)
            continue
        chosen = "then_branch" if bool(condition.reshape(())) else "else_branch"
        branch = next(a.g for a in node.attribute if a.name == chosen)
        graph.initializer.extend(branch.initializer)
        graph.value_info.extend(branch.value_info)
        nodes.extend(branch.node)
        for index, (inner, outer) in enumerate(zip(branch.output, node.output, strict=False)):
            name = f"{node.name or 'If'}_{chosen}_{index}"
            nodes.append(helper.make_node("Identity", [inner.name], [outer], name=name))
        changed = True
    if changed:
        del graph.node[:]
        graph.node.extend(nodes)
    return changed


def _constant(graph: Any, name: str) -> Any:
    """The value of `name` if an initializer or a Constant node holds it, else None."""
    from onnx import numpy_helper

    for tensor in graph.initializer:
        if tensor.name == name:
            return numpy_helper.to_array(tensor)
    for node in graph.node:
        if node.op_type == "Constant" and name in node.output:
            for attribute in node.attribute:
                if attribute.name == "value":
                    return numpy_helper.to_array(attribute.t)
                if attribute.name in ("value_int", "value_float"):
                    import numpy as np

                    value = attribute.i if attribute.name == "value_int" else attribute.f
                    return np.asarray(value)
    return None
