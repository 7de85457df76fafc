"""The torch.fx importer's rules for whole modules (Conv2d, Linear, norms, recurrent layers,
attention, pooling): each reads one ``call_module`` node and its module into a catalog layer.

Split from `studio.importers.fx_import`, which imports `MODULE_RULES` once its own helpers are
defined; import this module only through it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn

from studio.importers.fx_import import (
    _adaptive,
    _arg,
    _flatten,
    _FxMapper,
    _pool,
    _shape,
    _single,
    _torch_dim,
    _upsample,
)
from studio.importers.mapping import Unmappable, Value
from studio.importers.module_layers_attention import causal_mask, decoder_layer_params

ModuleRule = Callable[["_FxMapper", fx.Node, Any], Value | None]


def _only_input(node: fx.Node) -> None:
    if len(node.args) != 1 or node.kwargs:
        raise Unmappable("the layer is called with extra arguments the catalog cannot pass")


def _conv(m: _FxMapper, node: fx.Node, module: nn.Conv1d | nn.Conv2d) -> Value:
    _only_input(node)
    if module.padding_mode != "zeros":
        raise Unmappable(f"padding_mode={module.padding_mode!r}; the catalog pads with zeros")
    if isinstance(module, nn.Conv2d) and _rectangular(module):
        return m.layer(
            node, "studio.Conv2dRect", _rect_params(module), weights=dict(module.state_dict())
        )
    kernel = _single(module.kernel_size, "kernel_size")
    stride = _single(module.stride, "stride")
    dilation = _single(module.dilation, "dilation")
    if module.padding == "valid":
        padding = 0
    elif module.padding == "same":
        if stride != 1 or dilation * (kernel - 1) % 2:
            raise Unmappable("padding='same' with this kernel pads unevenly")
        padding = dilation * (kernel - 1) // 2
    else:
        padding = _single(module.padding, "padding")
    type_id = "studio.Conv2d" if isinstance(module, nn.Conv2d) else "studio.Conv1d"
    params = {
        "out_channels": module.out_channels,
        "kernel_size": kernel,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": module.groups,
        "bias": module.bias is not None,
    }
    return m.layer(node, type_id, params, weights=dict(module.state_dict()))


def _rectangular(module: nn.Conv2d) -> bool:
    """Whether a Conv2d's kernel, stride or padding differs between height and width."""
    sides = (module.kernel_size, module.stride, module.padding)
    return any(isinstance(v, tuple) and len(set(v)) > 1 for v in sides)


def _rect_params(module: nn.Conv2d) -> dict[str, object]:
    """Conv2dRect's params; padding 'same' and 'valid' as numbers, dilation one for both."""
    (kh, kw), (sh, sw) = module.kernel_size, module.stride
    dilation = _single(module.dilation, "dilation")
    if module.padding == "valid":
        ph = pw = 0
    elif module.padding == "same":
        if (sh, sw) != (1, 1) or dilation * (kh - 1) % 2 or dilation * (kw - 1) % 2:
            raise Unmappable("padding='same' with this kernel pads unevenly")
        ph, pw = dilation * (kh - 1) // 2, dilation * (kw - 1) // 2
    else:
        padding: Any = module.padding
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return {
        "out_channels": module.out_channels,
        "kernel_h": kh,
        "kernel_w": kw,
        "stride_h": sh,
        "stride_w": sw,
        "padding_h": int(ph),
        "padding_w": int(pw),
        "dilation": dilation,
        "groups": module.groups,
        "bias": module.bias is not None,
    }


def _linear(m: _FxMapper, node: fx.Node, module: nn.Linear) -> Value:
    _only_input(node)
    params = {"out_features": module.out_features, "bias": module.bias is not None}
    return m.layer(node, "studio.Linear", params, weights=dict(module.state_dict()))


def _affine(weights: dict[str, Any], size: int, *, weight: bool, bias: bool) -> dict[str, Any]:
    """Ones and zeros stand in for a norm layer's missing scale and shift (same outputs)."""
    if not weight:
        weights["weight"] = torch.ones(size)
    if not bias:
        weights["bias"] = torch.zeros(size)
    return weights


def _batch_norm(m: _FxMapper, node: fx.Node, module: nn.BatchNorm1d | nn.BatchNorm2d) -> Value:
    _only_input(node)
    if not module.track_running_stats:
        raise Unmappable("track_running_stats=False: the catalog's BatchNorm keeps running stats")
    if module.momentum is None:
        raise Unmappable("momentum=None (a cumulative average) has no catalog setting")
    weights = _affine(
        dict(module.state_dict()), module.num_features, weight=module.affine, bias=module.affine
    )
    type_id = "studio.BatchNorm2d" if isinstance(module, nn.BatchNorm2d) else "studio.BatchNorm1d"
    params = {"eps": module.eps, "momentum": module.momentum}
    return m.layer(node, type_id, params, weights=weights)


