"""Fold imported attention, residual, norm and feed-forward nodes into TransformerEncoderLayer.

An ONNX file has no modules: torch's `nn.TransformerEncoderLayer` arrives as the eight catalog
nodes it computes (MultiheadAttention, Add, LayerNorm, Linear, activation, Linear, Add,
LayerNorm, in the post-norm order, or with the norms first). Those nodes are a correct model,
but a user who exported a transformer expects to see and edit its blocks. This pass finds the
exact wiring of torch's block, both orders, and puts one catalog node in place of the eight,
with the same weights under the block's names. Anything that differs from torch's block (a
LayerNorm eps other than its 1e-5, a projection without a bias, another activation, a node
also read elsewhere) leaves the nodes as they are, still correct.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from studio.importers.mapping import GraphDraft

_BLOCK = "studio.TransformerEncoderLayer"
_ACTIVATIONS = {"studio.ReLU": "relu", "studio.GELU": "gelu"}
_TORCH_EPS = 1e-5


@dataclass(frozen=True)
class _Block:
    attention: str
    add1: str
    norm1: str
    norm2: str
    linear1: str
    activation: str
    linear2: str
    nodes: tuple[str, ...]  # in the order they compute: the first reads the block's input
    norm_first: bool


def fold_encoder_layers(draft: GraphDraft) -> int:
    """Fold every torch encoder block in `draft` (outputs added, so their readers count).

    Returns how many blocks were folded.
    """
    folded = 0
    for node in list(draft.graph.nodes):
        # A node folded into an earlier block is gone from the graph.
        if node.type_id != "studio.MultiheadAttention" or node.id not in draft.graph:
            continue
        if len(draft.sources(node.id)) != 1:  # cross-attention: a decoder's, not an encoder's
            continue
        block = _post_norm(draft, node.id) or _pre_norm(draft, node.id)
        if block is None or not _fits(draft, block):
            continue
        _fold(draft, block)
        folded += 1
    return folded


def _only_reader(draft: GraphDraft, node_id: str, type_id: str) -> str | None:
    readers = draft.readers(node_id)
    if len(readers) == 1 and draft.type_of(readers[0]) == type_id:
        return readers[0]
    return None


def _is_add_of(draft: GraphDraft, node_id: str, a: str, b: str) -> bool:
    return draft.type_of(node_id) == "studio.Add" and sorted(draft.sources(node_id)) == sorted(
        [a, b]
    )


def _feed_forward(draft: GraphDraft, linear1: str) -> tuple[str, str] | None:
    """linear1 → activation → linear2, each read only by the next: (activation, linear2)."""
    readers = draft.readers(linear1)
    if len(readers) != 1 or draft.type_of(readers[0]) not in _ACTIVATIONS:
        return None
    linear2 = _only_reader(draft, readers[0], "studio.Linear")
    return None if linear2 is None else (readers[0], linear2)


def _post_norm(draft: GraphDraft, attention: str) -> _Block | None:
    """x → attn → add(x, ·) → norm1 → ff → add(norm1, ·) → norm2."""
    (source,) = draft.sources(attention)
    add1 = _only_reader(draft, attention, "studio.Add")
    if add1 is None or not _is_add_of(draft, add1, source, attention):
        return None
    norm1 = _only_reader(draft, add1, "studio.LayerNorm")
    if norm1 is None:
        return None
    readers = draft.readers(norm1)
    linears = [r for r in readers if draft.type_of(r) == "studio.Linear"]
    if len(readers) != 2 or len(linears) != 1:
        return None
    chain = _feed_forward(draft, linears[0])
    if chain is None:
        return None
    activation, linear2 = chain
    add2 = _only_reader(draft, linear2, "studio.Add")
    if add2 is None or not _is_add_of(draft, add2, norm1, linear2) or add2 not in readers:
        return None
    norm2 = _only_reader(draft, add2, "studio.LayerNorm")
    if norm2 is None:
        return None
    nodes = (attention, add1, norm1, linears[0], activation, linear2, add2, norm2)
    return _Block(attention, add1, norm1, norm2, linears[0], activation, linear2, nodes, False)


def _pre_norm(draft: GraphDraft, attention: str) -> _Block | None:
    """x → norm1 → attn → add(x, ·) = h → norm2 → ff → add(h, ·)."""
    (norm1,) = draft.sources(attention)
    if draft.type_of(norm1) != "studio.LayerNorm" or draft.readers(norm1) != [attention]:
        return None
    (source,) = draft.sources(norm1)
    add1 = _only_reader(draft, attention, "studio.Add")
    if add1 is None or not _is_add_of(draft, add1, source, attention):
        return None
    readers = draft.readers(add1)
    norms = [r for r in readers if draft.type_of(r) == "studio.LayerNorm"]
    if len(readers) != 2 or len(norms) != 1:
        return None
    norm2 = norms[0]
    linear1 = _only_reader(draft, norm2, "studio.Linear")
    chain = None if linear1 is None else _feed_forward(draft, linear1)
    if linear1 is None or chain is None:
        return None
    activation, linear2 = chain
    add2 = _only_reader(draft, linear2, "studio.Add")
    if add2 is None or not _is_add_of(draft, add2, add1, linear2) or add2 not in readers:
        return None
    nodes = (norm1, attention, add1, norm2, linear1, activation, linear2, add2)
    return _Block(attention, add1, norm1, norm2, linear1, activation, linear2, nodes, True)


def _fits(draft: GraphDraft, block: _Block) -> bool:
    """Whether torch's block, whose norms use eps 1e-5 and whose Linears have biases, is this."""
    for norm in (block.norm1, block.norm2):
        eps = draft.params_of(norm)["eps"]
        if not isinstance(eps, float) or abs(eps - _TORCH_EPS) > 1e-12:
            return False
    if not all(draft.params_of(n)["bias"] for n in (block.linear1, block.linear2)):
        return False
    attention = own_weights(draft, block.attention)
    embed = attention["attn.out_proj.weight"].shape[0]
    return (
        draft.params_of(block.linear2)["out_features"] == embed and "attn.in_proj_bias" in attention
    )


