"""Does the data fit the graph? Problems on the Input (and Output) nodes, in plain sentences.

"This Input takes (1, 28, 28) per sample, but digits gives images of (1, 8, 8): set its
shape to 1, 8, 8." A bundled dataset is described by the registry, so `studio validate`
checks it without reading data or importing torch; a file source is read (no torch either).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from studio.compile.inference import Problem, ShapeInference
from studio.core.graph import Graph, Node
from studio.core.project import DataSection, Project
from studio.data.access import SOURCE_PATH_FIELDS, outside_warning
from studio.data.errors import DataError
from studio.data.signature import DataKind, DataSignature, InputSpec, format_dims

GraphProblem = tuple[str | None, Problem]

__all__ = ["SOURCE_PATH_FIELDS", "check_project", "check_project_data", "data_signature"]

_WHAT = {
    "table": "features",
    "image": "images",
    "sequence": "windows (steps, channels)",
    "text": "token ids",
}


def data_signature(section: DataSection, base_dir: Path | None = None) -> tuple[DataSignature, str]:
    """(signature, name for messages) of the data a project names.

    A bundled dataset's signature comes from the registry (nothing is read); a file is read
    with the project's settings (numpy and pandas, no torch).
    """
    if section.source is None and section.dataset:
        from studio.data.registry import default_datasets

        return default_datasets().get(section.dataset).signature, section.dataset
    from studio.data.prepare import signature_of
    from studio.data.sources import read_data

    raw = read_data(section, base_dir)
    return signature_of(raw), raw.name


def check_project(project: Project) -> list[GraphProblem]:
    """Everything `studio validate` reports: each graph's shape problems, then the data's.

    `validate` prints these; `train` refuses to start on any error among them, so a run never
    begins on a project that validate calls broken (float labels for a classifier, a graph
    that does not fit the data).
    """
    inferences = {name: ShapeInference(g, listen=False) for name, g in project.graphs.items()}
    found: list[GraphProblem] = [
        (name, problem)
        for name, inference in inferences.items()
        for problem in inference.problems()
    ]
    if project.data.names_data:
        found += check_project_data(project, inferences=inferences)
    return found


def check_project_data(
    project: Project,
    *,
    inferences: Mapping[str, ShapeInference] | None = None,
) -> list[GraphProblem]:
    """Problems between the project's data and its graphs, as (graph name, problem) pairs.

    Nothing is checked when the project names no data. A problem that belongs to no node
    (the data cannot be read, the task does not match) has graph name None.

    Args:
        project: the project; relative data paths start at its file's folder.
        inferences: shape inference per graph, to check Output shapes too (optional).
    """
    section = project.data
    if not section.names_data:
        return []
    base_dir = project.path.parent if project.path is not None else None
    found: list[GraphProblem] = []
    # Before reading: the warning belongs with the file even when reading it then fails.
    outside = outside_warning(section, base_dir)
    if outside is not None:
        found.append((None, Problem(outside, severity="warning")))
    try:
        signature, label = data_signature(section, base_dir)
    except DataError as exc:
        return [*found, (None, Problem(str(exc)))]
    mode = project.training.mode
    names = list(project.graphs)
    if mode == "gan":
        generator = "generator" if "generator" in project.graphs else names[0]
        critic = "discriminator" if "discriminator" in project.graphs else names[-1]
        found += [(critic, p) for p in check_graph_inputs(project.graphs[critic], signature, label)]
        if inferences and generator in inferences:
            expected = signature.inputs[0]
            sample = format_dims(expected.shape)
            found += [
                (generator, p)
                for p in _check_outputs(
                    project.graphs[generator],
                    inferences[generator],
                    expected.shape,
                    f"the generator must make samples like those of {label}, {sample}",
                )
            ]
        return found

    graph_name = names[0]
    graph = project.graphs[graph_name]
    found += [(graph_name, p) for p in check_graph_inputs(graph, signature, label)]
    task_problem = _check_task(project, signature, label)
    if task_problem is not None:
        found.append((None, task_problem))
    if inferences and graph_name in inferences:
        found += [
            (graph_name, p)
            for p in _check_targets(project, graph, inferences[graph_name], signature, label)
        ]
    return found


def input_nodes(graph: Graph) -> list[Node]:
    """The graph's Input nodes in document order (the order the model takes its inputs)."""
    return [n for n in graph.nodes if graph.spec(n.id).role == "input"]


def check_graph_inputs(graph: Graph, signature: DataSignature, label: str) -> list[Problem]:
    """Problems on Input nodes whose shape or dtype differ from what the data gives."""
    nodes = input_nodes(graph)
    specs = list(signature.inputs)
    if not nodes:
        return []  # shape inference already says the graph needs an Input
    problems: list[Problem] = []
    by_name = {s.name: s for s in specs}
    if len(nodes) == len(specs) and all(n.name in by_name for n in nodes):
        pairs = [(n, by_name[n.name]) for n in nodes]
    else:
        pairs = list(zip(nodes, specs, strict=False))
    if len(specs) > len(nodes):
        missing = specs[len(nodes) :]
        problems.append(
            Problem(
                f"{label} gives {len(specs)} inputs ({signature.describe_inputs()}) but the graph "
                f"has {len(nodes)} Input{'s' if len(nodes) > 1 else ''}; add an Input for "
                + " and ".join(f"{s.name} {format_dims(s.shape)} {s.dtype}" for s in missing),
                nodes[-1].id,
            )
        )
    for node in nodes[len(specs) :]:
        problems.append(
            Problem(
                f"{label} gives only {len(specs)} input{'s' if len(specs) > 1 else ''} "
                f"({signature.describe_inputs()}); nothing feeds this Input. Remove it.",
                node.id,
            )
        )
    for node, spec in pairs:
        problems.extend(_check_input(graph, node, spec, signature.kind, label))
    return problems