def _layer_norm(m: _FxMapper, node: fx.Node, module: nn.LayerNorm) -> Value:
    _only_input(node)
    if len(module.normalized_shape) != 1:
        raise Unmappable("LayerNorm over several dimensions; the catalog's normalizes the last")
    weights = _affine(
        dict(module.state_dict()),
        module.normalized_shape[0],
        weight=module.weight is not None,
        bias=module.bias is not None,
    )
    return m.layer(node, "studio.LayerNorm", {"eps": module.eps}, weights=weights)


def _group_norm(m: _FxMapper, node: fx.Node, module: nn.GroupNorm) -> Value:
    _only_input(node)
    weights = _affine(
        dict(module.state_dict()), module.num_channels, weight=module.affine, bias=module.affine
    )
    params = {"num_groups": module.num_groups, "eps": module.eps}
    return m.layer(node, "studio.GroupNorm", params, weights=weights)


def _embedding(m: _FxMapper, node: fx.Node, module: nn.Embedding) -> Value:
    _only_input(node)
    if module.max_norm is not None:
        raise Unmappable("max_norm renormalizes the vectors; the catalog's Embedding does not")
    params = {"num_embeddings": module.num_embeddings, "embedding_dim": module.embedding_dim}
    return m.layer(node, "studio.Embedding", params, weights=dict(module.state_dict()))


def _recurrent(m: _FxMapper, node: fx.Node, module: nn.RNN | nn.LSTM | nn.GRU) -> None:
    if len(node.args) > 2 or set(node.kwargs) - {"hx"}:
        raise Unmappable("called with arguments other than the sequence and hx")
    if not module.batch_first:
        raise Unmappable("batch_first=False; the catalog's recurrent layers take (N, L, F)")
    if not module.bias:
        raise Unmappable("bias=False has no catalog setting")
    if getattr(module, "proj_size", 0):
        raise Unmappable("proj_size has no catalog setting")
    if isinstance(module, nn.RNN) and module.nonlinearity != "tanh":
        raise Unmappable("nonlinearity='relu' has no catalog setting")
    kind = type(module).__name__
    params = {
        "hidden_size": module.hidden_size,
        "num_layers": module.num_layers,
        "bidirectional": module.bidirectional,
        "dropout": float(module.dropout),
        "output": "sequence",
    }
    weights = {f"rnn.{k}": v for k, v in module.state_dict().items()}
    starts = _starting_state(m, node, isinstance(module, nn.LSTM))
    value = m.layer(node, f"studio.{kind}", params, weights=weights)
    for (source, port), start in zip(starts, ("h0", "c0"), strict=False):
        m.draft.graph.connect(source, port, value[0], start)
    m.tuples[node] = value[0]
    return None


def _starting_state(m: _FxMapper, node: fx.Node, pairs: bool) -> list[Value]:
    """The h0 (and c0) ports' sources: another recurrent layer's final state, or none.

    torch's hx is (layers·directions, N, H); the catalog's is batch first, which only a
    recurrent layer's own state port gives, so any other starting state is refused.
    """
    hx = node.args[1] if len(node.args) > 1 else node.kwargs.get("hx")
    if hx is None:
        return []
    parts = list(hx) if isinstance(hx, tuple | list) else [hx]
    found: list[Value] = []
    for part in parts:
        state = m.state(part)
        if state is None:
            raise Unmappable(
                "its initial hidden state hx is not another recurrent layer's final state; the "
                "catalog's h0 port takes (N, layers·directions, H), batch first, which only a "
                "recurrent layer's h port gives"
            )
        found.extend(state)
    if len(found) != (2 if pairs else 1):
        raise Unmappable("its starting state is not an (h, c) pair for an LSTM, or one h")
    return found


def _multihead_attention(m: _FxMapper, node: fx.Node, module: nn.MultiheadAttention) -> None:
    """Self- or cross-attention (key and value one tensor), causal when its mask is torch's."""
    query, key = _arg(node, 0, "query"), _arg(node, 1, "key")
    if _arg(node, 2, "value") is not key:
        raise Unmappable("key and value are different tensors; the catalog's takes one memory")
    if _arg(node, 3, "key_padding_mask") is not None:
        raise Unmappable(
            "a key_padding_mask is passed; connect the catalog's padding_mask input (0/1 "
            "integers, 1 = padding) by hand instead"
        )
    if not module.batch_first or not module._qkv_same_embed_dim:
        raise Unmappable("needs batch_first=True and equal key/value sizes")
    if module.in_proj_bias is None or module.bias_k is not None or module.add_zero_attn:
        raise Unmappable("bias=False, add_bias_kv and add_zero_attn have no catalog setting")
    lengths = (_shape(query)[1], _shape(key)[1])
    causal = causal_mask(m.root, _arg(node, 5, "attn_mask"), lengths)
    params = {"num_heads": module.num_heads, "dropout": float(module.dropout), "causal": causal}
    weights = {f"attn.{k}": v for k, v in module.state_dict().items()}
    inputs = [query] if key is query else [query, key]
    value = m.layer(node, "studio.MultiheadAttention", params, inputs, weights=weights)
    m.tuples[node] = value[0]
    return None


