"""A small layer catalog for the core tests, independent of the real one in `studio.layers`.

Builders are import paths that nothing ever imports: the core never builds a layer.
It is a plain module (not only a fixture) so that child processes in the tests can use it.
"""

from __future__ import annotations

from studio.core.graph import Graph
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.specs import LayerSpec, ParamSpec, PortSpec

BUILDER = "tests.fake:build"

INPUT = LayerSpec(
    type_id="test.Input",
    title="Input",
    category="Data",
    help="Where samples enter the model.",
    builder=BUILDER,
    params=(ParamSpec("features", "int", 4, "Features per sample.", minimum=1, maximum=4096),),
    inputs=(),
    role="input",
)

OUTPUT = LayerSpec(
    type_id="test.Output",
    title="Output",
    category="Data",
    help="What the model returns.",
    builder=BUILDER,
    outputs=(),
    role="output",
)

CONV = LayerSpec(
    type_id="test.Conv",
    title="Conv",
    category="Convolution",
    help="A one-in, one-out layer with one param of every kind.",
    builder=BUILDER,
    params=(
        ParamSpec("channels", "int", 8, "Output channels.", minimum=1, maximum=1024),
        ParamSpec("dropout", "float", 0.0, "Drop probability.", minimum=0.0, maximum=1.0),
        ParamSpec("bias", "bool", True, "Learn an additive bias."),
        ParamSpec(
            "padding", "choice", "same", "How borders are handled.", choices=("same", "valid")
        ),
        ParamSpec(
            "kernel_size",
            "int_tuple",
            (3, 3),
            "Window height and width.",
            minimum=1,
            maximum=31,
            length=2,
        ),
        ParamSpec("note", "str", "", "Free text."),
        ParamSpec("groups", "int", None, "Optional groups.", minimum=1, maximum=64, nullable=True),
    ),
    key_params=("channels", "kernel_size"),
)

ADD = LayerSpec(
    type_id="test.Add",
    title="Add",
    category="Merge",
    help="Adds its inputs.",
    builder=BUILDER,
    params=(ParamSpec("inputs", "int", 2, "How many inputs.", minimum=2, maximum=4),),
    variadic_inputs="inputs",
)

SPLIT = LayerSpec(
    type_id="test.Split",
    title="Split",
    category="Merge",
    help="Two outputs from one input.",
    builder=BUILDER,
    outputs=(PortSpec("first"), PortSpec("second")),
)

SPECS = (INPUT, OUTPUT, CONV, ADD, SPLIT)


def make_registry() -> LayerRegistry:
    registry = LayerRegistry()
    for spec in SPECS:
        registry.register(spec, origin="tests")
    return registry


def build_sample_graph(graph: Graph) -> dict[str, str]:
    """image -> stem -> merge.in1, image -> merge.in2, merge -> head -> out.

    Node order: image, stem, merge, head, out (so `nodes[3]` is the Conv named head).
    Returns node ids by name. Ids are fixed so documents compare equal across processes.
    """
    ids = {name: f"node-{name}" for name in ("image", "stem", "merge", "head", "out")}
    graph.add_node("test.Input", name="image", node_id=ids["image"], params={"features": 3})
    graph.add_node("test.Conv", name="stem", node_id=ids["stem"], position=(100, 0))
    graph.add_node("test.Add", name="merge", node_id=ids["merge"], position=(200, 0))
    graph.add_node(
        "test.Conv",
        name="head",
        node_id=ids["head"],
        params={"kernel_size": [5, 5], "dropout": 0.25, "padding": "valid", "note": "héad ✓"},
        position=(300.5, -20),
    )
    graph.add_node("test.Output", name="out", node_id=ids["out"], position=(400, 0))
    graph.connect(ids["image"], "out", ids["stem"], "in", edge_id="edge-image-stem")
    graph.connect(ids["stem"], "out", ids["merge"], "in1", edge_id="edge-stem-merge")
    graph.connect(ids["image"], "out", ids["merge"], "in2", edge_id="edge-image-merge")
    graph.connect(ids["merge"], "out", ids["head"], "in", edge_id="edge-merge-head")
    graph.connect(ids["head"], "out", ids["out"], "in", edge_id="edge-head-out")
    return ids


def sample_project(registry: LayerRegistry) -> Project:
    project = Project("sample", registry, description="A small project for the tests.")
    build_sample_graph(project.main_graph)
    project.view = {"zoom": 1.5, "center": [10, 20]}
    return project


def grow(project: Project, layers: int) -> None:
    """Append a chain of `layers` Conv nodes after `stem` (fixed ids: deterministic)."""
    graph = project.main_graph
    previous = graph.node_by_name("head")
    assert previous is not None
    out = graph.node_by_name("out")
    assert out is not None
    graph.disconnect("edge-head-out")
    for i in range(layers):
        node = graph.add_node(
            "test.Conv",
            name=f"extra_{i}",
            node_id=f"extra-{i}",
            params={"channels": 1 + i % 1024, "note": "x" * 100},
            position=(500 + i, i % 7),
        )
        graph.connect(previous.id, "out", node.id, "in", edge_id=f"edge-extra-{i}")
        previous = node
    graph.connect(previous.id, "out", out.id, "in", edge_id="edge-last-out")
