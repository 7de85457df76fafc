"""Fold imported attention, residual, norm and feed-forward nodes into TransformerDecoderLayer.

The decoder's counterpart of `studio.importers.encoder_blocks`: torch's
`nn.TransformerDecoderLayer` arrives from an ONNX file as the eleven catalog nodes it computes
(self-attention, Add, LayerNorm, attention to the memory, Add, LayerNorm, Linear, activation,
Linear, Add, LayerNorm, in the post-norm order, or with the norms first). This pass finds that
exact wiring and puts one catalog node in place of the eleven, reading the same target and
memory, with the weights under the block's names. Anything else stays as it is, still correct.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.importers.encoder_blocks import (
    _ACTIVATIONS,
    _TORCH_EPS,
    _feed_forward,
    _is_add_of,
    _only_reader,
    own_weights,
    release_ties,
)
from studio.importers.mapping import GraphDraft

_BLOCK = "studio.TransformerDecoderLayer"
_ATTENTION = "studio.MultiheadAttention"
_NORM = "studio.LayerNorm"


@dataclass(frozen=True)
class _Decoder:
    self_attention: str
    cross_attention: str
    norms: tuple[str, str, str]
    linear1: str
    activation: str
    linear2: str
    nodes: tuple[str, ...]  # in the order they compute: the first reads the block's target
    norm_first: bool


def fold_decoder_layers(draft: GraphDraft) -> int:
    """Fold every torch decoder block in `draft`; returns how many were folded."""
    folded = 0
    for node in list(draft.graph.nodes):
        if node.type_id != _ATTENTION or node.id not in draft.graph:
            continue
        if len(draft.sources(node.id)) != 2:  # the attention to the memory anchors a block
            continue
        block = _post_norm(draft, node.id) or _pre_norm(draft, node.id)
        if block is None or not _fits(draft, block):
            continue
        _fold(draft, block)
        folded += 1
    return folded


def _self_attention(draft: GraphDraft, node_id: str) -> bool:
    return draft.type_of(node_id) == _ATTENTION and len(draft.sources(node_id)) == 1


def _post_norm(draft: GraphDraft, cross: str) -> _Decoder | None:
    """x → sa → add(x, ·) → n1 → ca(·, m) → add(n1, ·) → n2 → ff → add(n2, ·) → n3."""
    norm1 = draft.sources(cross)[0]
    if draft.type_of(norm1) != _NORM:
        return None
    (add1,) = draft.sources(norm1)
    if draft.type_of(add1) != "studio.Add" or draft.readers(add1) != [norm1]:
        return None
    found = [s for s in draft.sources(add1) if _self_attention(draft, s)]
    if len(found) != 1 or draft.readers(found[0]) != [add1]:
        return None
    attention = found[0]
    (source,) = draft.sources(attention)
    if not _is_add_of(draft, add1, source, attention):
        return None
    add2 = _only_reader(draft, cross, "studio.Add")
    if add2 is None or not _is_add_of(draft, add2, norm1, cross):
        return None
    if sorted(draft.readers(norm1)) != sorted([cross, add2]):
        return None
    norm2 = _only_reader(draft, add2, _NORM)
    if norm2 is None:
        return None
    tail = _feed_forward_tail(draft, norm2)
    if tail is None:
        return None
    linear1, activation, linear2, add3 = tail
    norm3 = _only_reader(draft, add3, _NORM)
    if norm3 is None:
        return None
    nodes = (attention, add1, norm1, cross, add2, norm2, linear1, activation, linear2, add3, norm3)
    norms = (norm1, norm2, norm3)
    return _Decoder(attention, cross, norms, linear1, activation, linear2, nodes, False)


def _pre_norm(draft: GraphDraft, cross: str) -> _Decoder | None:
    """x → n1 → sa → add(x, ·) = h → n2 → ca(·, m) → add(h, ·) = h2 → n3 → ff → add(h2, ·)."""
    norm2 = draft.sources(cross)[0]
    if draft.type_of(norm2) != _NORM or draft.readers(norm2) != [cross]:
        return None
    (add1,) = draft.sources(norm2)
    if draft.type_of(add1) != "studio.Add":
        return None
    found = [s for s in draft.sources(add1) if _self_attention(draft, s)]
    if len(found) != 1 or draft.readers(found[0]) != [add1]:
        return None
    attention = found[0]
    (norm1,) = draft.sources(attention)
    if draft.type_of(norm1) != _NORM or draft.readers(norm1) != [attention]:
        return None
    (source,) = draft.sources(norm1)
    if not _is_add_of(draft, add1, source, attention):
        return None
    add2 = _only_reader(draft, cross, "studio.Add")
    if add2 is None or not _is_add_of(draft, add2, add1, cross):
        return None
    if sorted(draft.readers(add1)) != sorted([norm2, add2]):
        return None
    readers = draft.readers(add2)
    norms = [r for r in readers if draft.type_of(r) == _NORM]
    if len(readers) != 2 or len(norms) != 1:
        return None
    norm3 = norms[0]
    linear1 = _only_reader(draft, norm3, "studio.Linear")
    chain = None if linear1 is None else _feed_forward(draft, linear1)
    if linear1 is None or chain is None:
        return None
    activation, linear2 = chain
    add3 = _only_reader(draft, linear2, "studio.Add")
    if add3 is None or not _is_add_of(draft, add3, add2, linear2) or add3 not in readers:
        return None
    nodes = (norm1, attention, add1, norm2, cross, add2, norm3, linear1, activation, linear2, add3)
    return _Decoder(
        attention, cross, (norm1, norm2, norm3), linear1, activation, linear2, nodes, True
    )


def _feed_forward_tail(draft: GraphDraft, norm: str) -> tuple[str, str, str, str] | None:
    """norm → linear1 → activation → linear2 → add(norm, ·), norm read by both ends."""
    readers = draft.readers(norm)
    linears = [r for r in readers if draft.type_of(r) == "studio.Linear"]
    if len(readers) != 2 or len(linears) != 1:
        return None
    chain = _feed_forward(draft, linears[0])
    if chain is None:
        return None
    activation, linear2 = chain
    add = _only_reader(draft, linear2, "studio.Add")
    if add is None or not _is_add_of(draft, add, norm, linear2) or add not in readers:
        return None
    return linears[0], activation, linear2, add


def _fits(draft: GraphDraft, block: _Decoder) -> bool:
    """Whether torch's block (eps 1e-5, biases, one head count, no mask on the memory) is this."""
    for norm in block.norms:
        eps = draft.params_of(norm)["eps"]
        if not isinstance(eps, float) or abs(eps - _TORCH_EPS) > 1e-12:
            return False
    if not all(draft.params_of(n)["bias"] for n in (block.linear1, block.linear2)):
        return False
    own, cross = draft.params_of(block.self_attention), draft.params_of(block.cross_attention)
    if own["num_heads"] != cross["num_heads"] or cross["causal"]:
        return False
    weights = [own_weights(draft, a) for a in (block.self_attention, block.cross_attention)]
    embed = weights[0]["attn.out_proj.weight"].shape[0]
    return draft.params_of(block.linear2)["out_features"] == embed and all(
        "attn.in_proj_bias" in w for w in weights
    )


