"""Fixtures for the training tests: projects copied from the bundled examples."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import examples_dir


@pytest.fixture
def example(tmp_path: Path, registry: LayerRegistry) -> Callable[..., Project]:
    """`example("mlp_classifier", epochs=3)`: a bundled template, saved in tmp, settings changed."""

    def make(name: str, **training: object) -> Project:
        path = tmp_path / f"{name}.strata"
        shutil.copy(examples_dir() / f"{name}.strata", path)
        project = Project.load(path, registry)
        if training:
            project.training = project.training.model_copy(update=training)
        return project

    return make
