"""Source models written the way users write them, for the import round-trip tests.

Each class defines `example_input_shape` (batch included), as `studio import` reads it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LeNet(nn.Module):
    example_input_shape = (2, 1, 28, 28)

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 5 * 5, 32)
        self.fc2 = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))
        x = F.max_pool2d(torch.relu(self.bn(self.conv2(x))), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


class SkipMLP(nn.Module):
    example_input_shape = (4, 12)

    def __init__(self, features: int = 12, hidden: int = 12, classes: int = 3) -> None:
        super().__init__()
        self.inp = nn.Linear(features, hidden)
        self.block = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.head = nn.Linear(hidden, classes)
        self.drop = nn.Dropout(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        h = h + self.block(h)
        return F.log_softmax(self.head(self.drop(h)), dim=1)


class LSTMClassifier(nn.Module):
    example_input_shape = (3, 7, 5)

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(5, 8, num_layers=2, batch_first=True)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


class TransformerClassifier(nn.Module):
    example_input_shape = (2, 6, 16)

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(16, 16)
        layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.block = nn.TransformerEncoderLayer(
            16, 2, dim_feedforward=24, batch_first=True, activation="gelu", norm_first=True
        )
        self.norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(self.encoder(self.proj(x)))
        return self.fc(self.norm(x).mean(dim=1))


class ConvAutoencoder(nn.Module):
    example_input_shape = (2, 1, 16, 16)

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 4, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(4, 8, 2, stride=2),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 2, stride=2),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class DCGANGenerator(nn.Module):
    example_input_shape = (2, 16, 1, 1)

    def __init__(self, latent: int = 16, width: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent, width * 2, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
            nn.ConvTranspose2d(width, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Branchy(nn.Module):
    """Data-dependent control flow: fx cannot trace it."""

    example_input_shape = (2, 4)

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.fc(x)
        return x


class Unmapped(nn.Module):
    """Two constructs without a catalog layer: a Hardshrink and a remainder (fmod)."""

    example_input_shape = (2, 4)

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.Hardshrink()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fmod(self.act(self.fc(x)), 2.0)


class UpsamplingDecoder(nn.Module):
    """Nearest and bilinear upsampling, and a LayerNorm over the image width."""

    example_input_shape = (2, 4, 4, 4)

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2)
        self.smooth = nn.Upsample(scale_factor=2, mode="bilinear")
        self.norm = nn.LayerNorm(16, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.smooth(self.up(torch.relu(self.conv(x)))))
