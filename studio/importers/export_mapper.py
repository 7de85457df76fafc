"""The torch.export importer's mapper: regions of layer-module calls mapped whole by the
module rules, the ATen ops between them by `export_ops`, constants folded, shared weights tied.

Split from `studio.importers.export_import`, which runs torch.export and checks the result.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import _extract_tensor_metadata

from studio.importers import fx_import
from studio.importers.export_ops import ATEN_RULES, COPIES_WEIGHTS, op_name
from studio.importers.export_sampling import NoiseSample
from studio.importers.fx_import import (
    _FxMapper,
    _live_nodes,
    _shape,
)
from studio.importers.inputs import TensorInput
from studio.importers.mapping import (
    GraphDraft,
    Unmappable,
    UnmappedConstruct,
    Value,
)
from studio.importers.module_layers import module_rule


@dataclass
class _Region:
    """The ops of one call of a layer module, mapped together by the module's rule."""

    key: str
    path: str
    module: nn.Module
    nodes: list[fx.Node] = field(default_factory=list)
    inputs: list[fx.Node] = field(default_factory=list)
    outputs: list[fx.Node] = field(default_factory=list)


def _is_layer_module(module: nn.Module) -> bool:
    return type(module) in fx_import._MODULE_RULES or module_rule(type(module)) is not None


def _stack(node: fx.Node) -> list[tuple[str, str]]:
    """(call key, module path) of the module calls around `node`, outermost first."""
    stack = node.meta.get("nn_module_stack") or {}
    return [(str(key), str(value[0])) for key, value in stack.items()]


