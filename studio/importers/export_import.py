"""Import a PyTorch module through `torch.export` (the first front end of ``studio import``).

Symbolic `torch.fx` tracing stops at ordinary Python in ``forward``: ``if x.is_cuda``,
``assert t <= self.block_size``, ``b, t, c = x.size()`` fed to a ``view``, einops-style
rearranges. ``torch.export.export(module, examples, strict=False)`` runs ``forward`` on the
example inputs instead, so such Python is specialised away, and records for every ATen op the
source line (``stack_trace``) and the module calls it sits in (``nn_module_stack``).

The graph is then read in two ways:

- The ops of one call of a layer module the catalog knows (any class with a rule in
  `studio.importers.fx_import` or `studio.importers.module_layers`) collapse back into that call
  and are mapped by the same rule the fx importer uses, with the module's own weights.
- Every other op maps through the table of `studio.importers.export_ops` (view → Reshape,
  transpose → Permute, add → Add, matmul → MatMul where the catalog has it, ...). A parameter
  used directly (a class token) becomes a Parameter node, a buffer or a value computed from
  buffers alone (a causal mask) a Constant node, where the catalog has those layers.

An op with no mapping is reported with its own source line and module path. A module with
weights called twice (a siamese tower) is tied to its first call; one tensor used as the
weight of two different layers (tied embeddings) is refused. torch.export
failures that are not about the model's values
(`ExportUnavailable`) let the caller fall back to the fx importer.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn

from studio.core.registry import LayerRegistry
from studio.importers import fx_import
from studio.importers.export_mapper import _Call, _ExportMapper, _recording_calls
from studio.importers.export_sampling import find_noise_samples, noise_at_zero
from studio.importers.fx_import import (
    _failing_line,
    _flatten_output,
    instantiate,
    split_source,
)
from studio.importers.inputs import InputArg, TensorInput, flat, from_shapes
from studio.importers.mapping import (
    GraphDraft,
    ImportedModel,
    ImportFailure,
    UnmappedConstruct,
    UnsupportedModelError,
)

FRONT_END = "torch.export"
_MIN_BATCH = 2  # a batch of 1 cannot tell the batch dimension from a reshape's 1
_DEFAULT_VOCABULARY = 2  # integer inputs that feed no Embedding: small, valid as indices


class ExportUnavailable(Exception):
    """torch.export cannot run the model; `construct` says where and why (fx may still work)."""

    def __init__(self, construct: UnmappedConstruct) -> None:
        super().__init__(construct.format())
        self.construct = construct


# --------------------------------------------------------------------------------- entry points


def import_python_file(
    source: str,
    registry: LayerRegistry,
    *,
    kwargs: dict[str, Any] | None = None,
    inputs: Sequence[InputArg] | None = None,
) -> ImportedModel:
    """Load ``file.py:ClassName`` and import it: torch.export first, torch.fx where it cannot run.

    Raises:
        ImportFailure: the file, class or inputs are wrong.
        UnsupportedModelError: some constructs have no catalog layer (all are listed).
    """
    path, class_name = split_source(source)
    with fx_import._user_module(path) as loaded:
        instance = instantiate(path, class_name, kwargs or {}, loaded)
        try:
            return import_module_export(
                instance, registry, inputs=inputs, source=source, source_file=path
            )
        except ExportUnavailable as failure:
            return _fall_back_to_fx(instance, registry, inputs, source, path, failure.construct)


def _fall_back_to_fx(
    instance: nn.Module,
    registry: LayerRegistry,
    inputs: Sequence[InputArg] | None,
    source: str,
    path: Path,
    why: UnmappedConstruct,
) -> ImportedModel:
    """The fx importer, for a model torch.export could not run; its refusal lists both."""
    # fx takes shapes only, and finds token ids by the Embedding they feed.
    plain = (None, "float32", "int64")
    if inputs and any(isinstance(a, tuple) or a.dtype not in plain for a in inputs):
        raise UnsupportedModelError(source, [why])
    shapes = [a.shape for a in inputs if isinstance(a, TensorInput)] if inputs else None
    try:
        imported = fx_import.import_module(
            instance, registry, input_shapes=shapes, source=source, source_file=path
        )
    except UnsupportedModelError as exc:
        if why.kind == "data-dependent control flow":
            # torch.export's line is the one to change; fx's view of it adds nothing.
            raise UnsupportedModelError(source, [why], exc.partial) from None
        raise UnsupportedModelError(source, [why, *exc.constructs], exc.partial) from None
    except ImportFailure as exc:
        raise ImportFailure(f"{exc} (torch.export could not run it either: {why.reason})") from None
    if why.kind == "data-dependent control flow":
        imported.front_end = (
            f"torch.fx (torch.export stopped at a branch on tensor values, {why.where}, "
            "which symbolic tracing keeps inside a whole module)"
        )
    else:
        imported.front_end = f"torch.fx (torch.export could not run the model: {why.reason})"
    return imported


def import_module_export(
    module: nn.Module,
    registry: LayerRegistry,
    *,
    inputs: Sequence[InputArg] | None = None,
    source: str | None = None,
    source_file: Path | None = None,
) -> ImportedModel:
    """Map an `nn.Module` instance (in eval mode) through torch.export; see the module docstring.

    Raises:
        ExportUnavailable: torch.export itself cannot run the model.
        ImportFailure: the inputs are wrong, or the model does not run on them.
        UnsupportedModelError: some constructs have no catalog layer (all are listed).
    """
    module.eval()
    name = type(module).__name__
    source = source or name
    args = list(inputs) if inputs else from_shapes(fx_import._input_shapes(module, None))
    _check_arity(module, args)
    args = _with_token_inputs(module, args)
    examples = _examples(module, args)
    calls: dict[str, list[_Call]] = {}
    try:
        with torch.no_grad(), _recording_calls(module, calls):
            expected = module(*examples)
    except Exception as exc:
        shown = ", ".join(_describe(a) for a in args)
        hint = ""
        if any(isinstance(m, nn.Embedding) for m in module.modules()):
            hint = "; describe token ids with --input NAME:long:SHAPE"
        raise ImportFailure(
            f"{name} does not run on inputs {shown}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}{hint}"
        ) from None
    program = _export(module, examples, source, source_file)
    specs = flat(args)
    mapper = _ExportMapper(module, program, GraphDraft(registry), source_file, specs, calls)
    mapper.find_regions(program.graph)
    mapper.fold_constants(program.graph)
    mapper.samples = find_noise_samples(program.graph)
    mapper.claimed = {n for sample in mapper.samples.values() for n in sample.claimed}
    constructs = mapper.shared_weights()
    try:
        mapper.map_graph(program.graph)
    finally:
        mapper.release_arguments()
    constructs += mapper.constructs
    if constructs:
        partial = mapper.draft.partial_project(name, source, constructs)
        raise UnsupportedModelError(source, constructs, partial)
    mapper.draft.check_shapes(source)
    if mapper.samples:
        expected = noise_at_zero(module, examples)  # what the GaussianSample gives in eval
    project = mapper.draft.to_project(name, description=f"Imported from {source}.")
    flat_examples = tuple(
        t.float() if t.dtype == torch.float64 else t
        for t in _flatten_output(examples)
        if isinstance(t, torch.Tensor)
    )
    return ImportedModel(
        project,
        mapper.draft.state_dict(),
        flat_examples,
        _flatten_output(expected),
        source,
        front_end=FRONT_END + (_NOISE_NOTE if mapper.samples else ""),
    )


# --------------------------------------------------------------------------------- inputs


_NOISE_NOTE = (
    "; the noise drawn in forward became a GaussianSample, which returns the mean in eval, "
    "so the source was compared with its noise at 0"
)


def _describe(arg: InputArg) -> str:
    if isinstance(arg, tuple):
        return "(" + " + ".join(t.describe() for t in arg) + ")"
    return arg.describe()


def _check_arity(module: nn.Module, args: Sequence[InputArg]) -> None:
    import inspect

    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
        return
    required = [p for p in parameters if p.default is p.empty]
    allowed = list(parameters)
    if not len(required) <= len(args) <= len(allowed):
        names = ", ".join(p.name for p in allowed)
        raise ImportFailure(
            f"{type(module).__name__}.forward({names}) takes {len(required)} to {len(allowed)} "
            f"input(s) but {len(args)} were given; pass one --input per argument, in order"
        )


def _vocabulary(module: nn.Module) -> int:
    sizes = [m.num_embeddings for m in module.modules() if isinstance(m, nn.Embedding)]
    return min(sizes) if sizes else _DEFAULT_VOCABULARY


def _examples(module: nn.Module, args: Sequence[InputArg]) -> tuple[Any, ...]:
    """Random example inputs; a plain tensor's batch is at least 2 (unless a tuple is given).

    A tuple argument (an LSTM's ``(h, c)``) holds its batch in another dimension, so with tuples
    every shape is used exactly as given.
    """
    generator = torch.Generator().manual_seed(0)
    vocabulary = _vocabulary(module)
    raise_batch = not any(isinstance(a, tuple) for a in args)

    def example(spec: TensorInput) -> torch.Tensor:
        shape = spec.shape
        if raise_batch:
            shape = (max(shape[0], _MIN_BATCH), *shape[1:])
        dtype = getattr(torch, spec.dtype or "float32")
        if dtype.is_floating_point:
            return torch.randn(shape, generator=generator, dtype=dtype)
        return torch.randint(0, vocabulary, shape, generator=generator, dtype=dtype)

    return tuple(tuple(example(t) for t in a) if isinstance(a, tuple) else example(a) for a in args)


class _FoundToken(Exception):
    def __init__(self, tensor: torch.Tensor) -> None:
        super().__init__()
        self.tensor = tensor


def _with_token_inputs(module: nn.Module, args: list[InputArg]) -> list[InputArg]:
    """Inputs given without a dtype become int64 where they feed an Embedding (token ids).

    The module runs on float examples with a hook on every Embedding; the first input seen
    there is switched to int64 and the run repeats, until no Embedding reads a float input.
    """
    embeddings = [m for m in module.modules() if isinstance(m, nn.Embedding)]
    if not embeddings:
        return args

    def stop(_module: nn.Module, hook_args: tuple[Any, ...]) -> None:
        if hook_args and isinstance(hook_args[0], torch.Tensor):
            raise _FoundToken(hook_args[0])

    for _ in range(len(args)):
        examples = _examples(module, args)
        handles = [m.register_forward_pre_hook(stop) for m in embeddings]
        try:
            with torch.no_grad():
                module(*examples)
            return args
        except _FoundToken as found:
            index = next(
                (
                    i
                    for i, (a, e) in enumerate(zip(args, examples, strict=True))
                    if isinstance(a, TensorInput) and a.dtype is None and e is found.tensor
                ),
                None,
            )
            if index is None:
                return args
            arg = args[index]
            assert isinstance(arg, TensorInput)
            args[index] = TensorInput(arg.shape, "int64", arg.name)
        except Exception:
            return args  # the real run below reports it
        finally:
            for handle in handles:
                handle.remove()
    return args


# --------------------------------------------------------------------------------- exporting


@contextmanager
def _quiet_torch() -> Iterator[None]:
    """torch.export logs, warns and prints graph dumps while it works; none is for the user."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def _export(
    module: nn.Module, examples: tuple[Any, ...], source: str, source_file: Path | None
) -> Any:
    name = type(module).__name__
    try:
        with _quiet_torch():
            program = torch.export.export(module, examples, strict=False)
            if _mutates(program.graph):
                # ``out += x`` and ``relu(inplace=True)`` leave in-place ops, and a view taken
                # before one would still name the old value; functionalized, every op makes
                # a new value (nothing is decomposed: linear and layer_norm stay whole).
                program = program.run_decompositions({})
            return program
    except Exception as exc:
        where, code = _failing_line(exc, source_file)
        if _data_dependent(exc):
            reason = (
                f"`{code or 'this line'}` depends on tensor values; a graph of layers cannot "
                "branch on values, so rewrite it without the condition or leave it out"
            )
            construct = UnmappedConstruct(
                f"{name}.forward", "data-dependent control flow", where, reason
            )
            # Often torch's own code, not the model's (nn.TransformerEncoder tests whether a
            # mask is causal): symbolic fx keeps such modules whole, so it gets a try.
            raise ExportUnavailable(construct) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {first}"
        if len(reason) > 160:  # torch's advice that follows is about torch, not the model
            reason = reason[:160].rsplit(" ", 1)[0] + " ..."
        raise ExportUnavailable(
            UnmappedConstruct(f"{name}.forward", "torch.export", where, reason)
        ) from None


def _mutates(graph: fx.Graph) -> bool:
    for node in graph.nodes:
        schema = getattr(node.target, "_schema", None)
        if node.op == "call_function" and schema is not None and schema.is_mutable:
            return True
    return False


def _data_dependent(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 8:
        text = f"{type(exc).__name__} {exc}".lower()
        if "datadependent" in text or "data-dependent" in text or "data dependent" in text:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
