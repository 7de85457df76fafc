"""How each ATen op of a torch.export graph maps to a catalog layer (see `export_import`).

An op inside a call of a layer module never reaches these rules: the call is mapped whole.
These are the ops written in ``forward`` itself (``x.view(...)``, ``a + b``, ``q @ k``,
``F.linear(x, self.w)``). Each rule takes the mapper and the node and returns the draft value
it makes, or raises `Unmappable` with the reason; ops the catalog is still gaining (MatMul,
Slice, ...) go through `_ExportMapper.new_layer`, which refuses where the registry lacks them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import fx

from studio.importers import fx_import
from studio.importers import module_layers_spatial as spatial
from studio.importers.fx_import import (
    _adaptive_call,
    _alias,
    _cat,
    _flatten_call,
    _gelu,
    _pool_call,
    _reshape_call,
    _shape,
    _torch_dim,
)
from studio.importers.mapping import Unmappable, Value

if TYPE_CHECKING:
    from studio.importers.export_mapper import _ExportMapper


def op_name(node: fx.Node) -> str:
    """``aten.view.default`` → ``aten.view``."""
    text = str(node.target)
    return text.rsplit(".", 1)[0] if text.startswith("aten.") else text


Rule = Callable[["_ExportMapper", fx.Node], Value | None]


def _is_tensor(value: object) -> bool:
    return isinstance(value, fx.Node) and isinstance(value.meta.get("val"), torch.Tensor)


def _activation(type_id: str, **args: tuple[int, object]) -> Rule:
    def rule(m: _ExportMapper, node: fx.Node) -> Value:
        params = {name: fx_import._arg(node, i, name, d) for name, (i, d) in args.items()}
        return m.layer(node, type_id, params)

    return rule


def _softmax(type_id: str) -> Rule:
    def rule(m: _ExportMapper, node: fx.Node) -> Value:
        dim = _torch_dim(node.args[1], len(_shape(node.args[0])))
        return m.layer(node, type_id, {"dim": dim})

    return rule


Constant = Callable[[float], tuple[str, str, float]]


def _binary(tensor_type: str, symbol: str, constant: Constant) -> Rule:
    """``a ∘ b`` of two tensors, or of a tensor and a number (a Scale or Shift layer)."""

    def rule(m: _ExportMapper, node: fx.Node) -> Value:
        a, b = node.args[0], node.args[1]
        if node.kwargs.get("alpha", 1) != 1:
            raise Unmappable("alpha other than 1 has no catalog setting")
        if _is_tensor(a) and _is_tensor(b):
            if tensor_type in ("studio.Add", "studio.Multiply"):
                return m.layer(node, tensor_type, {}, [a, b])
            return m.new_layer(node, tensor_type, {}, [a, b], f"`a {symbol} b`")
        tensor, number = (a, b) if _is_tensor(a) else (b, a)
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise Unmappable(f"{symbol} with {number!r}; the catalog combines tensors")
        if symbol in ("-", "/") and tensor is b:
            raise Unmappable(f"a number {symbol} a tensor has no catalog layer")
        type_id, param, value = constant(float(number))
        if type_id == "":
            return m.tensor(tensor)  # x * 1, x + 0: nothing to do
        return m.new_layer(node, type_id, {param: value}, [tensor], f"{symbol} {number}")

    return rule


def _scale(factor: float) -> tuple[str, str, float]:
    return ("", "", 1.0) if factor == 1 else ("studio.Scale", "factor", factor)


def _shift(offset: float) -> tuple[str, str, float]:
    return ("", "", 0.0) if offset == 0 else ("studio.Shift", "offset", offset)


def _linear(m: _ExportMapper, node: fx.Node) -> Value:
    weight = m.weight(node.args[1], "weight")
    bias = m.weight(fx_import._arg(node, 2, "bias"), "bias")
    params = {"out_features": int(weight.shape[0]), "bias": bias is not None}
    weights = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    return m.layer(node, "studio.Linear", params, weights=weights)


def _layer_norm(m: _ExportMapper, node: fx.Node) -> Value:
    normalized: list[Any] = list(node.args[1])  # type: ignore[arg-type]
    if len(normalized) != 1:
        raise Unmappable("layer_norm over several dimensions; the catalog's normalizes the last")
    size = int(normalized[0])
    weight = m.weight(fx_import._arg(node, 2, "weight"), "weight")
    bias = m.weight(fx_import._arg(node, 3, "bias"), "bias")
    weights = {
        "weight": weight if weight is not None else torch.ones(size),
        "bias": bias if bias is not None else torch.zeros(size),
    }
    eps = float(fx_import._arg(node, 4, "eps", 1e-5))
    return m.layer(node, "studio.LayerNorm", {"eps": eps}, weights=weights)


def _embedding(m: _ExportMapper, node: fx.Node) -> Value:
    weight = m.weight(node.args[0], "weight")
    if fx_import._arg(node, 2, "padding_idx", -1) not in (-1, None):
        raise Unmappable("padding_idx in F.embedding has no catalog setting")
    params = {"num_embeddings": int(weight.shape[0]), "embedding_dim": int(weight.shape[1])}
    return m.layer(node, "studio.Embedding", params, [node.args[1]], weights={"weight": weight})


def _conv(m: _ExportMapper, node: fx.Node) -> Value:
    weight = m.weight(node.args[1], "weight")
    bias = m.weight(fx_import._arg(node, 2, "bias"), "bias")
    rank = weight.dim() - 2
    if rank not in (1, 2):
        raise Unmappable(f"a {rank}-d convolution has no catalog layer here")
    padding = fx_import._arg(node, 4, "padding", 0)
    if isinstance(padding, str):
        raise Unmappable(f"padding={padding!r} in a functional convolution; give numbers")
    params = {
        "out_channels": int(weight.shape[0]),
        "kernel_size": fx_import._single(list(weight.shape[2:]), "kernel_size"),
        "stride": fx_import._single(fx_import._arg(node, 3, "stride", 1), "stride"),
        "padding": fx_import._single(padding, "padding"),
        "dilation": fx_import._single(fx_import._arg(node, 5, "dilation", 1), "dilation"),
        "groups": int(fx_import._arg(node, 6, "groups", 1)),
        "bias": bias is not None,
    }
    weights = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    type_id = "studio.Conv2d" if rank == 2 else "studio.Conv1d"
    return m.layer(node, type_id, params, weights=weights)


def _dropout(m: _ExportMapper, node: fx.Node) -> Value:
    return m.layer(node, "studio.Dropout", {"p": float(fx_import._arg(node, 1, "p", 0.5))})


def _cast(m: _ExportMapper, node: fx.Node) -> Value:
    """``.float()``, ``.contiguous()``, ``.to(...)``: the same values for the catalog."""
    source = node.args[0]
    before = _dtype(source)
    after = _dtype(node)
    same_kind = before == after or (before.is_floating_point and after == torch.float32)
    if not same_kind:
        raise Unmappable(f"converts {before} to {after}; the catalog computes in float32")
    return m.tensor(source)


def _dtype(node: object) -> torch.dtype:
    value = node.meta.get("val") if isinstance(node, fx.Node) else None
    if not isinstance(value, torch.Tensor):
        raise Unmappable(f"{node} is not a tensor")
    return value.dtype


def _select(m: _ExportMapper, node: fx.Node) -> Value:
    source, dim, index = node.args[0], int(node.args[1]), int(node.args[2])  # type: ignore[arg-type]
    shape = _shape(source)
    rank = len(shape)
    if dim % rank == 0:
        raise Unmappable("indexes the batch dimension; the catalog's layers keep it")
    if rank == 3 and dim % rank == 1 and index % shape[1] == shape[1] - 1:
        return m.layer(node, "studio.SelectLast", {})
    return m.new_layer(node, "studio.Select", {"dim": dim, "index": index}, [source], "x[..., i]")


def _slice(m: _ExportMapper, node: fx.Node) -> Value:
    source = node.args[0]
    shape = _shape(source)
    dim = int(fx_import._arg(node, 1, "dim", 0)) % len(shape)
    start = fx_import._arg(node, 2, "start")
    end = fx_import._arg(node, 3, "end")
    step = int(fx_import._arg(node, 4, "step", 1))
    if _shape(node) == shape:
        return m.tensor(source)  # x[:, :] and slices past the end
    if dim == 0:
        raise Unmappable("slices the batch dimension; the catalog's layers keep it")
    params = {"dim": dim, "start": int(start or 0), "end": min(int(end), shape[dim]), "step": step}
    return m.new_layer(node, "studio.Slice", params, [source], "x[a:b]")


def _index(m: _ExportMapper, node: fx.Node) -> Value:
    """`x[:, [-1], :]` and `x[:, idx]` with a fixed list: an Index node along that dimension."""
    source, indices = node.args[0], list(node.args[1])  # type: ignore[arg-type]
    used = [(dim, index) for dim, index in enumerate(indices) if index is not None]
    if len(used) != 1:
        raise Unmappable("indexes several dimensions at once; the catalog's Index takes one")
    dim, index = used[0]
    if isinstance(source, fx.Node) and source.name in m.lifted:
        raise Unmappable(
            f"looks up positions of self.{m.lifted[source.name]} (a table such as a relative "
            "position bias); the catalog's Index keeps fixed positions of each sample"
        )
    if dim == 0:
        raise Unmappable("indexes the batch dimension; the catalog's layers keep it")
    value = m.constants.get(index) if isinstance(index, fx.Node) else None
    if not isinstance(value, torch.Tensor) or value.dtype in (torch.bool, torch.uint8):
        raise Unmappable(
            "indexes with positions computed in forward or a mask; the catalog's "
            "Index keeps a fixed list of positions"
        )
    if value.ndim > 1:
        raise Unmappable("indexes with a table of positions; the catalog's Index takes a list")
    size = _shape(source)[dim]
    positions = tuple(int(i) % size for i in value.reshape(-1).tolist())
    if value.ndim == 0:
        return m.new_layer(node, "studio.Select", {"dim": dim, "index": positions[0]}, [source])
    return m.new_layer(
        node, "studio.Index", {"dim": dim, "indices": positions}, [source], "x[:, idx]"
    )


def _expand(m: _ExportMapper, node: fx.Node) -> Value:
    if _shape(node) == _shape(node.args[0]):
        return m.tensor(node.args[0])
    sizes = tuple(int(d) for d in _shape(node)[1:])
    return m.new_layer(node, "studio.Expand", {"sizes": sizes}, [node.args[0]], "expand")


def _split(m: _ExportMapper, node: fx.Node) -> None:
    """split/chunk: one Split node with a port per piece, read by the getitem nodes after it."""
    source = node.args[0]
    dim = _torch_dim(fx_import._arg(node, 2, "dim", 0), len(_shape(source)))
    pieces = node.meta.get("val")
    if not isinstance(pieces, list | tuple) or not pieces:
        raise Unmappable("splits into pieces of unknown size")
    sizes = tuple(int(piece.shape[dim]) for piece in pieces)
    value = m.new_layer(node, "studio.Split", {"sizes": sizes, "dim": dim}, [source], "split")
    m.multi[node] = [(value[0], f"out{i + 1}") for i in range(len(sizes))]
    return None


def _getitem(m: _ExportMapper, node: fx.Node) -> Value | None:
    source, index = node.args[0], node.args[1]
    if isinstance(source, fx.Node) and source in m.results:
        value, refusal = m.results[source]
        if index != 0:
            raise Unmappable(refusal)
        return value
    if isinstance(source, fx.Node) and source in m.multi and isinstance(index, int):
        return m.multi[source][index]
    if _is_tensor(node):
        raise Unmappable(f"takes result {index} of {getattr(source, 'name', source)}")
    return None


def _two_tensors(type_id: str, what: str) -> Rule:
    def rule(m: _ExportMapper, node: fx.Node) -> Value:
        return m.new_layer(node, type_id, {}, list(node.args[:2]), what)

    return rule


def _unary(type_id: str, what: str) -> Rule:
    def rule(m: _ExportMapper, node: fx.Node) -> Value:
        return m.new_layer(node, type_id, {}, [node.args[0]], what)

    return rule


def _pow(m: _ExportMapper, node: fx.Node) -> Value:
    exponent = node.args[1]
    if not isinstance(exponent, int | float):
        raise Unmappable("a tensor exponent has no catalog layer")
    return m.new_layer(node, "studio.Pow", {"exponent": float(exponent)}, [node.args[0]], "x ** n")


def _reduction(type_id: str) -> Rule:
    """mean/sum over one dimension, all spatial ones, or several (where the layer has dims)."""
    single = fx_import._reduction_rule(type_id)

    def rule(m: _ExportMapper, node: fx.Node) -> Value:
        try:
            value = single(m, node)
            assert value is not None
            return value
        except Unmappable:
            dims = fx_import._arg(node, 1, "dim")
            names = {p.name for p in m.draft.registry.get(type_id).params}
            rank = len(_shape(node.args[0]))
            if "dims" not in names or not isinstance(dims, list | tuple) or not dims:
                raise
            if any(int(d) % rank == 0 for d in dims):
                raise Unmappable(f"dim={list(dims)} reduces over the batch") from None
            keepdim = bool(fx_import._arg(node, 2, "keepdim", False))
            params = {"dim": int(dims[0]), "dims": tuple(int(d) for d in dims), "keepdim": keepdim}
            return m.layer(node, type_id, params)

    return rule


def _masked_fill(m: _ExportMapper, node: fx.Node) -> Value:
    """``x.masked_fill(mask, -inf)`` with a fixed mask (a causal one) is x + (0 or -inf)."""
    source, mask, fill = node.args[0], node.args[1], node.args[2]
    if not isinstance(mask, fx.Node) or mask not in m.constants:
        raise Unmappable("masked_fill with a mask computed from the inputs has no catalog layer")
    if not (isinstance(fill, float) and fill == float("-inf")):
        raise Unmappable(f"masked_fill with {fill!r}; only -inf (a causal mask) maps, to an Add")
    additive = torch.zeros(mask.meta["val"].shape).masked_fill(m.constants[mask], fill)
    offset = m.fixed_tensor(f"{node.name}_mask", additive, m.where(node))
    return m.draft.add_layer(
        "studio.Add", node.name, {}, [m.tensor(source), offset], where=m.where(node)
    )


def _upsample(mode: str) -> Rule:
    """F.interpolate by a whole scale factor, the same for every spatial side."""

    def rule(m: _ExportMapper, node: fx.Node) -> Value:
        before, after = _shape(node.args[0]), _shape(node)
        scales = {a / b for a, b in zip(after[2:], before[2:], strict=True)}
        scale = next(iter(scales)) if len(scales) == 1 else 0.0
        if not scale.is_integer() or scale < 1:
            raise Unmappable(
                f"resizes {before[2:]} to {after[2:]}; the catalog's Upsample takes one whole "
                "scale factor for every side"
            )
        params: dict[str, object] = {"scale_factor": int(scale), "mode": mode}
        if mode != "nearest":
            params["align_corners"] = bool(fx_import._arg(node, 2, "align_corners", False))
        return m.layer(node, "studio.Upsample", params)

    return rule


def _stack(m: _ExportMapper, node: fx.Node) -> Value:
    tensors = list(node.args[0])  # type: ignore[arg-type]
    dim = _torch_dim(fx_import._arg(node, 1, "dim", 0), len(_shape(node)))
    return m.new_layer(node, "studio.Stack", {"dim": dim}, tensors, "torch.stack")


def _clamp(m: _ExportMapper, node: fx.Node) -> Value:
    low, high = fx_import._arg(node, 1, "min"), fx_import._arg(node, 2, "max")
    if not all(v is None or isinstance(v, int | float) for v in (low, high)):
        raise Unmappable("clamps to tensor bounds; the catalog's Clamp takes numbers")
    params = {
        "min": None if low is None else float(low),
        "max": None if high is None else float(high),
    }
    return m.new_layer(node, "studio.Clamp", params, [node.args[0]], "clamp")


def _extreme(type_id: str) -> Rule:
    """max/min over one dimension (values and indices; only the values map) or amax/amin."""

    def rule(m: _ExportMapper, node: fx.Node) -> Value:
        dims = fx_import._arg(node, 1, "dim")
        if dims is None or isinstance(dims, fx.Node):
            raise Unmappable(f"{op_name(node)} of the whole tensor or of two tensors")
        dims = list(dims) if isinstance(dims, list | tuple) else [dims]
        rank = len(_shape(node.args[0]))
        if len(dims) != 1:
            raise Unmappable(f"dim={dims}: the catalog reduces over one dimension here")
        dim = _torch_dim(int(dims[0]), rank)
        keepdim = bool(fx_import._arg(node, 2, "keepdim", False))
        value = m.new_layer(node, type_id, {"dim": dim, "keepdim": keepdim}, [node.args[0]])
        if not isinstance(node.meta.get("val"), torch.Tensor):
            m.results[node] = (value, "uses the indices of max/min; the catalog has no argmax")
            return None  # type: ignore[return-value]
        return value

    return rule


def _attention(m: _ExportMapper, node: fx.Node) -> Value | None:
    """F.scaled_dot_product_attention on heads a model split itself (nanoGPT, BERT, ViT).

    The CPU-functionalized form (``_scaled_dot_product_flash_attention_for_cpu``) returns the
    output with its log-sum-exp; only the output maps.
    """
    flash = op_name(node) != "aten.scaled_dot_product_attention"
    query, key, value = node.args[:3]
    if flash:
        dropout = fx_import._arg(node, 3, "dropout_p", 0.0)
        causal = fx_import._arg(node, 4, "is_causal", False)
        mask = node.kwargs.get("attn_mask")
    else:
        mask = fx_import._arg(node, 3, "attn_mask")
        dropout = fx_import._arg(node, 4, "dropout_p", 0.0)
        causal = fx_import._arg(node, 5, "is_causal", False)
    kind = _constant_mask_kind(m, mask) if mask is not None else None
    if kind is not None:
        # Hugging Face's masks of an input without padding: all kept, or the causal triangle.
        mask, causal = None, causal or kind == "causal"
    if mask is not None:
        raise Unmappable(
            "scaled_dot_product_attention with an attn_mask; the catalog's layer takes "
            "is_causal=True or no mask"
        )
    if node.kwargs.get("enable_gqa"):
        raise Unmappable(
            "scaled_dot_product_attention with enable_gqa; keys and values must "
            "have as many heads as the queries"
        )
    scale = node.kwargs.get("scale")
    params = {
        "causal": bool(causal),
        "dropout": float(dropout or 0.0),
        "scale": float(scale) if isinstance(scale, int | float) else 0.0,
    }
    result = m.new_layer(
        node, "studio.ScaledDotProductAttention", params, [query, key, value], "attention"
    )
    if flash:
        m.results[node] = (result, "uses the attention's log-sum-exp; only its output maps")
        return None
    return result


def _constant_mask_kind(m: _ExportMapper, mask: object) -> str | None:
    """ "all" for a constant attention mask that keeps every position (all True, or 0s to
    add), "causal" for the lower triangle (True, or 0 with a large negative above), else None."""
    value = m.constants.get(mask) if isinstance(mask, fx.Node) else None
    if not isinstance(value, torch.Tensor) or value.dim() < 2:
        return None
    kept = value if value.dtype == torch.bool else value == 0
    if value.dtype != torch.bool and not bool((value[~kept] < -1e4).all()):
        return None  # a bias added to the scores, not a mask
    if bool(kept.all()):
        return "all"
    rows, columns = value.shape[-2:]
    triangle = torch.ones(rows, columns, dtype=torch.bool).tril()
    return "causal" if bool((kept == triangle).all()) else None


def _reshape_or_squeeze(m: _ExportMapper, node: fx.Node) -> Value:
    """(N, 1) into one value per sample (N): a Squeeze, as ``.squeeze(1)`` or ``.view(-1)``.

    A score per sample (a discriminator's, a regression's) ends this way; any other reshape is
    the shared rule's (Flatten or Reshape).
    """
    before, after = _shape(node.args[0]), _shape(node)
    if len(before) == 2 and before[1] == 1 and after == before[:1]:
        return m.layer(node, "studio.Squeeze", {"dim": 1})
    return _reshape_call(m, node)


# Ops that copy a parameter into a layer of their own (F.linear(x, self.w) → Linear).
COPIES_WEIGHTS = {"aten.linear", "aten.layer_norm", "aten.embedding", "aten.conv1d", "aten.conv2d"}

ATEN_RULES: dict[str, Rule] = {
    "aten.relu": _activation("studio.ReLU"),
    "aten.relu_": _activation("studio.ReLU"),
    "aten.gelu": _gelu,
    "aten.silu": _activation("studio.SiLU"),
    "aten.sigmoid": _activation("studio.Sigmoid"),
    "aten.tanh": _activation("studio.Tanh"),
    "aten.elu": _activation("studio.ELU", alpha=(1, 1.0)),
    "aten.leaky_relu": _activation("studio.LeakyReLU", negative_slope=(1, 0.01)),
    "aten.relu6": _activation("studio.ReLU6"),
    "aten.hardswish": _activation("studio.Hardswish"),
    "aten.hardsigmoid": _activation("studio.Hardsigmoid"),
    "aten.hardtanh": _activation("studio.Hardtanh", min_val=(1, -1.0), max_val=(2, 1.0)),
    "aten.selu": _activation("studio.SELU"),
    "aten.celu": _activation("studio.CELU", alpha=(1, 1.0)),
    "aten.mish": _activation("studio.Mish"),
    "aten.softplus": _activation("studio.Softplus", beta=(1, 1.0), threshold=(2, 20.0)),
    "aten.glu": _activation("studio.GLU", dim=(1, -1)),  # torch's dims past the batch are ours
    "aten.threshold": _activation("studio.Threshold", threshold=(1, None), value=(2, None)),
    "aten.log_sigmoid": _activation("studio.LogSigmoid"),
    "aten.softmax": _softmax("studio.Softmax"),
    "aten._softmax": _softmax("studio.Softmax"),
    "aten.log_softmax": _softmax("studio.LogSoftmax"),
    "aten._log_softmax": _softmax("studio.LogSoftmax"),
    "aten.dropout": _dropout,
    "aten.view": _reshape_or_squeeze,
    "aten.reshape": _reshape_or_squeeze,
    "aten._unsafe_view": _reshape_or_squeeze,
    "aten.unflatten": _reshape_call,
    "aten.squeeze": _reshape_or_squeeze,
    "aten.unsqueeze": _reshape_call,
    "aten.flatten": _flatten_call,
    "aten.permute": fx_import._permute,
    "aten.transpose": fx_import._transpose,
    "aten.contiguous": _alias,
    "aten.clone": _alias,
    "aten.alias": _alias,
    "aten.detach": _alias,
    "aten.lift_fresh_copy": _alias,
    "aten.to": _cast,
    "aten._to_copy": _cast,
    "aten.type_as": _cast,
    "aten.expand": _expand,
    "aten.add": _binary("studio.Add", "+", _shift),
    "aten.sub": _binary("studio.Subtract", "-", lambda c: _shift(-c)),
    "aten.mul": _binary("studio.Multiply", "*", _scale),
    "aten.div": _binary("studio.Divide", "/", lambda c: _scale(1 / c)),
    "aten.cat": _cat,
    "aten.concat": _cat,
    "aten.mean": _reduction("studio.Mean"),
    "aten.sum": _reduction("studio.Sum"),
    "aten.linear": _linear,
    "aten.layer_norm": _layer_norm,
    "aten.embedding": _embedding,
    "aten.conv1d": _conv,
    "aten.conv2d": _conv,
    "aten.max_pool1d": _pool_call("MaxPool1d"),
    "aten.max_pool2d": _pool_call("MaxPool2d"),
    "aten.avg_pool1d": _pool_call("AvgPool1d"),
    "aten.avg_pool2d": _pool_call("AvgPool2d"),
    "aten.adaptive_avg_pool2d": _adaptive_call,
    "aten.select": _select,
    "aten.slice": _slice,
    "aten.index": _index,
    "aten.split": _split,
    "aten.split_with_sizes": _split,
    "aten.chunk": _split,
    "aten.matmul": _two_tensors("studio.MatMul", "`a @ b`"),
    "aten.bmm": _two_tensors("studio.MatMul", "`a @ b`"),
    "aten.exp": _unary("studio.Exp", "exp"),
    "aten.log": _unary("studio.Log", "log"),
    "aten.sqrt": _unary("studio.Sqrt", "sqrt"),
    "aten.abs": _unary("studio.Abs", "abs"),
    "aten.pow": _pow,
    "aten.scaled_dot_product_attention": _attention,
    "aten._scaled_dot_product_flash_attention_for_cpu": _attention,  # after functionalizing
    "aten.masked_fill": _masked_fill,
    "aten.upsample_nearest2d": _upsample("nearest"),
    "aten.upsample_nearest1d": _upsample("nearest"),
    "aten.upsample_bilinear2d": _upsample("bilinear"),
    "aten.upsample_linear1d": _upsample("linear"),
    "aten.upsample_bicubic2d": _upsample("bicubic"),
    "aten.upsample_trilinear3d": _upsample("trilinear"),
    "aten.upsample_nearest3d": _upsample("nearest"),
    "aten.max_pool3d": _pool_call("MaxPool3d"),
    "aten.avg_pool3d": _pool_call("AvgPool3d"),
    "aten.adaptive_avg_pool1d": fx_import._spatial_call(spatial.adaptive_call("AdaptiveAvgPool1d")),
    "aten.pad": fx_import._spatial_call(spatial.pad_call),
    "aten.pixel_shuffle": fx_import._spatial_call(spatial.pixel_shuffle_call),
    "aten.pixel_unshuffle": fx_import._spatial_call(spatial.pixel_unshuffle_call),
    "aten.channel_shuffle": fx_import._spatial_call(spatial.channel_shuffle_call),
    "aten.native_channel_shuffle": fx_import._spatial_call(spatial.channel_shuffle_call),
    "aten.stack": _stack,
    "aten.max": _extreme("studio.Max"),
    "aten.min": _extreme("studio.Min"),
    "aten.amax": _extreme("studio.Max"),
    "aten.amin": _extreme("studio.Min"),
    "aten.clamp": _clamp,
    str(operator.getitem): _getitem,
}