class _ExportMapper(_FxMapper):
    """The fx importer's mapper over a torch.export graph (regions of module calls + ATen ops)."""

    def __init__(
        self,
        root: nn.Module,
        program: Any,
        draft: GraphDraft,
        source_file: Path | None,
        specs: Sequence[TensorInput],
        calls: Mapping[str, Sequence[_Call]] | None = None,
    ) -> None:
        super().__init__(root, draft, source_file)
        self.calls = calls or {}
        self.held: list[str] = []  # attributes `hold_argument` set on the root
        self.batch = specs[0].shape[0] if specs else 0  # the examples' batch (see _examples)
        from torch.export.graph_signature import InputKind

        self.program = program
        self.lifted: dict[str, str] = {}  # placeholder → "tower.fc.weight"
        self.learned: set[str] = set()  # the lifted placeholders that are parameters
        user_inputs: list[str] = []
        for spec in program.graph_signature.input_specs:
            name = getattr(spec.arg, "name", "")
            if spec.kind == InputKind.USER_INPUT:
                user_inputs.append(name)
            elif spec.target is not None:
                self.lifted[name] = str(spec.target)
                if spec.kind == InputKind.PARAMETER:
                    self.learned.add(name)
        self.specs = dict(zip(user_inputs, specs, strict=False))
        # Every name a lifted tensor has ("lm_head.weight" is also "wte.weight" when tied):
        # export lifts it once, under one of them.
        self.aliases: dict[str, list[str]] = _aliases(root)
        self.regions: dict[fx.Node, _Region] = {}
        self.proxies: dict[fx.Node, fx.Node] = {}  # a rule's placeholder → the export node
        self.parameters: dict[str, Value] = {}
        self.multi: dict[fx.Node, list[Value]] = {}
        # An op's tuple result whose first item alone maps (a recurrent layer's output and
        # states, max's values and indices) → (that value, why the others do not).
        self.results: dict[fx.Node, tuple[Value, str]] = {}
        # Values computed from buffers and constants alone (a causal mask, positions 0..T-1).
        self.constants: dict[fx.Node, Any] = {}
        self.constant_nodes: dict[fx.Node, Value] = {}
        # mean + randn_like(·) * exp(logvar / 2): the add → its GaussianSample (export_sampling).
        self.samples: dict[fx.Node, NoiseSample] = {}
        self.claimed: set[fx.Node] = set()

    # ------------------------------------------------------------ regions
    def map_graph(self, graph: fx.Graph) -> None:
        if not self.regions:
            self.find_regions(graph)
            self.fold_constants(graph)
        for target in self.program.graph_signature.buffers_to_mutate.values():
            self.constructs.append(
                UnmappedConstruct(
                    f"self.{target}",
                    "buffer update",
                    f"self.{target}",
                    "forward changes this buffer on every call; the catalog's layers keep no "
                    "state of their own",
                )
            )
        super().map_graph(graph)

    def fold_constants(self, graph: fx.Graph) -> None:
        """Compute every op whose inputs are all buffers, constants or other such ops.

        Such a value is the same for every input (a mask cut to the sequence length, the
        positions 0..T-1); it becomes a Constant node where a layer reads it, and nothing
        where only other constants do. Learned parameters are never folded.
        """
        for node in graph.nodes:
            if node.op == "placeholder":
                if node.name in self.lifted and node.name not in self.learned:
                    self.constants[node] = self.lifted_tensor(self.lifted[node.name])
                continue
            if node.op != "call_function" or node in self.regions:
                continue
            if op_name(node) in _SHAPE_ONLY:
                # zeros_like(ids) reads only the shape of its input, which export fixed: the
                # same values on every run, the batch included (see `_collapse_batch`).
                self.fold_shape_only(node)
                continue
            if not all(arg in self.constants for arg in node.all_input_nodes):
                continue
            target: Any = node.target
            try:
                with torch.no_grad():
                    args = fx.node.map_arg(node.args, lambda n: self.constants[n])
                    kwargs = fx.node.map_arg(node.kwargs, lambda n: self.constants[n])
                    self.constants[node] = target(*args, **kwargs)
            except Exception:
                continue  # left to the rules, which say what it is

    def fold_shape_only(self, node: fx.Node) -> None:
        source = node.args[0]
        value = source.meta.get("val") if isinstance(source, fx.Node) else None
        if not isinstance(value, torch.Tensor):
            return
        target: Any = node.target
        stand_in = torch.zeros(tuple(value.shape), dtype=value.dtype)
        try:
            with torch.no_grad():
                self.constants[node] = target(stand_in, *node.args[1:], **node.kwargs)
        except Exception:
            return

    def find_regions(self, graph: fx.Graph) -> None:
        live = _live_nodes(graph)
        by_key: dict[str, _Region] = {}
        for node in graph.nodes:
            if node.op != "call_function" or node not in live:
                continue
            for key, path in _stack(node):
                module = self.submodule(path)
                if module is not None and path and _is_layer_module(module):
                    region = by_key.setdefault(key, _Region(key, path, module))
                    region.nodes.append(node)
                    self.regions[node] = region
                    break
        for region in by_key.values():
            inside = set(region.nodes)
            for node in region.nodes:
                for arg in node.all_input_nodes:
                    outside = arg not in inside and not self.owned_by(arg, region.path)
                    if outside and arg not in region.inputs:
                        region.inputs.append(arg)
                if any(user not in inside for user in node.users):
                    region.outputs.append(node)

    def owned_by(self, node: fx.Node, path: str) -> bool:
        """Whether `node` is a weight or buffer of the module at `path` (not an argument)."""
        target = self.lifted.get(node.name)
        if target is None:
            return False
        return any(name.startswith(f"{path}.") for name in self.aliases.get(target, [target]))

    def submodule(self, path: str) -> nn.Module | None:
        try:
            return self.root.get_submodule(path)
        except (AttributeError, TypeError):
            return None

    def map_node(self, node: fx.Node) -> Value | None:
        if node.op == "placeholder":
            if node.name in self.lifted:
                return None  # a weight; whoever uses it as a tensor maps it
            return self.input_value(node)
        sample = self.samples.get(node)
        if sample is not None:
            params: dict[str, object] = {}
            return self.new_layer(
                node, "studio.GaussianSample", params, [sample.mean, sample.logvar]
            )
        if node in self.claimed:
            return None  # part of a GaussianSample
        region = self.regions.get(node)
        if region is not None:
            if node is region.nodes[0]:
                self.map_region(region)
            return self.tensors.get(node)
        if node.op != "call_function" or node in self.constants:
            return None  # a constant becomes a node only where a layer reads it
        if self.is_state_view(node):
            return self.state_view(node)
        used = [a for a in node.all_input_nodes if a in self.states]
        if used:
            raise fx_import.state_refusal(self, used[0])
        rule = ATEN_RULES.get(op_name(node))
        if rule is None:
            value = node.meta.get("val")
            pieces = value if isinstance(value, list | tuple) else [value]
            if not any(isinstance(piece, torch.Tensor) for piece in pieces):
                return None  # sizes and other plain values
            raise Unmappable(f"the catalog has no layer for {op_name(node)}")
        try:
            return rule(self, node)
        except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
            raise Unmappable(f"is called with arguments the importer cannot read ({exc})") from None

    def input_value(self, node: fx.Node) -> Value:
        spec = self.specs.get(node.name)
        dims = _shape(node)[1:]
        if not 1 <= len(dims) <= 4:
            raise Unmappable(
                f"inputs need 1 to 4 dimensions after the batch; this one has {len(dims)}"
            )
        dtype = node.meta["tensor_meta"].dtype
        kind = "float" if dtype.is_floating_point else "long"
        return self.draft.add_input(spec.name if spec and spec.name else node.name, dims, kind)

    def map_region(self, region: _Region) -> None:
        if any(arg in self.failed for arg in region.inputs):
            self.failed.update(region.outputs)
            return
        call = self.module_call(region)
        value: Value | None
        try:
            if region.inputs and all(arg in self.constants for arg in region.inputs):
                value = self.constant_call(region, call)
            else:
                value = fx_import._FxMapper.map_node(self, call)
            self.assign_outputs(region, call, value)
        except Unmappable as exc:
            self.constructs.append(
                UnmappedConstruct(
                    f"self.{region.path}", self.kind(call), self.where(call), str(exc)
                )
            )
            for output in region.outputs:
                stand_in = self.stand_in(output)
                if stand_in is None:
                    self.failed.add(output)
                else:
                    self.tensors[output] = stand_in

    def constant_call(self, region: _Region, call: fx.Node) -> Value:
        """A layer module called on a constant: an Embedding of positions 0..T-1 (GPT-2's
        ``self.wpe(torch.arange(t))``) is the rows it reads, still learned: a Parameter."""
        module = region.module
        if not isinstance(module, nn.Embedding) or len(region.inputs) != 1:
            raise Unmappable("is called on a constant; only an Embedding of positions can be")
        if "studio.Parameter" not in self.draft.registry:
            raise Unmappable("an Embedding of positions needs a Parameter layer")
        if module.max_norm is not None:
            raise Unmappable("max_norm renormalizes the vectors; the catalog's layer does not")
        indices = _collapse_batch(self.constants[region.inputs[0]], self.batch)
        if indices.numel() and bool((indices == indices.flatten()[0]).all()):
            # One row read everywhere (BERT's token type 0): one learned vector, broadcast.
            indices = indices.flatten()[:1]
        rows = module.weight.detach()[indices].clone()
        shape, stored = _per_model(rows)
        return self.draft.add_layer(
            "studio.Parameter",
            call.name,
            {"shape": shape},
            [],
            where=self.where(call),
            weights={"weight": stored},
        )

    def module_call(self, region: _Region) -> fx.Node:
        """A ``call_module`` node as the fx tracer would have made it, for the fx rules.

        Its arguments are those of the recorded call (`_recording_calls`): keyword arguments
        and numbers as they were, each tensor a placeholder standing for the export node it
        was. So a rule sees ``self.encoder(x, mask=m, is_causal=True)`` as written, and
        refuses what it cannot reproduce, even where the module's ops never read the mask.
        """
        graph = fx.Graph()
        placeholders: dict[int, fx.Node] = {}

        def stand_for(source: fx.Node | None, like: Any) -> fx.Node:
            if like is not None and (source is None or source in self.constants):
                # A value that is the same on every run (a mask), or one the module's ops
                # never read: the rule may look at its numbers, as at a traced attribute.
                return graph.get_attr(self.hold_argument(like))
            placeholder = graph.placeholder(f"arg{len(placeholders)}")
            if source is not None:
                placeholder.meta["tensor_meta"] = source.meta.get("tensor_meta")
                self.proxies[placeholder] = source
            else:
                placeholder.meta["tensor_meta"] = _extract_tensor_metadata(like)
            return placeholder

        recorded = self.recorded_call(region)
        if recorded is None:
            args: tuple[Any, ...] = tuple(stand_for(i, None) for i in region.inputs)
            kwargs: dict[str, Any] = {}
        else:
            sources = _pair_tensors(recorded, region)
            if sources is None:
                raise Unmappable(
                    "reads a tensor that is not among its arguments; the catalog's layer "
                    "would not reproduce it"
                )

            def argument(value: Any) -> Any:
                if not isinstance(value, torch.Tensor):
                    return value
                key = id(value)
                if key not in placeholders:
                    placeholders[key] = stand_for(sources.get(key), value)
                return placeholders[key]

            args = tuple(_map_structure(a, argument) for a in recorded[0])
            kwargs = {k: _map_structure(v, argument) for k, v in recorded[1].items()}
        call = graph.call_module(region.path, args, kwargs)
        call.meta["stack_trace"] = region.nodes[0].meta.get("stack_trace")
        return call

    def hold_argument(self, tensor: torch.Tensor) -> str:
        """Keep `tensor` on the root module while mapping, for a rule reading it by name."""
        name = f"_strata_import_argument_{len(self.held)}"
        object.__setattr__(self.root, name, tensor)
        self.held.append(name)
        return name

    def release_arguments(self) -> None:
        for name in self.held:
            object.__delattr__(self.root, name)
        self.held.clear()

    def recorded_call(self, region: _Region) -> _Call | None:
        """The arguments of the call `region` came from (the n-th call of its module)."""
        _, _, count = region.key.partition("@")
        index = int(count) if count.isdigit() else 0
        calls = self.calls.get(region.path, ())
        return calls[index] if index < len(calls) else None

    def assign_outputs(self, region: _Region, call: fx.Node, value: Value | None) -> None:
        outputs = region.outputs
        if value is None and call in self.tuples:
            # RNN/LSTM/GRU/MultiheadAttention: the catalog's layer gives the first result only.
            value = (self.tuples[call], "out")
            kind = type(region.module).__name__
            results = [o for o in outputs if not isinstance(o.meta.get("val"), torch.Tensor)]
            for result in results:  # the op's (output, states); the getitems after it choose
                self.results[result] = (
                    value,
                    f"uses the {kind}'s final state; the catalog's layer returns only its "
                    "output sequence (use out[:, -1] for the last step)",
                )
            states = _recurrent_states(region, outputs)
            if states:
                self.keep_states(self.tuples[call], states)
            first = _first_result_shape(region.module, _shape(call.args[0]))
            others = [
                o for o in outputs if o not in results and o not in states and _shape(o) != first
            ]
            if others:
                kind = type(region.module).__name__
                raise Unmappable(
                    f"uses the {kind}'s second result (its final state or attention weights); "
                    "the catalog's layer returns only the first (use out[:, -1] for the last step)"
                )
        elif value is None:
            raise Unmappable("returns nothing the catalog's layer produces")
        elif len(outputs) > 1:
            raise Unmappable(
                f"{len(outputs)} of its results are used; the catalog's layer has one output"
            )
        for output in outputs:
            if output not in self.results and output not in self.states:
                self.tensors[output] = value

    def keep_states(self, layer: str, states: Mapping[fx.Node, int]) -> None:
        """The recurrent layer's final states used after it: its h (and c) ports, batch first.

        They stay out of `tensors` (torch's layout is (layers, N, H)): only another recurrent
        layer's starting state may read them (`fx_import._starting_state`).
        """
        self.draft.set_param(layer, "return_state", True)
        for output, index in states.items():
            self.states[output] = [(layer, "h" if index == 1 else "c")]

    def state(self, arg: object) -> list[Value] | None:
        if isinstance(arg, fx.Node):
            arg = self.proxies.get(arg, arg)
        return super().state(arg)

    def is_state_view(self, node: fx.Node) -> bool:
        """A transpose(0, 1) between torch's state layout and batch first, or a copy of a
        state: the Recurrent module's own code (generated code imported back) and
        hand-written encoder-decoders that transpose their states the same way."""
        name = op_name(node)
        source = node.args[0] if node.args else None
        if not isinstance(source, fx.Node) or name not in _STATE_VIEWS:
            return False
        if name != "aten.transpose":
            return source in self.states
        if {*node.args[1:3]} != {0, 1}:
            return False
        return source in self.states or (
            source in self.tensors and self.starts_recurrent_only(node)
        )

    def starts_recurrent_only(self, node: fx.Node) -> bool:
        """Whether every use of `node` (through copies) is a recurrent layer's starting state."""
        for user in node.users:
            if op_name(user) in _STATE_VIEWS and op_name(user) != "aten.transpose":
                if not self.starts_recurrent_only(user):
                    return False
                continue
            region = self.regions.get(user)
            if region is None or not isinstance(region.module, nn.RNN | nn.LSTM | nn.GRU):
                return False
        return True

    def state_view(self, node: fx.Node) -> Value | None:
        source = node.args[0]
        assert isinstance(source, fx.Node)
        if op_name(node) != "aten.transpose":
            self.states[node] = self.states[source]
            return None
        if source in self.states:
            if len(self.states[source]) != 1:
                raise Unmappable("transposes an LSTM's (h, c) pair; transpose h and c apart")
            return self.states[source][0]
        self.states[node] = [self.tensors[source]]
        return None

    # ------------------------------------------------------------ shared weights
    def shared_weights(self) -> list[UnmappedConstruct]:
        """Tensors that are the weights of two different layers (tied embeddings).

        A module called twice is tied to its first call by the fx mapper's `layer`; one
        tensor read by two different modules is refused rather than imported as copies that
        would train apart, unless it is the weight of a Linear and the table of an Embedding
        (tied embeddings): `layer` ties the later-called one's weight to the first's.
        """
        return self.tied_weights()

    def tied_weights(self) -> list[UnmappedConstruct]:
        constructs = []
        for node in self.program.graph.nodes:
            target = self.lifted.get(node.name) if node.op == "placeholder" else None
            if target is None:
                continue
            owners: dict[str, fx.Node] = {}
            for user in node.users:
                region = self.regions.get(user)
                if region is not None:
                    owner = f"self.{region.path}"
                elif op_name(user) in COPIES_WEIGHTS:
                    owner = f"`{self.call_site(user)}`"
                else:
                    owner = f"self.{target}"  # one Parameter node, read wherever it is used
                owners.setdefault(owner, user)
            if len(owners) > 1 and not self.embedding_tie(target, owners):
                users = " and ".join(owners)
                constructs.append(
                    UnmappedConstruct(
                        f"self.{target}",
                        "tied weights",
                        self.call_site(next(iter(owners.values()))),
                        f"self.{target} is used by {users}; only an nn.Embedding's table and "
                        "an nn.Linear module's weight can be tied (``self.wte.weight = "
                        "self.lm_head.weight``), so importing it would make copies that train "
                        "apart",
                    )
                )
        return constructs

    def embedding_tie(self, target: str, owners: Mapping[str, fx.Node]) -> bool:
        """Whether the tensor `target` is only a Linear's weight and an Embedding's table."""
        regions = [self.regions.get(user) for user in owners.values()]
        if len(regions) != 2 or any(region is None for region in regions):
            return False
        modules = [region.module for region in regions if region is not None]
        try:
            tensor = self.root.get_parameter(target)
        except AttributeError:
            return False  # a buffer: a table nothing learns is no tie
        return (
            all(getattr(module, "weight", None) is tensor for module in modules)
            and any(isinstance(module, nn.Linear) for module in modules)
            and any(isinstance(module, nn.Embedding) for module in modules)
        )

    def call_site(self, node: fx.Node) -> str:
        """The outermost line of the user's code `node` was traced from."""
        for filename, lineno, _function, code in fx_import._FRAME.findall(
            node.meta.get("stack_trace") or ""
        ):
            path = Path(filename)
            ours = (
                path.resolve() == self.source_file
                if self.source_file is not None
                else "torch" not in path.parts and "site-packages" not in path.parts
            )
            if ours:
                return f"{path.name}:{lineno} `{code.strip()}`"
        return node.name

    # ------------------------------------------------------------ helpers for rules
    def tensor(self, arg: object) -> Value:
        if isinstance(arg, fx.Node):
            arg = self.proxies.get(arg, arg)
            if arg.op == "placeholder" and arg.name in self.lifted:
                return self.parameter(arg)
            if arg in self.constants:
                return self.constant(arg)
        return super().tensor(arg)

    def constant(self, node: fx.Node) -> Value:
        """A folded value (see `fold_constants`) as one Constant node holding its numbers."""
        if node in self.constant_nodes:
            return self.constant_nodes[node]
        value = self.constants[node]
        if not isinstance(value, torch.Tensor) or not value.dtype.is_floating_point:
            what = type(value).__name__ if not isinstance(value, torch.Tensor) else value.dtype
            raise Unmappable(
                f"uses {node.name}, a constant {what} computed in forward, as a layer input; "
                "the catalog's Constant holds float numbers"
            )
        made = self.fixed_tensor(node.name, _collapse_batch(value, self.batch), self.where(node))
        self.constant_nodes[node] = made
        return made

    def fixed_tensor(self, name: str, tensor: torch.Tensor, where: str) -> Value:
        if "studio.Constant" not in self.draft.registry:
            raise Unmappable(f"uses {name}, a constant tensor; the catalog has no Constant layer")
        shape, stored = _per_model(tensor)
        return self.draft.add_layer(
            "studio.Constant",
            name,
            {"shape": shape, "kind": "values"},
            [],
            where=where,
            weights={"value": stored.float()},
        )

    def weight(self, arg: object, what: str) -> Any:
        """The tensor behind a parameter or buffer argument (None stays None)."""
        if arg is None:
            return None
        if isinstance(arg, fx.Node) and arg.name in self.lifted:
            return self.lifted_tensor(self.lifted[arg.name])
        raise Unmappable(f"its {what} is computed in forward; the catalog's layer holds its own")

    def lifted_tensor(self, target: str) -> torch.Tensor:
        program = self.program
        value = program.state_dict.get(target)
        if value is None:
            value = program.constants.get(target)
        if not isinstance(value, torch.Tensor):
            raise Unmappable(f"self.{target} is not a tensor")
        return value.detach().clone()

    def parameter(self, node: fx.Node) -> Value:
        """A parameter (a class token) or buffer (a fixed table) used directly, as one node.

        A parameter becomes a Parameter node, a buffer a Constant node holding its values.
        Both store (1, *shape), the 1 broadcasting over the batch: a leading 1 of the torch
        tensor is that 1; any other tensor gains it (the same values under broadcasting).
        """
        target = self.lifted[node.name]
        if target in self.parameters:
            return self.parameters[target]
        learned = node.name in self.learned
        type_id = "studio.Parameter" if learned else "studio.Constant"
        if type_id not in self.draft.registry:
            raise Unmappable(
                f"uses self.{target} directly as a tensor; the catalog has no "
                f"{type_id.removeprefix('studio.')} layer yet"
            )
        tensor = self.lifted_tensor(target)
        if not tensor.dtype.is_floating_point:
            raise Unmappable(f"uses self.{target}, a {tensor.dtype} tensor, in arithmetic")
        shape, tensor = _per_model(tensor)
        if learned:
            params: dict[str, object] = {"shape": shape}
            weights = {"weight": tensor.float()}
        else:
            params = {"shape": shape, "kind": "values"}
            weights = {"value": tensor.float()}
        value = self.draft.add_layer(
            type_id, target, params, [], where=f"self.{target}", weights=weights
        )
        self.parameters[target] = value
        return value

    def new_layer(
        self,
        node: fx.Node,
        type_id: str,
        params: Mapping[str, object],
        inputs: Sequence[object] | None = None,
        what: str = "",
    ) -> Value:
        """A layer the catalog is gaining (MatMul, Slice, ...): refused where it is missing."""
        if type_id not in self.draft.registry:
            title = type_id.removeprefix("studio.")
            what = what or op_name(node)
            raise Unmappable(f"{what} needs a {title} layer; the catalog has none")
        return self.layer(node, type_id, params, inputs)

    def kind(self, node: fx.Node) -> str:
        if node.op == "call_function" and str(node.target).startswith("aten."):
            return f"op {op_name(node)}"
        return super().kind(node)

    def where(self, node: fx.Node) -> str:
        place = super().where(node)
        if node.op != "call_function":
            return place
        paths = [path for _key, path in _stack(node) if path]
        if not paths:
            return place
        module = f"self.{paths[-1]}"
        return module if place == node.name else f"{module}, {place}"


