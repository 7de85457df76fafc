"""Import a PyTorch module class from a Python file (``path/to/file.py:ClassName``).

The file is the user's own code and it runs: loading it executes its top level, and the class
is instantiated with the user's constructor arguments, exactly as ``python file.py`` would. Only
import files you trust (the same as running them).

The instance is traced with `torch.fx`, keeping standard ``torch.nn`` layers as leaves, and
`ShapeProp` runs it once on example inputs so every traced value has a shape. Each fx node then
maps to a catalog layer (``nn.Conv2d`` → Conv2d with its kernel, stride and padding; ``x + y`` →
Add; ``torch.flatten(x, 1)`` → Flatten; ...) and carries its module's weights. Anything without a
catalog layer (a branch on tensor values, a layer the catalog lacks, a parameter used directly)
becomes an `UnmappedConstruct` naming the fx node and the source line it came from.
"""

from __future__ import annotations

import importlib.util
import json
import operator
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata
from torch.fx.proxy import TraceError

from studio.core.graph import is_weight_tie
from studio.core.registry import LayerRegistry
from studio.importers import module_layers_spatial as spatial
from studio.importers.mapping import (
    GraphDraft,
    ImportedModel,
    ImportFailure,
    Unmappable,
    UnmappedConstruct,
    UnsupportedModelError,
    Value,
)
from studio.importers.module_layers import module_rule
from studio.importers.module_layers_attention import (
    is_studio_causal_block,
    mask_only_nodes,
)
from studio.importers.wide_joins import join

_MIN_TRACE_BATCH = 2  # a batch of 1 cannot tell the batch dimension from a reshape's 1


def split_source(source: str) -> tuple[Path, str]:
    """``"models/net.py:Net"`` → (Path("models/net.py"), "Net")."""
    path_text, sep, class_name = source.rpartition(":")
    if not sep or not path_text or not class_name.isidentifier():
        raise ImportFailure(
            f"{source!r}: name a Python file and a class in it (models/net.py:Net) or an ONNX "
            "file (model.onnx)"
        )
    return Path(path_text), class_name


@contextmanager
def _user_module(path: Path) -> Iterator[Any]:
    """Execute the user's file as a module; its folder is importable while it loads."""
    if not path.is_file():
        raise ImportFailure(f"{path}: no such file")
    name = f"_strata_import_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportFailure(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ImportFailure(
                f"{path}: running the file failed: {type(exc).__name__}: {exc}"
            ) from None
        yield module
    finally:
        sys.modules.pop(name, None)
        if folder in sys.path:
            sys.path.remove(folder)


def instantiate(path: Path, class_name: str, kwargs: dict[str, Any], module: Any) -> nn.Module:
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ImportFailure(f"{path}: no torch.nn.Module subclass named {class_name}")
    try:
        instance = cls(**kwargs)
    except Exception as exc:
        raise ImportFailure(
            f"{class_name}({json.dumps(kwargs)}) failed: {type(exc).__name__}: {exc}"
        ) from None
    return instance


def import_module_file(
    source: str,
    registry: LayerRegistry,
    *,
    kwargs: dict[str, Any] | None = None,
    input_shapes: Sequence[Sequence[int]] | None = None,
) -> ImportedModel:
    """Load ``file.py:ClassName``, instantiate it and map it to a project with its weights.

    Raises:
        ImportFailure: the file, class or input shapes are wrong.
        UnsupportedModelError: some constructs have no catalog layer (all are listed).
    """
    path, class_name = split_source(source)
    with _user_module(path) as module:
        instance = instantiate(path, class_name, kwargs or {}, module)
        return import_module(
            instance, registry, input_shapes=input_shapes, source=source, source_file=path
        )


