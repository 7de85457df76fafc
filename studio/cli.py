"""The `studio` command: everything the window does, from a terminal.

Bad input ends in one clear line and a non-zero exit status, never a traceback: every
expected failure is a `StudioError`, and the entry point turns it into a message.
torch is imported only by the commands that need it, so `studio templates` stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio import __version__
from studio.core.errors import ProjectError, StudioError
from studio.core.project import SUFFIX, Project, atomic_write_text
from studio.core.resources import find_template, list_templates
from studio.training.trained import load_run_weights, require_data, trained_model

if TYPE_CHECKING:
    from studio.compile.inference import Problem
    from studio.data.pipeline import LoadedData

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Strata Studio: design, train, explain and export neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"Strata Studio {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window (offscreen without a display), load, validate and compile a "
        "bundled example, close; exit 1 if any step fails",
    )
    # The project the self-test loads instead of the bundled example (for the tests).
    parser.add_argument("--self-test-project", type=Path, help=argparse.SUPPRESS)
    # The bundled app's stand-in for `python -I -c RUNNER`: verifies a Python export in its
    # working folder (studio.export.fresh_interpreter).
    parser.add_argument("--verify-python-export", action="store_true", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = commands.add_parser("gui", help="open the window (the default command)")
    gui.add_argument("project", nargs="?", type=Path, help="a .strata project to open")
    gui.set_defaults(run=cmd_gui)

    templates = commands.add_parser("templates", help="list the bundled project templates")
    templates.set_defaults(run=cmd_templates)

    datasets = commands.add_parser(
        "datasets", help="list the bundled datasets with their kind, size and licence"
    )
    datasets.set_defaults(run=cmd_datasets)

    layers = commands.add_parser(
        "layers",
        help="list the layer catalog (plugins included): ids, ports and parameters",
        description="List every layer a graph can use, grouped by category, with its ports "
        "and parameters (kind, default, range or choices); plugin layers name their plugin.",
    )
    layers.add_argument(
        "--json",
        action="store_true",
        help="one JSON document for scripts: {format, version, layers: [one object per layer]} "
        "(schema in studio/layers/listing.py)",
    )
    layers.set_defaults(run=cmd_layers)

    new = commands.add_parser("new", help="create a project from a template")
    new.add_argument("--template", required=True, help="a name from `studio templates`")
    new.add_argument("out", type=Path, help="the new .strata file")
    new.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    new.set_defaults(run=cmd_new)

    validate = commands.add_parser(
        "validate", help="check a project; exit 1 with 'node: message' lines on problems"
    )
    validate.add_argument("project", type=Path)
    validate.set_defaults(run=cmd_validate)

    summary = commands.add_parser(
        "summary", help="per-layer output shapes, parameters, FLOPs and activation memory"
    )
    summary.add_argument("project", type=Path)
    summary.add_argument("--batch-size", type=int, default=1, help="batch size for FLOPs/memory")
    summary.set_defaults(run=cmd_summary)

    code = commands.add_parser("code", help="print the generated PyTorch source")
    code.add_argument("project", type=Path)
    code.add_argument("--graph", help="only this graph (e.g. generator)")
    code.set_defaults(run=cmd_code)

    train = commands.add_parser(
        "train", help="train the project into a new run beside it (NAME.runs/RUN-ID/)"
    )
    train.add_argument("project", type=Path)
    train.add_argument("--epochs", type=int, help="total epochs (default: the project's)")
    train.add_argument(
        "--device", choices=("auto", "cpu", "cuda", "mps"), help="default: the project's"
    )
    train.add_argument(
        "--events", action="store_true", help="write JSON-lines events on stdout (no progress bar)"
    )
    train.add_argument("--resume", metavar="RUN", help="continue this run from its last.pt")
    train.add_argument(
        "--stop-on-eof",
        action="store_true",
        help="with --events: stop gracefully when stdin closes (the window that started it died)",
    )
    train.add_argument(
        "--low-priority",
        action="store_true",
        help="run below normal priority, so that the window that started it stays smooth",
    )
    scale = train.add_argument_group(
        "several processes (torchrun)",
        "batch_size is per process: the global batch is batch_size × nnodes × nproc-per-node",
    )
    scale.add_argument(
        "--nproc-per-node", type=int, metavar="N", help="processes on this machine (one per GPU)"
    )
    scale.add_argument("--nnodes", type=int, default=1, metavar="M", help="machines (default 1)")
    scale.add_argument("--node-rank", type=int, default=0, metavar="R", help="this machine's rank")
    scale.add_argument("--master-addr", metavar="A", help="the rank-0 machine's address")
    scale.add_argument("--master-port", type=int, metavar="P", help="its port (default 29500)")
    scale.add_argument(
        "--print-slurm",
        action="store_true",
        help="print a SLURM batch script for --nnodes machines × --nproc-per-node GPUs, and exit",
    )
    train.set_defaults(run=cmd_train)

    doctor = commands.add_parser(
        "doctor", help="which device training would use, and why not the GPU"
    )
    doctor.add_argument("--json", action="store_true", help="the report as JSON")
    doctor.set_defaults(run=cmd_doctor)

    evaluate = commands.add_parser(
        "evaluate", help="a run's test-split metrics (and confusion matrix for classifiers)"
    )
    evaluate.add_argument("project", type=Path)
    evaluate.add_argument("--run", dest="run_id", metavar="RUN", help="default: the latest run")
    evaluate.add_argument(
        "--json", type=Path, metavar="FILE", help="also write the evaluation summary as JSON"
    )
    evaluate.set_defaults(run=cmd_evaluate)

    explain = commands.add_parser("explain", help="explain one test sample as a PNG")
    explain.add_argument("project", type=Path)
    explain.add_argument("--run", dest="run_id", metavar="RUN", help="default: the latest run")
    explain.add_argument("--method", required=True, help="e.g. IntegratedGradients, Saliency")
    sample = explain.add_mutually_exclusive_group(required=True)
    sample.add_argument("--sample", type=int, help="index in the test split")
    sample.add_argument(
        "--input",
        type=Path,
        metavar="FILE.npy",
        help="explain this input instead: one sample of the Input node's shape, as a NumPy "
        ".npy file (for a project that names no data, such as an imported model)",
    )
    explain.add_argument("--layer", metavar="NODE", help="the layer of layer methods")
    explain.add_argument(
        "--target",
        metavar="CLASS",
        help="the class explained, by index or name (default: the predicted one)",
    )
    explain.add_argument(
        "--baseline",
        choices=("zeros", "blur", "mean"),
        default="zeros",
        help="the reference of baseline methods (mean: the training split's mean)",
    )
    explain.add_argument(
        "--no-checks", action="store_true", help="skip the randomisation sanity check"
    )
    explain.add_argument("--out", type=Path, required=True, help="the PNG to write")
    explain.add_argument("--save-array", type=Path, metavar="FILE", help=".npy or .csv")
    explain.set_defaults(run=cmd_explain)

    export = commands.add_parser("export", help="export a run's best weights, verified")
    export.add_argument("project", type=Path)
    export.add_argument("--run", dest="run_id", metavar="RUN", help="default: the latest run")
    export.add_argument(
        "--format",
        dest="formats",
        action="append",
        required=True,
        metavar="FORMAT",
        # Not `choices`: plugins add formats, and listing them would import torch here.
        help="onnx, torchscript, pt2, state_dict, safetensors, python, or a plugin's format; "
        "repeat for several",
    )
    export.add_argument("--out", type=Path, required=True, help="the folder to write into")
    export.add_argument(
        "--opset", type=int, metavar="N", help="the ONNX opset version, 14 to 23 (default: 18)"
    )
    export.add_argument(
        "--quantize",
        action="store_true",
        help="int8 dynamic quantisation of Linear/LSTM layers; a classifier's accuracy change "
        "on the test split is reported",
    )
    export.set_defaults(run=cmd_export)

    from studio.importers.command import add_import_parser  # torch-free until it runs

    add_import_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # `studio` alone and `studio PROJECT.strata` open the window.
    if not args_list or (args_list[0].endswith(SUFFIX) and not args_list[0].startswith("-")):
        args_list.insert(0, "gui")
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.self_test or args.self_test_project is not None:
        args.run = cmd_self_test
    if args.verify_python_export:
        from studio.export.fresh_interpreter import run_verification_here

        return run_verification_here()
    try:
        return int(args.run(args))
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug of ours: say so briefly; the trace only on request
        print(f"internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("STRATA_DEBUG"):
            traceback.print_exc()
        else:
            print("Set STRATA_DEBUG=1 to see the traceback.", file=sys.stderr)
        return EXIT_PROBLEMS


def load(path: Path) -> Project:
    from studio.plugins import default_registry

    if path.suffix != SUFFIX and not path.exists():
        raise ProjectError(f"{path}: no such file (projects end in {SUFFIX})")
    return Project.load(path, default_registry())


def cmd_gui(args: argparse.Namespace) -> int:
    if not _has_display():
        print(
            "No display found (DISPLAY and WAYLAND_DISPLAY are unset), so the window cannot "
            "open. Run it under a desktop session or `xvfb-run studio gui ...`; "
            "`studio validate` and `studio summary` work without one.",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    from studio.ui.app import run_app

    return run_app(args.project)


def cmd_self_test(args: argparse.Namespace) -> int:
    if not _has_display():
        # Before Qt loads: the self-test runs anywhere, CI and bundles without a screen too.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from studio.ui.app import run_self_test

    return run_self_test(args.self_test_project)


def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_templates(args: argparse.Namespace) -> int:
    templates = list_templates()
    if not templates:
        print("no templates found (is the assets folder missing?)", file=sys.stderr)
        return EXIT_PROBLEMS
    width = max(len(t.name) for t in templates)
    for template in templates:
        print(f"{template.name.ljust(width)}  {template.description or template.title}")
    return EXIT_OK


def cmd_datasets(args: argparse.Namespace) -> int:
    from studio.data.registry import default_datasets

    infos = list(default_datasets())
    if not infos:
        print("no datasets found", file=sys.stderr)
        return EXIT_PROBLEMS
    rows = [(i.name, i.kind, i.task, i.size_text(), i.licence) for i in infos]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    for *cells, licence in rows:
        print("  ".join([*(c.ljust(w) for c, w in zip(cells, widths, strict=True)), licence]))
    return EXIT_OK


def cmd_layers(args: argparse.Namespace) -> int:
    """The catalog for a terminal or a script; reads specs only, so torch stays unloaded."""
    import json

    from studio.layers.listing import catalog_document, catalog_text
    from studio.plugins import default_registry

    registry = default_registry()
    if args.json:
        print(json.dumps(catalog_document(registry), indent=2, allow_nan=False))
    else:
        print(catalog_text(registry))
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    template = find_template(args.template)
    if template is None:
        names = ", ".join(t.name for t in list_templates())
        raise StudioError(f"no template named {args.template!r}; choose one of: {names}")
    out: Path = args.out
    if out.suffix != SUFFIX:
        out = out.with_name(out.name + SUFFIX)
    if out.exists() and not args.force:
        raise StudioError(f"{out} already exists; pass --force to overwrite it")
    project = load(template.path)
    project.save(out)
    print(f"created {out} from template {template.name}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from studio.data.compatibility import check_project
    from studio.training.forecast import training_checks

    project = load(args.project)
    errors = warnings = 0
    for name, problem in check_project(project):
        print(problem_line(project, name, problem))
        if problem.severity == "error":
            errors += 1
        else:
            warnings += 1
    # What would stop training here: settings naming missing layers, no weights, no memory.
    for line in training_checks(project):
        print(line)
        errors += 1
    layers = sum(len(g) for g in project.graphs.values())
    if errors:
        print(f"{args.project}: {errors} problem{'s' if errors > 1 else ''}", file=sys.stderr)
        return EXIT_PROBLEMS
    note = f", {warnings} warning{'s' if warnings > 1 else ''}" if warnings else ""
    print(f"{args.project}: OK ({layers} layers{note})")
    return EXIT_OK


def problem_line(project: Project, graph: str | None, problem: Problem) -> str:
    """A problem as `studio validate` prints it: "node: message", or "data: message"."""
    if graph is None:
        return f"{'warning: ' if problem.severity == 'warning' else ''}data: {problem.message}"
    line = problem.format(project.graphs[graph])
    many = len(project.graphs) > 1
    return f"{graph}/{line}" if many and not line.startswith("warning") else line


def refuse_invalid(project: Project, label: Path, device: str | None = None) -> None:
    """What `studio validate` reports, before training: warnings on stderr, errors refused.

    Training a project that validate calls broken (float labels for a classifier, an Input
    that does not fit the data) would fail later with a less helpful message, or worse, seem
    to succeed.
    """
    from studio.data.compatibility import check_project
    from studio.training.forecast import training_checks

    errors = []
    for graph, problem in check_project(project):
        if problem.severity == "error":
            errors.append(problem_line(project, graph, problem))
        else:
            print(problem_line(project, graph, problem), file=sys.stderr)
    if not errors:
        # Before the model is built: a 4 TB layer is refused, not allocated.
        errors += training_checks(project, device)
    if errors:
        count = f"{len(errors)} problem{'s' if len(errors) > 1 else ''}"
        raise StudioError(
            f"{label}: `studio validate` reports {count}; fix {'them' if len(errors) > 1 else 'it'}"
            " before training:\n" + "\n".join(errors)
        )


def print_data_warnings(data: LoadedData | None) -> None:
    """The data's warnings (files outside the project), as `validate` gives them, on stderr."""
    for warning in data.warnings if data is not None else ():
        print(f"warning: data: {warning}", file=sys.stderr)