_SHAPE_ONLY = {"aten.zeros_like", "aten.ones_like", "aten.full_like", "aten.new_zeros"}
_SHAPE_ONLY |= {"aten.new_ones", "aten.new_full"}


def _aliases(root: nn.Module) -> dict[str, list[str]]:
    """Each parameter's and buffer's names, under every name it has (a tied tensor has two)."""
    names: dict[int, list[str]] = {}
    for name, tensor in [
        *root.named_parameters(remove_duplicate=False),
        *root.named_buffers(remove_duplicate=False),
    ]:
        names.setdefault(id(tensor), []).append(name)
    return {name: group for group in names.values() for name in group}


def _collapse_batch(value: torch.Tensor, batch: int) -> torch.Tensor:
    """A constant made at the examples' batch size, the same for every sample, as one sample.

    ``torch.zeros_like(input_ids)`` is (N, L) on the examples; the imported graph holds it
    once, broadcast over whatever batch comes.
    """
    if (
        value.dim() >= 2
        and batch > 1
        and value.shape[0] == batch
        and bool((value == value[:1]).all())
    ):
        return value[:1]
    return value


def _per_model(tensor: torch.Tensor) -> tuple[tuple[int, ...], torch.Tensor]:
    """(shape, stored) for a Parameter or Constant node, which stores (1, *shape).

    A leading 1 of the torch tensor is that 1; any other tensor gains it, which gives the
    same values wherever torch broadcasts it against a batch.
    """
    if tensor.dim() >= 2 and tensor.shape[0] == 1:
        return tuple(tensor.shape[1:]), tensor
    return tuple(tensor.shape), tensor.unsqueeze(0)