def own_weights(draft: GraphDraft, node_id: str) -> dict[str, Any]:
    """A node's weights, read from the node it is tied to if it shares another's."""
    owner = draft.graph.node(node_id).shares or node_id
    if owner != node_id and draft.graph.is_weight_tied(node_id):
        return {**draft.weights_of(node_id), "weight": draft.weights_of(owner)["weight"]}
    return dict(draft.weights_of(owner))


def release_ties(draft: GraphDraft, nodes: Sequence[str]) -> None:
    """Untie nodes outside `nodes` from nodes inside it, each keeping a copy of the weights.

    The ONNX importer ties layers that read the same initializers, and an exporter stores
    equal constants once: every LayerNorm still at ones and zeros reads the same two. Folding
    a block removes its nodes, so a norm outside it tied to one inside would lose its weights.
    """
    inside = set(nodes)
    for node in list(draft.graph.nodes):
        if node.id not in inside and node.shares in inside:
            weights = own_weights(draft, node.id)
            draft.graph.set_shares(node.id, None)
            draft.add_weights(node.id, weights)


def _fold(draft: GraphDraft, block: _Block) -> None:
    attention = own_weights(draft, block.attention)
    weights = {f"self_attn.{k.removeprefix('attn.')}": v for k, v in attention.items()}
    for part, node in (
        ("linear1", block.linear1),
        ("linear2", block.linear2),
        ("norm1", block.norm1),
        ("norm2", block.norm2),
    ):
        weights.update({f"{part}.{k}": v for k, v in own_weights(draft, node).items()})
    release_ties(draft, block.nodes)
    params = {
        "nhead": draft.params_of(block.attention)["num_heads"],
        "dim_feedforward": draft.params_of(block.linear1)["out_features"],
        "dropout": 0.0,
        "activation": _ACTIVATIONS[draft.type_of(block.activation)],
        "norm_first": block.norm_first,
        "causal": draft.params_of(block.attention)["causal"],
    }
    # The residual Add carries the block's own name in torch's exports (/encoder/layers.0/Add).
    name = draft.graph.node(block.add1).name
    draft.fuse(block.nodes, _BLOCK, params, name=name, weights=weights)