def cmd_summary(args: argparse.Namespace) -> int:
    from studio.compile.summary import summarize

    if args.batch_size < 1:
        raise StudioError("--batch-size must be a positive integer")
    project = load(args.project)
    for i, (name, graph) in enumerate(project.graphs.items()):
        if len(project.graphs) > 1:
            print(("\n" if i else "") + f"== {name} ==")
        with naming_the_file(args.project, name if len(project.graphs) > 1 else None):
            print(summarize(graph, batch_size=args.batch_size).format_table())
    return EXIT_OK


@contextlib.contextmanager
def naming_the_file(path: Path, graph: str | None) -> Iterator[None]:
    """A graph that cannot compile is reported with the file (and graph) it comes from."""
    from studio.compile.compiler import CompileError

    try:
        yield
    except CompileError as exc:
        where = f"{path}: {graph}: " if graph is not None else f"{path}: "
        raise StudioError(f"{where}{exc}") from None


def cmd_code(args: argparse.Namespace) -> int:
    from studio.compile.codegen import generate_code
    from studio.compile.compiler import class_name_for

    project = load(args.project)
    graphs = project.graphs
    if args.graph is not None:
        if args.graph not in graphs:
            raise StudioError(f"no graph named {args.graph!r}; the project has {', '.join(graphs)}")
        graphs = {args.graph: graphs[args.graph]}
    for i, (name, graph) in enumerate(graphs.items()):
        suffix = name if len(project.graphs) > 1 else ""
        class_name = class_name_for(f"{project.name} {suffix}")
        if i:
            print(f"\n# {'=' * 76}\n")
        title = f"{project.name} {suffix}".strip()
        with naming_the_file(args.project, suffix or None):
            print(generate_code(graph, class_name=class_name, title=title))
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from studio.training.session import run_training
    from studio.training.stopping import StopRequests

    if args.epochs is not None and args.epochs < 1:
        raise StudioError("--epochs must be a positive integer")
    if args.print_slurm or args.nproc_per_node is not None:
        return launch_training(args)
    if args.low_priority:
        from studio.training.priority import lower_priority

        lower_priority()
    try:
        project = load(args.project)
        if os.environ.get("RANK", "0") == "0":
            refuse_invalid(project, args.project, args.device)
    except StudioError as exc:
        if args.events:  # the window shows the sentence, not "exited with code 1"
            from studio.training.events import EventStream

            EventStream().emit("error", message=str(exc), kind=type(exc).__name__, step=0)
        raise
    # Under torchrun only rank 0 reads stdin; the ranks then stop together.
    reads_stdin = args.events and os.environ.get("RANK", "0") == "0"
    result = run_training(
        project,
        epochs=args.epochs,
        device=args.device,
        events=sys.stdout if args.events else None,
        resume=args.resume,
        # The window sends "stop" on stdin; a terminal user presses Ctrl+C (SIGINT).
        extra_callbacks=(
            StopRequests(
                stdin=sys.stdin if reads_stdin else None,
                stop_on_eof=reads_stdin and args.stop_on_eof,
            ),
        ),
    )
    status = EXIT_OK if result.status != "failed" else EXIT_PROBLEMS
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from studio.training.distributed import exit_worker

        exit_worker(status)
    return status