_Call = tuple[tuple[Any, ...], dict[str, Any]]
"""The positional and keyword arguments one module call received."""


@contextmanager
def _recording_calls(module: nn.Module, calls: dict[str, list[_Call]]) -> Iterator[None]:
    """Record every call of a layer module (by module path) while `module` runs."""

    def hook_for(path: str) -> Callable[..., None]:
        def record(_module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            calls.setdefault(path, []).append((tuple(args), dict(kwargs)))

        return record

    handles = [
        sub.register_forward_pre_hook(hook_for(path), with_kwargs=True)
        for path, sub in module.named_modules()
        if path and _is_layer_module(sub)
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _map_structure(value: Any, leaf: Callable[[Any], Any]) -> Any:
    if isinstance(value, tuple | list):
        return type(value)(_map_structure(v, leaf) for v in value)
    return leaf(value)


def _tensors_of(value: Any) -> list[torch.Tensor]:
    if isinstance(value, tuple | list):
        return [t for v in value for t in _tensors_of(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors_of(v)]
    return [value] if isinstance(value, torch.Tensor) else []


def _pair_tensors(recorded: _Call, region: _Region) -> dict[int, fx.Node] | None:
    """Each distinct tensor argument of the call → the export node it was, or None.

    Tensors pair with the region's inputs by shape and dtype, in order; a tensor the ops never
    read (a mask ignored for ``is_causal``) pairs with nothing. None when the ops read an input
    that is no argument at all.
    """
    distinct: dict[int, torch.Tensor] = {}
    for tensor in _tensors_of([recorded[0], recorded[1]]):
        distinct.setdefault(id(tensor), tensor)
    unpaired = list(region.inputs)
    pairs: dict[int, fx.Node] = {}
    for key, tensor in distinct.items():
        for source in unpaired:
            meta = source.meta.get("val")
            if (
                isinstance(meta, torch.Tensor)
                and tuple(meta.shape) == tuple(tensor.shape)
                and meta.dtype == tensor.dtype
            ):
                pairs[key] = source
                unpaired.remove(source)
                break
    return None if unpaired else pairs


_STATE_VIEWS = ("aten.transpose", "aten.contiguous", "aten.clone")


def _recurrent_states(region: _Region, outputs: Sequence[fx.Node]) -> dict[fx.Node, int]:
    """The outputs that are a recurrent op's final states → 1 for h, 2 for an LSTM's c.

    ``aten.gru``/``aten.rnn_tanh`` return (output, h), ``aten.lstm`` (output, h, c); each is
    read by a getitem inside the module's region.
    """
    if not isinstance(region.module, nn.RNN | nn.LSTM | nn.GRU):
        return {}
    found: dict[fx.Node, int] = {}
    for output in outputs:
        if output.target is not operator.getitem:
            continue
        source, index = output.args[0], output.args[1]
        if isinstance(source, fx.Node) and source in region.nodes and index in (1, 2):
            found[output] = 1 if index == 1 else 2
    return found


def _first_result_shape(module: nn.Module, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(module, nn.MultiheadAttention):
        return in_shape
    hidden = int(getattr(module, "hidden_size", 0)) * (
        2 if getattr(module, "bidirectional", 0) else 1
    )
    return (*in_shape[:-1], hidden)