def import_module(
    module: nn.Module,
    registry: LayerRegistry,
    *,
    input_shapes: Sequence[Sequence[int]] | None = None,
    source: str | None = None,
    source_file: Path | None = None,
) -> ImportedModel:
    """Map an `nn.Module` instance (in eval mode) to catalog layers; see the module docstring."""
    module.eval()
    name = type(module).__name__
    source = source or name
    shapes = _input_shapes(module, input_shapes)
    graph = _trace(module, source, source_file)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(shapes):
        raise ImportFailure(
            f"{name}.forward takes {len(placeholders)} input(s) but {len(shapes)} shape(s) were "
            "given; pass one --input-shape per input, batch included"
        )
    traced = fx.GraphModule(module, graph)
    examples = tuple(
        _example_input(traced, node, shape)
        for node, shape in zip(placeholders, shapes, strict=True)
    )
    try:
        with torch.no_grad():
            ShapeProp(traced).propagate(*examples)
            expected = module(*examples)
    except Exception as exc:
        shown = ", ".join(str(tuple(s)) for s in shapes)
        raise ImportFailure(
            f"{name} does not run on inputs of shape {shown}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    mapper = _FxMapper(module, GraphDraft(registry), source_file)
    mapper.map_graph(graph)
    mapper.constructs.extend(shared_parameter_refusals(module))
    if mapper.constructs:
        partial = mapper.draft.partial_project(name, source, mapper.constructs)
        raise UnsupportedModelError(source, mapper.constructs, partial)
    mapper.draft.check_shapes(source)
    project = mapper.draft.to_project(name, description=f"Imported from {source}.")
    outputs = _flatten_output(expected)
    return ImportedModel(project, mapper.draft.state_dict(), examples, outputs, source)


def shared_parameter_refusals(root: nn.Module) -> list[UnmappedConstruct]:
    """Parameters held by two different modules, other than a Linear's weight that is an
    Embedding's table (tied embeddings, imported as a weight tie).

    A module called twice (or reached by two names) is one module, tied by `layer`; a tensor
    two different modules hold any other way cannot be one tensor in the project, and
    importing it as two would make copies that train apart.
    """
    holders: dict[int, dict[int, tuple[str, str, nn.Module]]] = {}
    for name, parameter in root.named_parameters(remove_duplicate=False):
        path, _, attribute = name.rpartition(".")
        module = root.get_submodule(path)
        holders.setdefault(id(parameter), {}).setdefault(id(module), (path, attribute, module))
    constructs = []
    for held in holders.values():
        if len(held) < 2:
            continue
        entries = list(held.values())
        kinds = {type(m) for _, _, m in entries}
        if (
            len(entries) == 2
            and all(attribute == "weight" for _, attribute, _ in entries)
            and any(isinstance(m, nn.Linear) for _, _, m in entries)
            and any(isinstance(m, nn.Embedding) for _, _, m in entries)
        ):
            continue
        names = [
            f"self.{path}.{attribute}" if path else f"self.{attribute}"
            for path, attribute, _ in entries
        ]
        constructs.append(
            UnmappedConstruct(
                names[0],
                "tied weights",
                names[0],
                f"{' and '.join(names)} are one tensor held by "
                f"{', '.join(sorted(k.__name__ for k in kinds))} modules; only an "
                "nn.Embedding's table and an nn.Linear module's weight can be tied, so "
                "importing it would make copies that train apart",
            )
        )
    return constructs


def _input_shapes(
    module: nn.Module, given: Sequence[Sequence[int]] | None
) -> list[tuple[int, ...]]:
    if given:
        return [tuple(int(d) for d in shape) for shape in given]
    for attribute in ("example_input_shape", "input_shape"):
        value = getattr(module, attribute, None)
        if value is None:
            continue
        try:
            if all(isinstance(d, int) for d in value):
                return [tuple(value)]
            return [tuple(int(d) for d in shape) for shape in value]
        except TypeError:
            raise ImportFailure(
                f"{type(module).__name__}.{attribute} must be a shape like (1, 3, 32, 32) or a "
                "list of them"
            ) from None
    raise ImportFailure(
        f"{type(module).__name__}: the input shape is unknown; pass --input-shape 1,3,32,32 "
        "(batch included, one per input) or give the class an example_input_shape attribute"
    )


def _example_input(traced: fx.GraphModule, node: fx.Node, shape: tuple[int, ...]) -> torch.Tensor:
    if not shape or any(d < 1 for d in shape):
        raise ImportFailure(f"input {node.name}: {shape} is not a shape (batch included)")
    shape = (max(shape[0], _MIN_TRACE_BATCH), *shape[1:])
    generator = torch.Generator().manual_seed(0)
    vocabulary = _token_vocabulary(traced, node)
    if vocabulary is not None:
        return torch.randint(0, vocabulary, shape, generator=generator)
    return torch.randn(shape, generator=generator)


def _token_vocabulary(traced: fx.GraphModule, node: fx.Node) -> int | None:
    """The vocabulary size when an input feeds an Embedding (its values are token ids)."""
    for user in node.users:
        if user.op == "call_module":
            target = traced.get_submodule(str(user.target))
            if isinstance(target, nn.Embedding):
                return int(target.num_embeddings)
    return None


class _LeafTracer(fx.Tracer):
    """Keeps every layer the importer maps (and other torch.nn layers) as one call."""

    def __init__(self) -> None:
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return (
            type(m) in _MODULE_RULES
            or module_rule(type(m)) is not None
            or is_studio_causal_block(m)
            or super().is_leaf_module(m, module_qualified_name)
        )


def _trace(module: nn.Module, source: str, source_file: Path | None) -> fx.Graph:
    try:
        return _LeafTracer().trace(module)
    except Exception as exc:
        where, code = _failing_line(exc, source_file)
        data_dependent = isinstance(exc, TraceError)
        kind = "data-dependent control flow" if data_dependent else "untraceable Python"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if data_dependent:
            reason = (
                f"`{code or 'this line'}` depends on tensor values; a graph of layers cannot "
                "branch on values, so rewrite it without the condition or leave it out"
            )
        raise UnsupportedModelError(
            source, [UnmappedConstruct(f"{type(module).__name__}.forward", kind, where, reason)]
        ) from None


def _failing_line(exc: BaseException, source_file: Path | None) -> tuple[str, str]:
    """The user's line that failed to trace: the deepest frame outside torch."""
    found = ("unknown place", "")
    traceback = exc.__traceback__
    wanted = source_file.resolve() if source_file else None
    while traceback is not None:
        code = traceback.tb_frame.f_code
        filename = Path(code.co_filename)
        in_torch = "torch" in filename.parts or "site-packages" in filename.parts
        if (wanted is not None and filename.resolve() == wanted) or (
            wanted is None and not in_torch
        ):
            lineno = traceback.tb_lineno
            line = _source_line(filename, lineno)
            found = (f"{filename.name}:{lineno} in {code.co_name}", line)
        traceback = traceback.tb_next
    return found


def _source_line(filename: Path, lineno: int) -> str:
    try:
        return filename.read_text(encoding="utf-8").splitlines()[lineno - 1].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        return ""


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)\n\s*(.*)')