def train_arguments(args: argparse.Namespace) -> list[str]:
    """The `studio train` arguments each torchrun process gets (no launcher options)."""
    argv = [str(args.project)]
    if args.epochs is not None:
        argv += ["--epochs", str(args.epochs)]
    if args.device is not None:
        argv += ["--device", args.device]
    if args.events:
        argv.append("--events")
    if args.resume is not None:
        argv += ["--resume", args.resume]
    if args.stop_on_eof:
        argv.append("--stop-on-eof")
    if args.low_priority:
        argv.append("--low-priority")
    return argv


def launch_training(args: argparse.Namespace) -> int:
    """`--nproc-per-node`: run the same training under torchrun; `--print-slurm`: a script."""
    import subprocess

    from studio.training.distributed import Launch, slurm_script, torchrun_command

    # A bad project fails here, once, not in every process.
    refuse_invalid(load(args.project), args.project, args.device)
    nproc = args.nproc_per_node if args.nproc_per_node is not None else 1
    if args.print_slurm:
        print(slurm_script(train_arguments(args), nodes=args.nnodes, gpus_per_node=nproc), end="")
        return EXIT_OK
    launch = Launch(nproc, args.nnodes, args.node_rank, args.master_addr, args.master_port)
    command = torchrun_command(launch, train_arguments(args))
    # torchrun forwards signals to its workers; its status is the first failed worker's.
    return subprocess.call(command)


