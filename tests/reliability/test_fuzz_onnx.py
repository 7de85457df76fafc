"""Fuzzed ONNX files: every mutation of a real export either imports, reproducing the mutated
model's outputs, or ends in a `StudioError` with a message; never another exception, never a
hang. The sources are the importer's hardest cases (attention from torch's exporters, a
bidirectional GRU read at its ends, embeddings with a position table), where the pattern
matchers walk furthest."""

from __future__ import annotations

import functools
import os
import tempfile
import warnings
from pathlib import Path

import onnx
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from studio.core.errors import StudioError
from studio.core.registry import LayerRegistry
from studio.importers.command import check_outputs
from studio.importers.onnx_import import import_onnx_file, import_onnx_model
from tests.importers import hostile_models as hostile
from tests.importers.onnx_models import export_onnx
from tests.importers.source_models import TransformerClassifier
from tests.importers.test_onnx_import import BidirectionalEnds, TokenModel

from .conftest import EXAMPLES_ENV, Figures, fuzz_settings, fuzz_timeout, time_bound

pytestmark = pytest.mark.fuzz

# The dynamo export (5 s to make) joins in the long run only: its patterns are the same ones.
SOURCES = ("transformer-torchscript", "bidirectional-ends", "tokens") + (
    ("transformer-dynamo",) if EXAMPLES_ENV in os.environ else ()
)
OPS = ["Add", "Mul", "Sub", "Div", "Relu", "Sigmoid", "Erf", "Softmax", "Identity", "Transpose"]


def _registry() -> LayerRegistry:
    from studio.layers import register

    registry = LayerRegistry()
    register(registry)
    return registry


REGISTRY = _registry()


@functools.cache
def _source(name: str) -> bytes:
    """The ONNX bytes of one source model, exported once per session."""
    torch.manual_seed(0)
    folder = Path(tempfile.mkdtemp(prefix="strata-onnx-fuzz-"))
    path = folder / f"{name}.onnx"
    if name.startswith("transformer"):
        export_onnx(TransformerClassifier(), path, dynamo=name.endswith("dynamo"))
    elif name == "bidirectional-ends":
        export_onnx(BidirectionalEnds(), path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                TokenModel().eval(),
                (torch.randint(0, 50, (2, 7)),),
                str(path),
                dynamo=False,
                dynamic_axes={"ids": {0: "batch"}},
                input_names=["ids"],
            )
    return path.read_bytes()


@st.composite
def mutated_models(draw: st.DrawFn) -> onnx.ModelProto:
    """A source model with one to three of its nodes rewired, retyped or re-attributed."""
    model = onnx.load_from_string(_source(draw(st.sampled_from(SOURCES))))
    nodes = list(model.graph.node)
    for _ in range(draw(st.integers(1, 3))):
        node = nodes[draw(st.integers(0, len(nodes) - 1))]
        kind = draw(st.sampled_from(["swap", "rewire", "retype", "attribute"]))
        if kind == "swap" and len(node.input) >= 2:
            i, j = draw(st.permutations(range(len(node.input))))[:2]
            node.input[i], node.input[j] = node.input[j], node.input[i]
        elif kind == "rewire" and node.input:
            other = nodes[draw(st.integers(0, len(nodes) - 1))]
            node.input[draw(st.integers(0, len(node.input) - 1))] = other.output[0]
        elif kind == "retype":
            node.op_type = draw(st.sampled_from(OPS))
        else:
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.INTS and attribute.ints:
                    index = draw(st.integers(0, len(attribute.ints) - 1))
                    attribute.ints[index] = draw(st.integers(-2, 3))
                elif attribute.type == onnx.AttributeProto.INT:
                    attribute.i = draw(st.integers(-2, 3))
    return model


def check_imports_or_refuses(model: onnx.ModelProto, figures: Figures) -> None:
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError:
        figures.add("onnx fuzz: refused by the ONNX checker")
        return
    try:
        with time_bound():
            imported = import_onnx_model(model, REGISTRY)
            # Written only when the compiled project reproduces the file's outputs.
            check_outputs(imported)
    except StudioError as exc:
        assert str(exc).strip()
        figures.add("onnx fuzz: refused with a message")
    else:
        figures.add("onnx fuzz: imported")
    figures.add("onnx fuzz: cases")


@fuzz_timeout(default=40)
@fuzz_settings(default=40)
@given(model=mutated_models())
def test_mutated_exports_import_or_raise_a_studio_error(
    model: onnx.ModelProto, figures: Figures
) -> None:
    check_imports_or_refuses(model, figures)


@fuzz_timeout(default=20)
@fuzz_settings(default=20)
@given(
    name=st.sampled_from(SOURCES),
    at=st.floats(0, 1),
    data=st.binary(min_size=1, max_size=256),
)
def test_damaged_bytes_are_refused_or_import(
    name: str, at: float, data: bytes, tmp_path_factory: pytest.TempPathFactory, figures: Figures
) -> None:
    raw = _source(name)
    cut = int(at * len(raw))
    path = tmp_path_factory.mktemp("onnx") / "damaged.onnx"
    path.write_bytes(raw[:cut] + data + raw[cut + len(data) :])
    try:
        with time_bound():
            check_outputs(import_onnx_file(path, REGISTRY))
    except StudioError as exc:
        assert str(path) in str(exc)  # the message says which file
        figures.add("onnx fuzz: refused with a message")
    else:
        figures.add("onnx fuzz: imported")
    figures.add("onnx fuzz: cases")


@st.composite
def hostile_models(draw: st.DrawFn) -> onnx.ModelProto:
    """Loops of any trip count (nested or in a branch) and inputs of any declared size."""
    trips = draw(st.one_of(st.integers(0, 8), st.integers(10**5, 10**15)))
    kind = draw(st.sampled_from(["loop", "loop-in-loop", "loop-in-branch", "input"]))
    if kind == "loop":
        return hostile.counted_loop(trips)
    if kind == "loop-in-loop":
        return hostile.loop_in_loop(trips, draw(st.integers(0, 10**4)))
    if kind == "loop-in-branch":
        return hostile.loop_in_branch(trips)
    model = hostile.huge_input()
    dims = draw(st.lists(st.integers(1, 10**6), min_size=2, max_size=4))
    shape = model.graph.input[0].type.tensor_type.shape
    del shape.dim[:]
    for size in dims:
        shape.dim.add().dim_value = size
    return model


@fuzz_timeout(default=20)
@fuzz_settings(default=20)
@given(model=hostile_models())
def test_hostile_loops_and_sizes_end_in_time(model: onnx.ModelProto, figures: Figures) -> None:
    # Issue 15: a Loop of 10¹² iterations ran inside the importer, where neither Ctrl-C nor
    # this time bound could stop it; an input declared 1×30000×30000 took 10 GB.
    try:
        with time_bound():
            import_onnx_model(model, REGISTRY, source="hostile.onnx")
    except StudioError as exc:
        assert str(exc).startswith("hostile.onnx")
        figures.add("onnx fuzz: hostile, refused with a message")
    else:
        figures.add("onnx fuzz: hostile, imported")
    figures.add("onnx fuzz: hostile cases")
