"""Running an ONNX model once, for the importer: example inputs, then every value recorded.

The importer reads each value's shape (and any constant a layer needs) from one onnxruntime run
with every intermediate value exposed. That run may be long (the checks in `onnx_checks` bound
it first), so it stops on Ctrl-C or the dialog's Cancel even inside a long operator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from studio.importers.mapping import ImportFailure, ImportStopped

_TRACE_BATCH = 2
# How often the thread waiting for onnxruntime looks at `cancelled` (Ctrl-C needs no polling).
_POLL_SECONDS = 0.1
# onnxruntime logs fatal errors only: every error it meets is raised, and reported, here.
_ORT_QUIET = 4


def _elem_type(value_info: Any) -> int:
    return int(value_info.type.tensor_type.elem_type)


def example_shapes(
    inputs: Sequence[Any], given: Sequence[Sequence[int]] | None
) -> list[tuple[int, ...]]:
    if given:
        if len(given) != len(inputs):
            raise ImportFailure(
                f"the model has {len(inputs)} input(s) but {len(given)} --input-shape were given"
            )
        return [tuple(int(d) for d in s) for s in given]
    shapes = []
    for value in inputs:
        dims = value.type.tensor_type.shape.dim
        shape = []
        for i, dim in enumerate(dims):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                shape.append(int(dim.dim_value))
            elif i == 0:
                shape.append(_TRACE_BATCH)  # a dynamic batch
            else:
                raise ImportFailure(
                    f"input {value.name!r}: dimension {i} has no fixed size; pass --input-shape "
                    "(batch included) for each input"
                )
        if not shape:
            raise ImportFailure(f"input {value.name!r} has no shape; pass --input-shape")
        shapes.append(tuple(shape))
    return shapes


def example_feeds(
    inputs: Sequence[Any], shapes: Sequence[tuple[int, ...]]
) -> dict[str, np.ndarray]:
    """One example array per input, by name, at the given shapes."""
    return {i.name: _example(shape, _elem_type(i)) for i, shape in zip(inputs, shapes, strict=True)}


def _example(shape: tuple[int, ...], elem_type: int) -> np.ndarray:
    from onnx import TensorProto

    generator = np.random.default_rng(0)
    if elem_type in (TensorProto.INT64, TensorProto.INT32):
        dtype = np.int64 if elem_type == TensorProto.INT64 else np.int32
        return np.zeros(shape, dtype=dtype)
    if elem_type == TensorProto.DOUBLE:  # the checks count 8 bytes per value for it
        return generator.standard_normal(shape, dtype=np.float64)
    # Drawn in float32 itself: a float64 draw first would double what the checks allowed.
    return generator.standard_normal(shape, dtype=np.float32)


def record_values(
    model: Any,
    feeds: dict[str, np.ndarray],
    source: str,
    cancelled: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Every value of the graph on `feeds`, by running it with all of them as outputs."""
    import onnx
    import onnxruntime

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    known = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for name in node.output:
            if name and name not in known:
                exposed.graph.output.append(onnx.ValueInfoProto(name=name))
                known.add(name)
    try:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = _ORT_QUIET
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = onnxruntime.InferenceSession(
            exposed.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        del exposed
        names = [o.name for o in session.get_outputs()]
        results = _run_stoppably(session, names, feeds, source, cancelled)
    except ImportStopped:
        raise
    except Exception as exc:
        shown = ", ".join(f"{k} {v.shape}" for k, v in feeds.items())
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ImportFailure(
            f"{source}: onnxruntime cannot run the model on {shown}: {first}"
        ) from None
    values: dict[str, Any] = dict(feeds)
    values.update(zip(names, results, strict=True))
    return values


def _run_stoppably(
    session: Any,
    names: list[str],
    feeds: dict[str, np.ndarray],
    source: str,
    cancelled: Callable[[], bool] | None,
) -> list[Any]:
    """`session.run`, stopped by Ctrl-C or `cancelled`, even inside a long operator or loop.

    onnxruntime's run holds the calling thread in C++, where Python cannot deliver Ctrl-C. It
    runs in a helper thread instead; this thread waits in short slices, so a KeyboardInterrupt
    (or any other signal's exception) arrives here, and onnxruntime's terminate flag then ends
    the run within one operator before the exception goes on. The wait is on an event, not
    `Thread.join`: Python 3.11's join, interrupted by Ctrl-C, can report a running thread as
    ended, and a process that then exits while onnxruntime still runs aborts.
    """
    import onnxruntime

    run_options = onnxruntime.RunOptions()
    run_options.log_severity_level = _ORT_QUIET
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def run() -> None:
        try:
            outcome["results"] = session.run(names, feeds, run_options)
        except Exception as exc:
            # Only its text crosses threads: the exception's traceback would hold the session
            # past the import.
            outcome["error"] = str(exc) or type(exc).__name__
        finally:
            finished.set()

    threading.Thread(target=run, name="onnxruntime example run", daemon=True).start()
    try:
        while not finished.wait(_POLL_SECONDS):
            if cancelled is not None and cancelled():
                raise ImportStopped(f"{source}: the import was stopped while the model ran")
    except BaseException:
        run_options.terminate = True
        _wait_until_set(finished)
        raise
    if "error" in outcome:
        raise RuntimeError(outcome["error"])
    results: list[Any] = outcome["results"]
    return results


def _wait_until_set(finished: threading.Event) -> None:
    """Wait for a terminated run to end; a further Ctrl-C meanwhile changes nothing."""
    while True:
        try:
            if finished.wait(_POLL_SECONDS):
                return
        except KeyboardInterrupt:
            continue
