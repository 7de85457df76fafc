"""What File ▸ Import… does apart from its widgets: reading a source's module classes with
`ast` (nothing runs), parsing the dialog's fields, and the worker that imports (`run_import`).

No Qt here: the dialog (`studio.ui.import_dialog`) shows these results and runs the worker in
a task of the window's `TaskRunner`.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.project import SUFFIX
from studio.core.registry import LayerRegistry
from studio.core.safe_files import read_text_bounded

#: Class attributes read for the example input shape, in the importer's order of preference.
SHAPE_ATTRIBUTES = ("example_input_shape", "input_shape")
#: Base classes (as written in the file) that make a class a torch module.
MODULE_BASES = frozenset(
    f"{prefix}{name}"
    for prefix in ("", "nn.", "torch.nn.")
    for name in ("Module", "Sequential", "ModuleList", "ModuleDict")
)


@dataclass(frozen=True)
class ModuleClass:
    """An ``nn.Module`` subclass defined at the top level of a Python file, found by `ast`."""

    name: str
    line: int
    #: From a literal ``example_input_shape`` / ``input_shape``; empty when unknown.
    input_shapes: tuple[tuple[int, ...], ...]
    #: Constructor parameters: (name, JSON text of the literal default, or None when required).
    parameters: tuple[tuple[str, str | None], ...]

    def args_hint(self) -> str:
        """A sample value for the constructor arguments field, e.g. ``{"num_classes": 10}``."""
        if not self.parameters:
            return "{}  (the constructor takes no arguments)"
        items = ", ".join(f'"{name}": {default or "…"}' for name, default in self.parameters)
        return "{" + items + "}"


@dataclass(frozen=True)
class ImportRequest:
    """What the user asked for, as the worker needs it (plain values only)."""

    source: str  # "file.py:ClassName" or "model.onnx"
    kwargs: dict[str, Any]
    input_shapes: tuple[tuple[int, ...], ...]
    dataset: str | None
    out: Path


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    source: str
    out: Path
    run_path: Path
    model_name: str
    layer_counts: tuple[tuple[str, int], ...]  # (layer title, count) in graph order
    input_shapes: tuple[tuple[int, ...], ...]
    max_abs_diff: float
    dataset: str | None

    @property
    def layers(self) -> int:
        return sum(count for _title, count in self.layer_counts)

    def describe_layers(self) -> str:
        parts = [title if n == 1 else f"{title} ×{n}" for title, n in self.layer_counts]
        return f"{self.layers} layer{'s' if self.layers != 1 else ''}: {', '.join(parts)}"


# ---------------------------------------------------------------- reading the source file
def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _literal_shapes(value: ast.expr) -> tuple[tuple[int, ...], ...]:
    """``(1, 3, 32, 32)`` → one shape; ``[(1, 8), (1, 4)]`` → two; anything else → ()."""
    try:
        literal = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ()

    def shape(item: object) -> tuple[int, ...] | None:
        if not isinstance(item, tuple | list) or not item:
            return None
        if all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in item):
            return tuple(item)
        return None

    single = shape(literal)
    if single is not None:
        return (single,)
    if isinstance(literal, tuple | list) and literal:
        shapes = [shape(item) for item in literal]
        if all(s is not None for s in shapes):
            return tuple(s for s in shapes if s is not None)
    return ()


def _class_shapes(node: ast.ClassDef) -> dict[str, tuple[tuple[int, ...], ...]]:
    found: dict[str, tuple[tuple[int, ...], ...]] = {}
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in SHAPE_ATTRIBUTES:
                found[target.id] = _literal_shapes(value)
    return found


def _json_default(value: ast.expr) -> str:
    try:
        return json.dumps(ast.literal_eval(value))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return "…"


def _parameters(node: ast.ClassDef) -> tuple[tuple[str, str | None], ...]:
    init = next(
        (
            s
            for s in node.body
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) and s.name == "__init__"
        ),
        None,
    )
    if init is None:
        return ()
    args = init.args
    positional = [*args.posonlyargs, *args.args][1:]  # without self
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    pairs = list(zip(positional, defaults, strict=True))
    pairs += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    return tuple(
        (arg.arg, None if default is None else _json_default(default)) for arg, default in pairs
    )


def find_module_classes(text: str, filename: str = "<source>") -> list[ModuleClass]:
    """The top-level ``nn.Module`` subclasses of a Python file, without running it.

    A class counts when one of its bases is written ``Module`` / ``nn.Module`` /
    ``torch.nn.Module`` (or a torch container such as ``nn.Sequential``) or is another class of
    the file that counts. Only top-level classes are listed: the importer looks the class up by
    name on the loaded module.

    Raises:
        SyntaxError: the file is not valid Python.
    """
    tree = ast.parse(text, filename=filename)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    bases = {name: [_dotted(b) for b in node.bases] for name, node in classes.items()}
    modules: set[str] = set()
    changed = True
    while changed:  # a class deriving from a module class of the file is one too
        changed = False
        for name, names in bases.items():
            if name not in modules and any(b in MODULE_BASES or b in modules for b in names):
                modules.add(name)
                changed = True

    def shapes_of(name: str, seen: frozenset[str] = frozenset()) -> tuple[tuple[int, ...], ...]:
        own = _class_shapes(classes[name])
        for attribute in SHAPE_ATTRIBUTES:
            if attribute in own:
                return own[attribute]
        for base in bases[name]:  # inherited from a class of the same file
            if base in classes and base not in seen:
                inherited = shapes_of(base, seen | {name})
                if inherited:
                    return inherited
        return ()

    return [
        ModuleClass(name, node.lineno, shapes_of(name), _parameters(node))
        for name, node in classes.items()
        if name in modules
    ]


# A model definition is a few hundred lines; a larger "source" is not one to list classes of.
SOURCE_LIMIT = 16 * 1024 * 1024


def read_module_classes(path: Path) -> list[ModuleClass]:
    """`find_module_classes` of a file (a regular file only, bounded: never a FIFO's hang).

    Raises:
        FileReadError: not a regular file, too large, or not UTF-8.
        SyntaxError: not Python.
    """
    text = read_text_bounded(path, SOURCE_LIMIT, what="Python file")
    return find_module_classes(text, str(path))


def source_problem(text: str) -> str:
    """Why the source path cannot be imported, in a sentence; "" when it may be."""
    if not text.strip():
        return "Choose a Python file (.py) or an ONNX model (.onnx)."
    path = Path(text.strip()).expanduser()
    if path.suffix.lower() not in (".py", ".onnx"):
        return f"{path.name} is neither a Python file (.py) nor an ONNX model (.onnx)."
    if not path.exists():
        return f"{path}: no such file."
    if path.is_dir():
        return f"{path} is a folder; choose a file."
    if not path.is_file():
        return f"{path} is not a regular file (a pipe or a device); choose a file."
    return ""


def describe_syntax_error(exc: SyntaxError, path: Path) -> str:
    where = f"line {exc.lineno}" if exc.lineno else "somewhere"
    text = (exc.text or "").strip()
    shown = f": {text}" if text else ""
    return f"{path.name} is not valid Python ({exc.msg} at {where}{shown})."


def parse_args_text(text: str) -> tuple[dict[str, Any] | None, str]:
    """The constructor arguments as a dict, or None with the reason in a sentence."""
    if not text.strip():
        return {}, ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"Not valid JSON: {exc.msg} (column {exc.colno})."
    if not isinstance(value, dict):
        return None, 'Give a JSON object of keyword arguments, e.g. {"num_classes": 10}.'
    return value, ""


def parse_shapes_text(text: str) -> tuple[tuple[tuple[int, ...], ...] | None, str]:
    """``"1,3,32,32; 1,10"`` → two shapes; "" → no shapes (the model's own); None and why."""
    shapes: list[tuple[int, ...]] = []
    parts = [p.strip() for p in text.split(";")]
    if not any(parts):
        return (), ""
    for number, part in enumerate(parts, start=1):
        sizes = [s.strip() for s in part.replace("x", ",").split(",") if s.strip()]
        label = f"Input {number}" if len(parts) > 1 else "The shape"
        try:
            shape = tuple(int(s) for s in sizes)
        except ValueError:
            shape = ()
        if not shape or any(d < 1 for d in shape):
            return None, (
                f"{label} ({part or 'empty'}): give positive whole sizes separated by commas, "
                "batch included, e.g. 1,3,32,32; separate several inputs with ';'."
            )
        shapes.append(shape)
    return tuple(shapes), ""


def format_shapes(shapes: tuple[tuple[int, ...], ...]) -> str:
    return "; ".join(",".join(str(d) for d in shape) for shape in shapes)


def output_problem(text: str, *, overwrite: bool) -> str:
    """Why the project cannot be written there; "" when it can."""
    if not text.strip():
        return "Choose where to write the project (.strata)."
    path = project_path(text)
    if path.is_dir():
        return f"{path} is a folder; give a project file name."
    if not path.parent.is_dir():
        return f"The folder {path.parent} does not exist."
    if path.exists() and not overwrite:
        return f"{path.name} already exists; tick “Overwrite” to replace it."
    return ""


def project_path(text: str) -> Path:
    path = Path(text.strip()).expanduser()
    return path if path.suffix == SUFFIX else path.with_name(path.name + SUFFIX)


# ---------------------------------------------------------------- the worker
def list_datasets(_cancelled: Callable[[], bool]) -> Iterator[object]:
    """Worker: the bundled datasets as (name, label) (discovery reads entry points)."""
    from studio.data.registry import default_datasets

    choices = []
    for info in default_datasets():
        inputs = ", ".join(str(spec.shape) for spec in info.signature.inputs)
        choices.append((info.name, f"{info.title} — {info.kind} {inputs}, {info.task}"))
    yield choices


def read_source(path: Path, _cancelled: Callable[[], bool]) -> Iterator[object]:
    """Worker: the module classes of a Python file, or the exception reading it raised."""
    try:
        yield (path, read_module_classes(path))
    except (StudioError, OSError, SyntaxError, ValueError) as exc:
        yield (path, exc)


def run_import(
    request: ImportRequest, registry: LayerRegistry, cancelled: Callable[[], bool]
) -> Iterator[object]:
    """Worker: import, check the outputs, then write; status strings, then the `ImportResult`.

    Raises what `studio import` raises: `ImportFailure` (the source cannot be read or run) or
    `UnsupportedModelError` (every construct without a catalog layer). Nothing is written unless
    the outputs match, nor after the dialog was closed.
    """
    from studio.importers.command import (
        check_outputs,
        dataset_task,
        import_source,
        write_import,
    )

    task: Any = dataset_task(request.dataset) if request.dataset else None
    if request.source.lower().endswith(".onnx"):
        yield "Reading the ONNX model…"
    else:
        yield "Loading PyTorch, running the file and tracing the class…"
    imported = import_source(
        request.source,
        registry,
        kwargs=request.kwargs,
        input_shapes=list(request.input_shapes) or None,
        cancelled=cancelled,
    )
    if cancelled():
        return
    if request.dataset:
        imported.project.data.dataset = request.dataset
        imported.project.training.task = task
    yield "Checking that the project computes what the source does…"
    difference = check_outputs(imported)
    if cancelled():
        return
    yield "Writing the project and its weights…"
    run_path = write_import(imported, request.out, difference)
    counts: Counter[str] = Counter()
    for node in imported.project.main_graph.nodes:
        if node.type_id not in ("studio.Input", "studio.Output"):
            counts[registry.get(node.type_id).title] += 1
    yield ImportResult(
        source=imported.source,
        out=request.out,
        run_path=run_path,
        model_name=imported.project.name,
        layer_counts=tuple(counts.items()),
        input_shapes=tuple(tuple(int(d) for d in x.shape) for x in imported.example_inputs),
        max_abs_diff=difference,
        dataset=request.dataset,
    )