def cmd_doctor(args: argparse.Namespace) -> int:
    import json

    from studio.training.doctor import doctor_report

    report = doctor_report()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.format_text())
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from studio.training.evaluation import confusion_table, evaluate_run, per_class_table

    # An imported model may name no data: say what to set, not only that it is missing.
    weights = load_run_weights(args.project, args.run_id, allow_gan=True)
    trained = require_data(weights, "evaluating needs its test split")
    print_data_warnings(trained.data)
    evaluation = evaluate_run(args.project, args.run_id, trained=trained)
    print(f"run {evaluation.run_id}, test split ({evaluation.samples} samples)")
    for key, value in evaluation.metrics.items():
        print(f"  {key.removeprefix('val_')}: {value:.4f}")
    if evaluation.classification is not None:
        print(
            confusion_table(
                evaluation.classification.confusion, evaluation.classification.class_names
            )
        )
        print(per_class_table(evaluation.classification))
    if evaluation.regression is not None:
        stats = evaluation.regression.residual_stats()
        print("residuals (predicted - actual, in the data's units)")
        for key, value in stats.items():
            print(f"  {key}: {value:.4g}")
    if args.json is not None:
        # Atomic: a full disk leaves no half-written summary, and an older one whole.
        atomic_write_text(args.json, json.dumps(evaluation.summary(), indent=2) + "\n")
        print(f"evaluation summary → {args.json}")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """One test sample explained as the Explain tab shows it: the view for its input kind,
    the class, and the sanity checks (model randomisation; IG's convergence)."""
    import torch

    from studio.data.tokens import token_texts
    from studio.explain.engine import explain
    from studio.explain.importance import data_mean
    from studio.explain.inputs import input_description, read_input_sample
    from studio.explain.methods import get_method
    from studio.explain.render import save_attributions
    from studio.explain.report_picture import (
        PictureText,
        explanation_picture,
        save_explanation_picture,
    )
    from studio.explain.sanity import convergence_check, randomisation_check

    spec = get_method(args.method)  # an unknown method fails before the data is loaded
    if args.save_array is not None and args.save_array.suffix.lower() not in (".npy", ".csv"):
        raise StudioError("--save-array must end in .npy or .csv")
    # An imported model may name no data: it is explained on an input the user gives.
    trained = load_run_weights(args.project, args.run_id)
    data = trained.data
    print_data_warnings(data)
    actual = None
    if args.input is not None:
        inputs: Any = read_input_sample(args.input, trained.project)
        subject = f"input {args.input.name}"
    else:
        test = require_data(
            trained,
            f"`--sample` picks a sample of its test split; pass `--input FILE.npy` holding "
            f"{input_description(trained.project)} instead",
        ).data.test
        if not 0 <= args.sample < len(test):
            raise StudioError(
                f"--sample {args.sample} is out of range: the test split has {len(test)} "
                f"samples (0 to {len(test) - 1})"
            )
        inputs, actual = test[torch.tensor([args.sample])]
        subject = f"test sample {args.sample}"
    if isinstance(inputs, tuple):
        raise StudioError("explaining models with several inputs is not supported yet")
    classes = data.class_names if data is not None else []
    options: dict[str, Any] = {
        "method": spec.name,
        "layer": args.layer,
        "baseline": args.baseline,
        "target": class_index(args.target, classes),
    }
    if args.baseline == "mean":
        # What the Explain tab uses: the mean over (up to 2,000) training samples.
        train = require_data(trained, "`--baseline mean` is the mean of its training split").data
        options["data_mean"] = data_mean(train.train, limit=2000)
    model = trained_model(trained)
    attribution = explain(model, inputs, **options)
    checks: list[tuple[str, bool]] = []
    if not args.no_checks:
        options["target"] = attribution.target
        randomised = randomisation_check(model, inputs, trained=attribution, **options)
        checks.append((f"Randomisation check: {randomised.message}", randomised.warning))
    if "delta" in attribution.extras and "output_difference" in attribution.extras:
        converged = convergence_check(attribution)
        checks.append((f"Convergence: {converged.message}", converged.warning))
    target = None if attribution.target is None else int(attribution.target[0])
    title = f"{spec.title} · {subject}"
    if target is not None:
        name = classes[target] if target < len(classes) else str(target)
        truth = int(actual.reshape(-1)[0]) if actual is not None and actual.numel() == 1 else None
        title += f" · class {name}"
        if truth is not None and truth < len(classes):
            title += f" (actual: {classes[truth]})"
    if spec.space != "input":
        if args.save_array is None:
            raise StudioError(
                f"{spec.title} explains a layer's output, which cannot be drawn over the "
                "input; use --save-array to keep the values"
            )
    else:
        first = attribution.per_input[0] if attribution.per_input else None
        kind = first.kind if first is not None else attribution.kind
        vocabulary = data.vocabulary if data is not None else None
        tokens = token_texts(attribution.inputs[0], vocabulary) if kind == "text" else []
        picture = explanation_picture(
            kind,
            attribution.inputs[0],
            attribution.values[0],
            PictureText(title, checks),
            feature_names=data.feature_names() if data is not None else [],
            tokens=tokens,
        )
        save_explanation_picture(args.out, picture)
        print(f"{title} → {args.out}")
    for line, warning in checks:
        print(("warning: " if warning else "") + line)
    if args.save_array is not None:
        save_attributions(args.save_array, attribution.values)
        print(f"attributions → {args.save_array}")
    return EXIT_OK


