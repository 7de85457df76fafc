"""Graph → `torch.fx.GraphModule`: a real `nn.Module` that reads like hand-written PyTorch.

Each layer node becomes a submodule named after the node and one ``call_module`` in the fx
graph, so `.code` shows ``conv1 = self.conv1(image)`` and the module costs nothing at run time
over the same network written by hand. TorchScript, `torch.export` and ONNX accept it.
"""

from __future__ import annotations

import keyword
import operator
import re
import unicodedata
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import fx, nn

from studio.compile.inference import Problem, ShapeInference, infer_shapes
from studio.core.errors import StudioError
from studio.core.graph import Graph
from studio.core.shapes import TensorShape
from studio.layers import load_builder

# Names an nn.Module (or GraphModule) already uses: a node called "forward" or "training"
# would shadow them, so such submodules get a trailing underscore. `dir` misses the public
# attributes an instance sets in `__init__`; the generated source uses the module names.
_RESERVED = set(dir(fx.GraphModule)) | {"training", "meta", "shape_env"}
_RESERVED |= {"self", "torch", "nn", "math"}


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
    """The submodule / variable name for a node name: a valid Python identifier, always.

    Python reads identifiers in NFKC form (``ﬁ`` is ``fi``), so the name is normalised first:
    the generated source and the `GraphModule` then agree on it. Characters an identifier
    cannot hold become ``_``; a name Python or torch owns (a keyword, ``forward``, ``self``)
    or one starting with ``_`` gets a trailing ``_``, and a ``__`` name ends in ``__`` too,
    since Python would mangle ``self.__x`` inside the class. Two node names may still give
    the same result: `attribute_names` makes them unique within a graph.
    """
    name = "".join(
        ch if (f"_{ch}").isidentifier() else "_" for ch in unicodedata.normalize("NFKC", node_name)
    )
    if not name[:1].isidentifier():
        name = f"n_{name}"  # empty, or starting with a digit or a combining mark
    if unicodedata.normalize("NFKC", name) != name or not name.isidentifier():
        name = re.sub(r"[^A-Za-z0-9_]", "_", name)  # a normalisation corner case: ASCII only
    if keyword.iskeyword(name) or name in _RESERVED or name.startswith("_"):
        name = f"{name}_"
    while (name.startswith("__") and not name.endswith("__")) or name in _RESERVED:
        name = f"{name}_"  # "__init" would become "__init__"
    return name


def attribute_names(graph: Graph) -> dict[str, str]:
    """Unique identifiers for the graph's Input and layer nodes, by node id.

    Node names are unique, but `attribute_name` can map two of them to one identifier
    (``class`` and ``class_``, ``conv\n`` and ``conv_``). A node whose name is already its
    identifier keeps it; the others, in document order, take theirs or the first free of
    ``name_2``, ``name_3``... Both the compiler and the code generator use this, so the
    compiled module and the generated source always share submodule names (state dicts load).
    """
    named = [n for n in graph.nodes if graph.spec(n.id).role in ("input", "layer")]
    names: dict[str, str] = {}
    taken: set[str] = set()
    for node in named:
        if attribute_name(node.name) == node.name and node.name not in taken:
            names[node.id] = node.name
            taken.add(node.name)
    for node in named:
        if node.id in names:
            continue
        base = attribute_name(node.name)
        name, number = base, 2
        while name in taken:
            name, number = f"{base}_{number}", number + 1
        names[node.id] = name
        taken.add(name)
    return {n.id: names[n.id] for n in named}


def class_name_for(project_name: str) -> str:
    """``"mnist digits v2"`` → ``"MnistDigitsV2"``: the compiled and exported class name.

    Only ASCII letters and digits of the name are kept, so any text gives a valid identifier
    (``"Model"`` when nothing is left); ``"none"`` would give the keyword ``None``.
    """
    words = re.findall(r"[A-Za-z0-9]+", project_name)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    name = name if name[0].isalpha() else f"Model{name}"
    return f"{name}Model" if keyword.iskeyword(name) else name


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


