"""The registry lists datasets without loading them; what it says matches what loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

from studio.core.project import DataSection
from studio.data.catalog import BUNDLED, TEXT_VOCABULARY_BOUND
from studio.data.errors import DataError
from studio.data.prepare import prepare_data, signature_of
from studio.data.registry import (
    BUILTIN_ENTRY,
    DATASET_GROUP,
    DatasetRegistry,
    DuplicateDatasetError,
    default_datasets,
    discover_datasets,
)
from studio.data.sources import read_data

ROOT = Path(__file__).resolve().parents[2]
NAMES = [info.name for info in BUNDLED]


def test_the_bundled_datasets_are_registered() -> None:
    assert default_datasets().names()[:6] == [
        "iris",
        "digits",
        "diabetes",
        "shapes",
        "sine",
        "text",
    ]
    info = default_datasets().get("digits")
    assert info.kind == "image" and info.task == "classification"
    assert info.sample_shape == (1, 8, 8) and info.size == 1797 and info.licence == "CC BY 4.0"
    assert info.size_text() == "1,797 images; image (1, 8, 8) float → 10 classes"


@pytest.mark.parametrize("name", NAMES)
def test_what_the_registry_says_is_what_loading_measures(name: str) -> None:
    info = default_datasets().get(name)
    raw = read_data(DataSection(dataset=name))
    assert signature_of(raw) == info.signature
    if info.unit == "time steps":
        assert sum(len(v) for _, v in raw.encoder.series) == info.size  # type: ignore[attr-defined]
    else:
        assert len(raw) == info.size


def test_the_text_vocabulary_bound_is_the_corpus_vocabulary() -> None:
    raw = read_data(DataSection(dataset="text"))
    assert raw.encoder.vocabulary_bound() == TEXT_VOCABULARY_BOUND  # type: ignore[attr-defined]
    prepared = prepare_data(DataSection(dataset="text"))
    assert prepared.state.vocabulary is not None
    assert len(prepared.state.vocabulary) < TEXT_VOCABULARY_BOUND


def test_listing_and_checking_import_neither_torch_nor_numpy() -> None:
    code = (
        "import json, sys\n"
        "from studio.data.registry import default_datasets\n"
        "infos = [i.size_text() for i in default_datasets()]\n"
        "import studio.data.compatibility\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    loaded = set(json.loads(result.stdout))
    assert not loaded & {"torch", "numpy", "pandas", "PIL"}


def test_duplicates_raise_and_unknown_names_list_the_known_ones() -> None:
    registry = DatasetRegistry()
    registry.register(BUNDLED[0])
    with pytest.raises(DuplicateDatasetError, match="'iris' is already registered by studio"):
        registry.register(BUNDLED[0], origin="plugin x")
    with pytest.raises(DataError, match=r"no dataset named 'mnist'.*\(iris\)"):
        registry.get("mnist")


def broken(registry: DatasetRegistry) -> None:
    raise RuntimeError("plugin bug")


def duplicate(registry: DatasetRegistry) -> None:
    registry.register(BUNDLED[0])


def test_a_broken_plugin_is_reported_and_skipped() -> None:
    entries = [
        EntryPoint("broken", f"{__name__}:broken", DATASET_GROUP),
        EntryPoint("dupe", f"{__name__}:duplicate", DATASET_GROUP),
    ]
    registry, reports = discover_datasets(entries)
    assert registry.names() == NAMES
    by_name = {r.name: r for r in reports}
    assert by_name["builtin"].ok and by_name["builtin"].registered == NAMES
    assert "RuntimeError: plugin bug" in by_name["broken"].errors[0]
    assert "already registered" in by_name["dupe"].errors[0]
    assert any(e.value == BUILTIN_ENTRY for e in entries)


def test_bundled_files_are_small_and_documented() -> None:
    folder = ROOT / "assets" / "datasets"
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert total < 2 * 1024 * 1024
    readme = (folder / "README.md").read_text(encoding="utf-8")
    for info in BUNDLED:
        assert f"`{info.name}`" in readme and info.licence.split(" (")[0] in readme
        for file in info.files:
            assert (folder / file).is_file() and file in readme


def test_generated_datasets_are_deterministic() -> None:
    from studio.data.generators import generate_shapes, generate_sine_series

    a_images, a_labels, a_masks = generate_shapes(60, seed=3)
    b_images, b_labels, b_masks = generate_shapes(60, seed=3)
    assert np.array_equal(a_images, b_images) and np.array_equal(a_labels, b_labels)
    assert np.array_equal(a_masks, b_masks)
    assert not np.array_equal(generate_shapes(60, seed=4)[0], a_images)
    assert np.array_equal(generate_sine_series(2, seed=1), generate_sine_series(2, seed=1))
