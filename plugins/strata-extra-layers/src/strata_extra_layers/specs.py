"""The plugin's layer specs: what the palette and inspector read, without importing torch.

Ids carry the plugin's own namespace (``extra.``), so they never clash with Strata Studio's
``studio.`` layers or another plugin's. Each spec names its builder (torch) and its shape rule
(pure Python) by import path.
"""

from __future__ import annotations

from studio.core.specs import LayerSpec, ParamSpec

NAMESPACE = "extra"
_BUILDERS = "strata_extra_layers.builders"
_RULES = "strata_extra_layers.rules"


def _int(name: str, default: int, help: str, low: int = 1, high: int = 65_536) -> ParamSpec:
    return ParamSpec(name, "int", default, help, minimum=low, maximum=high)


SQUEEZE_EXCITE = LayerSpec(
    type_id=f"{NAMESPACE}.SqueezeExcite",
    title="SqueezeExcite",
    category="Convolution",
    help="Squeeze-and-excitation on images (N, C, H, W): learns a weight per channel from "
    "the channel averages and scales each channel by it. The shape stays the same.",
    builder=f"{_BUILDERS}:build_squeeze_excite",
    shape_rule=f"{_RULES}:squeeze_excite",
    params=(
        _int(
            "reduction",
            4,
            "How much narrower the bottleneck is than the channel count (C / reduction).",
            high=1024,
        ),
    ),
    key_params=("reduction",),
)

SEPARABLE_CONV2D = LayerSpec(
    type_id=f"{NAMESPACE}.SeparableConv2d",
    title="SeparableConv2d",
    category="Convolution",
    help="Depthwise-separable convolution on images (N, C, H, W): one k×k filter per input "
    "channel, then a 1×1 convolution that mixes channels. Far fewer weights than Conv2d.",
    builder=f"{_BUILDERS}:build_separable_conv2d",
    shape_rule=f"{_RULES}:separable_conv2d",
    params=(
        _int("out_channels", 16, "Number of channels the pointwise (1×1) step produces."),
        _int("kernel_size", 3, "Width of the depthwise sliding window.", high=64),
        _int("stride", 1, "Step between window positions; 2 halves the size.", high=64),
        _int("padding", 1, "Zeros added on each side before sliding the window.", low=0, high=64),
        ParamSpec("bias", "bool", True, "Learn an offset added to every output channel."),
    ),
    key_params=("out_channels", "kernel_size", "stride"),
)

MISH = LayerSpec(
    type_id=f"{NAMESPACE}.Mish",
    title="Mish",
    category="Activation",
    help="Smooth, non-monotonic activation: x · tanh(softplus(x)).",
    builder=f"{_BUILDERS}:build_mish",
    shape_rule=f"{_RULES}:mish",
)

LAYERS: tuple[LayerSpec, ...] = (SQUEEZE_EXCITE, SEPARABLE_CONV2D, MISH)
