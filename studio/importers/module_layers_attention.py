"""Module rules (see `studio.importers.module_layers`) for the attention family of layers.

Also the reading of attention masks that the torch.fx importer's own attention rules share:
the catalog's layers hold one kind of mask, the causal one, as a setting, so a traced mask is
accepted only when it is recognisably torch's causal mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import fx, nn
from torch.nn import functional

from studio.importers.module_layers import LayerOf, Unmappable, maps, only_inputs, weights_of

_TORCH_EPS = 1e-5


def _activation_name(activation: object) -> str:
    """'relu' or 'gelu' for the feed-forward activations the catalog's blocks offer."""
    if activation is functional.relu or isinstance(activation, nn.ReLU):
        return "relu"
    if activation is functional.gelu or (
        isinstance(activation, nn.GELU) and activation.approximate == "none"
    ):
        return "gelu"
    raise Unmappable("the feed-forward activation must be relu or gelu")


def decoder_layer_params(layer: nn.TransformerDecoderLayer, causal: bool) -> dict[str, object]:
    """TransformerDecoderLayer's params for torch's block, or `Unmappable` saying what differs."""
    if not layer.self_attn.batch_first:
        raise Unmappable("batch_first=False; the catalog's layer takes (N, L, E)")
    norms = (layer.norm1, layer.norm2, layer.norm3)
    if any(norm.eps != _TORCH_EPS for norm in norms) or layer.linear1.bias is None:
        raise Unmappable("layer_norm_eps other than 1e-5 and bias=False have no catalog setting")
    return {
        "nhead": layer.self_attn.num_heads,
        "dim_feedforward": layer.linear1.out_features,
        "dropout": float(layer.dropout.p),
        "activation": _activation_name(layer.activation),
        "norm_first": layer.norm_first,
        "causal": causal,
    }


