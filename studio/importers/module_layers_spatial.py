"""Module rules (see `studio.importers.module_layers`) for the spatial family of layers.

Convolutions, transposed convolutions, pooling (ceil_mode included), adaptive pooling, the
padding layers, upsampling and the shuffles. The ``*_call`` functions read the functional forms
(``F.pad(x, (1, 1))``, ``F.pixel_shuffle(x, 2)``): the fx importer passes them the call's
arguments after the input and the input's full shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from studio.importers.module_layers import LayerOf, Unmappable, maps, only_inputs, weights_of

__all__ = [
    "adaptive_call",
    "channel_shuffle_call",
    "pad_call",
    "pixel_shuffle_call",
    "pixel_unshuffle_call",
    "pool_params",
    "upsample_params",
]

_SPATIAL_NAMES = {1: "sequences (N, C, L)", 2: "images (N, C, H, W)", 3: "volumes (N, C, D, H, W)"}


def single(value: object, what: str) -> int:
    """One int for every direction: the catalog's layers take square kernels and strides."""
    items = list(value) if isinstance(value, tuple | list) else [value]
    first = items[0] if items else None
    if isinstance(first, int) and all(v == first for v in items):
        return first
    raise Unmappable(f"{what}={value}: the catalog's layer takes one {what} for every direction")


def _expect_rank(shapes: Sequence[tuple[int, ...]], spatial_dims: int, what: str) -> None:
    only_inputs(1, shapes, what)
    if len(shapes[0]) != spatial_dims + 2:
        raise Unmappable(
            f"{what} receives a tensor of shape {shapes[0]}; the catalog's layer takes "
            f"{_SPATIAL_NAMES[spatial_dims]}"
        )


# --------------------------------------------------------------------------------- convolutions


def _conv_padding(module: Any, kernel: int, stride: int, dilation: int) -> int:
    if module.padding_mode != "zeros":
        raise Unmappable(f"padding_mode={module.padding_mode!r}; the catalog pads with zeros")
    if module.padding == "valid":
        return 0
    if module.padding == "same":
        if stride != 1 or dilation * (kernel - 1) % 2:
            raise Unmappable("padding='same' with this kernel pads unevenly")
        return dilation * (kernel - 1) // 2
    return single(module.padding, "padding")