# --------------------------------------------------------------------------------- the mapper

Rule = Callable[["_FxMapper", fx.Node], Value | None]


class _FxMapper:
    """Turns the live nodes of a traced graph into draft nodes, collecting what cannot map."""

    def __init__(self, root: nn.Module, draft: GraphDraft, source_file: Path | None) -> None:
        self.root = root
        self.draft = draft
        self.source_file = source_file.resolve() if source_file else None
        self.tensors: dict[fx.Node, Value] = {}
        # A module call returning a tuple (RNN/LSTM/GRU, MultiheadAttention) → its draft node.
        self.tuples: dict[fx.Node, str] = {}
        # `out` of `out, _ = self.lstm(x)` → the recurrent draft node, for the `out[:, -1]` fuse.
        self.sequences: dict[fx.Node, str] = {}
        # A recurrent layer's final state (`h`, or an LSTM's `(h, c)` or either half) → the
        # draft ports giving it batch first; only another recurrent layer's start may use it.
        self.states: dict[fx.Node, list[Value]] = {}
        self.failed: set[fx.Node] = set()
        self.constructs: list[UnmappedConstruct] = []
        # Each call_module node → the draft layers made for it, in order; a later call of the
        # same module ties its layers to the first call's.
        self.layers_of_call: dict[fx.Node, list[str]] = {}

    # ------------------------------------------------------------ walking
    def map_graph(self, graph: fx.Graph) -> None:
        live = _live_nodes(graph) - mask_only_nodes(graph, self.root)
        outputs = 0
        for node in graph.nodes:
            if node not in live:
                continue
            if any(arg in self.failed for arg in node.all_input_nodes):
                self.failed.add(node)
                continue
            try:
                if node.op == "output":
                    for value in _flatten_output(node.args[0]):
                        outputs += 1
                        name = "output" if outputs == 1 else f"output_{outputs}"
                        self.draft.add_output(self.tensor(value), name)
                    continue
                value = self.map_node(node)
            except Unmappable as exc:
                self.constructs.append(
                    UnmappedConstruct(node.name, self.kind(node), self.where(node), str(exc))
                )
                value = self.stand_in(node)
                if value is None:
                    self.failed.add(node)
                    continue
            if value is not None:
                self.tensors[node] = value

    def stand_in(self, node: fx.Node) -> Value | None:
        """An Input in place of an unmapped tensor, so what follows it is checked as well.

        The draft is never saved once something failed; the stand-in only lets the walk go on
        and report every construct that cannot be imported, not just the first.
        """
        meta = node.meta.get("tensor_meta")
        if not isinstance(meta, TensorMetadata) or not 2 <= len(meta.shape) <= 5:
            return None
        try:
            return self.draft.add_input(f"{node.name}_stand_in", tuple(meta.shape[1:]))
        except Unmappable:
            return None

    def map_node(self, node: fx.Node) -> Value | None:
        if node.op == "placeholder":
            meta = _meta(node)
            dims = tuple(int(d) for d in meta.shape[1:])
            if not 1 <= len(dims) <= 4:
                raise Unmappable(
                    f"inputs need 1 to 4 dimensions after the batch; this one has {len(dims)}"
                )
            dtype = "long" if not meta.dtype.is_floating_point else "float"
            return self.draft.add_input(node.name, dims, dtype)
        if node.op == "get_attr":
            return None  # a parameter or constant; whoever uses it as a tensor is reported
        if node.op == "call_module":
            module = self.root.get_submodule(str(node.target))
            own_rule = _MODULE_RULES.get(type(module))
            if is_studio_causal_block(module):
                own_rule = _studio_causal_block
            if own_rule is not None:
                return own_rule(self, node, module)
            return self.module_layer(node, module)
        if _is_state_view(self, node):
            return _state_view(self, node)
        used = [a for a in node.all_input_nodes if a in self.states]
        if used and node.target is not operator.getitem:
            raise state_refusal(self, used[0])
        rule = (
            _METHOD_RULES.get(str(node.target))
            if node.op == "call_method"
            else _FUNCTION_RULES.get(node.target)
        )
        if rule is None:
            if not isinstance(node.meta.get("tensor_meta"), TensorMetadata):
                return None  # sizes and other plain values; a layer that needs one reports it
            raise Unmappable("the catalog has no layer for this operation")
        return rule(self, node)

    def module_layer(self, node: fx.Node, module: nn.Module) -> Value:
        """A module mapped by the shared table of `studio.importers.module_layers`."""
        rule = module_rule(type(module))
        if rule is None:
            raise Unmappable(f"the catalog has no layer for {type(module).__name__}")
        if node.kwargs:
            raise Unmappable(f"called with keyword arguments {', '.join(node.kwargs)}")
        tensors = list(node.args)
        if not all(isinstance(a, fx.Node) for a in tensors):
            raise Unmappable("called with a value that is not a tensor")
        mapped = rule(module, [_shape(a) for a in tensors])
        chosen = tensors if mapped.inputs is None else [tensors[i] for i in mapped.inputs]
        return self.layer(node, mapped.type_id, mapped.params, chosen, dict(mapped.weights))

    # ------------------------------------------------------------ helpers for rules
    def state(self, arg: object) -> list[Value] | None:
        """The batch-first ports behind a recurrent layer's final state `arg`, or None."""
        return self.states.get(arg) if isinstance(arg, fx.Node) else None

    def tensor(self, arg: object) -> Value:
        """The draft value of a traced tensor argument."""
        if isinstance(arg, fx.Node) and arg in self.tensors:
            return self.tensors[arg]
        if isinstance(arg, fx.Node) and arg.op == "get_attr":
            from studio.importers.fx_ops import attribute_tensor

            return attribute_tensor(self, arg)  # a class token: a Parameter or Constant node
        if isinstance(arg, fx.Node) and arg in self.states:
            raise state_refusal(self, arg)
        if isinstance(arg, fx.Node):
            raise Unmappable(f"uses {arg.name}, which is not a tensor the catalog can produce")
        raise Unmappable(f"uses the constant {arg!r} as a tensor; the catalog has no constants")

    def layer(
        self,
        node: fx.Node,
        type_id: str,
        params: Mapping[str, object],
        inputs: Sequence[object] | None = None,
        weights: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> Value:
        sources = [self.tensor(a) for a in (inputs if inputs is not None else node.args[:1])]
        # A layer without weights (a ReLU of the tower) has nothing to share: left untied.
        first = self.first_call_layer(node) if weights else None
        if first is None and weights:
            first = self.weight_tie_layer(node, type_id)
        value = self.draft.add_layer(
            type_id,
            name or node.name,
            params,
            sources,
            where=self.where(node),
            weights=weights,
            shares=first,
        )
        if node.op == "call_module":
            self.layers_of_call.setdefault(node, []).append(value[0])
        return value

    def first_call_layer(self, node: fx.Node) -> str | None:
        """For a later call of a module already called, the first call's matching layer.

        A module called twice (a siamese tower) is one set of weights, so each layer of the
        later call is tied to the layer made at the same place in the first call.
        """
        if node.op != "call_module":
            return None
        calls = [n for n in self.layers_of_call if n.target == node.target]
        if not calls or calls[0] is node:
            return None
        made = len(self.layers_of_call.get(node, []))
        first = self.layers_of_call[calls[0]]
        return first[made] if made < len(first) else None

    def weight_tie_layer(self, node: fx.Node, type_id: str) -> str | None:
        """For a module whose weight another module mapped before also holds, that layer.

        Tied embeddings (nanoGPT's ``self.wte.weight = self.lm_head.weight``): the Linear and
        the Embedding keep their own modules and hold one tensor, so the later-called layer is
        weight-tied to the first. Any other pair holding one weight cannot be tied, and is
        refused by the front end.
        """
        if node.op != "call_module":
            return None
        module = self.root.get_submodule(str(node.target))
        weight = getattr(module, "weight", None)
        if not isinstance(weight, nn.Parameter):
            return None
        for call, layers in self.layers_of_call.items():
            other = self.root.get_submodule(str(call.target))
            if other is module or getattr(other, "weight", None) is not weight:
                continue
            for layer_id in layers:
                if is_weight_tie(type_id, self.draft.type_of(layer_id)):
                    return layer_id
        return None  # no tie it can be: `shared_parameter_refusals` or `tied_weights` say so

    def kind(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return f"{type(self.root.get_submodule(str(node.target))).__name__} self.{node.target}"
        if node.op == "call_method":
            return f"method .{node.target}()"
        if node.op == "call_function":
            return f"call {_function_name(node.target)}"
        return node.op

    def where(self, node: fx.Node) -> str:
        """The source line an fx node was traced from, and its module path."""
        place = ""
        frames = _FRAME.findall(node.stack_trace or "")
        chosen = None
        for filename, lineno, function, code in frames:
            path = Path(filename)
            ours = (
                path.resolve() == self.source_file
                if self.source_file is not None
                else "torch" not in path.parts
            )
            if ours:
                chosen = (path, lineno, function, code)
        if chosen is not None:
            path, lineno, function, code = chosen
            place = f"{path.name}:{lineno} `{code.strip()}`"
        module = f"self.{node.target}" if node.op == "call_module" else ""
        return ", ".join(p for p in (module, place) if p) or node.name


def _live_nodes(graph: fx.Graph) -> set[fx.Node]:
    """Nodes the outputs depend on (and placeholders, which become Inputs)."""
    live: set[fx.Node] = set()
    stack = [n for n in graph.nodes if n.op in ("output", "placeholder")]
    while stack:
        node = stack.pop()
        if node not in live:
            live.add(node)
            stack.extend(node.all_input_nodes)
    return live


def _flatten_output(value: object) -> list[object]:
    """The tensors a forward returns, in order; a None (nanoGPT's loss without targets) is none."""
    if value is None:
        return []
    if isinstance(value, tuple | list):
        return [v for item in value for v in _flatten_output(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _flatten_output(item)]
    return [value]


def _meta(node: object) -> TensorMetadata:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    if not isinstance(meta, TensorMetadata):
        raise Unmappable(f"{node} is not a tensor")
    return meta


def _shape(node: object) -> tuple[int, ...]:
    return tuple(int(d) for d in _meta(node).shape)


def _function_name(target: object) -> str:
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    if module == "_operator":
        return {"add": "+", "mul": "*", "sub": "-", "truediv": "/", "getitem": "x[...]"}.get(
            name, f"operator.{name}"
        )
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    return f"torch.{name}" if module.startswith("torch") or not module else f"{module}.{name}"


def _arg(node: fx.Node, index: int, name: str, default: object = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _single(value: object, what: str) -> int:
    """One int for every direction: the catalog's layers take square kernels and strides."""
    if isinstance(value, int):
        return value
    items = list(value) if isinstance(value, tuple | list) else [value]
    first = items[0] if items else None
    if isinstance(first, int) and all(v == first for v in items):
        return first
    raise Unmappable(f"{what}={value}: the catalog's layer takes one {what} for every direction")


def _torch_dim(dim: object, rank: int, what: str = "dim") -> int:
    if not isinstance(dim, int):
        raise Unmappable(f"{what}={dim!r}: the catalog's layer needs one dimension")
    if dim % rank == 0:
        raise Unmappable(f"{what}={dim} works across the batch; the catalog's layers keep it")
    return dim


# ------------------------------------------------------------ recurrent states


def state_refusal(m: _FxMapper, arg: fx.Node) -> Unmappable:
    """Why a recurrent layer's final state cannot be used as `arg` is (its layout differs)."""
    layer = m.draft.where(m.states[arg][0][0])
    return Unmappable(
        f"uses {arg.name}, the final state of {layer}, in torch's (layers, N, H), other than "
        "to start another recurrent layer; the catalog's state port h is batch first, "
        "(N, layers, H) (for the top layer's last step use out[:, -1], output 'last')"
    )


def _swaps_first_two(node: fx.Node) -> bool:
    """`x.transpose(0, 1)` or `torch.transpose(x, 0, 1)`: torch's state layout ↔ batch first."""
    method = node.op == "call_method" and node.target == "transpose"
    function = node.op == "call_function" and node.target is torch.transpose
    if not (method or function) or node.kwargs:
        return False
    return len(node.args) == 3 and {node.args[1], node.args[2]} == {0, 1}


def _is_state_view(m: _FxMapper, node: fx.Node) -> bool:
    """Whether `node` moves between torch's state layout and the catalog's batch-first one.

    That is a transpose (or `.contiguous()`) of a recurrent layer's final state, or a
    transpose of a batch-first tensor that only ever starts recurrent layers (as hx): the
    Recurrent module's own code, and hand-written encoder-decoders that read the same.
    """
    source = node.args[0] if node.args else None
    if not isinstance(source, fx.Node):
        return False
    if node.op == "call_method" and node.target == "contiguous":
        return source in m.states
    if not _swaps_first_two(node):
        return False
    return source in m.states or (source in m.tensors and _starts_recurrent_only(m, node))


def _starts_recurrent_only(m: _FxMapper, node: fx.Node) -> bool:
    """Whether every use of `node` (through `.contiguous()` or an (h, c) tuple) is an hx."""
    for user in node.users:
        if user.op == "call_method" and user.target == "contiguous":
            if not _starts_recurrent_only(m, user):
                return False
            continue
        if user.op != "call_module":
            return False
        module = m.root.get_submodule(str(user.target))
        if not isinstance(module, nn.RNN | nn.LSTM | nn.GRU) or user.args[0] is node:
            return False
    return True


def _state_view(m: _FxMapper, node: fx.Node) -> Value | None:
    """A batch-first state as a catalog value, or a torch-layout one recorded for an hx."""
    source = node.args[0]
    assert isinstance(source, fx.Node)
    if node.op == "call_method" and node.target == "contiguous":
        m.states[node] = m.states[source]
        return None
    if source in m.states:
        if len(m.states[source]) != 1:
            raise Unmappable("transposes an LSTM's (h, c) pair; transpose h and c one at a time")
        return m.states[source][0]
    m.states[node] = [m.tensors[source]]
    return None


# --------------------------------------------------------------------------------- shared rules


def _flatten(m: _FxMapper, node: fx.Node, start: int, end: int) -> Value:
    rank = len(_shape(node.args[0]))
    if start % rank == 1 and end % rank == rank - 1:
        return m.layer(node, "studio.Flatten", {})
    return _reshape(m, node)


def _reshape(m: _FxMapper, node: fx.Node) -> Value:
    """Any reshape that keeps the batch: Flatten when it flattens, else Reshape to the result."""
    before, after = _shape(node.args[0]), _shape(node)
    if after[:1] != before[:1]:
        raise Unmappable(
            f"reshapes {before} into {after}, mixing the batch with other dimensions; the "
            "catalog's layers keep the batch first"
        )
    if after == before:
        return m.tensor(node.args[0])
    if len(after) == 1:
        raise Unmappable(f"reshapes {before} into one value per sample {after}")
    if len(after) == 2 and len(before) > 2:
        return m.layer(node, "studio.Flatten", {})
    return m.layer(node, "studio.Reshape", {"shape": after[1:]})


def _pool(
    m: _FxMapper,
    node: fx.Node,
    kind: str,
    kernel: object,
    stride: object,
    padding: object,
    *,
    dilation: object = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    count_include_pad: bool = True,
    divisor_override: object = None,
) -> Value:
    params = spatial.pool_params(
        kernel,
        stride,
        padding,
        dilation=dilation,
        ceil_mode=ceil_mode,
        return_indices=return_indices,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )
    return m.layer(node, f"studio.{kind}", params)


def _adaptive(m: _FxMapper, node: fx.Node, output_size: object) -> Value:
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)  # type: ignore[arg-type]
    if len(size) != 2 or not all(isinstance(v, int) for v in size):
        raise Unmappable(f"output_size={output_size}: the catalog needs two numbers")
    return m.layer(node, "studio.AdaptiveAvgPool2d", {"output_size": size})


def _upsample(
    m: _FxMapper,
    node: fx.Node,
    size: object,
    scale_factor: object,
    mode: object,
    align_corners: object,
) -> Value:
    params = spatial.upsample_params(size, scale_factor, mode, align_corners)
    return m.layer(node, "studio.Upsample", params)


# --------------------------------------------------------------------------------- function rules


def _activation(type_id: str, **args: tuple[int, object]) -> Rule:
    """A rule for ``F.x(t, ...)`` / ``t.x(...)``; `args` maps a param to (position, default)."""

    def rule(m: _FxMapper, node: fx.Node) -> Value:
        params = {name: _arg(node, i, name, default) for name, (i, default) in args.items()}
        return m.layer(node, type_id, params)

    return rule


def _gelu(m: _FxMapper, node: fx.Node) -> Value:
    return m.layer(node, "studio.GELU", {"approximate": node.kwargs.get("approximate", "none")})


def _softmax_rule(type_id: str) -> Rule:
    def rule(m: _FxMapper, node: fx.Node) -> Value:
        if node.kwargs.get("dtype") is not None:
            raise Unmappable("a dtype argument has no catalog setting")
        dim = _torch_dim(_arg(node, 1, "dim"), len(_shape(node.args[0])))
        return m.layer(node, type_id, {"dim": dim})

    return rule


def _flatten_call(m: _FxMapper, node: fx.Node) -> Value:
    return _flatten(m, node, _arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1))


def _reshape_call(m: _FxMapper, node: fx.Node) -> Value:
    return _reshape(m, node)


def _alias(m: _FxMapper, node: fx.Node) -> Value:
    return m.tensor(node.args[0])


def _merge_rule(type_id: str, symbol: str) -> Rule:
    def rule(m: _FxMapper, node: fx.Node) -> Value:
        if len(node.args) != 2 or node.kwargs:
            raise Unmappable(f"only `a {symbol} b` of two tensors has a catalog layer")
        a, b = node.args
        if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)):
            raise Unmappable(
                f"{symbol} with a constant; the catalog's {type_id[7:]} combines two layer outputs"
            )
        if _shape(a) != _shape(b):
            raise Unmappable(
                f"{symbol} broadcasts {_shape(a)} with {_shape(b)}; the catalog's "
                f"{type_id[7:]} needs equal shapes"
            )
        return m.layer(node, type_id, {}, [a, b])

    return rule


