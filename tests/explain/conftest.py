"""Tiny models of every input kind, trained for a moment, like Lightning's BoringModel.

Session-scoped: training the shapes CNN takes a few seconds and every test reuses it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from studio.data.generators import generate_shapes


@dataclass
class ModelCase:
    """A model, a batch to explain, and the names the method table needs."""

    name: str
    kind: str
    model: nn.Module
    inputs: torch.Tensor
    layer: str
    labels: torch.Tensor | None = None
    masks: np.ndarray | None = None


def _train(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    *,
    lr: float = 1e-2,
    batch_size: int = 64,
) -> None:
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(inputs), generator=generator).split(batch_size):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(inputs[batch]), labels[batch]).backward()
            optimiser.step()
    model.eval()


class SequenceClassifier(nn.Module):
    """GRU over (N, T, C) or over embedded token ids (N, T), last state → classes."""

    def __init__(self, channels: int, classes: int, vocabulary: int | None = None) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, 8) if vocabulary else None
        self.gru = nn.GRU(8 if vocabulary else channels, 16, batch_first=True)
        self.proj = nn.Linear(16, 16)
        self.act = nn.ReLU()
        self.head = nn.Linear(16, classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        features = self.embedding(inputs) if self.embedding is not None else inputs
        states, _ = self.gru(features)
        return self.head(self.act(self.proj(states[:, -1])))


@pytest.fixture(scope="session")
def table_case() -> ModelCase:
    """An MLP on iris-like rows: three Gaussian blobs in four features."""
    torch.manual_seed(0)
    centres = torch.tensor([[0.0, 0, 0, 0], [2.0, 1, 0, 0], [0.0, 2, 2, 0]])
    labels = torch.arange(300) % 3
    rows = centres[labels] + 0.4 * torch.randn(300, 4)
    model = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 16), act=nn.ReLU(), fc2=nn.Linear(16, 3)))
    _train(model, rows, labels, epochs=20)
    return ModelCase("mlp", "table", model, rows[:6], "fc1", labels[:6])


class ShapesCNN(nn.Module):
    """Three conv blocks with batch norm; a global max pool answers "is this corner anywhere?"."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.conv2, self.norm2 = nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.conv3, self.norm3 = nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.act1, self.act2, self.act3 = nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.pool1, self.pool2 = nn.MaxPool2d(2), nn.MaxPool2d(2)
        self.gmp = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(32, 3)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.act1(self.norm1(self.conv1(inputs))))
        x = self.pool2(self.act2(self.norm2(self.conv2(x))))
        x = self.act3(self.norm3(self.conv3(x)))
        return self.head(self.gmp(x).flatten(1))


@pytest.fixture(scope="session")
def image_case() -> ModelCase:
    """A small CNN trained a few seconds on the bundled shapes generator; test batch with masks."""
    torch.manual_seed(0)
    # 5 epochs and 160 test images: with 3 epochs and 32 images the Grad-CAM figures sat
    # near the thresholds and passed or failed with the CPU's float kernels.
    images, labels, masks = generate_shapes(1360, size=32, seed=0)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    model = ShapesCNN()
    _train(model, x[:1200], y[:1200], epochs=5, lr=3e-3, batch_size=32)
    return ModelCase("cnn", "image", model, x[1200:], "conv3", y[1200:], masks[1200:])


@pytest.fixture(scope="session")
def sequence_case() -> ModelCase:
    """A GRU on (N, T, 1) series: is the first half's mean above the second's?"""
    torch.manual_seed(0)
    series = torch.randn(200, 24, 1)
    labels = (series[:, :12].mean(dim=(1, 2)) > series[:, 12:].mean(dim=(1, 2))).long()
    model = SequenceClassifier(channels=1, classes=2)
    _train(model, series, labels, epochs=5)
    return ModelCase("gru-series", "sequence", model, series[:4], "proj", labels[:4])


@pytest.fixture(scope="session")
def text_case() -> ModelCase:
    """Embedding + GRU on token ids: does token 5 occur?"""
    torch.manual_seed(0)
    tokens = torch.randint(2, 30, (300, 12))
    labels = (tokens == 5).any(dim=1).long()
    model = SequenceClassifier(channels=8, classes=2, vocabulary=30)
    _train(model, tokens, labels, epochs=8)
    return ModelCase("gru-text", "text", model, tokens[:4], "proj", labels[:4])


@pytest.fixture(params=["table", "image", "sequence", "text"])
def model_case(request: pytest.FixtureRequest) -> ModelCase:
    """Each model kind in turn: the "models" axis of the methods × models table."""
    return request.getfixturevalue(f"{request.param}_case")
