"""The data against the graph: problems on Input and Output nodes that say what to change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.compile.inference import ShapeInference
from studio.core.project import Project
from studio.core.resources import examples_dir, list_templates
from studio.data.compatibility import check_project_data
from studio.data.registry import default_datasets
from studio.plugins import default_registry
from tests.data.conftest import section

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = {t.name: t.path for t in list_templates()}


def load(name: str) -> Project:
    return Project.load(TEMPLATES[name], default_registry())


def problems(project: Project) -> list[tuple[str | None, str, str]]:
    inferences = {n: ShapeInference(g, listen=False) for n, g in project.graphs.items()}
    for inference in inferences.values():
        inference.refresh()
    found = check_project_data(project, inferences=inferences)
    return [
        (
            None
            if graph is None
            else project.graphs[graph].node(p.node_id).name
            if p.node_id
            else graph,
            p.message,
            p.severity,
        )
        for graph, p in found
    ]


def input_node(project: Project, name: str):
    node = project.main_graph.node_by_name(name)
    assert node is not None
    return node


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_fits_its_dataset(name: str) -> None:
    project = load(name)
    assert project.data.dataset in default_datasets()
    assert problems(project) == []


def test_every_bundled_dataset_is_used_by_a_template() -> None:
    used = {load(name).data.dataset for name in TEMPLATES}
    assert used >= set(default_datasets().names())


def test_an_image_input_of_the_wrong_size() -> None:
    project = load("cnn_classifier")
    project.main_graph.set_param(input_node(project, "image").id, "shape", (1, 28, 28))
    assert problems(project)[0] == (
        "image",
        "this Input takes (1, 28, 28) per sample, but digits gives images of (1, 8, 8); set its "
        "shape to 1, 8, 8",
        "error",
    )


def test_a_float_input_for_token_ids_and_a_long_input_for_features() -> None:
    project = load("gru_text_classifier")
    project.main_graph.set_param(input_node(project, "tokens").id, "dtype", "float")
    found = problems(project)
    assert (
        "tokens",
        "this Input is float, but text gives integer token ids (long); set its dtype to long and "
        "feed it to an Embedding",
        "error",
    ) in found
    project = load("mlp_classifier")
    project.main_graph.set_param(input_node(project, "features").id, "dtype", "long")
    assert any("set its dtype to float" in message for _, message, _ in problems(project))


def test_an_embedding_smaller_than_the_vocabulary_is_a_warning() -> None:
    project = load("gru_text_classifier")
    embedding = project.main_graph.node_by_name("embedding")
    assert embedding is not None
    project.main_graph.set_param(embedding.id, "num_embeddings", 500)
    assert problems(project) == [
        (
            "embedding",
            "it has 500 rows but the vocabulary of text can reach 1,061 tokens; set "
            "num_embeddings to at least 1,061",
            "warning",
        )
    ]


def test_too_few_outputs_for_the_classes_and_a_wrong_task() -> None:
    project = load("mlp_classifier")
    project.data.dataset = "digits"
    found = problems(project)
    assert (
        "features",
        "this Input takes (4,) per sample, but digits gives images of (1, 8, 8); "
        "set its shape to 1, 8, 8",
        "error",
    ) in found
    assert any(
        name == "species" and "digits has 10 classes; make the last layer give 10 values" in msg
        for name, msg, _ in found
    )
    project = load("mlp_classifier")
    project.data.dataset = "diabetes"
    found = problems(project)
    assert (
        None,
        "the training task is classification, but diabetes is a regression dataset; set the "
        "training task to regression",
        "error",
    ) in found


def test_two_class_data_accepts_one_output() -> None:
    project = load("gru_text_classifier")
    classifier = project.main_graph.node_by_name("classifier")
    assert classifier is not None
    project.main_graph.set_param(classifier.id, "out_features", 1)
    assert problems(project) == []
    project.main_graph.set_param(classifier.id, "out_features", 3)
    assert problems(project)[0][1].startswith("the model gives (3,) per sample, but text has 2")


def test_an_autoencoder_must_rebuild_its_input_and_a_gan_make_samples() -> None:
    project = load("conv_autoencoder")
    project.data.dataset = "digits"
    found = problems(project)
    assert found[0][0] == "image" and "(1, 8, 8)" in found[0][1]
    assert any("an autoencoder rebuilds its input, (1, 8, 8)" in m for _, m, _ in found)
    project = load("gan")
    project.data.dataset = "shapes"
    found = problems(project)
    assert (
        "image",
        "this Input takes (1, 8, 8) per sample, but shapes gives images of (1, 32, 32); "
        "set its shape to 1, 32, 32",
        "error",
    ) in found
    assert any(
        "the generator must make samples like those of shapes, (1, 32, 32)" in m
        for _, m, _ in found
    )


def test_two_data_inputs_and_one_input_node(tmp_path: Path, registry) -> None:
    (tmp_path / "cars.csv").write_text("colour,size,price\nred,1,3\nblue,2,4\nred,3,5\n")
    project = load("mlp_regressor")
    project.data = section(
        kind="table", path="cars.csv", categorical_encoding="index", task="regression"
    )
    project.path = tmp_path / "cars.strata"
    found = problems(project)
    assert found[0][0] == "features"
    assert found[0][1].startswith(
        "cars.csv gives 2 inputs (features (1,) float and categories (1,) long) but the graph "
        "has 1 Input; add an Input for categories (1,) long"
    )


def test_unreadable_data_is_one_data_problem(tmp_path: Path) -> None:
    project = load("mlp_classifier")
    project.data = section(kind="table", path="missing.csv")
    project.path = tmp_path / "p.strata"
    assert problems(project) == [(None, "missing.csv: no such file", "error")]


def test_a_project_without_data_is_not_checked() -> None:
    project = load("mlp_classifier")
    project.data.dataset = None
    assert problems(project) == []


def test_studio_validate_reports_data_problems(tmp_path: Path, capsys) -> None:
    document = json.loads((examples_dir() / "cnn_classifier.strata").read_text())
    for node in document["graphs"][0]["nodes"]:
        if node["type"] == "studio.Input":
            node["params"]["shape"] = [1, 28, 28]
    path = tmp_path / "mnist_sized.strata"
    path.write_text(json.dumps(document))
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("image: this Input takes (1, 28, 28) per sample, but digits gives")
    assert "1 problem" in err
    document["data"] = {"source": {"kind": "table", "path": "gone.csv"}}
    path.write_text(json.dumps(document))
    assert main(["validate", str(path)]) == 1
    assert "data: gone.csv: no such file" in capsys.readouterr().out


def test_checking_a_bundled_dataset_imports_no_torch() -> None:
    code = (
        "import json, sys\n"
        "from studio.core.project import Project\n"
        "from studio.plugins import default_registry\n"
        "from studio.data.compatibility import check_project_data\n"
        f"project = Project.load({str(TEMPLATES['cnn_classifier'])!r}, default_registry())\n"
        "assert check_project_data(project) == []\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    assert not set(json.loads(result.stdout)) & {"torch", "numpy", "pandas"}