def _cat(m: _FxMapper, node: fx.Node) -> Value:
    tensors = list(_arg(node, 0, "tensors"))
    if len(tensors) == 1:
        return m.tensor(tensors[0])
    dim = _torch_dim(_arg(node, 1, "dim", 0), len(_shape(node)))
    values = [m.tensor(t) for t in tensors]  # a DenseNet block's 25 make a tree of Concats
    return join(m.draft, "studio.Concat", node.name, {"dim": dim}, values, where=m.where(node))


def _reduction_rule(type_id: str) -> Rule:
    def rule(m: _FxMapper, node: fx.Node) -> Value:
        rank = len(_shape(node.args[0]))
        dims = _arg(node, 1, "dim")
        keepdim = bool(_arg(node, 2, "keepdim", False))
        if node.kwargs.get("dtype") is not None:
            raise Unmappable("a dtype argument has no catalog setting")
        if isinstance(dims, tuple | list) and len(dims) == 1:
            dims = dims[0]
        if isinstance(dims, int):
            return m.layer(node, type_id, {"dim": _torch_dim(dims, rank), "keepdim": keepdim})
        spatial = set(range(2, rank))
        if (
            type_id == "studio.Mean"
            and isinstance(dims, tuple | list)
            and {d % rank for d in dims} == spatial
            and rank in (3, 4)
        ):
            if not keepdim:
                return m.layer(node, "studio.GlobalAvgPool", {})
            if rank == 4:
                return m.layer(node, "studio.AdaptiveAvgPool2d", {"output_size": (1, 1)})
        raise Unmappable(f"dim={dims}: the catalog reduces over one dimension (or all spatial)")

    return rule