def class_index(given: str | None, classes: list[str]) -> int | None:
    """`--target`: a class index or one of the class names; None: the predicted class."""
    if given is None:
        return None
    if given in classes:
        return classes.index(given)
    try:
        index = int(given)
    except ValueError:
        raise StudioError(
            f"--target {given!r} is neither a class index nor a class name "
            f"({', '.join(classes) or 'this model has no classes'})"
        ) from None
    if classes and not 0 <= index < len(classes):
        raise StudioError(
            f"--target {index} is out of range: the classes are 0 to {len(classes) - 1}"
        )
    return index


def cmd_export(args: argparse.Namespace) -> int:
    from studio.export.run_export import export_trained_run
    from studio.export.subject import ExportOptions
    from studio.plugins import default_exporters

    options = ExportOptions() if args.opset is None else ExportOptions(opset=args.opset)
    # As the Export dialog does: a GAN run exports its generator. A project naming no data
    # (an imported model) is verified on inputs of its recorded shapes.
    trained = load_run_weights(args.project, args.run_id, allow_gan=True)
    print_data_warnings(trained.data)
    report = export_trained_run(
        trained,
        list(dict.fromkeys(args.formats)),
        args.out,
        options=options,
        quantize=args.quantize,
        registry=default_exporters()[0],  # plugins' formats too
    )
    for result in report.results:
        if result.ok:
            print(f"{result.format}: ok, max abs diff {result.max_abs_diff:.3g} → {result.path}")
        else:
            print(f"{result.format}: failed at {result.stage}: {result.reason}")
        for note in result.notes:
            print(f"  note: {note}")
    if report.quantization is not None:
        print(report.quantization.describe())
    if report.preprocessing is not None:
        print(f"preprocessing → {report.preprocessing}")
    for note in report.notes:
        print(f"note: {note}")
    if report.model_card is not None:
        print(f"model card → {report.model_card}")
    return EXIT_OK if report.ok else EXIT_PROBLEMS


if __name__ == "__main__":
    raise SystemExit(main())
