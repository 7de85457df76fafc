"""The project file: round trips, a ProjectError naming file and JSON path for every bad input,
migrations, and saves that are atomic even when the process is killed mid-write."""

from __future__ import annotations

import copy
import errno
import json
import math
import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core import project as project_module
from studio.core.errors import ProjectError, StudioError
from studio.core.graph import Graph
from studio.core.project import SCHEMA_VERSION, DataSection, Project
from studio.core.registry import LayerRegistry

from .fake_layers import build_sample_graph, grow, make_registry, sample_project

Document = dict[str, Any]
CORE_TESTS = Path(__file__).parent


@pytest.fixture
def project(registry: LayerRegistry) -> Project:
    return sample_project(registry)


@pytest.fixture
def document(project: Project) -> Document:
    return project.to_dict()


def write(path: Path, content: Document | str | bytes) -> Path:
    if isinstance(content, dict):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def load_error(path: Path, registry: LayerRegistry) -> str:
    """Load must fail with a ProjectError whose message starts with the file name."""
    with pytest.raises(ProjectError) as info:
        Project.load(path, registry)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message


def edge_index(document: Document, edge_id: str) -> int:
    return [e["id"] for e in document["graphs"][0]["edges"]].index(edge_id)


# ----------------------------------------------------------------- round trips
def test_save_load_round_trip(project: Project, registry: LayerRegistry, tmp_path: Path) -> None:
    path = tmp_path / "demo.strata"
    assert project.save(path) == path
    assert project.path == path
    text = path.read_text(encoding="utf-8")
    assert text == project.to_json() and text.endswith("}\n")
    assert "héad ✓" in text  # readable, not \\u-escaped
    loaded = Project.load(path, registry)
    assert loaded.path == path
    assert loaded.to_dict() == project.to_dict()
    assert loaded.to_dict()["schema_version"] == SCHEMA_VERSION
    head = loaded.main_graph.node("node-head")
    assert head.params["kernel_size"] == (5, 5)
    assert loaded.main_graph.index_of("node-head") == 3
    # Saving what was loaded writes the same bytes: the format is stable.
    loaded.save()
    assert path.read_text(encoding="utf-8") == text


def test_round_trip_of_several_graphs_and_settings(registry: LayerRegistry, tmp_path: Path) -> None:
    generator, discriminator = Graph(registry), Graph(registry)
    build_sample_graph(generator)
    discriminator.add_node("test.Input", name="sample", position=(-1e7, 1e7))
    project = Project(
        "gan",
        registry,
        graphs={"generator": generator, "discriminator": discriminator},
        description="two graphs\nand a newline",
    )
    project.training.mode = "gan"
    project.training.epochs = 3
    project.data.dataset = "mnist"
    project.view = {"open_graph": "discriminator", "zoom": [1, 2.5, None, True]}
    loaded = Project.load(project.save(tmp_path / "gan.strata"), registry)
    assert list(loaded.graphs) == ["generator", "discriminator"]
    assert loaded.main_graph.to_dict() == generator.to_dict()
    assert loaded.to_dict() == project.to_dict()


def test_unknown_settings_of_later_features_survive(
    document: Document, registry: LayerRegistry, tmp_path: Path
) -> None:
    document["training"]["optimizer"] = {"name": "adamw", "betas": [0.9, 0.99]}
    document["data"]["split"] = 0.8
    loaded = Project.load(write(tmp_path / "a.strata", document), registry)
    assert loaded.to_dict()["training"]["optimizer"] == {"name": "adamw", "betas": [0.9, 0.99]}
    assert loaded.to_dict()["data"]["split"] == 0.8


def test_lone_surrogate_text_loads_and_saves_again(
    document: Document, registry: LayerRegistry, tmp_path: Path
) -> None:
    document["graphs"][0]["nodes"][3]["params"]["note"] = "bad \ud800 half"
    document["view"]["label"] = "\udfff"
    path = tmp_path / "a.strata"
    path.write_text(json.dumps(document, ensure_ascii=True), encoding="utf-8")
    loaded = Project.load(path, registry)
    loaded.save()
    again = Project.load(path, registry)
    assert again.to_dict() == loaded.to_dict()
    assert again.main_graph.node("node-head").params["note"] == "bad \ud800 half"