def _permute(m: _FxMapper, node: fx.Node) -> Value:
    rank = len(_shape(node.args[0]))
    raw: Any = node.args[1:] if len(node.args) > 2 else _arg(node, 1, "dims")
    dims = [int(d) % rank for d in raw]
    if dims[0] != 0:
        raise Unmappable("moves the batch dimension; the catalog's Permute keeps it first")
    if dims == list(range(rank)):
        return m.tensor(node.args[0])
    return m.layer(node, "studio.Permute", {"dims": tuple(dims[1:])})


def _transpose(m: _FxMapper, node: fx.Node) -> Value:
    rank = len(_shape(node.args[0]))
    a, b = int(_arg(node, 1, "dim0")) % rank, int(_arg(node, 2, "dim1")) % rank
    if 0 in (a, b):
        raise Unmappable("moves the batch dimension; the catalog's Permute keeps it first")
    dims = list(range(rank))
    dims[a], dims[b] = dims[b], dims[a]
    if a == b:
        return m.tensor(node.args[0])
    return m.layer(node, "studio.Permute", {"dims": tuple(dims[1:])})


def _is_full_slice(value: object) -> bool:
    return isinstance(value, slice) and value == slice(None, None, None)


def _getitem(m: _FxMapper, node: fx.Node) -> Value | None:
    source, index = node.args
    pair = m.states.get(source) if isinstance(source, fx.Node) else None
    if pair is not None and len(pair) == 2 and isinstance(index, int) and index in (0, 1):
        m.states[node] = [pair[index]]  # h or c of an LSTM's (h, c)
        return None
    if pair is not None:
        assert isinstance(source, fx.Node)
        raise state_refusal(m, source)
    if isinstance(source, fx.Node) and source in m.tuples:
        kind = m.draft.type_of(m.tuples[source]).removeprefix("studio.")
        if index == 1 and kind in ("RNN", "LSTM", "GRU"):
            # The final state: the layer gains its h (and c) ports, batch first.
            layer = m.tuples[source]
            m.draft.set_param(layer, "return_state", True)
            m.states[node] = [(layer, "h"), (layer, "c")] if kind == "LSTM" else [(layer, "h")]
            return None
        if index != 0:
            raise Unmappable(
                f"uses the {kind}'s second result (hidden state or attention weights); the "
                "catalog's layer returns only the first (use out[:, -1] for the last step)"
            )
        value = (m.tuples[source], "out")
        if kind in ("RNN", "LSTM", "GRU"):
            m.sequences[node] = m.tuples[source]
        return value
    if not isinstance(source, fx.Node) or not isinstance(
        source.meta.get("tensor_meta"), TensorMetadata
    ):
        return None  # indexing a size or a tuple of plain values
    rank = len(_shape(source))
    items = list(index) if isinstance(index, tuple) else [index]
    while len(items) > 2 and _is_full_slice(items[-1]):
        items.pop()
    if rank == 3 and len(items) == 2 and _is_full_slice(items[0]) and items[1] == -1:
        recurrent = m.sequences.get(source)
        if (
            recurrent is not None
            and len(source.users) == 1
            and not m.draft.params_of(recurrent)["bidirectional"]
        ):
            # `out, _ = self.lstm(x); out[:, -1]` is the catalog layer's "last" output.
            m.draft.set_param(recurrent, "output", "last")
            return (recurrent, "out")
        return m.layer(node, "studio.SelectLast", {})
    raise Unmappable(f"indexing [{index}] has no catalog layer (only x[:, -1] on sequences)")