def _causal_call(
    m: _FxMapper, node: fx.Node, mask: str, padding: tuple[str, ...], index: int = 1
) -> bool:
    """Whether a transformer block's call passes torch's causal mask as `mask` (argument
    `index`), refusing any padding mask: the catalog's blocks hold only the causal one."""
    if any(_arg(node, index + 1 + i, name) is not None for i, name in enumerate(padding)):
        raise Unmappable("a key padding mask is passed; the catalog's blocks take none")
    length = _shape(node.args[0])[1]
    return causal_mask(m.root, _arg(node, index, mask), (length, length))


def _encoder_layer_params(layer: nn.TransformerEncoderLayer) -> dict[str, object]:
    activation = {1: "relu", 2: "gelu"}.get(layer.activation_relu_or_gelu)
    if isinstance(layer.activation, nn.GELU) and layer.activation.approximate != "none":
        activation = None
    if activation is None:
        raise Unmappable("the feed-forward activation must be relu or gelu")
    if not layer.self_attn.batch_first:
        raise Unmappable("batch_first=False; the catalog's layer takes (N, L, E)")
    if layer.norm1.eps != 1e-5 or layer.linear1.bias is None:
        raise Unmappable("layer_norm_eps other than 1e-5 and bias=False have no catalog setting")
    return {
        "nhead": layer.self_attn.num_heads,
        "dim_feedforward": layer.linear1.out_features,
        "dropout": float(layer.dropout.p),
        "activation": activation,
        "norm_first": layer.norm_first,
    }


def _transformer_encoder_layer(
    m: _FxMapper, node: fx.Node, module: nn.TransformerEncoderLayer
) -> Value:
    params = _encoder_layer_params(module)
    params["causal"] = _causal_call(m, node, "src_mask", ("src_key_padding_mask",))
    return m.layer(
        node, "studio.TransformerEncoderLayer", params, weights=dict(module.state_dict())
    )


def _transformer_decoder_layer(
    m: _FxMapper, node: fx.Node, module: nn.TransformerDecoderLayer
) -> Value:
    """(tgt, memory), causal when tgt_mask is torch's causal mask; no other mask maps."""
    if _arg(node, 3, "memory_mask") is not None:
        raise Unmappable("a memory_mask is passed; the catalog's block attends to all memory")
    padding = ("memory_mask", "tgt_key_padding_mask", "memory_key_padding_mask")
    causal = _causal_call(m, node, "tgt_mask", padding, index=2)
    params = decoder_layer_params(module, causal)
    sources = [_arg(node, 0, "tgt"), _arg(node, 1, "memory")]
    weights = dict(module.state_dict())
    return m.layer(node, "studio.TransformerDecoderLayer", params, sources, weights=weights)


def _studio_causal_block(m: _FxMapper, node: fx.Node, module: nn.Module) -> Value:
    """The studio's causal encoder or decoder block (generated code's copy): torch's block
    whose forward builds the causal mask itself."""
    if isinstance(module, nn.TransformerDecoderLayer):
        if len(node.args) != 2 or node.kwargs:
            raise Unmappable("the block is called with other arguments than (tgt, memory)")
        params = decoder_layer_params(module, causal=True)
        weights = dict(module.state_dict())
        type_id = "studio.TransformerDecoderLayer"
        return m.layer(node, type_id, params, list(node.args), weights=weights)
    _only_input(node)
    assert isinstance(module, nn.TransformerEncoderLayer)
    params = {**_encoder_layer_params(module), "causal": True}
    weights = dict(module.state_dict())
    return m.layer(node, "studio.TransformerEncoderLayer", params, weights=weights)


