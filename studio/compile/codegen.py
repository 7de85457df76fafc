"""Standalone PyTorch source for a graph: one `nn.Module` class that needs only torch.

The class has the same submodule names as the compiled `GraphModule`, so the state dict of a
trained run loads into it unchanged. Custom layers (Add, Concat, ...) are written out from
their own source, which is why `studio.layers.modules` keeps each class self-contained.

Nothing a user typed reaches the source except as an escaped literal or a sanitised
identifier: the title (a project's name) is escaped inside the docstring, node names become
identifiers through `attribute_names`, the class name through `class_name_for`, and layer
arguments are written only when they are plain values (numbers, strings, tuples...) whose
literal Python reads back as the same value. The source can be imported or shown without
running anything but the model's own definition.
"""

from __future__ import annotations

import inspect
import keyword
import math
import numbers
import textwrap
from datetime import date

from torch import nn

from studio.compile.compiler import (
    CompileError,
    attribute_names,
    build_modules,
    class_name_for,
    live_nodes,
    module_owner,
    weight_ties,
)
from studio.compile.inference import ShapeInference, infer_shapes
from studio.core.errors import StudioError
from studio.core.graph import Graph
from studio.layers.construct import Constructor, constructor_of

_TYPING_NAMES = ("Optional", "List", "Tuple", "Dict")
# Module-level names of the generated file that the model class must not take.
_MODULE_NAMES = {"torch", "nn", "math", "build_model", *_TYPING_NAMES}


class CodegenError(StudioError):
    """A module cannot be written as source (its builder bypassed `construct`)."""


def generate_code(
    graph: Graph,
    *,
    class_name: str = "Model",
    title: str | None = None,
    inference: ShapeInference | None = None,
) -> str:
    """Python source defining `class_name` and `build_model()`; raises on graph problems.

    The modules are built on the ``meta`` device only to read how each was constructed, so
    no weights are allocated: a model of any size prints at once.

    Args:
        graph: the graph to write out.
        class_name: the model class's name; made a valid identifier when it is not one.
        title: the first words of the docstring (the project's name); any text.
        inference: the graph's shapes, when already known.
    """
    inference = inference or infer_shapes(graph)
    errors = inference.errors()
    if errors:
        raise CompileError(graph, errors)
    modules = build_modules(graph, inference, meta=True)
    names = attribute_names(graph)
    custom: dict[str, str] = {}
    init_lines: list[str] = []
    for node_id, module in modules.items():
        node = graph.node(node_id)
        ctor = constructor_of(module)
        if ctor is None:
            raise CodegenError(
                f"{node.name}: its layer's builder did not record how the module was made; "
                "build it with studio.layers.construct.construct()"
            )
        expr = _constructor_expression(ctor, custom, node.name)
        init_lines.append(f"self.{names[node_id]} = {expr}")
    for node_id, owner in weight_ties(graph, modules):
        # One tensor for both, as the compiled model holds it (tied embeddings).
        init_lines.append(f"self.{names[node_id]}.weight = self.{names[owner]}.weight")
    class_name = _model_class_name(class_name, custom)
    forward_args, forward_lines = _forward(graph, names)
    title = class_name if title is None else title
    return _render(title, class_name, custom, init_lines, forward_args, forward_lines)


def _model_class_name(class_name: str, custom: dict[str, str]) -> str:
    """`class_name` as a valid identifier that no other top-level name of the file takes."""
    if not class_name.isascii() or not class_name.isidentifier() or keyword.iskeyword(class_name):
        class_name = class_name_for(class_name)
    while class_name in custom or class_name in _MODULE_NAMES:
        class_name = f"{class_name}Model"
    return class_name


def _constructor_expression(ctor: Constructor, custom: dict[str, str], node_name: str) -> str:
    cls = ctor.cls
    if not cls.__name__.isidentifier() or keyword.iskeyword(cls.__name__):
        raise CodegenError(f"{node_name}: its class name {cls.__name__!r} is not an identifier")
    if getattr(nn, cls.__name__, None) is cls:
        name = f"nn.{cls.__name__}"
    else:
        name = cls.__name__
        if name not in custom:
            custom[name] = textwrap.dedent(inspect.getsource(cls))
    args = [_literal(a, node_name) for a in ctor.args]
    for key, value in ctor.kwargs.items():
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            raise CodegenError(f"{node_name}: keyword argument {key!r} is not an identifier")
        args.append(f"{key}={_literal(value, node_name)}")
    return f"{name}({', '.join(args)})"