@maps(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def _conv(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(1, shapes, type(module).__name__)
    kernel = single(module.kernel_size, "kernel_size")
    stride = single(module.stride, "stride")
    dilation = single(module.dilation, "dilation")
    params = {
        "out_channels": module.out_channels,
        "kernel_size": kernel,
        "stride": stride,
        "padding": _conv_padding(module, kernel, stride, dilation),
        "dilation": dilation,
        "groups": module.groups,
        "bias": module.bias is not None,
    }
    return LayerOf(f"studio.{type(module).__name__}", params, weights_of(module))


@maps(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def _conv_transpose(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    """Called with the input alone: an ``output_size`` argument is refused by the caller."""
    only_inputs(1, shapes, type(module).__name__)
    if module.padding_mode != "zeros":
        raise Unmappable(f"padding_mode={module.padding_mode!r}; the catalog pads with zeros")
    params = {
        "out_channels": module.out_channels,
        "kernel_size": single(module.kernel_size, "kernel_size"),
        "stride": single(module.stride, "stride"),
        "padding": single(module.padding, "padding"),
        "output_padding": single(module.output_padding, "output_padding"),
        "dilation": single(module.dilation, "dilation"),
        "groups": module.groups,
        "bias": module.bias is not None,
    }
    return LayerOf(f"studio.{type(module).__name__}", params, weights_of(module))


# --------------------------------------------------------------------------------- pooling


def pool_params(
    kernel: object,
    stride: object,
    padding: object,
    *,
    dilation: object = 1,
    ceil_mode: object = False,
    return_indices: object = False,
    count_include_pad: object = True,
    divisor_override: object = None,
) -> dict[str, object]:
    """The catalog params of a MaxPool/AvgPool, or `Unmappable` for settings it lacks."""
    if single(dilation, "dilation") != 1 or return_indices:
        raise Unmappable("dilation and return_indices have no catalog setting")
    pad = single(padding, "padding")
    if divisor_override is not None or (not count_include_pad and pad):
        raise Unmappable("count_include_pad=False and divisor_override have no catalog setting")
    return {
        "kernel_size": single(kernel, "kernel_size"),
        "stride": 0 if stride is None or stride == [] else single(stride, "stride"),
        "padding": pad,
        "ceil_mode": bool(ceil_mode),
    }


@maps(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def _pool(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(1, shapes, type(module).__name__)
    params = pool_params(
        module.kernel_size,
        module.stride,
        module.padding,
        dilation=getattr(module, "dilation", 1),
        ceil_mode=module.ceil_mode,
        return_indices=getattr(module, "return_indices", False),
        count_include_pad=getattr(module, "count_include_pad", True),
        divisor_override=getattr(module, "divisor_override", None),
    )
    return LayerOf(f"studio.{type(module).__name__}", params)


_ADAPTIVE = {
    "AdaptiveAvgPool1d": 1,
    "AdaptiveMaxPool1d": 1,
    "AdaptiveAvgPool2d": 2,
    "AdaptiveMaxPool2d": 2,
}


def _adaptive_layer(kind: str, output_size: object, shape: tuple[int, ...]) -> LayerOf:
    """`kind` (e.g. ``AdaptiveMaxPool2d``) to `output_size`; None keeps the input's size."""
    spatial_dims = _ADAPTIVE[kind]
    _expect_rank([shape], spatial_dims, kind)
    sizes = list(output_size) if isinstance(output_size, tuple | list) else [output_size]
    sizes = sizes * spatial_dims if len(sizes) == 1 else sizes
    resolved = [shape[2 + i] if s is None else s for i, s in enumerate(sizes)]
    if len(resolved) != spatial_dims or not all(isinstance(s, int) for s in resolved):
        raise Unmappable(f"output_size={output_size}: the catalog needs {spatial_dims} number(s)")
    size: object = resolved[0] if spatial_dims == 1 else tuple(resolved)
    return LayerOf(f"studio.{kind}", {"output_size": size})


@maps(nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
def _adaptive(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(1, shapes, type(module).__name__)
    if getattr(module, "return_indices", False):
        raise Unmappable("return_indices has no catalog setting")
    return _adaptive_layer(type(module).__name__, module.output_size, shapes[0])


def adaptive_call(kind: str) -> Any:
    """The rule for ``F.adaptive_*_pool*d(x, output_size)`` mapping to `kind`."""

    def convert(
        args: Sequence[object], kwargs: Mapping[str, object], shape: tuple[int, ...]
    ) -> LayerOf:
        output_size = args[0] if args else kwargs.get("output_size")
        if (args[1:] and args[1]) or kwargs.get("return_indices"):
            raise Unmappable("return_indices has no catalog setting")
        return _adaptive_layer(kind, output_size, shape)

    return convert


# --------------------------------------------------------------------------------- padding

_PAD_KINDS = {
    nn.ZeroPad1d: "ZeroPad",
    nn.ZeroPad2d: "ZeroPad",
    nn.ConstantPad1d: "ConstantPad",
    nn.ConstantPad2d: "ConstantPad",
    nn.ReflectionPad1d: "ReflectionPad",
    nn.ReflectionPad2d: "ReflectionPad",
    nn.ReplicationPad1d: "ReplicationPad",
    nn.ReplicationPad2d: "ReplicationPad",
}
_PAD_MODES = {"constant": "ConstantPad", "reflect": "ReflectionPad", "replicate": "ReplicationPad"}


def pad_layer(kind: str, padding: Sequence[int], rank: int, value: float = 0.0) -> LayerOf:
    """`kind` (``ZeroPad``, ``ConstantPad``, ...) padding the last dims of a rank-`rank` tensor
    by `padding` in torch's order (last dim first: left, right, top, bottom)."""
    sides = [int(p) for p in padding]
    if any(p < 0 for p in sides):
        raise Unmappable(f"negative padding {tuple(sides)} crops; the catalog's pads only add")
    spatial_dims = rank - 2
    if spatial_dims not in (1, 2) or len(sides) > 2 * spatial_dims or len(sides) % 2:
        raise Unmappable(
            f"padding {tuple(sides)} of a tensor with {rank} dimensions; the catalog pads the "
            "last dimension of sequences (N, C, L) or the last two of images (N, C, H, W)"
        )
    sides += [0] * (2 * spatial_dims - len(sides))
    if kind == "ConstantPad" and value == 0.0:
        kind = "ZeroPad"
    params: dict[str, object] = {"padding": (sides[0],) if len(set(sides)) == 1 else tuple(sides)}
    if kind == "ConstantPad":
        params["value"] = float(value)
    return LayerOf(f"studio.{kind}{spatial_dims}d", params)


@maps(*_PAD_KINDS)
def _pad(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(1, shapes, type(module).__name__)
    kind = _PAD_KINDS[type(module)]
    value = float(getattr(module, "value", 0.0))
    # A 1-d pad of an image pads its width: the 2-d layer with (left, right, 0, 0) does that.
    return pad_layer(kind, module.padding, len(shapes[0]), value)


def pad_call(
    args: Sequence[object], kwargs: Mapping[str, object], shape: tuple[int, ...]
) -> LayerOf:
    """``F.pad(x, pad, mode="constant", value=None)``."""
    pad = args[0] if args else kwargs.get("pad")
    mode = args[1] if len(args) > 1 else kwargs.get("mode", "constant")
    value = args[2] if len(args) > 2 else kwargs.get("value")
    if not isinstance(pad, tuple | list) or not all(isinstance(p, int) for p in pad):
        raise Unmappable(f"pad={pad!r}: the catalog needs whole numbers")
    if mode not in _PAD_MODES:
        raise Unmappable(f"mode={mode!r} has no catalog layer (constant, reflect, replicate)")
    return pad_layer(_PAD_MODES[str(mode)], pad, len(shape), float(value or 0.0))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- upsampling


def upsample_params(
    size: object, scale_factor: object, mode: object, align_corners: object
) -> dict[str, object]:
    """The catalog Upsample's params for torch's interpolate/Upsample settings."""
    if size is not None or scale_factor is None:
        raise Unmappable("upsampling to a fixed size; the catalog's Upsample takes a scale factor")
    scales = list(scale_factor) if isinstance(scale_factor, tuple | list) else [scale_factor]
    if not all(float(s) == float(scales[0]) and float(s).is_integer() for s in scales):  # type: ignore[arg-type]
        raise Unmappable(f"scale_factor={scale_factor}: the catalog needs one whole number")
    if mode not in ("nearest", "linear", "bilinear", "bicubic", "trilinear"):
        raise Unmappable(f"mode={mode!r} has no catalog setting")
    params: dict[str, object] = {"scale_factor": int(float(scales[0])), "mode": mode}  # type: ignore[arg-type]
    if mode != "nearest":
        params["align_corners"] = bool(align_corners)
    return params


@maps(nn.Upsample)
def _upsample(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(1, shapes, "Upsample")
    params = upsample_params(module.size, module.scale_factor, module.mode, module.align_corners)
    return LayerOf("studio.Upsample", params)


# --------------------------------------------------------------------------------- shuffles


@maps(nn.PixelShuffle)
def _pixel_shuffle(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    _expect_rank(shapes, 2, "PixelShuffle")
    return LayerOf("studio.PixelShuffle", {"upscale_factor": module.upscale_factor})


@maps(nn.PixelUnshuffle)
def _pixel_unshuffle(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    _expect_rank(shapes, 2, "PixelUnshuffle")
    return LayerOf("studio.PixelUnshuffle", {"downscale_factor": module.downscale_factor})


@maps(nn.ChannelShuffle)
def _channel_shuffle(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    only_inputs(1, shapes, "ChannelShuffle")
    return LayerOf("studio.ChannelShuffle", {"groups": module.groups})


def _factor_call(type_id: str, param: str) -> Any:
    def convert(
        args: Sequence[object], kwargs: Mapping[str, object], shape: tuple[int, ...]
    ) -> LayerOf:
        factor = args[0] if args else kwargs.get(param)
        if not isinstance(factor, int):
            raise Unmappable(f"{param}={factor!r}: the catalog needs a whole number")
        if type_id != "studio.ChannelShuffle":
            _expect_rank([shape], 2, type_id.removeprefix("studio."))
        return LayerOf(type_id, {param: factor})

    return convert


pixel_shuffle_call = _factor_call("studio.PixelShuffle", "upscale_factor")
pixel_unshuffle_call = _factor_call("studio.PixelUnshuffle", "downscale_factor")
channel_shuffle_call = _factor_call("studio.ChannelShuffle", "groups")
