"""Small configurations of public architectures, written here from their published definitions.

Each class follows the structure its paper or reference implementation describes (block order,
skips, normalisation, activations, the Python idioms such code uses in `forward`), at widths
small enough to import in a second. Nothing here is copied: the point is to meet the shapes of
code users bring, not to reproduce anyone's file. Every class names its example input with
`example_input_shape` (batch included) and, for token ids, `example_input_dtype = "long"`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------- classic classifiers


class LeNet5(nn.Module):
    """LeCun et al. 1998, with max pooling and ReLU as most modern tutorials write it."""

    example_input_shape = (2, 1, 28, 28)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class MnistExampleNet(nn.Module):
    """The network of PyTorch's MNIST example: two convs, dropout, log-softmax."""

    example_input_shape = (2, 1, 28, 28)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(16 * 12 * 12, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


class AlexNetSmall(nn.Module):
    """Krizhevsky et al. 2012 in torchvision's layout: features, adaptive pool, classifier."""

    example_input_shape = (2, 3, 79, 79)

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(16, 24, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(24, 32, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 24, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Linear(24 * 2 * 2, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class VGG11Small(nn.Module):
    """Simonyan and Zisserman 2014, configuration A with batch norm, at an eighth of the width."""

    example_input_shape = (2, 3, 32, 32)
    config = (8, "M", 16, "M", 32, 32, "M", 64, 64, "M", 64, 64, "M")

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in self.config:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                width = int(item)
                layers += [
                    nn.Conv2d(channels, width, 3, padding=1),
                    nn.BatchNorm2d(width),
                    nn.ReLU(True),
                ]
                channels = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(
            nn.Linear(64, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        width = planes
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNetSmall(nn.Module):
    """He et al. 2015 in torchvision's layout: stem, four stages, global pool, fc."""

    example_input_shape = (2, 3, 32, 32)

    def __init__(self, bottleneck: bool = False, layers: tuple[int, ...] = (2, 2, 2, 2)) -> None:
        super().__init__()
        block = Bottleneck if bottleneck else BasicBlock
        self.inplanes = 8
        self.conv1 = nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 8, layers[0])
        self.layer2 = self._make_layer(block, 16, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 32, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 64, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64 * block.expansion, 10)

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        layers = [block(self.inplanes, planes, stride)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class ResNet50Small(ResNetSmall):
    """The bottleneck variant (ResNet-50's block), three blocks in the first stage."""

    def __init__(self) -> None:
        super().__init__(bottleneck=True, layers=(3, 1, 1, 1))


class DenseLayer(nn.Module):
    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, 4 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        concatenated = torch.cat(features, 1)
        out = self.conv1(F.relu(self.norm1(concatenated)))
        return self.conv2(F.relu(self.norm2(out)))


class DenseNetSmall(nn.Module):
    """Huang et al. 2016: dense blocks whose layers read every earlier output, transitions."""

    example_input_shape = (2, 3, 32, 32)

    def __init__(self, growth: int = 6, blocks: tuple[int, ...] = (3, 3)) -> None:
        super().__init__()
        channels = 2 * growth
        self.conv0 = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.blocks = nn.ModuleList()
        self.transitions = nn.ModuleList()
        for i, count in enumerate(blocks):
            layers = nn.ModuleList()
            for j in range(count):
                layers.append(DenseLayer(channels + j * growth, growth))
            self.blocks.append(layers)
            channels += count * growth
            if i != len(blocks) - 1:
                self.transitions.append(
                    nn.Sequential(
                        nn.BatchNorm2d(channels),
                        nn.ReLU(),
                        nn.Conv2d(channels, channels // 2, 1, bias=False),
                        nn.AvgPool2d(2, 2),
                    )
                )
                channels //= 2
        self.norm = nn.BatchNorm2d(channels)
        self.classifier = nn.Linear(channels, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv0(x)
        for i, block in enumerate(self.blocks):
            features = [x]
            for layer in block:
                features.append(layer(features))
            x = torch.cat(features, 1)
            if i < len(self.transitions):
                x = self.transitions[i](x)
        x = F.relu(self.norm(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = inp * expand
        self.use_res = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, oup, 1, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2Small(nn.Module):
    """Sandler et al. 2018: inverted residuals with linear bottlenecks and ReLU6."""

    example_input_shape = (2, 3, 32, 32)
    settings = ((1, 8, 1, 1), (6, 12, 2, 2), (6, 16, 2, 2), (6, 24, 1, 1))

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        features: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        ]
        channels = 8
        for t, c, n, s in self.settings:
            for i in range(n):
                features.append(InvertedResidual(channels, c, s if i == 0 else 1, t))
                channels = c
        features.append(
            nn.Sequential(nn.Conv2d(channels, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU6())
        )
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int, gate: type[nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.activation = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.scale_activation = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.avgpool(x)
        scale = self.fc2(self.activation(self.fc1(scale)))
        return self.scale_activation(scale) * x


class MobileNetV3Block(nn.Module):
    def __init__(self, inp: int, hidden: int, oup: int, kernel: int, se: bool, hs: bool) -> None:
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        self.use_res = inp == oup
        layers: list[nn.Module] = [
            nn.Conv2d(inp, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            act(),
            nn.Conv2d(hidden, hidden, kernel, 1, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            act(),
        ]
        if se:
            layers.append(SqueezeExcitation(hidden, max(hidden // 4, 8), nn.Hardsigmoid))
        layers += [nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_res:
            out += x
        return out


class MobileNetV3Small(nn.Module):
    """Howard et al. 2019: hard-swish, squeeze-and-excitation with hard-sigmoid gates."""

    example_input_shape = (2, 3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish()
        )
        self.blocks = nn.Sequential(
            MobileNetV3Block(8, 16, 8, 3, True, False),
            MobileNetV3Block(8, 24, 12, 5, True, True),
            MobileNetV3Block(12, 36, 12, 5, True, True),
        )
        self.head = nn.Sequential(
            nn.Conv2d(12, 48, 1, bias=False), nn.BatchNorm2d(48), nn.Hardswish()
        )
        self.classifier = nn.Sequential(
            nn.Linear(48, 64), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(64, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


class MBConv(nn.Module):
    def __init__(self, inp: int, oup: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = inp * expand
        self.use_res = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.SiLU()]
        layers += [
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.SiLU(),
            SqueezeExcitation(hidden, max(1, inp // 4)),
            nn.Conv2d(hidden, oup, 1, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_res:
            out = out + x  # stochastic depth is the identity in eval
        return out


class EfficientNetB0Small(nn.Module):
    """Tan and Le 2019: MBConv stages with SiLU and squeeze-and-excitation (B0's stage list)."""

    example_input_shape = (2, 3, 32, 32)
    stages = ((1, 8, 1, 3, 1), (6, 12, 2, 3, 2), (6, 16, 2, 5, 2), (6, 24, 1, 3, 2))

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.SiLU())
        ]
        channels = 8
        for expand, width, repeats, kernel, stride in self.stages:
            for i in range(repeats):
                layers.append(MBConv(channels, width, expand, kernel, stride if i == 0 else 1))
                channels = width
        layers.append(
            nn.Sequential(nn.Conv2d(channels, 64, 1, bias=False), nn.BatchNorm2d(64), nn.SiLU())
        )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=0.2, inplace=True), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class Fire(nn.Module):
    def __init__(self, inplanes: int, squeeze: int, expand1: int, expand3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            1,
        )


class SqueezeNetSmall(nn.Module):
    """Iandola et al. 2016 (v1.1): fire modules, ceil-mode pooling, a conv classifier."""

    example_input_shape = (2, 3, 47, 47)

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, stride=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(16, 4, 8, 8),
            Fire(16, 4, 8, 8),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(16, 8, 16, 16),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Conv2d(32, num_classes, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.classifier(self.features(x))
        return torch.flatten(x, 1)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    batch, channels, height, width = x.size()
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, -1, height, width)


class ShuffleUnit(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        branch = oup // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch, 1, bias=False),
                nn.BatchNorm2d(branch),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        source = inp if stride > 1 else branch
        self.branch2 = nn.Sequential(
            nn.Conv2d(source, branch, 1, bias=False),
            nn.BatchNorm2d(branch),
            nn.ReLU(inplace=True),
            nn.Conv2d(branch, branch, 3, stride, 1, groups=branch, bias=False),
            nn.BatchNorm2d(branch),
            nn.Conv2d(branch, branch, 1, bias=False),
            nn.BatchNorm2d(branch),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2Small(nn.Module):
    """Ma et al. 2018: channel split, two branches, concatenation and channel shuffle."""

    example_input_shape = (2, 3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True)
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.stage2 = nn.Sequential(ShuffleUnit(8, 16, 2), ShuffleUnit(16, 16, 1))
        self.stage3 = nn.Sequential(ShuffleUnit(16, 32, 2), ShuffleUnit(32, 32, 1))
        self.conv5 = nn.Sequential(nn.Conv2d(32, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage3(self.stage2(x)))
        x = x.mean([2, 3])
        return self.fc(x)


class InceptionBlock(nn.Module):
    def __init__(self, inp: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(nn.Conv2d(inp, c1, 1), nn.ReLU(True))
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp, c3r, 1), nn.ReLU(True), nn.Conv2d(c3r, c3, 3, padding=1), nn.ReLU(True)
        )
        self.branch3 = nn.Sequential(
            nn.Conv2d(inp, c5r, 1), nn.ReLU(True), nn.Conv2d(c5r, c5, 5, padding=2), nn.ReLU(True)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(inp, pool, 1), nn.ReLU(True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(outputs, 1)


class GoogLeNetSmall(nn.Module):
    """Szegedy et al. 2014: inception modules of four parallel branches."""

    example_input_shape = (2, 3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2, ceil_mode=True)
        )
        self.inception3a = InceptionBlock(16, 8, 8, 12, 2, 4, 4)
        self.inception3b = InceptionBlock(28, 12, 12, 16, 4, 8, 8)
        self.maxpool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(44, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.inception3b(self.inception3a(self.stem(x))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return self.fc(self.dropout(x))


# --------------------------------------------------------------------- dense prediction


class DoubleConv(nn.Module):
    def __init__(self, inp: int, oup: int) -> None:
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(inp, oup, 3, padding=1, bias=False),
            nn.BatchNorm2d(oup),
            nn.ReLU(inplace=True),
            nn.Conv2d(oup, oup, 3, padding=1, bias=False),
            nn.BatchNorm2d(oup),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


class UNetSmall(nn.Module):
    """Ronneberger et al. 2015: a contracting path, an expanding path, skips by concatenation."""

    example_input_shape = (2, 1, 32, 32)

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        self.inc = DoubleConv(1, 8)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(8, 16))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(16, 32))
        self.up1 = nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2)
        self.conv1 = DoubleConv(32, 16)
        self.up2 = nn.ConvTranspose2d(16, 8, kernel_size=2, stride=2)
        self.conv2 = DoubleConv(16, 8)
        self.outc = nn.Conv2d(8, classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x = self.conv1(torch.cat([x2, self.up1(x3)], dim=1))
        x = self.conv2(torch.cat([x1, self.up2(x)], dim=1))
        return self.outc(x)


class ESPCN(nn.Module):
    """Shi et al. 2016 (PyTorch's super-resolution example): convs, then a pixel shuffle."""

    example_input_shape = (2, 1, 16, 16)

    def __init__(self, upscale_factor: int = 3) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 16, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(16, 16, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(16, 8, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(8, upscale_factor**2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))


class ResidualBlockIN(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class CycleGANGenerator(nn.Module):
    """Zhu et al. 2017's ResNet generator: reflection padding, instance norm, residual blocks."""

    example_input_shape = (2, 3, 32, 32)

    def __init__(self, ngf: int = 8, blocks: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(True),
            nn.Conv2d(ngf, ngf * 2, 3, stride=2, padding=1),
            nn.InstanceNorm2d(ngf * 2),
            nn.ReLU(True),
        ]
        layers += [ResidualBlockIN(ngf * 2) for _ in range(blocks)]
        layers += [
            nn.ConvTranspose2d(ngf * 2, ngf, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(True),
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, 3, 7),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Pix2PixUNetGenerator(nn.Module):
    """Isola et al. 2017's U-Net generator: LeakyReLU down, ReLU up, dropout, skips by concat."""

    example_input_shape = (2, 3, 32, 32)

    def __init__(self, ngf: int = 8) -> None:
        super().__init__()
        self.down1 = nn.Conv2d(3, ngf, 4, 2, 1)
        self.down2 = nn.Sequential(
            nn.LeakyReLU(0.2), nn.Conv2d(ngf, ngf * 2, 4, 2, 1), nn.BatchNorm2d(ngf * 2)
        )
        self.down3 = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(ngf * 2, ngf * 4, 4, 2, 1))
        self.up3 = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1),
            nn.BatchNorm2d(ngf * 2),
            nn.Dropout(0.5),
        )
        self.up2 = nn.Sequential(
            nn.ReLU(), nn.ConvTranspose2d(ngf * 4, ngf, 4, 2, 1), nn.BatchNorm2d(ngf)
        )
        self.up1 = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(ngf * 2, 3, 4, 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        u3 = self.up3(d3)
        u2 = self.up2(torch.cat([u3, d2], 1))
        return self.up1(torch.cat([u2, d1], 1))


class UpsampleConv(nn.Module):
    def __init__(self, inp: int, oup: int, kernel: int, upsample: int | None = None) -> None:
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(inp, oup, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv(self.pad(x))


class FastStyleTransfer(nn.Module):
    """Johnson et al. 2016 (PyTorch's fast-neural-style example), at a quarter of the width."""

    example_input_shape = (2, 3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = UpsampleConv(3, 8, 9)
        self.in1 = nn.InstanceNorm2d(8, affine=True)
        self.conv2 = UpsampleConv(8, 16, 3)
        self.in2 = nn.InstanceNorm2d(16, affine=True)
        self.res1 = ResidualBlockIN(16)
        self.deconv1 = UpsampleConv(16, 8, 3, upsample=2)
        self.in3 = nn.InstanceNorm2d(8, affine=True)
        self.deconv2 = UpsampleConv(8, 3, 9)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(F.avg_pool2d(self.conv2(y), 2)))
        y = self.res1(y)
        y = self.relu(self.in3(self.deconv1(y)))
        return self.deconv2(y)


# --------------------------------------------------------------------- generative


class DCGANGenerator(nn.Module):
    """Radford et al. 2015 (PyTorch's DCGAN example): transposed convs, batch norm, tanh."""

    example_input_shape = (2, 16, 1, 1)

    def __init__(self, nz: int = 16, ngf: int = 8) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class DCGANDiscriminator(nn.Module):
    """The DCGAN discriminator: strided convs, LeakyReLU, a sigmoid score."""

    example_input_shape = (2, 3, 16, 16)

    def __init__(self, ndf: int = 8) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


class VAE(nn.Module):
    """Kingma and Welling 2013 (PyTorch's VAE example): mean and log-variance heads."""

    example_input_shape = (2, 1, 28, 28)

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.fc21 = nn.Linear(64, 8)
        self.fc22 = nn.Linear(64, 8)
        self.fc3 = nn.Linear(8, 64)
        self.fc4 = nn.Linear(64, 784)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        if self.training:
            std = torch.exp(0.5 * logvar)
            return mu + torch.randn_like(std) * std
        return mu

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


# --------------------------------------------------------------------- sequences


class RNNLanguageModel(nn.Module):
    """PyTorch's word-language-model example (LSTM or GRU), batch first, without tied weights."""

    example_input_shape = (2, 12)
    example_input_dtype = "long"

    def __init__(self, kind: str = "LSTM", ntoken: int = 50, ninp: int = 16, nhid: int = 24):
        super().__init__()
        self.drop = nn.Dropout(0.2)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, kind)(ninp, nhid, 2, dropout=0.2, batch_first=True)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        emb = self.drop(self.encoder(tokens))
        output, _ = self.rnn(emb)
        output = self.drop(output)
        return F.log_softmax(self.decoder(output), dim=-1)


class GRULanguageModel(RNNLanguageModel):
    def __init__(self) -> None:
        super().__init__(kind="GRU")


class Seq2SeqEncoderDecoder(nn.Module):
    """Sutskever et al. 2014 with GRUs: the decoder starts from the encoder's final state."""

    example_input_shape = (2, 10)
    example_input_dtype = "long"

    def __init__(self, vocab: int = 40, hidden: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.encoder = nn.GRU(hidden, hidden, batch_first=True)
        self.decoder = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(self.embed(source))
        decoded, _ = self.decoder(self.embed(source), state)
        return self.out(decoded)


class TransformerLanguageModel(nn.Module):
    """PyTorch's word-language-model Transformer: sinusoidal buffer, encoder, causal mask."""

    example_input_shape = (2, 12)
    example_input_dtype = "long"

    def __init__(self, ntoken: int = 50, ninp: int = 16, nhead: int = 2, nlayers: int = 2):
        super().__init__()
        self.ninp = ninp
        position = torch.arange(64).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, ninp, 2) * (-math.log(10000.0) / ninp))
        table = torch.zeros(64, ninp)
        table[:, 0::2] = torch.sin(position * div_term)
        table[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", table.unsqueeze(0))
        self.input_emb = nn.Embedding(ntoken, ninp)
        layer = nn.TransformerEncoderLayer(ninp, nhead, 32, 0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, nlayers)
        self.decoder = nn.Linear(ninp, ntoken)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.input_emb(tokens) * math.sqrt(self.ninp)
        x = x + self.pe[:, : x.size(1)]
        length = tokens.size(1)
        mask = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
        x = self.encoder(x, mask=mask, is_causal=True)
        return F.log_softmax(self.decoder(x), dim=-1)


class BertSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_size = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        new_shape = x.size()[:-1] + (self.heads, self.head_size)
        return x.view(new_shape).permute(0, 2, 1, 3)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        q = self.split_heads(self.query(hidden_states))
        k = self.split_heads(self.key(hidden_states))
        v = self.split_heads(self.value(hidden_states))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size)
        probs = nn.functional.softmax(scores, dim=-1)
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return context.view(context.size()[:-2] + (self.heads * self.head_size,))


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int) -> None:
        super().__init__()
        self.attention = BertSelfAttention(hidden, heads)
        self.attention_output = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attended = self.dropout(self.attention_output(self.attention(x)))
        x = self.attention_norm(attended + x)
        inner = F.gelu(self.intermediate(x))
        return self.output_norm(self.dropout(self.output(inner)) + x)


class BertTiny(nn.Module):
    """Devlin et al. 2018 at BERT-tiny's depth (2 layers): word + position + type embeddings."""

    example_input_shape = (2, 12)
    example_input_dtype = "long"

    def __init__(self, vocab: int = 60, hidden: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(32, hidden)
        self.token_type_embeddings = nn.Embedding(2, hidden)
        self.register_buffer("position_ids", torch.arange(32).expand((1, -1)), persistent=False)
        self.embeddings_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(BertLayer(hidden, heads, 4 * hidden) for _ in range(2))
        self.pooler = nn.Linear(hidden, hidden)

    def forward(
        self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        length = input_ids.size(1)
        position_ids = self.position_ids[:, :length]
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(position_ids)
            + self.token_type_embeddings(token_type_ids)
        )
        x = self.embeddings_norm(x)
        for layer in self.layers:
            x = layer(x)
        return torch.tanh(self.pooler(x[:, 0]))


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, block_size: int) -> None:
        super().__init__()
        assert n_embd % n_head == 0
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.attn_dropout = nn.Dropout(0.1)
        self.n_head = n_head
        self.n_embd = n_embd
        mask = torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size)
        self.register_buffer("bias", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class GPTBlock(nn.Module):
    def __init__(self, n_embd: int, n_head: int, block_size: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(approximate="tanh"),
            nn.Linear(4 * n_embd, n_embd),
            nn.Dropout(0.1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class SmallGPT(nn.Module):
    """Radford et al. 2019 (GPT-2), in the manner of minimal reimplementations: pre-norm
    blocks, a causal mask buffer, learned positions, a guard on the sequence length."""

    example_input_shape = (2, 12)
    example_input_dtype = "long"

    def __init__(self, vocab: int = 64, block_size: int = 16, n_embd: int = 16) -> None:
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(0.1)
        self.h = nn.ModuleList(GPTBlock(n_embd, 2, block_size) for _ in range(2))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        device = idx.device
        b, t = idx.size()
        assert t <= self.block_size, f"sequence of {t} is longer than {self.block_size}"
        pos = torch.arange(0, t, dtype=torch.long, device=device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch: int, channels: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class ViTBlock(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """Dosovitskiy et al. 2020: patches, a class token, learned positions, pre-norm blocks."""

    example_input_shape = (2, 3, 16, 16)

    def __init__(self, patch: int = 4, dim: int = 16, depth: int = 2, classes: int = 10) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(patch, 3, dim)
        patches = (16 // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, patches + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[ViTBlock(dim, 2) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class SimpleViT(nn.Module):
    """The 'simple ViT' variant (Beyer et al. 2022): fixed 2-D sine positions, mean pooling,
    with the patching written the way einops' rearrange spells it."""

    example_input_shape = (2, 3, 16, 16)

    def __init__(self, patch: int = 4, dim: int = 16) -> None:
        super().__init__()
        self.patch = patch
        self.to_patch = nn.Sequential(
            nn.LayerNorm(patch * patch * 3), nn.Linear(patch * patch * 3, dim), nn.LayerNorm(dim)
        )
        side = 16 // patch
        y, x = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
        omega = 1.0 / (10000 ** (torch.arange(dim // 4) / (dim // 4 - 1)))
        y = y.flatten()[:, None] * omega[None, :]
        x = x.flatten()[:, None] * omega[None, :]
        table = torch.cat((x.sin(), x.cos(), y.sin(), y.cos()), dim=1)
        self.register_buffer("pos_embedding", table)
        layer = nn.TransformerEncoderLayer(dim, 2, 32, 0.0, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(dim, 10)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        b, c, h, w = img.shape
        p = self.patch
        # b c (h p1) (w p2) -> b (h w) (p1 p2 c)
        x = img.view(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        x = x.reshape(b, (h // p) * (w // p), p * p * c)
        x = self.to_patch(x) + self.pos_embedding
        x = self.transformer(x)
        return self.head(x.mean(dim=1))


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.window = window
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        windows, n, c = x.shape
        qkv = self.qkv(x).reshape(windows, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(windows, n, c)
        return self.proj(x)


class SwinStyleBlock(nn.Module):
    """Liu et al. 2021's window attention (no shift): partition into windows, attend, merge."""

    example_input_shape = (2, 8, 8, 16)

    def __init__(self, dim: int = 16, window: int = 4) -> None:
        super().__init__()
        self.window = window
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, 2)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        s = self.window
        shortcut = x
        y = self.norm1(x)
        y = y.view(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, s * s, c)
        y = self.attn(y)
        y = y.view(b, h // s, w // s, s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        x = shortcut + y
        return x + self.mlp(self.norm2(x))


class SiameseNetwork(nn.Module):
    """Bromley et al. 1993 / Koch et al. 2015: one tower applied to two inputs (tied weights)."""

    example_input_shape = ((2, 1, 16, 16), (2, 1, 16, 16))

    def __init__(self) -> None:
        super().__init__()
        self.tower = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.head = nn.Linear(8, 1)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(torch.abs(self.tower(left) - self.tower(right))))


# ------------------------------------------------------------------ as their authors wrote them
# The classes above write each architecture the way the catalog reads best (batch first, a
# sampling layer that is the mean in eval). These keep the published code's own habits, which
# are what a user brings: sequence-first recurrences, weights tied between an embedding and its
# output head, noise drawn in forward, LSTM cells stepped in a Python loop.


class WordLanguageModelRNN(nn.Module):
    """pytorch/examples word_language_model RNNModel: sequence first, logits flattened."""

    example_input_shape = (12, 2)
    example_input_dtype = "long"

    def __init__(self, ntoken: int = 50, ninp: int = 16, nhid: int = 16) -> None:
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(0.2)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, 2, dropout=0.2)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        output, _hidden = self.rnn(self.drop(self.encoder(tokens)))
        decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1)


class NanoGPTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, block_size: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)
        self.ln_2 = nn.LayerNorm(dim)
        self.c_fc = nn.Linear(dim, 4 * dim)
        self.mlp_proj = nn.Linear(4 * dim, dim)
        self.heads, self.dim = heads, dim
        # As nanoGPT: flash attention where torch has it (torch >= 2), else the written-out mask.
        self.flash = hasattr(F, "scaled_dot_product_attention")
        if not self.flash:
            causal = torch.tril(torch.ones(block_size, block_size))
            self.register_buffer("bias", causal.view(1, 1, block_size, block_size))

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(self.dim, dim=2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        if self.flash:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attend(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class NanoGPT(nn.Module):
    """karpathy/nanoGPT's GPT: the token table tied to the head, (logits, loss) returned,
    only the last position's logits without targets."""

    example_input_shape = (2, 16)
    example_input_dtype = "long"

    def __init__(self, vocab: int = 64, block_size: int = 16, dim: int = 32) -> None:
        super().__init__()
        self.block_size = block_size
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(vocab, dim),
                "wpe": nn.Embedding(block_size, dim),
                "drop": nn.Dropout(0.0),
                "h": nn.ModuleList([NanoGPTBlock(dim, 4, block_size) for _ in range(2)]),
                "ln_f": nn.LayerNorm(dim),
            }
        )
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        _b, t = idx.size()
        assert t <= self.block_size, f"Cannot forward sequence of length {t}"
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is not None:
            logits = self.lm_head(x)
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return self.lm_head(x[:, [-1], :]), None


class ExamplesVAE(nn.Module):
    """pytorch/examples vae: the noise is drawn in forward, in eval mode too."""

    example_input_shape = (2, 1, 28, 28)

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h1 = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


class MnistRNN(nn.Module):
    """pytorch/examples mnist_rnn: rows of the image as steps, the last step classified."""

    example_input_shape = (2, 28, 28)

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_size=28, hidden_size=64, batch_first=True)
        self.batchnorm = nn.BatchNorm1d(64)
        self.dropout1 = nn.Dropout2d(0.25)
        self.dropout2 = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _hidden = self.rnn(x.reshape(-1, 28, 28))
        output = self.dropout1(self.batchnorm(output[:, -1, :]))
        output = self.dropout2(F.relu(self.fc1(output)))
        return F.log_softmax(self.fc2(output), dim=1)


class ActorCritic(nn.Module):
    """pytorch/examples reinforcement_learning actor-critic: two heads on one trunk."""

    example_input_shape = (2, 4)

    def __init__(self) -> None:
        super().__init__()
        self.affine1 = nn.Linear(4, 128)
        self.action_head = nn.Linear(128, 2)
        self.value_head = nn.Linear(128, 1)
        self.saved_actions: list[object] = []

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.affine1(x))
        return F.softmax(self.action_head(x), dim=-1), self.value_head(x)


class TimeSequencePrediction(nn.Module):
    """pytorch/examples time_sequence_prediction: two LSTMCells stepped over the sequence."""

    example_input_shape = (2, 6)

    def __init__(self) -> None:
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, 16)
        self.lstm2 = nn.LSTMCell(16, 16)
        self.linear = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        h_t = torch.zeros(x.size(0), 16, dtype=x.dtype)
        c_t = torch.zeros(x.size(0), 16, dtype=x.dtype)
        h_t2 = torch.zeros(x.size(0), 16, dtype=x.dtype)
        c_t2 = torch.zeros(x.size(0), 16, dtype=x.dtype)
        for input_t in x.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            outputs.append(self.linear(h_t2))
        return torch.cat(outputs, dim=1)


CORPUS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (
        LeNet5,
        MnistExampleNet,
        AlexNetSmall,
        VGG11Small,
        ResNetSmall,
        ResNet50Small,
        DenseNetSmall,
        MobileNetV2Small,
        MobileNetV3Small,
        EfficientNetB0Small,
        SqueezeNetSmall,
        ShuffleNetV2Small,
        GoogLeNetSmall,
        UNetSmall,
        ESPCN,
        CycleGANGenerator,
        Pix2PixUNetGenerator,
        FastStyleTransfer,
        DCGANGenerator,
        DCGANDiscriminator,
        VAE,
        RNNLanguageModel,
        GRULanguageModel,
        Seq2SeqEncoderDecoder,
        TransformerLanguageModel,
        BertTiny,
        SmallGPT,
        VisionTransformer,
        SimpleViT,
        SwinStyleBlock,
        SiameseNetwork,
        WordLanguageModelRNN,
        NanoGPT,
        ExamplesVAE,
        MnistRNN,
        ActorCritic,
        TimeSequencePrediction,
    )
}
"""Every corpus model by class name."""
