"""Fixtures for export tests: templates exported once per module, with distinct batch sizes.

Examples are traced with a batch of 3 and verified on samples with a batch of 5, so every
format that claims a dynamic batch is checked to really have one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.export.subject import placeholder_inputs
from studio.plugins import default_registry
from studio.training.trained import TrainedRun
from tests.export.trained_runs import train_template

ROUND_TRIP_TEMPLATES = [
    "mlp_classifier",
    "cnn_classifier",
    "lstm_sequence",
    "transformer_classifier",
]
TRACE_BATCH = 3
SAMPLE_BATCH = 5


def load_template(stem: str) -> Project:
    return Project.load(examples_dir() / f"{stem}.strata", default_registry())


def template_inputs(project: Project) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """(trace inputs, verification samples) with different batch sizes."""
    graph = project.main_graph
    return (
        placeholder_inputs(graph, TRACE_BATCH, seed=0),
        placeholder_inputs(graph, SAMPLE_BATCH, seed=1),
    )


@pytest.fixture
def seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def mlp_project() -> Project:
    return load_template("mlp_classifier")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "export"


@pytest.fixture(scope="session")
def trained_mlp(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """The MLP classifier trained for 5 epochs on iris; seeded, so the same weights each time."""
    return train_template("mlp_classifier", tmp_path_factory.mktemp("trained_mlp"), epochs=5)
