"""Import every corpus model three ways, then export each import: the graph language's report.

A user brings a model as Python source, or as an ONNX file written by one of torch's two
exporters (TorchScript-based, which most files in the wild come from, and dynamo). Each route
goes through what `studio import` runs (`import_source`, `check_outputs`, `write_import`: the
project is written only when it reproduces the source's outputs), and each written project is
then exported to ONNX the way `studio export` does, with the export's own verification.

Run it as ``.venv/bin/python -m tests.corpus.corpus_run [--out docs/import-corpus.md] [NAME...]``;
``pytest -m corpus tests/corpus`` runs the same cases as tests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from studio.core.errors import StudioError

ROUTES = ("python", "onnx-torchscript", "onnx-dynamo")
MODELS_FILE = Path(__file__).with_name("models.py")


@dataclass(frozen=True)
class CaseResult:
    """How one model fared on one route; `stage` is where it stopped ("done" when it did not)."""

    model: str
    route: str
    stage: str
    message: str
    seconds: float
    layers: int = 0

    @property
    def ok(self) -> bool:
        return self.stage == "done"


def example_inputs(cls: type[torch.nn.Module]) -> tuple[torch.Tensor, ...]:
    """The class's example inputs, seeded: token ids below 10 for models that take ids."""
    shapes: Any = cls.example_input_shape  # type: ignore[attr-defined]
    if all(isinstance(d, int) for d in shapes):
        shapes = [shapes]
    generator = torch.Generator().manual_seed(0)
    long = getattr(cls, "example_input_dtype", "float") == "long"
    return tuple(
        torch.randint(0, 10, tuple(s), generator=generator)
        if long
        else torch.randn(tuple(s), generator=generator)
        for s in shapes
    )


def _corpus(library: bool) -> tuple[dict[str, type[torch.nn.Module]], Path]:
    if library:
        from .library_models import LIBRARY_CORPUS

        return LIBRARY_CORPUS, MODELS_FILE.with_name("library_models.py")
    from .models import CORPUS

    return CORPUS, MODELS_FILE


def _onnx_file(cls: type[torch.nn.Module], folder: Path, dynamo: bool) -> Path:
    model = cls().eval()
    inputs = example_inputs(cls)
    path = folder / f"{cls.__name__}{'-dynamo' if dynamo else ''}.onnx"
    names = [f"input_{i}" for i in range(len(inputs))]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if dynamo:
            torch.onnx.export(model, inputs, str(path), input_names=names, dynamo=True)
        else:
            torch.onnx.export(model, inputs, str(path), input_names=names, dynamo=False)
    return path


def run_case(name: str, route: str, folder: Path, *, library: bool = False) -> CaseResult:
    """Import `name` by `route` into `folder`, then export the import to ONNX.

    `library`: `name` is one of `library_models.LIBRARY_CORPUS` (torchvision, transformers).
    """
    from studio.importers.command import check_outputs, import_source, write_import
    from studio.importers.inputs import TensorInput
    from studio.plugins import default_registry

    corpus, models_file = _corpus(library)
    cls = corpus[name]
    started = time.perf_counter()
    stage = "source"
    try:
        inputs = None
        if route == "python":
            source = f"{models_file}:{name}"
            # As a user would say it: `--input long:2,16` for token ids.
            inputs = [
                TensorInput(tuple(t.shape), "int64" if t.dtype == torch.long else None)
                for t in example_inputs(cls)
            ]
        else:
            stage = "torch's ONNX export"
            source = str(_onnx_file(cls, folder, dynamo=route == "onnx-dynamo"))
        stage = "import"
        imported = import_source(source, default_registry(), inputs=inputs)
        difference = check_outputs(imported)
        project_path = folder / f"{name}-{route}.strata"
        write_import(imported, project_path, difference)
        layers = sum(1 for n in imported.project.main_graph.nodes if n.type_id != "studio.Input")
        stage = "export"
        _export_onnx(project_path, folder / f"{name}-{route}-export")
    except StudioError as exc:
        return CaseResult(name, route, stage, str(exc), time.perf_counter() - started)
    except Exception as exc:  # a bug: the message says so, with where it happened
        if stage == "torch's ONNX export":  # torch's own failure, before anything of ours ran
            text = f"torch's exporter failed: {type(exc).__name__}: {exc}"
            return CaseResult(name, route, stage, text, time.perf_counter() - started)
        where = traceback.extract_tb(exc.__traceback__)[-1]
        text = f"BUG {type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"
        return CaseResult(name, route, stage, text, time.perf_counter() - started)
    return CaseResult(name, route, "done", "", time.perf_counter() - started, layers)


def _export_onnx(project_path: Path, out: Path) -> None:
    from studio.export.run_export import export_trained_run
    from studio.plugins import default_exporters
    from studio.training.trained import load_run_weights

    trained = load_run_weights(project_path, None, allow_gan=True)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        report = export_trained_run(trained, ["onnx"], out, registry=default_exporters()[0])
    failed = [r for r in report.results if not r.ok]
    if failed:
        raise StudioError(f"ONNX export failed at {failed[0].stage}: {failed[0].reason}")


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="strata-corpus-") as folder:
        yield Path(folder)


def report(results: Sequence[CaseResult], *, library: bool = False) -> str:
    """A Markdown table of every case, then every refusal with its reason."""
    ok = sum(r.ok for r in results)
    title, flag = ("Library import corpus", " --library") if library else ("Import corpus", "")
    lines = [
        f"# {title}",
        "",
        f"{ok} of {len(results)} imports reproduce their source and export to ONNX "
        f"(`.venv/bin/python -m tests.corpus.corpus_run{flag}`).",
        "",
        "| model | " + " | ".join(ROUTES) + " |",
        "| --- |" + " --- |" * len(ROUTES),
    ]
    by_model: dict[str, dict[str, CaseResult]] = {}
    for result in results:
        by_model.setdefault(result.model, {})[result.route] = result
    for model, routes in by_model.items():
        cells = []
        for route in ROUTES:
            result = routes.get(route)
            if result is None:
                cells.append("")
            elif result.ok:
                cells.append(f"ok ({result.layers} layers, {result.seconds:.1f} s)")
            else:
                cells.append(f"stopped at {result.stage}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    refusals = [r for r in results if not r.ok]
    if refusals:
        lines += ["", "## What stopped", ""]
        for result in refusals:
            message = " ".join(result.message.split())[:600]
            lines.append(f"- **{result.model}, {result.route}** ({result.stage}): {message}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="corpus models (default: all)")
    parser.add_argument(
        "--library",
        action="store_true",
        help="the models as torchvision and transformers define them (tests/corpus/"
        "library_models.py), where those libraries are installed",
    )
    parser.add_argument("--route", action="append", choices=ROUTES, help="default: all three")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    results = []
    with scratch() as folder:
        corpus, _ = _corpus(args.library)
        for name in args.names or list(corpus):
            for route in args.route or ROUTES:
                result = run_case(name, route, folder, library=args.library)
                state = "ok" if result.ok else f"stopped at {result.stage}"
                print(f"{name:28} {route:18} {state} ({result.seconds:.1f} s)", flush=True)
                results.append(result)
    text = report(results, library=args.library)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