def _fold(draft: GraphDraft, block: _Decoder) -> None:
    graph = draft.graph
    memory = graph.incoming(block.cross_attention)["memory"]
    weights = {}
    for part, node in (
        ("self_attn", block.self_attention),
        ("multihead_attn", block.cross_attention),
    ):
        attention = own_weights(draft, node)
        weights.update({f"{part}.{k.removeprefix('attn.')}": v for k, v in attention.items()})
    parts = (
        ("linear1", block.linear1),
        ("linear2", block.linear2),
        *((f"norm{i}", norm) for i, norm in enumerate(block.norms, start=1)),
    )
    for part, node in parts:
        weights.update({f"{part}.{k}": v for k, v in own_weights(draft, node).items()})
    release_ties(draft, block.nodes)
    params = {
        "nhead": draft.params_of(block.self_attention)["num_heads"],
        "dim_feedforward": draft.params_of(block.linear1)["out_features"],
        "dropout": 0.0,
        "activation": _ACTIVATIONS[draft.type_of(block.activation)],
        "norm_first": block.norm_first,
        "causal": draft.params_of(block.self_attention)["causal"],
    }
    name = graph.node(block.self_attention).name
    source, port = memory.src, memory.src_port
    fused, _ = draft.fuse(block.nodes, _BLOCK, params, name=name, weights=weights)
    graph.connect(source, port, fused, "memory")
