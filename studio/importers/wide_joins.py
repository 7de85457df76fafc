"""Joins of more tensors than one catalog node takes, as a tree of nodes that each fit.

A DenseNet-121 block concatenates up to 25 tensors along the channels; the catalog's Concat
takes at most eight inputs (its module names each one, because TorchScript refuses
``*inputs``). ``cat(a, ..., z)`` along one dimension equals ``cat(cat(a..h), cat(i..p), ...)``,
and so does a sum or product of many terms, so a wide join imports as a small tree that
computes the same values, and the project stays within what every export can carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from studio.importers.mapping import GraphDraft, Value

# Layers whose result does not change when their inputs are grouped in order.
_ASSOCIATIVE = frozenset({"studio.Concat", "studio.Add", "studio.Multiply"})


def join(
    draft: GraphDraft,
    type_id: str,
    name: str,
    params: Mapping[str, object],
    inputs: Sequence[Value],
    *,
    where: str,
) -> Value:
    """One `type_id` node over `inputs`, or a tree of them when there are more than it takes.

    The inner nodes are named ``{name}_part{i}``; the last node, the one the rest of the graph
    reads, keeps `name`.
    """
    spec = draft.registry.get(type_id)
    limit = spec.param("inputs").maximum if spec.has_param("inputs") else None
    values = list(inputs)
    if limit is None or type_id not in _ASSOCIATIVE or len(values) <= limit:
        return draft.add_layer(type_id, name, params, values, where=where)
    limit = int(limit)
    part = 0
    while len(values) > limit:
        grouped: list[Value] = []
        for start in range(0, len(values), limit):
            group = values[start : start + limit]
            if len(group) == 1:
                grouped.append(group[0])
                continue
            part += 1
            grouped.append(
                draft.add_layer(type_id, f"{name}_part{part}", params, group, where=where)
            )
        values = grouped
    return draft.add_layer(type_id, name, params, values, where=where)