@maps(nn.TransformerDecoderLayer)
def _decoder_layer(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    """Called as (tgt, memory) without masks; the fx importer reads a causal tgt_mask."""
    only_inputs(2, shapes, "TransformerDecoderLayer")
    params = decoder_layer_params(module, causal=False)
    return LayerOf("studio.TransformerDecoderLayer", params, weights_of(module))


@maps(nn.Bilinear)
def _bilinear(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(2, shapes, "Bilinear")
    params = {"out_features": module.out_features, "bias": module.bias is not None}
    return LayerOf("studio.Bilinear", params, weights_of(module))


def _sample_dim(dim: int, what: str) -> int:
    """torch's dim as the catalog counts it (1 = first after the batch, negatives alike)."""
    if dim == 0:
        raise Unmappable(f"{what} works along the batch dimension; the catalog's layer cannot")
    return dim


@maps(nn.CosineSimilarity)
def _cosine_similarity(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(2, shapes, "CosineSimilarity")
    if shapes[0] != shapes[1]:
        raise Unmappable("its inputs broadcast; the catalog's layer takes two of one shape")
    params = {"dim": _sample_dim(module.dim, "CosineSimilarity"), "eps": float(module.eps)}
    return LayerOf("studio.CosineSimilarity", params)


@maps(nn.PairwiseDistance)
def _pairwise_distance(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(2, shapes, "PairwiseDistance")
    if shapes[0] != shapes[1] or len(shapes[0]) < 2:
        raise Unmappable("its inputs broadcast; the catalog's layer takes two of one shape")
    params = {"p": float(module.norm), "eps": float(module.eps), "keepdim": module.keepdim}
    return LayerOf("studio.PairwiseDistance", params)


@maps(nn.Unflatten)
def _unflatten(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(1, shapes, "Unflatten")
    sizes = module.unflattened_size
    if not all(isinstance(size, int) for size in sizes):
        raise Unmappable("named sizes have no catalog setting; give plain integers")
    params = {"dim": _sample_dim(module.dim, "Unflatten"), "sizes": tuple(sizes)}
    return LayerOf("studio.Unflatten", params)


# ------------------------------------------------------------------------------ masks


def causal_mask(root: nn.Module, mask: object, shape: tuple[int, int]) -> bool:
    """Whether an fx call's mask argument is torch's causal mask of `shape` (False for None).

    Accepted: a saved buffer or a traced ``torch.triu(torch.full(..., -inf), diagonal=1)``
    (what ``nn.Transformer.generate_square_subsequent_mask`` computes) or the same of
    ``torch.ones(..., dtype=torch.bool)``; anything else raises `Unmappable`.
    """
    if mask is None:
        return False
    refused = Unmappable(
        "its attention mask is not a causal mask (-inf or True above the diagonal); the "
        "catalog's attention layers have only the causal one, as their 'causal' setting"
    )
    if not isinstance(mask, fx.Node):
        raise refused
    if mask.op == "get_attr":
        if _is_causal_tensor(_attribute(root, str(mask.target)), shape):
            return True
        raise refused
    if _mask_shape(mask) != shape or not _is_traced_triangle(mask):
        raise refused
    return True


def _attribute(root: nn.Module, target: str) -> Any:
    value: Any = root
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _mask_shape(node: fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    return None if meta is None else tuple(int(d) for d in meta.shape)


def _is_causal_tensor(value: object, shape: tuple[int, int]) -> bool:
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
        return False
    above = torch.triu(torch.ones(shape, dtype=torch.bool), diagonal=1)
    if value.dtype == torch.bool:
        return bool(torch.equal(value, above))
    if not value.is_floating_point():
        return False
    return bool(torch.all(torch.isneginf(value[above])) and torch.all(value[~above] == 0))


def _is_traced_triangle(node: fx.Node) -> bool:
    """``triu(full(size, -inf), diagonal=1)`` or ``triu(ones(size, dtype=bool), 1)``."""
    is_triu = (node.op == "call_function" and node.target is torch.triu) or (
        node.op == "call_method" and node.target == "triu"
    )
    if not is_triu or not node.args:
        return False
    diagonal = node.args[1] if len(node.args) > 1 else node.kwargs.get("diagonal", 0)
    base = node.args[0]
    if diagonal != 1 or not isinstance(base, fx.Node) or base.op != "call_function":
        return False
    if base.target is torch.full:
        fill = base.args[1] if len(base.args) > 1 else base.kwargs.get("fill_value")
        return isinstance(fill, float) and math.isinf(fill) and fill < 0
    if base.target is torch.ones:
        return base.kwargs.get("dtype") is torch.bool
    return False


_DATA_ARGUMENTS: dict[type[nn.Module], int] = {
    nn.MultiheadAttention: 3,  # query, key, value; masks follow
    nn.TransformerEncoderLayer: 1,
    nn.TransformerEncoder: 1,
    nn.TransformerDecoderLayer: 2,  # tgt, memory
}


def mask_only_nodes(graph: fx.Graph, root: nn.Module) -> set[fx.Node]:
    """Traced nodes that only compute masks passed to attention calls.

    They become no layer of their own: the attention's rule reads the mask as its 'causal'
    setting or refuses it, in one construct, instead of one per operation that built it.
    """
    masks: set[fx.Node] = set()
    for node in reversed(graph.nodes):
        if node.op in ("placeholder", "output") or not node.users:
            continue
        if all(user in masks or _is_mask_use(node, user, root) for user in node.users):
            masks.add(node)
    return masks


def _is_mask_use(node: fx.Node, user: fx.Node, root: nn.Module) -> bool:
    if user.op != "call_module":
        return False
    data = _DATA_ARGUMENTS.get(type(root.get_submodule(str(user.target))))
    if data is None or node in user.args[:data]:
        return False
    return node in user.args[data:] or any(
        value is node for key, value in user.kwargs.items() if "mask" in key
    )


# The studio's own causal blocks (`studio.layers.modules_attention`), as generated code copies
# them: a class of that name with torch's block as its base, whose forward adds the mask.
_STUDIO_CAUSAL_BLOCKS: dict[str, type[nn.Module]] = {
    "CausalTransformerEncoderLayer": nn.TransformerEncoderLayer,
    "CausalTransformerDecoderLayer": nn.TransformerDecoderLayer,
}


def is_studio_causal_block(module: nn.Module) -> bool:
    """Whether `module` is one of the studio's causal blocks, or generated code's copy of one."""
    base = _STUDIO_CAUSAL_BLOCKS.get(type(module).__name__)
    return base is not None and isinstance(module, base)
