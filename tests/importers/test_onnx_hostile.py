"""Hostile ONNX files: refused before anything runs, stopped by Ctrl-C, long chains in time.

Issue 15: a `Loop` with a huge trip count ran inside the importer and Ctrl-C did not stop it;
an input declared 1×30000×30000 became 10 GB; a 200k-node chain took more than 10 minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import onnx
import pytest

from benchmarks.onnx_chain import operator_chain
from studio.core.errors import StudioError
from studio.core.graph import MAX_COORDINATE
from studio.core.layout import LAYER_GAP, NODE_GAP
from studio.core.registry import LayerRegistry
from studio.importers.mapping import (
    ImportFailure,
    ImportStopped,
    UnsupportedModelError,
    _within_bounds,
)
from studio.importers.onnx_checks import MEMORY_VARIABLE
from studio.importers.onnx_import import import_onnx_file, import_onnx_model
from tests.importers import hostile_models as hostile

ROOT = Path(__file__).resolve().parents[2]


def _saved(model: onnx.ModelProto, path: Path) -> Path:
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _long_loop() -> onnx.ModelProto:
    """Allowed (900,000 operator runs) but minutes long: 300,000 products by a 2048² matrix."""
    return hostile.counted_loop(300_000, width=2048, matrix=True)


# ---------------------------------------------------------------- refused before running


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("build", "node", "words"),
    [
        (lambda: hostile.counted_loop(10**12), "'loop' (Loop)", "1,000,000,000,000 iterations"),
        (hostile.unbounded_loop, "'loop' (Loop)", "has no trip count"),
        (hostile.computed_trip_count, "'loop' (Loop)", "trip count from 'n'"),
        (lambda: hostile.loop_in_branch(10**9), "then_branch branch of node 'branch'", "Loop"),
        (lambda: hostile.loop_in_loop(1000, 1000), "node 'inner' (Loop)", "1,000,000 iterations"),
        (hostile.scan_in_branch, "node 'scan' (Scan)", "length cannot be known"),
        (hostile.expand_to_computed_shape, "node 'expand' (Expand)", "depends on values"),
        (hostile.custom_operator, "node 'fused' (FusedGemm)", "'com.microsoft'"),
        (hostile.constant_of_huge_shape, "node 'fill' (ConstantOfShape)", "3.4 GiB"),
    ],
    ids=[
        "loop-1e12",
        "loop-without-trip-count",
        "loop-computed-trip-count",
        "loop-in-if-branch",
        "loop-in-loop",
        "scan-in-if-branch",
        "expand-to-computed-shape",
        "custom-domain",
        "constant-of-huge-shape",
    ],
)
def test_models_that_would_not_end_or_fit_are_refused_before_running(
    build: object, node: str, words: str, tmp_path: Path, registry: LayerRegistry
) -> None:
    path = _saved(build(), tmp_path / "hostile.onnx")  # type: ignore[operator]
    start = time.perf_counter()
    with pytest.raises(ImportFailure) as refused:
        import_onnx_file(path, registry)
    message = str(refused.value)
    assert str(path) in message and node in message and words in message
    assert "nothing was run" in message
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize(
    "model",
    [hostile.counted_loop(3), hostile.loop_in_loop(10, 10), hostile.loop_in_branch(3)],
    ids=["small-loop", "small-loop-in-loop", "small-loop-in-branch"],
)
def test_small_constant_loops_run_and_are_then_reported(
    model: onnx.ModelProto, registry: LayerRegistry
) -> None:
    # Allowed to run: the import then fails only because the catalog has no loops.
    with pytest.raises(UnsupportedModelError):
        import_onnx_model(model, registry, source="small.onnx")


@pytest.mark.timeout(30)
def test_huge_declared_input_is_refused_without_allocating(
    tmp_path: Path, registry: LayerRegistry
) -> None:
    # 1×30000×30000 float32 is 3.4 GiB; the old importer drew it in float64 first (10 GB).
    path = _saved(hostile.huge_input(), tmp_path / "huge.onnx")
    tracemalloc.start()
    try:
        with pytest.raises(ImportFailure) as refused:
            import_onnx_file(path, registry)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(refused.value)
    assert str(path) in message and "input 'x' at 1×30000×30000" in message
    assert "3.4 GiB" in message and MEMORY_VARIABLE in message and "--input-shape" in message
    assert peak < 64 * 2**20


def test_the_budget_is_a_setting(
    tmp_path: Path, registry: LayerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _saved(operator_chain(8), tmp_path / "chain.onnx")  # 210 bytes
    monkeypatch.setenv(MEMORY_VARIABLE, "1K")
    with pytest.raises(ImportFailure, match=rf"input 'x' at 100×4 .*\(set by {MEMORY_VARIABLE}\)"):
        import_onnx_file(path, registry, input_shapes=[(100, 4)])  # 1,600 bytes
    monkeypatch.setenv(MEMORY_VARIABLE, "100")
    with pytest.raises(ImportFailure, match=r"ONNX model is 2.*bytes, more than the 100 bytes"):
        import_onnx_file(path, registry)
    monkeypatch.setenv(MEMORY_VARIABLE, "1M")
    assert len(import_onnx_file(path, registry).project.main_graph) == 10


def test_external_weights_are_sized_before_they_are_read(
    tmp_path: Path, registry: LayerRegistry
) -> None:
    # 4 × 300,000,000 floats declared: refused from the declaration, the file never opened.
    (tmp_path / "weights.bin").write_bytes(np.ones(16, np.float32).tobytes())
    path = tmp_path / "external.onnx"
    onnx.save(hostile.external_weight("weights.bin", 300_000_000), str(path))
    with pytest.raises(ImportFailure) as refused:
        import_onnx_file(path, registry)
    assert str(path) in str(refused.value) and "the weight 'w' (4×300000000)" in str(refused.value)
    # Declared small, but its data file would be read to the end: that size counts.
    path = tmp_path / "long.onnx"
    (tmp_path / "long.bin").write_bytes(b"")
    os.truncate(tmp_path / "long.bin", 3 * 2**30)  # sparse: takes no disk
    onnx.save(hostile.external_weight("long.bin", 4), str(path))
    with pytest.raises(ImportFailure, match=r"the weight 'w' .*3\.0 GiB"):
        import_onnx_file(path, registry)


def test_a_damaged_weight_is_a_sentence(tmp_path: Path, registry: LayerRegistry) -> None:
    model = operator_chain(4)
    weight = onnx.numpy_helper.from_array(np.ones(4, np.float32), "w")
    weight.dims[:] = [5]  # 16 bytes of data for 5 floats
    model.graph.initializer.append(weight)
    with pytest.raises(StudioError, match="'w'"):
        import_onnx_model(model, registry, source="damaged.onnx")


# ------------------------------------------------------------------------ stopping a run


def _ran_in_onnxruntime(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    return any(entry.name == "_run_stoppably" for entry in excinfo.traceback)


@pytest.mark.timeout(90)
def test_ctrl_c_stops_onnxruntime_promptly(registry: LayerRegistry) -> None:
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt) as interrupted:
            import_onnx_model(_long_loop(), registry, source="long.onnx")
    finally:
        timer.cancel()
    assert _ran_in_onnxruntime(interrupted)  # the signal came while onnxruntime ran
    assert time.perf_counter() - start < 20  # the loop alone runs for minutes


@pytest.mark.timeout(90)
def test_cancel_stops_onnxruntime(registry: LayerRegistry) -> None:
    calls: list[float] = []

    def cancelled() -> bool:
        calls.append(time.perf_counter())
        return len(calls) > 5

    start = time.perf_counter()
    with pytest.raises(ImportStopped, match=r"long\.onnx: the import was stopped") as stopped:
        import_onnx_model(_long_loop(), registry, source="long.onnx", cancelled=cancelled)
    assert _ran_in_onnxruntime(stopped)
    assert time.perf_counter() - start < 20


@pytest.mark.timeout(120)
def test_ctrl_c_ends_studio_import_with_a_message(tmp_path: Path) -> None:
    model = _saved(_long_loop(), tmp_path / "long.onnx")
    out = tmp_path / "long.strata"
    child = subprocess.Popen(
        [sys.executable, "-m", "studio", "import", str(model), "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(6)  # start-up and the checks take a second or two; the run, minutes
        assert child.poll() is None, child.communicate()
        child.send_signal(signal.SIGINT)
        _, errors = child.communicate(timeout=30)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 130
    assert f"stopped: the import of {model} was interrupted; nothing was written" in errors
    assert "Traceback" not in errors and "internal error" not in errors
    assert not out.exists()


# -------------------------------------------------------------------------------- scale


@pytest.mark.timeout(90)
def test_a_20k_node_chain_imports(tmp_path: Path, registry: LayerRegistry) -> None:
    # Every node made by one module (``/block/Relu_0``, ``/block/Add_2``, ...): each one's
    # name collides with all before it, the naming's worst case (20k²/2 name probes before).
    model = operator_chain(20_000)
    for i, node in enumerate(model.graph.node):
        node.name = f"/block/{node.op_type}_{i}"
    path = _saved(model, tmp_path / "chain.onnx")
    imported = import_onnx_file(path, registry)
    graph = imported.project.main_graph
    assert len(graph) == 20_002
    names = [node.name for node in graph.nodes]
    assert names[1:4] == ["block", "block_2", "block_3"] and names[-2] == "block_20000"


def test_a_layout_deeper_than_the_canvas_bound_is_folded_into_bands() -> None:
    # A 50k-node chain's columns reached x = 1.1e7, past what a project stores: the import
    # failed with "(10000100.0, 0.0) is too far out".
    positions = {f"n{i}": (i * LAYER_GAP, 0.0) for i in range(200_000)}
    placed = _within_bounds(positions)
    assert max(max(abs(x), abs(y)) for x, y in placed.values()) <= MAX_COORDINATE
    assert len(set(placed.values())) == len(positions)  # no two nodes on one spot
    assert placed["n0"] == (0.0, 0.0) and placed["n1"] == (LAYER_GAP, 0.0)
    small = {"a": (0.0, 0.0), "b": (LAYER_GAP, -NODE_GAP)}
    assert _within_bounds(small) == small
