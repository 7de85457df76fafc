"""ONNX op rules for the spatial family, merged by `studio.importers.onnx_import.op_rules`.

They replace the importer's older 1-d/2-d rules for Conv, ConvTranspose, MaxPool, AveragePool,
GlobalAveragePool and Resize, and add Pad, DepthToSpace, SpaceToDepth and GlobalMaxPool. Each
reads the node's attributes (and constant inputs) and either names the one catalog layer that
computes the same, or raises `Unmappable` saying which setting the catalog lacks.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from studio.importers.mapping import Unmappable, Value
from studio.importers.onnx_nodes import attributes, layer_name

_KINDS = {1: "1d", 2: "2d", 3: "3d"}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _single(values: Sequence[int] | None, what: str, default: int) -> int:
    items = [int(v) for v in values] if values is not None else []
    if not items:
        return default
    if all(v == items[0] for v in items):
        return items[0]
    raise Unmappable(f"{what}={items}: the catalog's layer takes one {what} for every direction")


def _spatial_dims(count: int, what: str) -> str:
    if count not in _KINDS:
        raise Unmappable(f"a {count}-d {what}; the catalog has 1-d, 2-d and 3-d")
    return _KINDS[count]


def _explicit_pads(a: dict[str, Any]) -> None:
    if _text(a.get("auto_pad", "NOTSET")) != "NOTSET":
        raise Unmappable("auto_pad has no catalog setting; export with explicit pads")


# --------------------------------------------------------------------------------- convolutions


def _conv(m: Any, node: Any) -> Value:
    a = attributes(node)
    _explicit_pads(a)
    weight = m.constant(node, 1, "weight")
    bias = m.constant(node, 2, "bias")
    assert weight is not None
    kind = _spatial_dims(weight.ndim - 2, "convolution")
    pads = [int(p) for p in a.get("pads", [])]
    source = node.input[0]
    if weight.ndim == 4 and _rectangular(a, weight, pads):
        return _conv2d_rect(m, node, a, weight, bias, pads)
    if len(set(pads)) > 1 and weight.ndim in (3, 4) and min(pads) >= 0:
        source, pads = _zero_pad_before(m, node, pads), []
    params = {
        "out_channels": int(weight.shape[0]),
        "kernel_size": _single(a.get("kernel_shape") or weight.shape[2:], "kernel_size", 1),
        "stride": _single(a.get("strides"), "stride", 1),
        "padding": _single(pads, "padding", 0),
        "dilation": _single(a.get("dilations"), "dilation", 1),
        "groups": int(a.get("group", 1)),
        "bias": bias is not None,
    }
    weights = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    return m.layer(node, f"studio.Conv{kind}", params, inputs=[source], weights=weights)


def _rectangular(a: dict[str, Any], weight: Any, pads: list[int]) -> bool:
    """A 2-d convolution whose kernel or stride differs between height and width, or whose
    padding does while each side of an axis gets the same (Inception's (0, 3))."""
    kernel = [int(k) for k in (a.get("kernel_shape") or weight.shape[2:])]
    strides = [int(s) for s in a.get("strides", [1, 1])]
    even = len(pads) == 4 and pads[:2] == pads[2:]
    return len(set(kernel)) > 1 or len(set(strides)) > 1 or (even and pads[0] != pads[1])


def _conv2d_rect(
    m: Any, node: Any, a: dict[str, Any], weight: Any, bias: Any, pads: list[int]
) -> Value:
    kernel = [int(k) for k in (a.get("kernel_shape") or weight.shape[2:])]
    strides = [int(s) for s in a.get("strides", [1, 1])]
    source = node.input[0]
    if pads and pads[:2] != pads[2:]:
        source, pads = _zero_pad_before(m, node, pads), []
    ph, pw = pads[:2] if pads else (0, 0)
    params = {
        "out_channels": int(weight.shape[0]),
        "kernel_h": kernel[0],
        "kernel_w": kernel[1],
        "stride_h": strides[0],
        "stride_w": strides[1],
        "padding_h": int(ph),
        "padding_w": int(pw),
        "dilation": _single(a.get("dilations"), "dilation", 1),
        "groups": int(a.get("group", 1)),
        "bias": bias is not None,
    }
    weights = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    return m.layer(node, "studio.Conv2dRect", params, inputs=[source], weights=weights)  # type: ignore[no-any-return]


def _zero_pad_before(m: Any, node: Any, pads: list[int]) -> str:
    """A ZeroPad layer for a convolution's uneven pads (TensorFlow's 'SAME' with a stride
    writes [0, 0, 1, 1]); returns the name its output goes by for the convolution."""
    half = len(pads) // 2
    # ONNX lists every axis's begin, then every end; torch the last axis first, (begin, end).
    sides = tuple(p for axis in reversed(range(half)) for p in (pads[axis], pads[half + axis]))
    value = m.draft.add_layer(
        f"studio.ZeroPad{half}d",
        f"{layer_name(node)}_pad",
        {"padding": sides},
        [m.tensor(node.input[0])],
        where=f"ONNX node {node.name!r}" if node.name else f"ONNX node making {node.output[0]!r}",
    )
    padded = f"{node.output[0]}:padded"
    m.tensors[padded] = value
    return padded


def _conv_transpose(m: Any, node: Any) -> Value:
    a = attributes(node)
    _explicit_pads(a)
    if "output_shape" in a:
        raise Unmappable("output_shape has no catalog setting; export with output_padding")
    weight = m.constant(node, 1, "weight")
    bias = m.constant(node, 2, "bias")
    assert weight is not None
    kind = _spatial_dims(weight.ndim - 2, "transposed convolution")
    groups = int(a.get("group", 1))
    params = {
        "out_channels": int(weight.shape[1]) * groups,
        "kernel_size": _single(a.get("kernel_shape") or weight.shape[2:], "kernel_size", 1),
        "stride": _single(a.get("strides"), "stride", 1),
        "padding": _single(a.get("pads"), "padding", 0),
        "output_padding": _single(a.get("output_padding"), "output_padding", 0),
        "dilation": _single(a.get("dilations"), "dilation", 1),
        "groups": groups,
        "bias": bias is not None,
    }
    weights = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    return m.layer(node, f"studio.ConvTranspose{kind}", params, weights=weights)


# --------------------------------------------------------------------------------- pooling


def _pool(kind: str) -> Any:
    def rule(m: Any, node: Any) -> Value:
        a = attributes(node)
        _explicit_pads(a)
        kernel = list(a.get("kernel_shape", []))
        dims = _spatial_dims(len(kernel), "pooling")
        if _single(a.get("dilations"), "dilation", 1) != 1:
            raise Unmappable("dilations have no catalog setting")
        if len(node.output) > 1 and node.output[1]:
            raise Unmappable("returns indices; the catalog's MaxPool does not")
        adaptive = _as_adaptive(m, node, a, kind, kernel)
        if adaptive is not None:
            return adaptive
        padding = _single(a.get("pads"), "padding", 0)
        if kind == "AvgPool" and padding and not a.get("count_include_pad", 0):
            raise Unmappable("count_include_pad=0 with padding has no catalog setting")
        params = {
            "kernel_size": _single(kernel, "kernel_size", 1),
            "stride": _single(a.get("strides"), "stride", 1),
            "padding": padding,
            "ceil_mode": bool(a.get("ceil_mode", 0)),
        }
        return m.layer(node, f"studio.{kind}{dims}", params)

    return rule


def _as_adaptive(m: Any, node: Any, a: dict[str, Any], kind: str, kernel: list[int]) -> Any:
    """A 2-d pooling with an oblong kernel, tiling its input exactly, as adaptive pooling (the
    form torch exports AdaptiveMaxPool2d in); None for every other pooling."""
    strides = [int(s) for s in a.get("strides", [1] * len(kernel))]
    spatial = m.shape(node.input[0])[2:]
    tiles = (
        len(kernel) == 2
        and len(set(kernel)) > 1
        and strides == kernel
        and not any(a.get("pads", []))
        and not a.get("ceil_mode", 0)
        and all(size % k == 0 for size, k in zip(spatial, kernel, strict=True))
    )
    if not tiles:
        return None
    size = tuple(s // k for s, k in zip(spatial, kernel, strict=True))
    return m.layer(node, f"studio.Adaptive{kind.removesuffix('Pool')}Pool2d", {"output_size": size})


def _global_pool(kind: str) -> Any:
    """GlobalAveragePool/GlobalMaxPool keep the spatial dims as 1s: adaptive pooling to 1."""

    def rule(m: Any, node: Any) -> Value:
        rank = len(m.shape(node.input[0]))
        if rank == 3:
            return m.layer(node, f"studio.Adaptive{kind}Pool1d", {"output_size": 1})
        if rank == 4:
            return m.layer(node, f"studio.Adaptive{kind}Pool2d", {"output_size": (1, 1)})
        raise Unmappable(
            f"global pooling of a tensor with {rank} dimensions; the catalog's keeps the "
            "dimensions of sequences (N, C, L) and images (N, C, H, W)"
        )

    return rule


# --------------------------------------------------------------------------------- padding

_PAD_MODES = {"constant": "ConstantPad", "reflect": "ReflectionPad", "edge": "ReplicationPad"}


def _pad(m: Any, node: Any) -> Value:
    """Pad of the last dim of sequences or the last two of images, with constant input pads."""
    a = attributes(node)
    mode = _text(a.get("mode", "constant"))
    if mode not in _PAD_MODES:
        raise Unmappable(f"mode {mode!r} has no catalog layer (constant, reflect, edge)")
    rank = len(m.shape(node.input[0]))
    pads = m.constant(node, 1, "pads") if m.opset >= 11 else np.asarray(a.get("pads", []))
    if pads is None:
        raise Unmappable("Pad without pads")
    begins, ends = _pads_per_axis(m, node, [int(p) for p in np.ravel(pads)], rank)
    if any(begins[:2]) or any(ends[:2]) or rank not in (3, 4):
        raise Unmappable(
            f"pads {begins + ends} of a tensor with {rank} dimensions; the catalog pads the "
            "last dimension of sequences (N, C, L) or the last two of images (N, C, H, W)"
        )
    # torch's order: last dim first, (before, after) for each.
    sides = [p for axis in reversed(range(2, rank)) for p in (begins[axis], ends[axis])]
    if any(p < 0 for p in sides):
        raise Unmappable(f"negative pads {sides} crop; the catalog's padding layers only add")
    value = m.constant(node, 2, "constant value") if m.opset >= 11 else a.get("value", 0.0)
    value = float(np.ravel(value)[0]) if value is not None and np.size(value) else 0.0
    kind = _PAD_MODES[mode]
    if kind == "ConstantPad" and value == 0.0:
        kind = "ZeroPad"
    params: dict[str, object] = {"padding": (sides[0],) if len(set(sides)) == 1 else tuple(sides)}
    if kind == "ConstantPad":
        params["value"] = value
    return m.layer(node, f"studio.{kind}{rank - 2}d", params)


def _pads_per_axis(m: Any, node: Any, pads: list[int], rank: int) -> tuple[list[int], list[int]]:
    """(begins, ends) for every axis, spreading opset 18's `axes` input when present."""
    axes_input = m.constant(node, 3, "axes")
    axes = [int(x) % rank for x in np.ravel(axes_input)] if axes_input is not None else None
    count = len(axes) if axes is not None else rank
    if len(pads) != 2 * count:
        raise Unmappable(f"pads {pads} do not match the tensor's {rank} dimensions")
    begins, ends = [0] * rank, [0] * rank
    for i, axis in enumerate(axes if axes is not None else range(rank)):
        begins[axis], ends[axis] = pads[i], pads[count + i]
    return begins, ends


# --------------------------------------------------------------------------------- shuffles


def _depth_to_space(m: Any, node: Any) -> Value:
    a = attributes(node)
    block = int(a["blocksize"])
    mode = _text(a.get("mode", "DCR"))
    channels = m.shape(node.output[0])[1]
    # DCR and CRD order the channels alike when a single channel comes out.
    if mode != "CRD" and channels != 1:
        raise Unmappable(
            "mode DCR takes blocks before channels; the catalog's PixelShuffle is mode CRD"
        )
    return m.layer(node, "studio.PixelShuffle", {"upscale_factor": block})


def _space_to_depth(m: Any, node: Any) -> Value:
    block = int(attributes(node)["blocksize"])
    if m.shape(node.input[0])[1] != 1:
        raise Unmappable(
            "SpaceToDepth puts the block position before the channel; the catalog's "
            "PixelUnshuffle puts the channel first (they agree only for one input channel)"
        )
    return m.layer(node, "studio.PixelUnshuffle", {"downscale_factor": block})


# ------------------------------------------------------- shuffles spelled as Reshape, Transpose

# torch's exporters spell PixelUnshuffle (and ChannelShuffle, and PixelShuffle where DepthToSpace
# does not fit) as Reshape into a view, Transpose, Reshape back. Each step is mapped by the plain
# rules as it comes; the first Reshape's view says which shuffle the chain may be, and when the
# Transpose and the last Reshape confirm it, the Reshape and Permute made so far are fused into
# the one layer. A chain that breaks off simply stays as its steps.
_CHAINS: weakref.WeakKeyDictionary[Any, dict[str, _Chain]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _Chain:
    type_id: str
    params: Mapping[str, object]
    perm: tuple[int, ...]  # the Transpose that must follow the view
    result: tuple[int, ...]  # the shape the last Reshape must make
    steps: tuple[str, ...] = ()  # the ONNX values made so far: the view, then its transpose


def _shuffle_view(before: tuple[int, ...], after: tuple[int, ...]) -> _Chain | None:
    """The shuffle whose first step reshapes `before` into `after`, if any."""
    if len(before) == 4 and len(after) == 6:
        n, c, h, w = before
        r = after[3]
        if r > 1 and after == (n, c, h // r, r, w // r, r) and h % r == 0 and w % r == 0:
            out = (n, c * r * r, h // r, w // r)
            return _Chain("studio.PixelUnshuffle", {"downscale_factor": r}, (0, 1, 3, 5, 2, 4), out)
        r = after[2]
        if r > 1 and after == (n, c // (r * r), r, r, h, w) and c % (r * r) == 0:
            out = (n, c // (r * r), h * r, w * r)
            return _Chain("studio.PixelShuffle", {"upscale_factor": r}, (0, 1, 4, 2, 5, 3), out)
    if 3 <= len(before) <= 5 and len(after) == len(before) + 1 and after[3:] == before[2:]:
        n, c = before[:2]
        groups = after[1]
        if 1 < groups < c and after[:3] == (n, groups, c // groups) and c % groups == 0:
            perm = (0, 2, 1, *range(3, len(after)))
            return _Chain("studio.ChannelShuffle", {"groups": groups}, perm, before)
    return None


def _base_rule(op: str) -> Any:
    from studio.importers import onnx_import

    return onnx_import._RULES[op]


def _reshape(m: Any, node: Any) -> Value | None:
    chains = _CHAINS.setdefault(m, {})
    chain = chains.pop(node.input[0], None)
    if chain is not None and len(chain.steps) == 2 and m.shape(node.output[0]) == chain.result:
        return _fuse(m, node, chain)
    value = _base_rule("Reshape")(m, node)
    view = _shuffle_view(m.shape(node.input[0]), m.shape(node.output[0]))
    if view is not None and value is not None and value != m.tensors.get(node.input[0]):
        chains[node.output[0]] = replace(view, steps=(node.output[0],))
    return value  # type: ignore[no-any-return]


def _transpose(m: Any, node: Any) -> Value | None:
    chains = _CHAINS.setdefault(m, {})
    chain = chains.pop(node.input[0], None)
    value = _base_rule("Transpose")(m, node)
    perm = tuple(int(p) for p in attributes(node).get("perm", []))
    if chain is not None and perm == chain.perm and value is not None:
        chains[node.output[0]] = replace(chain, steps=(*chain.steps, node.output[0]))
    return value  # type: ignore[no-any-return]


def _fuse(m: Any, node: Any, chain: _Chain) -> Value | None:
    """The view's Reshape and the Permute replaced by the shuffle, when nothing else reads them."""
    view, permute = (m.tensors[step][0] for step in chain.steps)
    alone = all(m.consumers.get(step, 0) == 1 for step in chain.steps)
    if not alone or m.draft.readers(view) != [permute]:
        return _base_rule("Reshape")(m, node)  # type: ignore[no-any-return]
    return m.draft.fuse(  # type: ignore[no-any-return]
        [view, permute], chain.type_id, chain.params, name=layer_name(node), weights={}
    )


# --------------------------------------------------------------------------------- resizing

_LINEAR = {3: "linear", 4: "bilinear", 5: "trilinear"}


def _resize(m: Any, node: Any) -> Value:
    """Resize by one whole factor as torch exports it: nearest (asymmetric, floor), linear
    and cubic (half pixel, or align_corners)."""
    a = attributes(node)
    before, after = m.shape(node.input[0]), m.shape(node.output[0])
    if after == before:
        return m.tensor(node.input[0])
    factors = {b / c for b, c in zip(after[2:], before[2:], strict=True)}
    if after[:2] != before[:2] or len(factors) != 1:
        raise Unmappable(f"resizes {before} into {after}; the catalog scales every side alike")
    factor = factors.pop()
    mode = _text(a.get("mode", "nearest"))
    transform = _text(a.get("coordinate_transformation_mode", "half_pixel"))
    catalog_mode = _catalog_mode(a, mode, transform, len(before))
    if not factor.is_integer() or catalog_mode is None:
        raise Unmappable(
            f"mode {mode!r} with {transform!r} coordinates and factor {factor:g}: the catalog's "
            "Upsample is torch's nearest, linear, bilinear, bicubic or trilinear by a whole factor"
        )
    params: dict[str, object] = {"scale_factor": int(factor), "mode": catalog_mode}
    if catalog_mode != "nearest":
        params["align_corners"] = transform == "align_corners"
    return m.layer(node, "studio.Upsample", params)


def _catalog_mode(a: dict[str, Any], mode: str, transform: str, rank: int) -> str | None:
    if mode == "nearest":
        floor = _text(a.get("nearest_mode", "round_prefer_floor")) == "floor"
        return "nearest" if transform == "asymmetric" and floor else None
    if transform not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        return None
    if mode == "linear":
        return _LINEAR.get(rank)
    torch_cubic = float(a.get("cubic_coeff_a", -0.75)) == -0.75 and not a.get("exclude_outside")
    return "bicubic" if mode == "cubic" and rank == 4 and torch_cubic else None


RULES: dict[str, Any] = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _pool("MaxPool"),
    "AveragePool": _pool("AvgPool"),
    "GlobalAveragePool": _global_pool("Avg"),
    "GlobalMaxPool": _global_pool("Max"),
    "Pad": _pad,
    "DepthToSpace": _depth_to_space,
    "SpaceToDepth": _space_to_depth,
    "Resize": _resize,
    "Reshape": _reshape,
    "Transpose": _transpose,
}