# Any JSON value: what a hand-edited view or a later version's settings may hold.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
# Where such values go: free-form parts, later settings, and typed numbers of every section.
VALUE_PLACES: list[tuple[Any, ...]] = [
    ("view", "zoom"),
    ("view", "panels"),
    ("training", "later_setting"),
    ("training", "optimizer", "betas"),
    ("training", "batch_size"),
    ("training", "learning_rate"),
    ("training", "compile"),
    ("training", "scheduler", "gamma"),
    ("data", "later_setting"),
    ("data", "splits", "validation"),
    ("data", "loader", "workers"),
    ("data", "augmentation", "flip_horizontal"),
    ("graphs", 0, "nodes", 0, "position", 0),
    ("graphs", 0, "nodes", 3, "params", "dropout"),
]


def exact(value: Any) -> str:
    """JSON text that tells `true` from `1` and `1` from `1.0` (Python's == does not)."""
    return json.dumps(value, sort_keys=True, allow_nan=True, ensure_ascii=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(st.tuples(st.sampled_from(VALUE_PLACES), JSON_VALUES), min_size=1, max_size=4)
)
def test_any_document_that_loads_saves_to_one_that_loads_equal(
    changes: list[tuple[tuple[Any, ...], Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever loads saves, and the saved file loads to the same project: nothing turns into
    null, vanishes or changes on the way, and the free-form parts keep their exact values."""
    registry = make_registry()
    tmp_path = tmp_path_factory.mktemp("round-trip")
    document = sample_project(registry).to_dict()
    for keys, value in changes:
        set_in(*keys, value=copy.deepcopy(value))(document)
    try:
        loaded = Project.from_json(
            json.dumps(document, allow_nan=True), registry, source="fuzzed.strata"
        )
    except ProjectError as exc:
        assert str(exc).startswith("fuzzed.strata: "), exc
        return
    path = loaded.save(tmp_path / "saved.strata")
    again = Project.load(path, registry)
    assert exact(again.to_dict()) == exact(loaded.to_dict())
    saved = again.to_dict()
    for keys in [("view",), ("training", "later_setting"), ("data", "later_setting")]:
        original, kept = document, saved
        for key in keys:
            original, kept = original.get(key, {}), kept.get(key, {})
        assert exact(kept) == exact(original), keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"view": {"zoom": 1e999}', "view.zoom: the number is too large"),
        ('"view": {"marks": [1, -1e400]}', "view.marks[1]: the number is too large"),
        ('"view": {"big": 99999999999999999999999}', "view.big: the number is too large"),
        ('"view": {"x": {"y z": 2e308}}', 'view.x["y z"]: the number is too large'),
    ],
)
def test_numbers_that_could_not_be_saved_again_are_refused_on_load(
    document: Document, registry: LayerRegistry, tmp_path: Path, text: str, expected: str
) -> None:
    """`1e999` is no NaN or Infinity literal but parses as infinity: the project used to open
    and then fail on every save (or write null for the number in the settings)."""
    document["view"] = {}
    raw = json.dumps(document).replace('"view": {}', text)
    assert text in raw
    message = load_error(write(tmp_path / "big.strata", raw), registry)
    assert f": {expected} for a project file" in message, message


@pytest.mark.parametrize(
    ("place", "value", "expected"),
    [
        (("training", "batch_size"), True, "training.batch_size: must be an integer"),
        (("training", "epochs"), False, "training.epochs: must be an integer"),
        (("training", "learning_rate"), True, "training.learning_rate: must be a number"),
        (("training", "compile"), 1, "training.compile: must be true or false"),
        (("training", "compile"), "no", "training.compile: must be true or false"),
        (("training", "optimizer"), {"momentum": True}, "training.optimizer.momentum: must be"),
        (("training", "scheduler"), {"step_size": True}, "training.scheduler.step_size: must be"),
        (("data", "loader"), {"workers": True}, "data.loader.workers: must be an integer"),
        (("data", "loader"), {"shuffle": "yes"}, "data.loader.shuffle: must be true or false"),
        (("data", "splits"), {"seed": True}, "data.splits.seed: must be an integer"),
        (
            ("data", "source"),
            {"kind": "image_folder", "path": "x", "size": [True, 32]},
            "data.source.image_folder.size[0]: must be an integer",
        ),
        (("graphs", 0, "nodes", 0, "position"), [True, 0], "graphs[0].nodes[0].position[0]"),
    ],
)
def test_booleans_are_not_numbers_nor_numbers_switches(
    document: Document,
    registry: LayerRegistry,
    tmp_path: Path,
    place: tuple[Any, ...],
    value: Any,
    expected: str,
) -> None:
    """`batch_size: true` used to train with batches of 1, and `compile: "no"` compiled."""
    set_in(*place, value=value)(document)
    message = load_error(write(tmp_path / "typed.strata", document), registry)
    assert expected in message, message


def test_the_window_still_sets_sizes_from_lists(registry: LayerRegistry) -> None:
    """Strict settings still take a JSON list for an image size (JSON has no tuple)."""
    section = DataSection.model_validate(
        {"source": {"kind": "image_folder", "path": "x", "size": [28, 28]}}
    )
    assert section.source is not None and section.source.size == (28, 28)  # type: ignore[union-attr]


def test_settings_are_checked_when_assigned(project: Project) -> None:
    # Otherwise a project would save what it cannot load again (or fail to save at all).
    with pytest.raises(ValueError, match="epochs"):
        project.training.epochs = 0
    with pytest.raises(ValueError, match="learning_rate"):
        project.training.learning_rate = math.nan
    with pytest.raises(ValueError, match="dataset"):
        project.data.dataset = 3  # type: ignore[assignment]
    assert project.training.epochs == 10 and project.training.learning_rate == 1e-3
    project.training.batch_size = 64
    assert project.training.batch_size == 64


def test_saving_needs_a_path(registry: LayerRegistry) -> None:
    with pytest.raises(ProjectError, match="choose where to save"):
        Project("p", registry).save()


def test_load_does_not_change_the_source_document(
    document: Document, registry: LayerRegistry
) -> None:
    original = copy.deepcopy(document)
    Project.from_dict(document, registry, source="x")
    assert document == original


# ----------------------------------------------------------------- bad documents
def set_in(*keys: Any, value: Any) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def delete(*keys: Any) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return mutate


def node(i: int, *keys: Any, value: Any) -> Callable[[Document], None]:
    return set_in("graphs", 0, "nodes", i, *keys, value=value)


def edge(edge_id: str, key: str, value: Any) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        document["graphs"][0]["edges"][edge_index(document, edge_id)][key] = value

    return mutate


def add_edge(**fields: str) -> Callable[[Document], None]:
    return lambda document: document["graphs"][0]["edges"].append({"id": "extra", **fields})


P = "graphs[0]"
BAD_DOCUMENTS: list[tuple[str, Callable[[Document], None], str]] = [
    # the graph
    (
        "cycle",
        edge("edge-image-stem", "src", "node-head"),
        f"{P}.edges[3]: connecting merge to head would make a cycle",
    ),
    ("self loop", edge("edge-merge-head", "src", "node-head"), f"{P}.edges[3]: head cannot feed"),
    (
        "occupied port",
        add_edge(src="node-image", src_port="out", dst="node-head", dst_port="in"),
        f"{P}.edges[5]: head.in is already fed by merge",
    ),
    ("unknown port", edge("edge-image-stem", "src_port", "nope"), f"{P}.edges[0]: image has no"),
    (
        "output to output",
        edge("edge-merge-head", "dst_port", "out"),
        f"{P}.edges[3]: head.out is an output",
    ),
    ("edge to missing node", edge("edge-head-out", "dst", "ghost"), f"{P}.edges[4].dst: no node"),
    ("edge from missing node", edge("edge-image-stem", "src", "gone"), f"{P}.edges[0].src: no"),
    (
        "duplicate edge id",
        edge("edge-stem-merge", "id", "edge-image-stem"),
        f"{P}.edges[1].id: the id 'edge-image-stem' is used by an earlier connection",
    ),
    (
        "duplicate node id",
        node(3, "id", value="node-stem"),
        f"{P}.nodes[3].id: the id 'node-stem' is used by an earlier node",
    ),
    (
        "duplicate node name",
        node(3, "name", value="stem"),
        f"{P}.nodes[3].name: the name 'stem' is used by an earlier node",
    ),
    (
        "duplicate graph name",
        lambda d: d["graphs"].append(copy.deepcopy(d["graphs"][0])),
        "graphs[1].name: the graph name 'model' is used twice",
    ),
    # layers and params
    (
        "unknown layer",
        node(1, "type", value="nope.Layer"),
        f"{P}.nodes[1].type: unknown layer type 'nope.Layer'",
    ),
    (
        "param out of range",
        node(3, "params", "kernel_size", value=[0, 3]),
        f"{P}.nodes[3].params.kernel_size: must be between 1 and 31",
    ),
    (
        "int param out of range",
        node(3, "params", "channels", value=0),
        f"{P}.nodes[3].params.channels: must be between 1 and 1024",
    ),
    (
        "float param beyond float",
        node(3, "params", "dropout", value=10**400),
        f"{P}.nodes[3].params.dropout: the number is too large for a project file",
    ),
    (
        "param of the wrong type",
        node(3, "params", "bias", value="yes"),
        f"{P}.nodes[3].params.bias: must be true or false",
    ),
    (
        "bool for an int param",
        node(0, "params", "features", value=True),
        f"{P}.nodes[0].params.features: must be an integer",
    ),
    (
        "unknown param",
        node(3, "params", "colour", value="red"),
        f"{P}.nodes[3].params.colour: Conv has no parameter of that name",
    ),
    (
        "variadic count below a connected port",
        node(2, "params", "inputs", value=1),
        f"{P}.nodes[2].params.inputs: must be between 2 and 4",
    ),
    # the schema
    ("name of the wrong type", set_in("name", value=5), "name: must be text"),
    ("graphs not a list", set_in("graphs", value={}), "graphs: must be a list"),
    ("no graphs", set_in("graphs", value=[]), "graphs: list should have at least 1 item"),
    ("node not an object", node(2, "position", value="here"), f"{P}.nodes[2].position: must be"),
    (
        "position out of range",
        node(0, "position", value=[2e7, 0]),
        f"{P}.nodes[0].position[0]: input should be less than or equal to 10000000",
    ),
    ("bad node name", node(2, "name", value="has space"), f"{P}.nodes[2].name: must use letters"),
    ("node without type", delete("graphs", 0, "nodes", 4, "type"), f"{P}.nodes[4].type: is req"),
    ("missing name", delete("name"), "name: is required"),
    ("unknown field", set_in("colour", value="red"), "colour: is not a known field"),
    ("epochs not int", set_in("training", "epochs", value="ten"), "training.epochs: must be an"),
    (
        "learning rate zero",
        set_in("training", "learning_rate", value=0),
        "training.learning_rate: input should be greater than 0",
    ),
    ("mode unknown", set_in("training", "mode", value="rl"), "training.mode: must be one of"),
    # versions
    (
        "newer schema",
        set_in("schema_version", value=SCHEMA_VERSION + 1),
        "schema_version: the file was written by a newer Strata Studio",
    ),
    ("schema as text", set_in("schema_version", value="1"), "schema_version: must be an integer"),
    ("schema as bool", set_in("schema_version", value=True), "schema_version: must be an integer"),
    ("no schema", delete("schema_version"), "schema_version: must be an integer"),
    ("schema zero", set_in("schema_version", value=0), "schema_version: must be at least 1"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [case[1:] for case in BAD_DOCUMENTS],
    ids=[case[0] for case in BAD_DOCUMENTS],
)
def test_bad_document_names_file_and_path(
    document: Document,
    registry: LayerRegistry,
    tmp_path: Path,
    mutate: Callable[[Document], None],
    expected: str,
) -> None:
    Project.from_dict(copy.deepcopy(document), registry, source="ok")  # the base is fine
    mutate(document)
    path = write(tmp_path / "broken.strata", document)
    message = load_error(path, registry)
    assert message.startswith(f"{path}: {expected}"), message


def test_several_problems_are_counted(document: Document, registry: LayerRegistry) -> None:
    document["name"] = 5
    document["training"]["epochs"] = 0
    with pytest.raises(ProjectError, match=r"^x: name: must be text \(and 1 more problem\)$"):
        Project.from_dict(document, registry, source="x")


BAD_TEXTS: list[tuple[str, Callable[[str], str | bytes], str]] = [
    ("truncated", lambda t: t[: len(t) // 2], "the file ends unexpectedly"),
    ("truncated at the end", lambda t: t.rstrip()[:-1], "the file ends unexpectedly"),
    ("syntax error", lambda t: t.replace('"name": "sample",', '"name": "sample"', 1), "not valid"),
    ("trailing garbage", lambda t: t + "}", "not valid JSON at line"),
    ("empty", lambda t: "", "the file is empty"),
    ("only whitespace", lambda t: " \n\t\n", "the file is empty"),
    (
        "NaN literal",
        lambda t: t.replace('"learning_rate": 0.001', '"learning_rate": NaN'),
        "training.learning_rate: NaN is not allowed",
    ),
    (
        "Infinity literal",
        lambda t: t.replace('"dropout": 0.25', '"dropout": Infinity'),
        f"{P}.nodes[3].params.dropout: Infinity is not allowed",
    ),
    (
        "-Infinity in a list",
        lambda t: t.replace('"position": [\n', '"position": [-Infinity, \n', 1),
        f"{P}.nodes[0].position[0]: -Infinity is not allowed",
    ),
    ("NaN at the top", lambda t: "NaN", "the document: NaN is not allowed"),
    ("not UTF-8", lambda t: t.replace("héad", "h\udce9ad").encode("utf-8", "surrogateescape"), ""),
    ("UTF-16", lambda t: t.encode("utf-16"), "not UTF-8 text (byte 0)"),
    ("binary", lambda t: bytes(range(256)), "not UTF-8 text (byte 128)"),
    ("deep lists", lambda t: "[" * 100_000, "nested too deeply"),
    ("deep objects", lambda t: '{"a":' * 100_000, "nested too deeply"),
    ("deep and closed", lambda t: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("top-level list", lambda t: "[]", "a project file holds a JSON object at the top level"),
    ("top-level string", lambda t: '"project"', "a project file holds a JSON object"),
    ("top-level null", lambda t: "null", "a project file holds a JSON object"),
    ("huge integer literal", lambda t: t.replace("0.25", "1" * 5000), ""),
]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [case[1:] for case in BAD_TEXTS],
    ids=[case[0] for case in BAD_TEXTS],
)
def test_bad_file_names_file_and_problem(
    project: Project,
    registry: LayerRegistry,
    tmp_path: Path,
    damage: Callable[[str], str | bytes],
    expected: str,
) -> None:
    path = write(tmp_path / "broken.strata", damage(project.to_json()))
    message = load_error(path, registry)
    assert expected in message, message


def test_non_utf8_names_the_byte(tmp_path: Path, registry: LayerRegistry) -> None:
    path = write(tmp_path / "a.strata", b'{"name": "\xff"}')
    assert (
        load_error(path, registry) == f"{path}: not UTF-8 text (byte 10); is this a project file?"
    )


def test_syntax_error_names_line_and_column(
    project: Project, registry: LayerRegistry, tmp_path: Path
) -> None:
    text = project.to_json().replace('"name": "sample",', '"name": "sample"', 1)
    message = load_error(write(tmp_path / "a.strata", text), registry)
    assert "not valid JSON at line 4, column 3" in message


def test_directory_missing_and_oversized_files(
    registry: LayerRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "folder.strata"
    folder.mkdir()
    assert "is a folder" in load_error(folder, registry)
    assert "no such file" in load_error(tmp_path / "missing.strata", registry)
    monkeypatch.setattr(project_module, "MAX_FILE_BYTES", 100)
    big = write(tmp_path / "big.strata", "{" + " " * 200 + "}")
    assert "larger than" in load_error(big, registry)


def test_project_error_is_a_studio_error() -> None:
    assert issubclass(ProjectError, StudioError)


# ----------------------------------------------------------------- migrations
def test_migration_runs_from_v1_to_v2(
    document: Document, registry: LayerRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend schema 1 called the project's name "title" and schema 2 renamed it.
    calls: list[int] = []

    def title_to_name(doc: dict[str, Any]) -> dict[str, Any]:
        calls.append(doc["schema_version"])
        doc["name"] = doc.pop("title")
        return doc

    monkeypatch.setattr(project_module, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(project_module, "MIGRATIONS", {1: title_to_name})
    document["schema_version"] = 1
    document["title"] = document.pop("name")
    loaded = Project.load(write(tmp_path / "old.strata", document), registry)
    assert calls == [1]
    assert loaded.name == "sample"
    assert loaded.to_dict()["schema_version"] == 2
    loaded.save()
    saved = json.loads((tmp_path / "old.strata").read_text(encoding="utf-8"))
    assert saved["schema_version"] == 2 and "title" not in saved
    # A current (v2) file is not migrated again.
    assert Project.load(tmp_path / "old.strata", registry).to_dict() == loaded.to_dict()
    assert calls == [1]


def test_migrations_chain_in_order(
    document: Document, registry: LayerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def step(doc: dict[str, Any]) -> dict[str, Any]:
        seen.append(doc["schema_version"])
        return doc

    monkeypatch.setattr(project_module, "SCHEMA_VERSION", 4)
    monkeypatch.setattr(project_module, "MIGRATIONS", {1: step, 2: step, 3: step})
    document["schema_version"] = 1
    assert Project.from_dict(document, registry, source="x").to_dict()["schema_version"] == 4
    assert seen == [1, 2, 3]
    with pytest.raises(ProjectError, match="this version writes 4"):
        Project.from_dict({"schema_version": "4"}, registry, source="x")
    with pytest.raises(ProjectError, match="reads up to 4"):
        Project.from_dict({"schema_version": 5}, registry, source="x")


# ----------------------------------------------------------------- atomic save
@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_save_leaves_the_old_file_whole(
    project: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    path = project.save(tmp_path / "demo.strata")
    old = path.read_bytes()
    grow(project, 50)

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing, disk_full)
    with pytest.raises(ProjectError) as info:
        project.save(path)
    monkeypatch.undo()
    message = str(info.value)
    assert message.startswith(f"{path}: could not be saved")
    assert os.strerror(errno.ENOSPC) in message and "unchanged" in message
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["demo.strata"]  # no temp file left behind


def test_failed_first_save_creates_nothing(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(ProjectError, match=r"new\.strata: could not be saved"):
        project.save(tmp_path / "new.strata")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []
    assert project.path is None  # the project still has no file


def test_save_into_a_missing_folder(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "demo.strata"
    with pytest.raises(ProjectError, match="could not be saved"):
        project.save(path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_save_keeps_the_file_mode(project: Project, tmp_path: Path, mode: int) -> None:
    path = project.save(tmp_path / "shared.strata")
    path.chmod(mode)
    project.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == mode


CHILD = """
import sys
sys.path.insert(0, sys.argv[2])
from fake_layers import grow, make_registry
from studio.core.project import Project

path = sys.argv[1]
registry = make_registry()
small = Project.load(path, registry)
big = Project.load(path, registry)
grow(big, int(sys.argv[3]))
# Serialise once, so that the kills land in the file operations rather than in json.dumps.
for project in (small, big):
    project.to_json = (lambda text: lambda: text)(project.to_json())
print("ready", flush=True)
while True:
    big.save(path)
    small.save(path)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_save_leaves_old_or_new_never_torn(
    project: Project, registry: LayerRegistry, tmp_path: Path
) -> None:
    """SIGKILL a process that saves in a loop; each time the file is one whole document."""
    kills, layers = 15, 1500
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    old = project.to_dict()
    grow(project, layers)
    new = project.to_dict()
    paths = []
    for i in range(kills):
        (tmp_path / str(i)).mkdir()
        paths.append(sample_project(registry).save(tmp_path / str(i) / "demo.strata"))
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(CORE_TESTS), str(layers)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for path in paths
    ]

    def kill_at_random(child: subprocess.Popen[str], delay: float) -> None:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()

    try:
        delays = [rng.uniform(0, 0.05) for _ in children]
        with ThreadPoolExecutor(len(children)) as pool:
            list(pool.map(kill_at_random, children, delays))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
            child.wait()
            assert child.stdout is not None
            child.stdout.close()
    for child in children:
        assert child.returncode == -signal.SIGKILL, f"seed {seed}"
    for path in paths:
        document = Project.load(path, registry).to_dict()
        assert document in (old, new), f"torn file {path} (seed {seed})"
        leftovers = set(os.listdir(path.parent)) - {"demo.strata"}
        assert all(n.startswith(".demo.strata.") and n.endswith(".tmp") for n in leftovers)
