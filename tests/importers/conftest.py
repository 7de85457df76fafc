"""Fixtures for the importer tests: the source models, loaded as the importer loads a file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SOURCE_MODELS = Path(__file__).with_name("source_models.py")


@pytest.fixture(scope="session")
def source_models() -> ModuleType:
    spec = importlib.util.spec_from_file_location("strata_test_source_models", SOURCE_MODELS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
