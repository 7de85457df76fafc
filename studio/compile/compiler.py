"""Graph → `torch.fx.GraphModule`: a real `nn.Module` that reads like hand-written PyTorch.

Each layer node becomes a submodule named after the node and one ``call_module`` in the fx
graph, so `.code` shows ``conv1 = self.conv1(image)`` and the module costs nothing at run time
over the same network written by hand. TorchScript, `torch.export` and ONNX accept it.
"""

from __future__ import annotations

import keyword
import operator
import re
from dataclasses import dataclass

from torch import fx, nn

from studio.compile.inference import Problem, ShapeInference, infer_shapes
from studio.core.errors import StudioError
from studio.core.graph import Graph
from studio.layers import load_builder

# Names an nn.Module (or GraphModule) already uses: a node called "forward" or "training"
# would shadow them, so such submodules get a trailing underscore.
_RESERVED = set(dir(fx.GraphModule)) | {"self", "torch", "nn", "math"}


class CompileError(StudioError):
    """The graph has problems that stop it from compiling; `problems` lists them."""

    def __init__(self, graph: Graph, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(p.format(graph) for p in problems)
        super().__init__(f"the graph cannot be compiled:\n{lines}")


@dataclass(frozen=True)
class CompiledSlot:
    """Where a graph node ended up in the compiled module."""

    node_id: str
    attribute: str


def attribute_name(node_name: str) -> str:
    """The submodule / variable name for a node: its name, unless Python or torch owns it."""
    name = re.sub(r"\W", "_", node_name)
    if keyword.iskeyword(name) or name in _RESERVED or name.startswith("_"):
        name = f"{name}_"
    return name


def class_name_for(project_name: str) -> str:
    """``"mnist digits v2"`` → ``"MnistDigitsV2"``: the compiled and exported class name."""
    words = re.findall(r"[A-Za-z0-9]+", project_name)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    return name if name[0].isalpha() else f"Model{name}"


def live_nodes(graph: Graph) -> list[str]:
    """Node ids that feed some Output, in topological order: the rest is dead code."""
    outputs = [n.id for n in graph.nodes if graph.spec(n.id).role == "output"]
    needed: set[str] = set()
    stack = list(outputs)
    while stack:
        node_id = stack.pop()
        if node_id in needed:
            continue
        needed.add(node_id)
        stack.extend(edge.src for edge in graph.incoming(node_id).values())
    return [n for n in graph.topological_order() if n in needed]


def build_modules(graph: Graph, inference: ShapeInference) -> dict[str, nn.Module]:
    """Real (CPU, freshly initialised) modules for every live layer node, by node id."""
    modules: dict[str, nn.Module] = {}
    for node_id in live_nodes(graph):
        spec = graph.spec(node_id)
        if spec.role != "layer":
            continue
        builder = load_builder(spec)
        modules[node_id] = builder(graph.node(node_id).params, inference.input_shapes(node_id))
    return modules


def compile_graph(
    graph: Graph, *, class_name: str = "Model", inference: ShapeInference | None = None
) -> fx.GraphModule:
    """Compile a problem-free graph; raise `CompileError` listing every error otherwise."""
    inference = inference or infer_shapes(graph)
    errors = inference.errors()
    if errors:
        raise CompileError(graph, errors)
    modules = build_modules(graph, inference)
    root = nn.Module()
    fx_graph = fx.Graph()
    values: dict[tuple[str, str], fx.Node] = {}
    results: list[fx.Node] = []
    order = live_nodes(graph)
    live = set(order)
    # Inputs become arguments in document order, whether or not they are used.
    for node in graph.nodes:
        spec = graph.spec(node.id)
        if spec.role == "input":
            placeholder = fx_graph.placeholder(attribute_name(node.name))
            values[(node.id, spec.outputs[0].name)] = placeholder
    for node_id in order:
        node = graph.node(node_id)
        spec = graph.spec(node_id)
        if spec.role != "layer":
            continue
        incoming = graph.incoming(node_id)
        args = tuple(
            values[(incoming[p.name].src, incoming[p.name].src_port)]
            for p in spec.input_ports(node.params)
            if p.name in incoming
        )
        attr = attribute_name(node.name)
        root.add_module(attr, modules[node_id])
        call = fx_graph.call_module(attr, args)
        call.name = attr
        ports = spec.output_ports(node.params)
        if len(ports) == 1:
            values[(node_id, ports[0].name)] = call
        else:
            for i, port in enumerate(ports):
                values[(node_id, port.name)] = fx_graph.call_function(operator.getitem, (call, i))
    for node in graph.nodes:
        if graph.spec(node.id).role == "output" and node.id in live:
            edge = next(iter(graph.incoming(node.id).values()))
            results.append(values[(edge.src, edge.src_port)])
    fx_graph.output(results[0] if len(results) == 1 else tuple(results))
    fx_graph.lint()
    return fx.GraphModule(root, fx_graph, class_name=class_name)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