def _transformer_encoder(m: _FxMapper, node: fx.Node, module: nn.TransformerEncoder) -> Value:
    """A stack of N encoder layers becomes N TransformerEncoderLayer nodes (and its norm)."""
    causal = _causal_call(m, node, "mask", ("src_key_padding_mask",))
    value = m.tensor(node.args[0])
    layers = list(module.layers)
    for i, layer in enumerate(layers):
        value = m.draft.add_layer(
            "studio.TransformerEncoderLayer",
            f"{node.name}_{i}",
            {**_encoder_layer_params(layer), "causal": causal},
            [value],
            where=m.where(node),
            weights=dict(layer.state_dict()),
        )
    if module.norm is not None:
        norm = module.norm
        if not isinstance(norm, nn.LayerNorm) or len(norm.normalized_shape) != 1:
            raise Unmappable("the final norm must be a LayerNorm over the last dimension")
        value = m.draft.add_layer(
            "studio.LayerNorm",
            f"{node.name}_norm",
            {"eps": norm.eps},
            [value],
            where=m.where(node),
            weights=_affine(
                dict(norm.state_dict()),
                norm.normalized_shape[0],
                weight=norm.weight is not None,
                bias=norm.bias is not None,
            ),
        )
    return value


def _simple(type_id: str, **attrs: str) -> ModuleRule:
    """A rule for a weightless module whose params are attributes of the same meaning."""

    def rule(m: _FxMapper, node: fx.Node, module: Any) -> Value:
        _only_input(node)
        params = {param: getattr(module, attribute) for param, attribute in attrs.items()}
        return m.layer(node, type_id, params)

    return rule


def _gelu_module(m: _FxMapper, node: fx.Node, module: nn.GELU) -> Value:
    _only_input(node)
    return m.layer(node, "studio.GELU", {"approximate": module.approximate})


def _softmax_module(m: _FxMapper, node: fx.Node, module: nn.Softmax | nn.LogSoftmax) -> Value:
    _only_input(node)
    type_id = "studio.Softmax" if isinstance(module, nn.Softmax) else "studio.LogSoftmax"
    dim = _torch_dim(module.dim, len(_shape(node.args[0])))
    return m.layer(node, type_id, {"dim": dim})


def _identity_module(m: _FxMapper, node: fx.Node, module: nn.Module) -> Value:
    _only_input(node)
    return m.tensor(node.args[0])


def _flatten_module(m: _FxMapper, node: fx.Node, module: nn.Flatten) -> Value:
    _only_input(node)
    return _flatten(m, node, module.start_dim, module.end_dim)


def _pool_module(m: _FxMapper, node: fx.Node, module: Any) -> Value:
    _only_input(node)
    return _pool(
        m,
        node,
        type(module).__name__,
        module.kernel_size,
        module.stride,
        module.padding,
        dilation=getattr(module, "dilation", 1),
        ceil_mode=module.ceil_mode,
        return_indices=getattr(module, "return_indices", False),
        count_include_pad=getattr(module, "count_include_pad", True),
        divisor_override=getattr(module, "divisor_override", None),
    )


def _adaptive_module(m: _FxMapper, node: fx.Node, module: nn.AdaptiveAvgPool2d) -> Value:
    _only_input(node)
    return _adaptive(m, node, module.output_size)


def _upsample_module(m: _FxMapper, node: fx.Node, module: nn.Upsample) -> Value:
    _only_input(node)
    return _upsample(m, node, module.size, module.scale_factor, module.mode, module.align_corners)


MODULE_RULES: dict[type, ModuleRule] = {
    nn.Conv1d: _conv,
    nn.Conv2d: _conv,
    nn.Linear: _linear,
    nn.BatchNorm1d: _batch_norm,
    nn.BatchNorm2d: _batch_norm,
    nn.LayerNorm: _layer_norm,
    nn.GroupNorm: _group_norm,
    nn.Embedding: _embedding,
    nn.RNN: _recurrent,
    nn.LSTM: _recurrent,
    nn.GRU: _recurrent,
    nn.MultiheadAttention: _multihead_attention,
    nn.TransformerEncoderLayer: _transformer_encoder_layer,
    nn.TransformerDecoderLayer: _transformer_decoder_layer,
    nn.TransformerEncoder: _transformer_encoder,
    nn.Dropout: _simple("studio.Dropout", p="p"),
    nn.Dropout2d: _simple("studio.Dropout2d", p="p"),
    nn.ReLU: _simple("studio.ReLU"),
    nn.LeakyReLU: _simple("studio.LeakyReLU", negative_slope="negative_slope"),
    nn.GELU: _gelu_module,
    nn.SiLU: _simple("studio.SiLU"),
    nn.ELU: _simple("studio.ELU", alpha="alpha"),
    nn.Sigmoid: _simple("studio.Sigmoid"),
    nn.Tanh: _simple("studio.Tanh"),
    nn.Softmax: _softmax_module,
    nn.LogSoftmax: _softmax_module,
    nn.Identity: _identity_module,
    nn.Flatten: _flatten_module,
    nn.MaxPool1d: _pool_module,
    nn.MaxPool2d: _pool_module,
    nn.AvgPool1d: _pool_module,
    nn.AvgPool2d: _pool_module,
    nn.AdaptiveAvgPool2d: _adaptive_module,
    nn.Upsample: _upsample_module,
}