def _literal(value: object, node_name: str) -> str:
    """Python source that evaluates to `value`; only plain values have one.

    A subclass of str or float could have any `repr`, and numpy's scalars print as
    ``np.float64(1.0)``, so each value is converted to its plain type first.
    """
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, numbers.Integral):
        return repr(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return repr(number) if math.isfinite(number) else f"float({str(number)!r})"
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, tuple | list):
        items = [_literal(v, node_name) for v in value]
        if isinstance(value, list):
            return f"[{', '.join(items)}]"
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise CodegenError(
        f"{node_name}: an argument of type {type(value).__name__} cannot be written as source"
    )


def _forward(graph: Graph, names: dict[str, str]) -> tuple[list[str], list[str]]:
    values: dict[tuple[str, str], str] = {}
    args: list[str] = []
    for node in graph.nodes:
        spec = graph.spec(node.id)
        if spec.role == "input":
            args.append(names[node.id])
            values[(node.id, spec.outputs[0].name)] = names[node.id]
    lines: list[str] = []
    live = live_nodes(graph)
    for node_id in live:
        node = graph.node(node_id)
        spec = graph.spec(node_id)
        incoming = graph.incoming(node_id)
        if spec.role != "layer":
            continue
        call_args = ", ".join(
            values[(incoming[p.name].src, incoming[p.name].src_port)]
            for p in spec.input_ports(node.params)
            if p.name in incoming
        )
        var = names[node_id]
        lines.append(f"{var} = self.{names[module_owner(graph, node_id)]}({call_args})")
        ports = spec.output_ports(node.params)
        if len(ports) == 1:
            values[(node_id, ports[0].name)] = var
        else:
            for i, port in enumerate(ports):
                values[(node_id, port.name)] = f"{var}[{i}]"
    # Results in the document order of the Output nodes, as the GraphModule returns them.
    live_set = set(live)
    results = [
        values[(e.src, e.src_port)]
        for n in graph.nodes
        if graph.spec(n.id).role == "output" and n.id in live_set
        for e in graph.incoming(n.id).values()
    ]
    lines.append(f"return {results[0]}" if len(results) == 1 else f"return {', '.join(results)}")
    return args, lines


def docstring_text(text: str) -> str:
    """`text` escaped to stand inside a triple-quoted docstring and read back unchanged.

    Backslashes and quotes are escaped, so no ``\"\"\"`` can close the literal early, and
    every unprintable character (line breaks, NUL, bidirectional overrides, lone surrogates)
    becomes its escape sequence, so the text stays on its line and displays as what it is.
    """
    out = []
    for ch in text:
        if ch in '\\"':
            out.append(f"\\{ch}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _render(
    title: str,
    class_name: str,
    custom: dict[str, str],
    init_lines: list[str],
    forward_args: list[str],
    forward_lines: list[str],
) -> str:
    sources = "\n\n".join(custom.values())
    imports = ["import torch", "from torch import nn"]
    if "math." in sources:
        imports.insert(0, "import math")
        imports.insert(1, "")
    typing = [n for n in _TYPING_NAMES if n in sources]
    if typing:
        imports.insert(0, f"from typing import {', '.join(typing)}")
        imports.insert(1, "")
    body_init = "\n".join(f"        {line}" for line in init_lines)
    body_forward = "\n".join(f"        {line}" for line in forward_lines)
    parts = [
        f'"""{docstring_text(title)}: generated by Strata Studio on {date.today().isoformat()}.',
        "",
        "Needs only PyTorch. Load trained weights with",
        "``model = build_model(); model.load_state_dict(torch.load(PATH, weights_only=True))``.",
        '"""',
        "",
        "\n".join(imports),
        "",
    ]
    if sources:
        parts += ["", sources.rstrip(), ""]
    parts += [
        "",
        f"class {class_name}(nn.Module):",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        body_init or "        pass",
        "",
        f"    def forward(self, {', '.join(forward_args)}):",
        body_forward,
        "",
        "",
        f"def build_model() -> {class_name}:",
        f'    """A freshly initialised {class_name}."""',
        f"    return {class_name}()",
        "",
    ]
    return "\n".join(parts)
