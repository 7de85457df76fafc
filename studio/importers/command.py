"""`studio import SOURCE --out OUT.strata`: a PyTorch module or an ONNX model as a project.

SOURCE is ``path/to/file.py:ClassName`` (the file runs: it is the user's own code) or
``model.onnx``. The import maps every operation to a catalog layer, compiles the project, loads
the source's weights and runs both models on the same random inputs; only when the outputs agree
does it write the project and a run beside it (``OUT.runs/<timestamp>-imported/`` with
``config.json``, ``last.pt`` and ``best.pt``), which ``studio evaluate``, ``export`` and
``explain`` and ``training.initial_weights`` use like any trained run. When some constructs
cannot be imported, all of them are listed and nothing is written.

This module imports neither torch nor onnx at module level, so building the CLI parser stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.project import SUFFIX
from studio.core.registry import LayerRegistry
from studio.importers.inputs import INPUT_HELP, InputArg, from_shapes, parse_input
from studio.importers.mapping import ImportedModel, ImportFailure, UnsupportedModelError

RUN_SUFFIX = "-imported"
# A shell's code for a command ended by Ctrl-C (128 + SIGINT), as `studio` uses elsewhere.
EXIT_INTERRUPTED = 130
# The compiled model must reproduce the source within this (relative to the output's scale).
TOLERANCE = 1e-4


def add_import_parser(commands: Any) -> None:
    """Register ``studio import`` on the CLI's subparsers."""
    parser = commands.add_parser(
        "import",
        help="turn a PyTorch module (file.py:ClassName) or an ONNX model into a project",
        description=(
            "Import a model with its weights. SOURCE is path/to/file.py:ClassName (the file "
            "is executed: import only code you trust) or model.onnx. Writes OUT.strata and a "
            "run OUT.runs/<timestamp>-imported/ holding the weights; constructs with no "
            "catalog layer are listed and nothing is written (with --partial, what mapped "
            "is written without weights)."
        ),
    )
    parser.add_argument("source", help="path/to/file.py:ClassName or model.onnx")
    parser.add_argument("--out", type=Path, required=True, help="the .strata project to write")
    parser.add_argument(
        "--args",
        dest="init_args",
        metavar="JSON",
        help="constructor keyword arguments as a JSON object, e.g. '{\"num_classes\": 10}'",
    )
    parser.add_argument(
        "--input-shape",
        dest="input_shapes",
        action="append",
        metavar="SHAPE",
        help="an input's shape, batch included, e.g. 1,3,32,32; repeat for several inputs "
        "(default: the class's example_input_shape, or the ONNX model's inputs)",
    )
    parser.add_argument(
        "--input",
        dest="inputs",
        action="append",
        metavar="[NAME:][DTYPE:]SHAPE",
        help=INPUT_HELP + " (Python models; use instead of --input-shape)",
    )
    parser.add_argument(
        "--dataset",
        metavar="NAME",
        help="a bundled dataset (`studio datasets`) the project trains and evaluates on; its "
        "task (classification or regression) becomes the project's",
    )
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    parser.add_argument(
        "--partial",
        action="store_true",
        help="when some constructs have no catalog layer, still write OUT with what mapped: "
        "an Input named *_stand_in stands where each missing result was, no weights are "
        "imported, and the description lists what is missing (exit status 1)",
    )
    parser.set_defaults(run=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from studio.plugins import default_registry

    out: Path = args.out
    if out.suffix != SUFFIX:
        out = out.with_name(out.name + SUFFIX)
    if out.exists() and not args.force:
        raise StudioError(f"{out} already exists; pass --force to overwrite it")
    kwargs = parse_init_args(args.init_args)
    shapes = [parse_shape(text) for text in args.input_shapes or ()]
    inputs = [parse_input(text) for text in getattr(args, "inputs", None) or ()]
    if inputs and shapes:
        raise StudioError("give the inputs with --input or with --input-shape, not both")
    task: Any = dataset_task(args.dataset) if args.dataset else None
    try:
        imported = import_source(
            args.source, default_registry(), kwargs=kwargs, input_shapes=shapes, inputs=inputs
        )
    except UnsupportedModelError as exc:
        if not getattr(args, "partial", False):
            raise
        return _write_partial(exc, out)
    except KeyboardInterrupt:
        print(
            f"stopped: the import of {args.source} was interrupted; nothing was written",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    try:
        if args.dataset:
            imported.project.data.dataset = args.dataset
            imported.project.training.task = task
        difference = check_outputs(imported)
    except KeyboardInterrupt:
        # Ctrl-C: the model's run (onnxruntime included) has stopped; nothing was written.
        print(
            f"stopped: the import of {args.source} was interrupted; nothing was written",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    run_path = write_import(imported, out, difference)
    layers = sum(1 for n in imported.project.main_graph.nodes if n.type_id != "studio.Input")
    print(
        f"imported {imported.source}: {layers} layers, outputs match the source "
        f"(max abs diff {difference:.3g})"
    )
    if imported.front_end:
        print(f"read with {imported.front_end}")
    print(f"project → {out}")
    print(f"weights → {run_path}")
    return 0


def _write_partial(error: UnsupportedModelError, out: Path) -> int:
    """`--partial`: the mapped part of a refused model as OUT, with the refusal printed."""
    print(str(error).replace("(no file was written)", "(written in part)"), file=sys.stderr)
    if error.partial is None:
        print("nothing mapped that could be kept; no file was written", file=sys.stderr)
        return 1
    error.partial.save(out)
    stand_ins = sum(1 for n in error.partial.main_graph.nodes if n.name.endswith("_stand_in"))
    print(
        f"partial project → {out}: what mapped, with {stand_ins} stand-in Input(s) where "
        "results are missing and no weights; its description lists what is missing",
        file=sys.stderr,
    )
    return 1


def dataset_task(name: str) -> Any:
    """The task of a bundled dataset; an unknown name lists the known ones."""
    from studio.data.registry import default_datasets

    infos = {info.name: info for info in default_datasets()}
    if name not in infos:
        raise StudioError(f"no dataset named {name!r}; choose one of: {', '.join(infos)}")
    return infos[name].task


def parse_init_args(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise StudioError(f"--args is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise StudioError("--args must be a JSON object, e.g. '{\"num_classes\": 10}'")
    return value


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise StudioError(
            f"--input-shape {text!r}: give positive sizes separated by commas, batch included, "
            "e.g. 1,3,32,32"
        )
    return shape


def import_source(
    source: str,
    registry: LayerRegistry,
    *,
    kwargs: dict[str, Any] | None = None,
    input_shapes: Sequence[Sequence[int]] | None = None,
    cancelled: Callable[[], bool] | None = None,
    inputs: Sequence[InputArg] | None = None,
) -> ImportedModel:
    """Map SOURCE (``file.py:ClassName`` or ``model.onnx``) to a project with its weights.

    A Python class is read with torch.export, or with torch.fx where torch.export cannot run
    it (`ImportedModel.front_end` says which). `inputs` (``--input``) describe dtypes and
    tuple arguments; `input_shapes` only float tensors. `cancelled` (the window's worker)
    stops an ONNX model's run in onnxruntime with `ImportStopped`; Ctrl-C stops it with
    KeyboardInterrupt either way.
    """
    if source.lower().endswith(".onnx"):
        if kwargs:
            raise ImportFailure("--args applies to Python classes, not to ONNX models")
        if inputs:
            raise ImportFailure(
                "--input applies to Python classes; give an ONNX model's shapes with --input-shape"
            )
        from studio.importers.onnx_import import import_onnx_file

        return import_onnx_file(
            Path(source), registry, input_shapes=input_shapes, cancelled=cancelled
        )
    from studio.importers.export_import import import_python_file

    described = list(inputs or ()) or (from_shapes(input_shapes) if input_shapes else None)
    return import_python_file(source, registry, kwargs=kwargs, inputs=described)


def compiled_model(imported: ImportedModel) -> Any:
    """The project's compiled main graph holding the imported weights, in eval mode."""
    from studio.compile.compiler import class_name_for, compile_graph

    project = imported.project
    model = compile_graph(project.main_graph, class_name=class_name_for(project.name))
    try:
        model.load_state_dict(imported.state_dict, strict=True)
    except RuntimeError as exc:
        raise StudioError(
            f"the imported weights do not fit the project: {str(exc).splitlines()[0]}"
        ) from None
    return model.eval()


def check_outputs(imported: ImportedModel) -> float:
    """Run the compiled project on the example inputs; the largest difference to the source.

    Raises:
        ImportFailure: the outputs differ (a mapping that is wrong must not be written).
    """
    import torch

    model = compiled_model(imported)
    with torch.no_grad():
        produced = model(*imported.example_inputs)
    outputs = list(produced) if isinstance(produced, tuple | list) else [produced]
    source = imported.source
    if len(outputs) != len(imported.expected):
        raise ImportFailure(
            f"{source}: the imported model has {len(outputs)} outputs; "
            f"the source has {len(imported.expected)}"
        )
    worst = 0.0
    for i, (got, want) in enumerate(zip(outputs, imported.expected, strict=True)):
        want = torch.as_tensor(want)
        if tuple(got.shape) != tuple(want.shape):
            raise ImportFailure(
                f"{source}: output {i + 1} has shape {tuple(got.shape)}; "
                f"the source's is {tuple(want.shape)}"
            )
        difference, scale = _difference(got.double(), want.double())
        if math.isnan(difference):
            largest = max(
                (float(t.abs().max()) for t in imported.state_dict.values() if t.numel()),
                default=0.0,
            )
            raise ImportFailure(
                f"{source}: output {i + 1} is NaN or infinite on one side only (the source or "
                "the imported model): the model's values overflow float32, and the two "
                f"runtimes' arithmetic then disagrees. Its largest weight is {largest:.3g}; "
                "the file may be damaged"
            )
        if not difference <= TOLERANCE * scale:
            raise ImportFailure(
                f"{source}: output {i + 1} of the imported model differs from the source's by "
                f"{difference:.3g}; this is a bug in the importer, please report it"
            )
        worst = max(worst, difference)
    return worst


def _difference(got: Any, want: Any) -> tuple[float, float]:
    """The largest difference (NaN where only one side is NaN) and the size of `want`.

    A NaN or infinity the source itself computes (damaged weights, say) is reproduced, not a
    difference: the imported model does what the file does.
    """
    import torch

    if not want.numel():
        return 0.0, 1.0
    same = (got == want) | (got.isnan() & want.isnan())
    difference = float(torch.where(same, 0.0, (got - want).abs()).max())
    finite = want[want.isfinite()]
    return difference, max(1.0, float(finite.abs().max())) if finite.numel() else 1.0


def write_import(imported: ImportedModel, out: Path, difference: float) -> Path:
    """Save the project and a run holding its weights; returns the run's folder."""
    import torch

    from studio.training.checkpoints import FORMAT, capture_rng_state, save_checkpoint
    from studio.training.runs import CONFIG, RunFolder, new_run_id
    from studio.training.session import build_mode

    project = imported.project
    project.path = out
    # A full training state (optimizer included), so `studio train --resume` also accepts it.
    mode = build_mode(project, project.training, torch.device("cpu"), steps_per_epoch=1)
    mode.main_model.load_state_dict(imported.state_dict, strict=True)
    # The weights once, inside the mode's state, as the trainer writes them.
    state = {
        "format": FORMAT,
        "mode": mode.state_dict(),
        "epoch": 0,
        "step": 0,
        "best": None,
        "rng": capture_rng_state(),
        "epoch_progress": None,
    }
    project.save(out)
    # Timestamp first, so the imported run sorts with trained ones ("latest run" by name).
    run = RunFolder.create(out, new_run_id() + RUN_SUFFIX)
    run.write_json(
        CONFIG,
        {
            "run": run.run_id,
            "project_path": str(out),
            "project": project.to_dict(),
            "resolved": {
                "imported_from": imported.source,
                "max_abs_diff": difference,
                "front_end": imported.front_end or "onnx",
            },
        },
    )
    save_checkpoint(run.last, state)
    save_checkpoint(run.best, state)
    # "completed" with no epochs: the run lists as finished, its weights the imported ones.
    run.write_status(
        "completed",
        started=time.time(),
        epoch=0,
        step=0,
        epochs=0,
        message=f"imported from {imported.source}",
    )
    return run.path
