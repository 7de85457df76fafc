"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os

# Before anything imports Qt: without a display, Qt aborts the whole run instead of one test.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random

import numpy as np
import pytest

from studio.core.registry import LayerRegistry

SEED = 1234


@pytest.fixture
def seed() -> int:
    """Seed Python's, numpy's and torch's generators; returns the seed used."""
    import torch

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    return SEED


@pytest.fixture
def registry() -> LayerRegistry:
    """A fresh registry holding the built-in layer catalog, registered as a plugin would be."""
    from studio.layers import register

    layer_registry = LayerRegistry()
    register(layer_registry)
    return layer_registry
