"""The project file (`*.strata`): one JSON document, validated, migrated, saved atomically.

Opening a project never runs code (no pickle), and every way a file can be wrong ends in a
`ProjectError` whose message names the file and the JSON path of the problem, e.g.
``demo.strata: graphs[0].nodes[3].params.kernel_size: must be a positive integer``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studio.core.data_settings import (
    AugmentationSettings,
    DataSource,
    LoaderSettings,
    PreprocessingSettings,
    SplitSettings,
)
from studio.core.errors import FileReadError, GraphEditError, ProjectError, UnknownLayerError
from studio.core.graph import MAX_COORDINATE, Graph
from studio.core.registry import LayerRegistry
from studio.core.safe_files import read_bytes_bounded
from studio.core.specs import ParamError
from studio.core.training_settings import (
    DeviceName,
    EarlyStoppingSettings,
    LossName,
    MetricName,
    NodeName,
    NonNegativeFloat,
    OptimizerSettings,
    PrecisionName,
    RunId,
    SchedulerSettings,
)

SCHEMA_VERSION = 1
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate line endings
MAX_FILE_BYTES = 64 * 1024 * 1024
SUFFIX = ".strata"

Migration = Callable[[dict[str, Any]], dict[str, Any]]
# schema_version N -> function turning a version-N document into version N+1.
MIGRATIONS: dict[int, Migration] = {}

# The largest whole number a project holds anywhere (a 64-bit integer): JSON readers other
# than Python's, and the C code under the settings, cannot hold a larger one.
MAX_INTEGER = 2**63 - 1

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
ItemId = Annotated[str, Field(min_length=1, max_length=64)]
# Strict: `true` is not the coordinate 1.
Coordinate = Annotated[
    float, Field(strict=True, allow_inf_nan=False, ge=-MAX_COORDINATE, le=MAX_COORDINATE)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class NodeModel(_Strict):
    id: ItemId
    type: Annotated[str, Field(min_length=1, max_length=128)]
    name: Identifier
    params: dict[str, Any] = Field(default_factory=dict)
    position: tuple[Coordinate, Coordinate] = (0.0, 0.0)
    shares: ItemId | None = None


class EdgeModel(_Strict):
    id: ItemId
    src: ItemId
    src_port: Identifier
    dst: ItemId
    dst_port: Identifier


class GraphModel(_Strict):
    name: Identifier
    nodes: list[NodeModel] = Field(default_factory=list, max_length=100_000)
    edges: list[EdgeModel] = Field(default_factory=list, max_length=400_000)


class DataSection(BaseModel):
    """Which data the project trains on and how it is split, normalised and fed.

    `source` (the user's own file or folder), when set, is what the project trains on;
    otherwise `dataset` names a bundled dataset (`studio datasets` lists them).
    """

    # Checked on assignment too, so that a project never saves what it could not load again.
    model_config = ConfigDict(extra="allow", validate_assignment=True, strict=True)
    dataset: Annotated[str, Field(max_length=256)] | None = None
    source: DataSource | None = None
    splits: SplitSettings = Field(default_factory=SplitSettings)
    preprocessing: PreprocessingSettings = Field(default_factory=PreprocessingSettings)
    augmentation: AugmentationSettings = Field(default_factory=AugmentationSettings)
    loader: LoaderSettings = Field(default_factory=LoaderSettings)

    @property
    def names_data(self) -> bool:
        """Whether the project says what to train on (a file source or a bundled dataset)."""
        return self.source is not None or bool(self.dataset)


class TrainingSection(BaseModel):
    """How the project trains (see `studio.core.training_settings` for the parts).

    `loss` "auto" follows the task (cross-entropy for classification, MSE otherwise);
    `metrics` empty means the task's usual ones; `grad_clip` 0 means no clipping;
    `frozen` names nodes whose weights stay fixed; `initial_weights` is a run id of this
    project whose weights are copied, node by node, before training (transfer learning).
    """

    # Strict: `batch_size: true` is not a batch of 1, nor `compile: "no"` a switch turned on.
    model_config = ConfigDict(extra="allow", validate_assignment=True, strict=True)
    mode: Literal["supervised", "autoencoder", "gan"] = "supervised"
    task: Literal["classification", "regression", "reconstruction", "generation"] = "classification"
    epochs: Annotated[int, Field(ge=1, le=100_000)] = 10
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 32
    learning_rate: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] = 1e-3
    optimizer: OptimizerSettings = Field(default_factory=OptimizerSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    loss: LossName = "auto"
    metrics: list[MetricName] = Field(default_factory=list, max_length=16)
    grad_clip: NonNegativeFloat = 0.0
    early_stopping: EarlyStoppingSettings = Field(default_factory=EarlyStoppingSettings)
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    device: DeviceName = "auto"
    precision: PrecisionName = "fp32"
    # torch.compile the model before training: faster steps on a GPU after a compile that
    # takes from seconds to minutes; off by default so that a run starts at once.
    compile: bool = False
    frozen: list[NodeName] = Field(default_factory=list, max_length=100_000)
    initial_weights: RunId | None = None


class ProjectModel(_Strict):
    schema_version: int
    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: Annotated[str, Field(max_length=10_000)] = ""
    graphs: list[GraphModel] = Field(min_length=1, max_length=16)
    data: DataSection = Field(default_factory=DataSection)
    training: TrainingSection = Field(default_factory=TrainingSection)
    view: dict[str, Any] = Field(default_factory=dict)


class Project:
    """A loaded project: named graphs (one, or a generator and a discriminator) and settings."""

    def __init__(
        self,
        name: str,
        registry: LayerRegistry,
        *,
        graphs: Mapping[str, Graph] | None = None,
        description: str = "",
        data: DataSection | None = None,
        training: TrainingSection | None = None,
        view: Mapping[str, Any] | None = None,
        path: Path | None = None,
    ) -> None:
        self.name = name
        self.registry = registry
        self.graphs: dict[str, Graph] = dict(graphs) if graphs else {"model": Graph(registry)}
        self.description = description
        self.data = data or DataSection()
        self.training = training or TrainingSection()
        self.view: dict[str, Any] = dict(view or {})
        self.path = path

    @property
    def main_graph(self) -> Graph:
        """The first graph: the model, or the generator of a GAN."""
        return next(iter(self.graphs.values()))

    def setting_problems(self) -> list[str]:
        """Settings that load but name what the model lacks, as 'setting: sentence' lines.

        They are refused by training and reported by `studio validate`, not on load: the
        window must still open the project so that the setting can be corrected.
        """
        if self.training.mode == "gan":
            return []  # a GAN trains every weight of both graphs; frozen does not apply
        graph = self.main_graph
        problems = []
        for i, name in enumerate(self.training.frozen):
            node = graph.node_by_name(name)
            where = f"training.frozen[{i}]"
            if node is None:
                problems.append(
                    f"{where}: no layer named {name!r} in the model; remove it from the "
                    "frozen layers or rename the layer"
                )
            elif graph.spec(node.id).role != "layer":
                problems.append(
                    f"{where}: {name!r} is the model's {graph.spec(node.id).role}, which has no "
                    "weights to freeze; remove it from the frozen layers"
                )
        return problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "description": self.description,
            "graphs": [{"name": n, **g.to_dict()} for n, g in self.graphs.items()],
            "data": self.data.model_dump(mode="json"),
            "training": self.training.model_dump(mode="json"),
            "view": self.view,
        }

    def to_json(self) -> str:
        document = self.to_dict()
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (a "\\ud800" escape in a file that loaded) has no UTF-8 form;
            # as an escape it survives the round trip instead of making the project unsavable.
            text = json.dumps(document, indent=2, ensure_ascii=True, allow_nan=False) + "\n"
        return text

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write atomically: the old file stays whole until the new one is complete."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ProjectError("the project has no file yet; choose where to save it")
        atomic_write_text(target, self.to_json())
        self.path = target
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], registry: LayerRegistry) -> Project:
        path = Path(path)
        try:
            raw = read_bytes_bounded(path, MAX_FILE_BYTES, what="project file")
        except FileReadError as exc:
            raise ProjectError(str(exc)) from None
        project = cls.from_json(raw, registry, source=str(path))
        project.path = path
        return project

    @classmethod
    def from_json(cls, raw: bytes | str, registry: LayerRegistry, *, source: str) -> Project:
        return cls.from_dict(parse_json(raw, source), registry, source=source)

    @classmethod
    def from_dict(cls, document: object, registry: LayerRegistry, *, source: str) -> Project:
        document = migrate(document, source)
        check_numbers(document, source)
        try:
            model = ProjectModel.model_validate(document)
        except ValidationError as exc:
            raise ProjectError(f"{source}: {describe_validation_error(exc)}") from None
        graphs: dict[str, Graph] = {}
        for gi, graph_model in enumerate(model.graphs):
            if graph_model.name in graphs:
                raise ProjectError(
                    f"{source}: graphs[{gi}].name: the graph name {graph_model.name!r} "
                    "is used twice"
                )
            graphs[graph_model.name] = build_graph(graph_model, registry, f"{source}: graphs[{gi}]")
        return cls(
            model.name,
            registry,
            graphs=graphs,
            description=model.description,
            data=model.data,
            training=model.training,
            view=model.view,
        )


def build_graph(model: GraphModel, registry: LayerRegistry, where: str) -> Graph:
    """Turn a validated graph model into a `Graph`, naming the node or edge that is wrong."""
    graph = Graph(registry)
    for ni, node in enumerate(model.nodes):
        here = f"{where}.nodes[{ni}]"
        try:
            spec = registry.get(node.type)
        except UnknownLayerError:
            raise ProjectError(
                f"{here}.type: unknown layer type {node.type!r} (is the plugin that provides "
                "it installed?)"
            ) from None
        try:
            spec.validate_params(node.params)
        except ParamError as exc:
            raise ProjectError(f"{here}.params.{exc}") from None
        if node.id in graph:
            raise ProjectError(f"{here}.id: the id {node.id!r} is used by an earlier node")
        if graph.node_by_name(node.name) is not None:
            raise ProjectError(f"{here}.name: the name {node.name!r} is used by an earlier node")
        try:
            graph.add_node(
                node.type,
                name=node.name,
                params=node.params,
                position=node.position,
                node_id=node.id,
                shares=node.shares,
            )
        except GraphEditError as exc:
            raise ProjectError(f"{here}: {exc}") from None
    edge_ids: set[str] = set()
    for ei, edge in enumerate(model.edges):
        here = f"{where}.edges[{ei}]"
        if edge.id in edge_ids:
            raise ProjectError(f"{here}.id: the id {edge.id!r} is used by an earlier connection")
        for end in ("src", "dst"):
            if getattr(edge, end) not in graph:
                raise ProjectError(f"{here}.{end}: no node has the id {getattr(edge, end)!r}")
        try:
            graph.connect(edge.src, edge.src_port, edge.dst, edge.dst_port, edge_id=edge.id)
        except GraphEditError as exc:
            raise ProjectError(f"{here}: {exc}") from None
        edge_ids.add(edge.id)
    return graph


def parse_json(raw: bytes | str, source: str) -> object:
    """Parse JSON, refusing NaN/Infinity literals and explaining where a broken file breaks."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ProjectError(
                f"{source}: not UTF-8 text (byte {exc.start}); is this a project file?"
            ) from None
    else:
        text = raw
    if not text.strip():
        raise ProjectError(f"{source}: the file is empty")

    constants: list[_Constant] = []

    def mark_constant(name: str) -> _Constant:
        constants.append(_Constant(name))
        return constants[-1]

    try:
        document: object = json.loads(text, parse_constant=mark_constant)
    except json.JSONDecodeError as exc:
        # A string left open runs to the end of the text: the file was cut inside it.
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise ProjectError(
                f"{source}: the file ends unexpectedly (line {exc.lineno}); it may have been "
                "truncated."
            ) from None
        raise ProjectError(
            f"{source}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ProjectError(f"{source}: nested too deeply to be a project file") from None
    except ValueError as exc:
        raise ProjectError(f"{source}: {exc}") from None
    if constants:
        found = _find_constant(document)
        if found is None:
            # The literal sat under a key that appears twice and was replaced by the later one.
            raise ProjectError(
                f"{source}: {constants[0].name} is not allowed in a project file (it is under "
                "a key that appears twice in its object); use a finite number"
            )
        where, name = found
        raise ProjectError(
            f"{source}: {where}: {name} is not allowed in a project file; use a finite number"
        )
    return document


class _Constant:
    """Stands in for a NaN or Infinity literal until its JSON path is known."""

    def __init__(self, name: str) -> None:
        self.name = name


def _find_constant(document: object) -> tuple[str, str] | None:
    """The JSON path and literal of the first `_Constant`; None when a repeated key replaced
    every one of them."""
    for value, loc in walk(document):
        if isinstance(value, _Constant):
            return json_path(loc) or "the document", value.name
    return None


def walk(document: object) -> Iterator[tuple[object, tuple[int | str, ...]]]:
    """Every value of a JSON document with its path, in document order, without recursion
    (a file may nest deeper than Python's stack)."""
    stack: list[tuple[object, tuple[int | str, ...]]] = [(document, ())]
    while stack:
        value, loc = stack.pop()
        yield value, loc
        if isinstance(value, dict):
            stack.extend((v, (*loc, k)) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((v, (*loc, i)) for i, v in reversed(list(enumerate(value))))


def check_numbers(document: object, source: str) -> None:
    """Refuse a number that could not be saved again: an infinity (`1e999` parses as one, with
    no NaN or Infinity literal to catch) or a whole number beyond 64 bits, wherever it is.

    Free-form parts (the view settings, a later version's settings) are kept as they are, and
    JSON has no form for an infinity: without this check such a project opens, but its save
    fails or writes `null` in the number's place.
    """
    for value, loc in walk(document):
        if isinstance(value, bool):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            what = "NaN is not allowed in" if math.isnan(value) else "the number is too large for"
            raise ProjectError(
                f"{source}: {json_path(loc) or 'the document'}: {what} a project file; use a "
                "finite number"
            )
        if isinstance(value, int) and not -MAX_INTEGER <= value <= MAX_INTEGER:
            raise ProjectError(
                f"{source}: {json_path(loc) or 'the document'}: the number is too large for a "
                f"project file (it must be within ±{MAX_INTEGER:,})"
            )


def migrate(document: object, source: str) -> object:
    """Bring an older document up to `SCHEMA_VERSION`; refuse a newer one plainly."""
    if not isinstance(document, dict):
        raise ProjectError(f"{source}: a project file holds a JSON object at the top level")
    version = document.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectError(
            f"{source}: schema_version: must be an integer (this version writes {SCHEMA_VERSION})"
        )
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"{source}: schema_version: the file was written by a newer Strata Studio (schema "
            f"{version}; this one reads up to {SCHEMA_VERSION}). Update Strata Studio to open it."
        )
    if version < 1:
        raise ProjectError(f"{source}: schema_version: must be at least 1")
    while version < SCHEMA_VERSION:
        try:
            document = MIGRATIONS[version](document)
        except Exception as exc:  # an old file the migration did not foresee
            raise ProjectError(
                f"{source}: could not upgrade from schema {version}: {type(exc).__name__}: {exc}"
            ) from None
        version += 1
        document["schema_version"] = version
    return document


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be text",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


# Errors whose pydantic wording already reads well ("input should be greater than 0").
_PYDANTIC_WORDED = {
    "greater_than_equal",
    "greater_than",
    "less_than_equal",
    "less_than",
    "too_short",
    "too_long",
    "string_too_long",
    "string_too_short",
}


def describe_validation_error(exc: ValidationError) -> str:
    """The first pydantic error as 'json.path: sentence'."""
    error = exc.errors(include_url=False)[0]
    path = json_path(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in _MESSAGES:
        message = _MESSAGES[kind]
    elif kind == "string_pattern_mismatch":
        message = "must use letters, digits and _ and start with a letter"
    elif kind in _PYDANTIC_WORDED:
        message = error["msg"].lower()
    elif kind == "literal_error":
        message = f"must be one of {ctx.get('expected', '')}"
    else:
        message = error["msg"]
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path or 'the document'}: {message}{tail}"


def json_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)[:60]}]"
    return out


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync it, then rename over the target."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: a failure (a full disk, a file too large, a folder
    that cannot be written) leaves no partial file and any previous one whole.

    Raises:
        ProjectError: naming the file and saying that the previous one is unchanged.
    """
    folder = path.parent if str(path.parent) else Path(".")
    tmp_name: str | None = None
    try:
        fd, tmp_name = _create_beside(path, folder)
        # Keep the mode the file had, so that saving never hides a shared project from the
        # other people who could read it; a new file follows the user's umask.
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp_name, stat.S_IMODE(os.stat(path).st_mode))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        _fsync_folder(folder)
    except OSError as exc:
        if not folder.is_dir():
            raise ProjectError(
                f"{path}: could not be saved: the folder {folder} does not exist"
            ) from None
        raise ProjectError(
            f"{path}: could not be saved ({exc.strerror or exc}); the previous file is unchanged"
        ) from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def _create_beside(path: Path, folder: Path) -> tuple[int, str]:
    """A new, empty temporary file beside `path`, opened for writing.

    Not `mkstemp`: its files are private (0600), and a file renamed from one would keep that
    mode instead of the one the user's umask gives every other file they write.
    """
    for _ in range(100):
        name = os.path.join(folder, f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every platform can open a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