def _check_input(
    graph: Graph, node: Node, spec: InputSpec, kind: DataKind, label: str
) -> list[Problem]:
    problems = []
    shape = node.params.get("shape", ())
    dims = tuple(int(d) for d in shape) if isinstance(shape, tuple | list) else ()
    what = _WHAT[kind] if spec.dtype == "float" or kind == "text" else "category ids"
    if dims != spec.shape:
        problems.append(
            Problem(
                f"this Input takes {format_dims(dims)} per sample, but {label} gives {what} of "
                f"{format_dims(spec.shape)}; set its shape to "
                f"{', '.join(str(d) for d in spec.shape)}",
                node.id,
            )
        )
    dtype = node.params.get("dtype", "float")
    if dtype != spec.dtype:
        if spec.dtype == "long":
            advice = "set its dtype to long and feed it to an Embedding"
            given = f"integer {what} (long)"
        else:
            advice = "set its dtype to float"
            given = f"{what} as real numbers (float)"
        problems.append(
            Problem(f"this Input is {dtype}, but {label} gives {given}; {advice}", node.id)
        )
    elif spec.dtype == "long" and spec.cardinality:
        problems.extend(_check_embeddings(graph, node, spec, kind, label))
    return problems


def _check_embeddings(
    graph: Graph, node: Node, spec: InputSpec, kind: DataKind, label: str
) -> list[Problem]:
    """An Embedding fed by the Input must have a row for every id the data can hold."""
    assert spec.cardinality is not None
    problems = []
    for edge in graph.outgoing(node.id):
        target = graph.node(edge.dst)
        if target.type_id != "studio.Embedding":
            continue
        rows = target.params.get("num_embeddings", 0)
        if not isinstance(rows, int):
            continue
        if rows >= spec.cardinality:
            continue
        if kind == "text":
            # Before the split is known this is the whole corpus' vocabulary: an upper bound.
            message = (
                f"it has {rows:,} rows but the vocabulary of {label} can reach "
                f"{spec.cardinality:,} tokens; set num_embeddings to at least {spec.cardinality:,}"
            )
            problems.append(Problem(message, target.id, severity="warning"))
        else:
            message = (
                f"it has {rows:,} rows but {label} gives ids up to {spec.cardinality - 1:,}; set "
                f"num_embeddings to at least {spec.cardinality:,}"
            )
            problems.append(Problem(message, target.id))
    return problems


def _check_task(project: Project, signature: DataSignature, label: str) -> Problem | None:
    training = project.training
    if training.mode != "supervised":
        return None
    data_task = signature.task
    if data_task == "none":
        return Problem(
            f"{label} has no targets to learn; train it as an autoencoder (training mode) or "
            "choose data with targets"
        )
    if training.task in ("classification", "regression") and training.task != data_task:
        return Problem(
            f"the training task is {training.task}, but {label} is a {data_task} dataset; set "
            f"the training task to {data_task}"
        )
    return None


def _check_targets(
    project: Project,
    graph: Graph,
    inference: ShapeInference,
    signature: DataSignature,
    label: str,
) -> list[Problem]:
    target = signature.target
    mode = project.training.mode
    if mode == "autoencoder":
        shape = signature.inputs[0].shape
        return _check_outputs(
            graph, inference, shape, f"an autoencoder rebuilds its input, {format_dims(shape)}"
        )
    if target.task == "classification":
        classes = target.num_classes or 0
        allowed: set[tuple[int, ...]] = {(classes,), (1,)} if classes == 2 else {(classes,)}
        return _check_outputs(
            graph,
            inference,
            (classes,),
            f"{label} has {classes} classes; make the last layer give {classes} values (e.g. "
            f"Linear with out_features {classes})",
            allowed=allowed,
        )
    if target.task == "regression":
        return _check_outputs(
            graph,
            inference,
            target.shape,
            f"the targets of {label} are {format_dims(target.shape)}; make the last layer give "
            "that many values",
        )
    return []


def _check_outputs(
    graph: Graph,
    inference: ShapeInference,
    expected: tuple[int, ...],
    advice: str,
    *,
    allowed: set[tuple[int, ...]] | None = None,
) -> list[Problem]:
    """A problem on the single Output node when what it receives is not `expected`."""
    outputs = [n for n in graph.nodes if graph.spec(n.id).role == "output"]
    if len(outputs) != 1:
        return []  # several outputs: the data gives one target, so there is nothing to match
    shapes = inference.input_shapes(outputs[0].id)
    if len(shapes) != 1:
        return []  # not inferred (an upstream problem is already reported)
    dims = shapes[0].dims
    if dims in (allowed or {expected}):
        return []
    return [Problem(f"the model gives {format_dims(dims)} per sample, but {advice}", outputs[0].id)]
