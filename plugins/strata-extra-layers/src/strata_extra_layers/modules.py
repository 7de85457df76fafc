"""The plugin's own modules, written like Strata Studio's `studio.layers.modules`.

Each class stands alone (only ``torch`` and ``nn``; plain Python constructor arguments; no
helper outside itself), because the Python export copies its source into the standalone file
it writes. ``forward`` never branches on tensor values nor reads the batch size, so the
modules survive ``torch.jit.script``, ``torch.fx``, ``torch.export`` and ONNX export.
"""

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    """Scales each channel of (N, C, H, W) by a weight learned from the channel averages."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, hidden, kernel_size=1)
        self.expand = nn.Conv2d(hidden, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean(dim=[2, 3], keepdim=True)
        scale = torch.relu(self.reduce(scale))
        scale = torch.sigmoid(self.expand(scale))
        return x * scale


class SeparableConv2d(nn.Module):
    """A depthwise k×k convolution (one filter per channel), then a pointwise 1×1 one."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            groups=in_channels,
            bias=False,
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))