def _pool_call(kind: str) -> Rule:
    def rule(m: _FxMapper, node: fx.Node) -> Value:
        kernel = _arg(node, 1, "kernel_size")
        return _pool(
            m,
            node,
            kind,
            kernel,
            _arg(node, 2, "stride"),
            _arg(node, 3, "padding", 0),
            dilation=_arg(node, 4, "dilation", 1) if kind.startswith("Max") else 1,
            ceil_mode=bool(_arg(node, 5 if kind.startswith("Max") else 4, "ceil_mode", False)),
            return_indices=bool(node.kwargs.get("return_indices", False)),
            count_include_pad=bool(node.kwargs.get("count_include_pad", True)),
            divisor_override=node.kwargs.get("divisor_override"),
        )

    return rule


def _adaptive_call(m: _FxMapper, node: fx.Node) -> Value:
    return _adaptive(m, node, _arg(node, 1, "output_size"))


def _interpolate(m: _FxMapper, node: fx.Node) -> Value:
    return _upsample(
        m,
        node,
        _arg(node, 1, "size"),
        _arg(node, 2, "scale_factor"),
        _arg(node, 3, "mode", "nearest"),
        _arg(node, 4, "align_corners"),
    )


def _spatial_call(convert: Callable[..., Any]) -> Rule:
    """A functional form read by `studio.importers.module_layers_spatial` (``F.pad``, ...)."""

    def rule(m: _FxMapper, node: fx.Node) -> Value:
        layer = convert(node.args[1:], node.kwargs, _shape(node.args[0]))
        return m.layer(node, layer.type_id, layer.params)

    return rule


