"""The example plugin, pip-installed: its layers compile, train and export; its dataset and
format are discovered through their entry points like the built-ins."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core.graph import Graph
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import examples_dir
from studio.data.registry import discover_datasets
from studio.plugins import default_exporters, default_registry, discover_layers, survey_plugins
from studio.training.session import run_training
from studio.training.trained import load_run
from tests.export.trained_runs import export_run
from tests.plugins.installing import EXAMPLE_PLUGIN, on_path, pip_install

PLUGIN_LAYERS = ["extra.SqueezeExcite", "extra.SeparableConv2d", "extra.Mish"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("site") / "packages"
    pip_install(EXAMPLE_PLUGIN, target)
    with on_path(target):
        yield target


def test_layers_dataset_and_format_are_discovered(installed: Path) -> None:
    registry, reports = discover_layers()
    plugin = next(r for r in reports if r.distribution == "strata-extra-layers")
    assert plugin.ok and plugin.registered == PLUGIN_LAYERS
    assert all(type_id in default_registry() for type_id in PLUGIN_LAYERS)
    assert "strata-extra-layers" in registry.origin("extra.Mish")
    assert registry.get("extra.SeparableConv2d").category == "Convolution"

    datasets, _ = discover_datasets()
    assert datasets.get("extra.spirals").size == 1000
    assert "extra.npz" in default_exporters()[0]

    survey = {p.distribution: p for p in survey_plugins()}
    extra = survey["strata-extra-layers"]
    assert extra.version == "0.1.0" and extra.ok and not extra.builtin
    assert sorted(extra.reports) == ["studio.datasets", "studio.exporters", "studio.layers"]


Chain = list[tuple[str, str, dict[str, object]]]


def _chain_graph(registry: LayerRegistry, chain: Chain) -> Graph:
    """The layers of `chain` (type id, name, params), each feeding the next."""
    graph = Graph(registry)
    previous = None
    for i, (type_id, name, params) in enumerate(chain):
        node = graph.add_node(type_id, name=name, params=params, position=(i * 220.0, 0.0))
        if previous is not None:
            graph.connect(previous.id, "out", node.id, "in")
        previous = node
    return graph


def _train(template: str, folder: Path, graph_of: Chain, **data: object) -> Path:
    """A template project with its graph (and data settings) replaced, trained one epoch."""
    path = folder / "extra.strata"
    shutil.copy(examples_dir() / f"{template}.strata", path)
    project = Project.load(path, default_registry())
    project.graphs = {"model": _chain_graph(default_registry(), graph_of)}
    project.training = project.training.model_copy(update={"device": "cpu"})
    for key, value in data.items():
        setattr(project.data, key, value)
    project.save(path)
    with open(folder / "progress.txt", "w") as progress:
        result = run_training(Project.load(path, default_registry()), epochs=1, progress=progress)
    assert result.status == "completed", result.last_logs
    return path


#: digits (1, 8, 8) → SeparableConv2d → SqueezeExcite → Mish → GlobalAvgPool → Linear.
DIGITS_CNN: Chain = [
    ("studio.Input", "image", {"shape": [1, 8, 8], "dtype": "float"}),
    ("extra.SeparableConv2d", "sepconv", {"out_channels": 16}),
    ("extra.SqueezeExcite", "se", {"reduction": 4}),
    ("extra.Mish", "mish", {}),
    ("studio.GlobalAvgPool", "pool", {}),
    ("studio.Linear", "classifier", {"out_features": 10}),
    ("studio.Output", "digit", {}),
]

#: The plugin's spirals (2 features, 2 classes) through an MLP with the plugin's Mish.
SPIRALS_MLP: Chain = [
    ("studio.Input", "point", {"shape": [2], "dtype": "float"}),
    ("studio.Linear", "hidden", {"out_features": 32}),
    ("extra.Mish", "mish", {}),
    ("studio.Linear", "classifier", {"out_features": 2}),
    ("studio.Output", "spiral", {}),
]


def test_plugin_layers_train_and_export(installed: Path, tmp_path: Path) -> None:
    path = _train("cnn_classifier", tmp_path, DIGITS_CNN)
    trained = load_run(path)
    assert trained.project.data.dataset == "digits"
    assert {"sepconv.depthwise.weight", "se.reduce.weight"} <= set(trained.weights)

    formats = ["onnx", "extra.npz", "python"]
    report, _ = export_run(trained, formats, tmp_path / "out", registry=default_exporters()[0])
    assert report.ok, report.describe()
    assert [r.format for r in report.results if r.ok] == formats
    assert list((tmp_path / "out").glob("*.onnx")) and list((tmp_path / "out").glob("*.npz"))


def test_the_plugins_dataset_trains(installed: Path, tmp_path: Path) -> None:
    path = _train("mlp_classifier", tmp_path, SPIRALS_MLP, dataset="extra.spirals")
    trained = load_run(path)
    assert trained.project.data.dataset == "extra.spirals"
    assert len(trained.data.test) > 0
