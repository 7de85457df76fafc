"""Examples for the spatial family of layers (merged into `layer_examples.EXAMPLES`)."""

from __future__ import annotations

from typing import Any


def examples(ex: Any) -> dict[str, list[Any]]:
    """Type id → examples, written with `layer_examples.ex` (passed in: loaded by path)."""
    return {
        "studio.Conv2dRect": [
            ex((3, 8, 9), out=(16, 8, 9)),
            ex(
                (4, 9, 8),
                out=(6, 2, 8),
                out_channels=6,
                kernel_h=7,
                kernel_w=1,
                stride_h=2,
                padding_h=0,
                padding_w=0,
                groups=2,
            ),
            ex(
                (2, 9, 9),
                out=(4, 7, 5),
                out_channels=4,
                kernel_h=3,
                kernel_w=3,
                dilation=2,
                padding_h=1,
                padding_w=0,
                stride_w=1,
                bias=False,
            ),
        ],
        "studio.Conv3d": [
            ex((3, 6, 7, 5), out=(16, 6, 7, 5)),
            ex((4, 9, 8, 7), out=(6, 4, 3, 3), out_channels=6, stride=2, padding=0, groups=2),
            ex((2, 9, 9, 9), out=(4, 5, 5, 5), out_channels=4, dilation=2, padding=0, bias=False),
        ],
        "studio.ConvTranspose1d": [
            ex((8, 7), out=(16, 14)),
            ex((4, 5), out=(6, 13), out_channels=6, kernel_size=3, groups=2, dilation=2),
            ex((3, 9), out=(5, 18), out_channels=5, kernel_size=3, padding=1, output_padding=1),
            ex((4, 6), out=(4, 8), out_channels=4, kernel_size=3, stride=1, bias=False),
        ],
        "studio.ConvTranspose3d": [
            ex((4, 3, 4, 5), out=(16, 6, 8, 10)),
            ex((4, 3, 3, 3), out=(2, 7, 7, 7), out_channels=2, kernel_size=3, groups=2),
        ],
        "studio.MaxPool3d": [
            ex((2, 6, 6, 6), out=(2, 3, 3, 3)),
            ex((2, 5, 7, 6), out=(2, 2, 3, 3)),
            ex((2, 5, 7, 6), out=(2, 3, 4, 3), ceil_mode=True),
            ex((2, 5, 5, 5), out=(2, 3, 3, 3), kernel_size=3, stride=2, padding=1, ceil_mode=True),
        ],
        "studio.AvgPool3d": [
            ex((2, 6, 6, 6), out=(2, 3, 3, 3)),
            ex((2, 5, 7, 6), out=(2, 3, 4, 3), ceil_mode=True),
            ex((2, 7, 7, 7), out=(2, 3, 3, 3), kernel_size=3, stride=2),
        ],
        "studio.AdaptiveAvgPool1d": [
            ex((4, 9), out=(4, 1)),
            ex((4, 9), out=(4, 3), output_size=3),
        ],
        "studio.AdaptiveMaxPool1d": [
            ex((4, 9), out=(4, 1)),
            ex((4, 8), out=(4, 4), output_size=4),
        ],
        "studio.AdaptiveMaxPool2d": [
            ex((4, 9, 7), out=(4, 1, 1)),
            ex((4, 9, 6), out=(4, 3, 3), output_size=(3, 3)),
        ],
        "studio.ZeroPad1d": [
            ex((3, 5), out=(3, 7)),
            ex((3, 5), out=(3, 9), padding=(0, 4)),
        ],
        "studio.ZeroPad2d": [
            ex((3, 5, 4), out=(3, 7, 6)),
            ex((3, 5, 4), out=(3, 8, 7), padding=(1, 2, 0, 3)),
        ],
        "studio.ConstantPad1d": [
            ex((3, 5), out=(3, 7), value=2.5),
            ex((3, 5), out=(3, 8), padding=(3, 0), value=-1.0),
        ],
        "studio.ConstantPad2d": [
            ex((2, 4, 4), out=(2, 6, 6)),
            ex((2, 4, 3), out=(2, 5, 8), padding=(2, 3, 1, 0), value=0.5),
        ],
        "studio.ReflectionPad1d": [
            ex((3, 5), out=(3, 7)),
            ex((3, 5), out=(3, 9), padding=(4, 0)),
        ],
        "studio.ReflectionPad2d": [
            ex((2, 4, 4), out=(2, 6, 6)),
            ex((2, 3, 5), out=(2, 5, 11), padding=(4, 2, 2, 0)),
        ],
        "studio.ReplicationPad1d": [
            ex((3, 5), out=(3, 7)),
            ex((3, 2), out=(3, 9), padding=(6, 1)),
        ],
        "studio.ReplicationPad2d": [
            ex((2, 4, 4), out=(2, 6, 6)),
            ex((2, 2, 3), out=(2, 9, 5), padding=(0, 2, 3, 4)),
        ],
        "studio.PixelShuffle": [
            ex((8, 3, 5), out=(2, 6, 10)),
            ex((18, 2, 2), out=(2, 6, 6), upscale_factor=3),
        ],
        "studio.PixelUnshuffle": [
            ex((2, 6, 10), out=(8, 3, 5)),
            ex((1, 9, 3), out=(9, 3, 1), downscale_factor=3),
        ],
        "studio.ChannelShuffle": [
            ex((6, 4, 4), out=(6, 4, 4)),
            ex((6, 5), out=(6, 5), groups=3),
            ex((4, 2, 3, 3), out=(4, 2, 3, 3), groups=4),
        ],
    }