def build_modules(
    graph: Graph, inference: ShapeInference, *, meta: bool = False
) -> dict[str, nn.Module]:
    """Freshly initialised modules for every live layer node, by node id.

    Args:
        graph: the graph.
        inference: its shapes; the builders receive their nodes' input shapes.
        meta: build on the ``meta`` device: no memory and no initialisation, for callers that
            only read how each module was constructed (the code generator), so a model of
            terabytes prints as fast as a small one. Real CPU weights otherwise.
    """
    modules: dict[str, nn.Module] = {}
    layers = [n for n in live_nodes(graph) if graph.spec(n).role == "layer"]
    with torch.device("meta") if meta else nullcontext():
        for node_id in layers:
            if graph.node(node_id).shares is None:
                modules[node_id] = _build(graph, node_id, inference.input_shapes(node_id))
        for node_id in layers:
            owner = graph.node(node_id).shares
            if owner is None:
                continue
            inputs = inference.input_shapes(node_id)
            if graph.is_weight_tied(node_id):
                # Its own module, holding the owner's Parameter as its weight; an owner that
                # feeds no Output is built only to lend it that tensor.
                lender = modules.get(owner) or _build(graph, owner, inference.input_shapes(owner))
                modules[node_id] = _tie_weight(graph, node_id, owner, lender, inputs)
                continue
            if owner not in modules:  # the other layer feeds no Output: built for this one
                modules[owner] = _build(graph, owner, inputs)
            _check_tie(graph, node_id, owner, modules[owner], inputs)
    return modules


def weight_ties(graph: Graph, modules: Mapping[str, nn.Module]) -> list[tuple[str, str]]:
    """(node, owner) of every weight tie among `modules`: `node`'s weight is `owner`'s."""
    return [
        (node_id, owner)
        for node_id in modules
        if (owner := graph.node(node_id).shares) is not None
        and owner in modules
        and graph.is_weight_tied(node_id)
    ]


def module_owner(graph: Graph, node_id: str) -> str:
    """The node whose module `node_id` calls: itself, or the node whose module it uses.

    A weight-tied node (a Linear and an Embedding) calls its own module, which holds the
    other's weight tensor.
    """
    if graph.is_weight_tied(node_id):
        return node_id
    return graph.node(node_id).shares or node_id


def _build(graph: Graph, node_id: str, inputs: list[TensorShape]) -> nn.Module:
    return load_builder(graph.spec(node_id))(graph.node(node_id).params, inputs)


def _tie_weight(
    graph: Graph, node_id: str, owner: str, lender: nn.Module, inputs: list[TensorShape]
) -> nn.Module:
    """`node_id`'s own module with `lender`'s weight Parameter in place of its own."""
    module = _build(graph, node_id, inputs)
    weight = lender.weight
    assert isinstance(weight, nn.Parameter)
    own = tuple(module.get_parameter("weight").shape)
    shared = tuple(weight.shape)
    if own != shared:
        message = (
            f"its weight is tied to {graph.node(owner).name}'s ({shared[0]} × {shared[1]}), "
            f"but its own would be {own[0]} × {own[1]}; make them agree or untie it"
        )
        raise CompileError(graph, [Problem(message, node_id)])
    module.weight = weight
    return module


def _check_tie(
    graph: Graph, node_id: str, owner: str, module: nn.Module, inputs: list[TensorShape]
) -> None:
    """Refuse a tie whose inputs would need weights of other sizes than the shared ones."""
    with torch.device("meta"):
        own = _build(graph, node_id, inputs)
    sizes = {key: tuple(value.shape) for key, value in own.state_dict().items()}
    shared = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    if sizes != shared:
        key = next((k for k in sizes if sizes[k] != shared.get(k)), next(iter(shared), "?"))
        message = (
            f"it uses the weights of {graph.node(owner).name}, but its input would need "
            f"{key} of size {sizes.get(key)} where the shared one is {shared.get(key)}; give "
            "both the same input shape or untie it"
        )
        raise CompileError(graph, [Problem(message, node_id)])


def compile_graph(
    graph: Graph, *, class_name: str = "Model", inference: ShapeInference | None = None
) -> fx.GraphModule:
    """Compile a problem-free graph; raise `CompileError` listing every error otherwise."""
    inference = inference or infer_shapes(graph)
    errors = inference.errors()
    if errors:
        raise CompileError(graph, errors)
    modules = build_modules(graph, inference)
    names = attribute_names(graph)
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
            placeholder = fx_graph.placeholder(names[node.id])
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
        owner = module_owner(graph, node_id)
        attr = names[owner]
        if attr not in root._modules:
            root.add_module(attr, modules[owner])
        # fx names the node after its target itself, unique among its own names.
        call = fx_graph.call_module(attr, args)
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