def _dropout_call(type_id: str) -> Rule:
    def rule(m: _FxMapper, node: fx.Node) -> Value:
        return m.layer(node, type_id, {"p": float(_arg(node, 1, "p", 0.5))})

    return rule


_RELU = _activation("studio.ReLU")
_SIGMOID = _activation("studio.Sigmoid")
_TANH = _activation("studio.Tanh")
_SOFTMAX = _softmax_rule("studio.Softmax")
_LOG_SOFTMAX = _softmax_rule("studio.LogSoftmax")
_ADD = _merge_rule("studio.Add", "+")
_MUL = _merge_rule("studio.Multiply", "*")
_MEAN = _reduction_rule("studio.Mean")
_SUM = _reduction_rule("studio.Sum")

_FUNCTION_RULES: dict[object, Rule] = {
    torch.relu: _RELU,
    F.relu: _RELU,
    F.leaky_relu: _activation("studio.LeakyReLU", negative_slope=(1, 0.01)),
    F.gelu: _gelu,
    F.silu: _activation("studio.SiLU"),
    F.elu: _activation("studio.ELU", alpha=(1, 1.0)),
    F.relu6: _activation("studio.ReLU6"),
    F.hardswish: _activation("studio.Hardswish"),
    F.hardsigmoid: _activation("studio.Hardsigmoid"),
    F.hardtanh: _activation("studio.Hardtanh", min_val=(1, -1.0), max_val=(2, 1.0)),
    F.selu: _activation("studio.SELU"),
    torch.selu: _activation("studio.SELU"),
    F.celu: _activation("studio.CELU", alpha=(1, 1.0)),
    F.mish: _activation("studio.Mish"),
    F.softplus: _activation("studio.Softplus", beta=(1, 1.0), threshold=(2, 20.0)),
    F.softsign: _activation("studio.Softsign"),
    F.glu: _activation("studio.GLU", dim=(1, -1)),  # torch's dims past the batch are ours
    F.threshold: _activation("studio.Threshold", threshold=(1, None), value=(2, None)),
    F.logsigmoid: _activation("studio.LogSigmoid"),
    torch.sigmoid: _SIGMOID,
    F.sigmoid: _SIGMOID,
    torch.tanh: _TANH,
    F.tanh: _TANH,
    torch.softmax: _SOFTMAX,
    F.softmax: _SOFTMAX,
    torch.log_softmax: _LOG_SOFTMAX,
    F.log_softmax: _LOG_SOFTMAX,
    torch.flatten: _flatten_call,
    torch.reshape: _reshape_call,
    torch.squeeze: _reshape_call,
    torch.unsqueeze: _reshape_call,
    operator.add: _ADD,
    operator.iadd: _ADD,
    torch.add: _ADD,
    operator.mul: _MUL,
    operator.imul: _MUL,
    torch.mul: _MUL,
    torch.cat: _cat,
    torch.concat: _cat,
    torch.concatenate: _cat,
    torch.mean: _MEAN,
    torch.sum: _SUM,
    torch.permute: _permute,
    torch.transpose: _transpose,
    operator.getitem: _getitem,
    F.max_pool1d: _pool_call("MaxPool1d"),
    F.max_pool2d: _pool_call("MaxPool2d"),
    F.avg_pool1d: _pool_call("AvgPool1d"),
    F.avg_pool2d: _pool_call("AvgPool2d"),
    F.adaptive_avg_pool2d: _adaptive_call,
    F.interpolate: _interpolate,
    F.dropout: _dropout_call("studio.Dropout"),
    F.dropout2d: _dropout_call("studio.Dropout2d"),
    F.dropout1d: _dropout_call("studio.Dropout1d"),
    F.max_pool3d: _pool_call("MaxPool3d"),
    F.avg_pool3d: _pool_call("AvgPool3d"),
    F.adaptive_avg_pool1d: _spatial_call(spatial.adaptive_call("AdaptiveAvgPool1d")),
    F.adaptive_max_pool1d: _spatial_call(spatial.adaptive_call("AdaptiveMaxPool1d")),
    F.adaptive_max_pool2d: _spatial_call(spatial.adaptive_call("AdaptiveMaxPool2d")),
    F.pad: _spatial_call(spatial.pad_call),
    F.pixel_shuffle: _spatial_call(spatial.pixel_shuffle_call),
    F.pixel_unshuffle: _spatial_call(spatial.pixel_unshuffle_call),
    F.channel_shuffle: _spatial_call(spatial.channel_shuffle_call),
    torch.channel_shuffle: _spatial_call(spatial.channel_shuffle_call),
}

_METHOD_RULES: dict[str, Rule] = {
    "relu": _RELU,
    "sigmoid": _SIGMOID,
    "tanh": _TANH,
    "softmax": _SOFTMAX,
    "log_softmax": _LOG_SOFTMAX,
    "flatten": _flatten_call,
    "view": _reshape_call,
    "reshape": _reshape_call,
    "squeeze": _reshape_call,
    "unsqueeze": _reshape_call,
    "contiguous": _alias,
    "add": _ADD,
    "mul": _MUL,
    "mean": _MEAN,
    "sum": _SUM,
    "permute": _permute,
    "transpose": _transpose,
}

# The module rules live in their own file, which reads this one's helpers above.
_fx_modules = importlib.import_module("studio.importers.fx_modules")
_MODULE_RULES: dict[type, Any] = _fx_modules.MODULE_RULES
_studio_causal_block = _fx_modules._studio_causal_block

# The tensor operations' rules (MatMul, Split, Slice, broadcasting Add, ...) join the tables.
_fx_ops = importlib.import_module("studio.importers.fx_ops")
_fx_ops.install(_FUNCTION_RULES, _METHOD_RULES)
