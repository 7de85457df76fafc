"""The dataset registry: every dataset the application can offer by name, listed without loading.

A `DatasetInfo` carries what `studio datasets`, the data tab and `studio validate` need (kind,
task, sample shape, size, licence) and the import path of the function that reads it, so
listing datasets imports neither numpy nor torch. Built-in datasets register through the same
``studio.datasets`` entry point as plugins; a broken plugin is reported and skipped, and so is
a plugin's dataset whose name lacks the plugin's own prefix (``extra.spirals``).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from typing import TYPE_CHECKING, Any

from studio.data.errors import DataError
from studio.data.signature import DataKind, DataSignature, Task, format_dims
from studio.plugins import BUILTIN_NAMESPACE, PluginReport, check_namespace, discover, log_problems

if TYPE_CHECKING:
    from studio.core.project import DataSection
    from studio.data.raw import RawData

    Reader = Callable[[DataSection], RawData]

DATASET_GROUP = "studio.datasets"
BUILTIN_ENTRY = "studio.data.catalog:register"


class DuplicateDatasetError(DataError):
    """A dataset name was registered twice."""


class UnknownDatasetError(DataError):
    """No registered dataset has that name."""


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset offered by name: what it is, where it comes from, and how to read it."""

    name: str
    title: str
    signature: DataSignature
    size: int
    # What `size` counts: "rows", "images", "texts", "time steps".
    unit: str
    licence: str
    source: str
    description: str
    # "module:function" taking the project's DataSection and returning a `RawData`.
    reader: str
    # Files under assets/datasets that the reader needs (empty for generators).
    files: tuple[str, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> DataKind:
        return self.signature.kind

    @property
    def task(self) -> Task:
        return self.signature.task

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The first input's shape (most datasets have one input)."""
        return self.signature.inputs[0].shape

    def size_text(self) -> str:
        """``150 rows × (4,) → 3 classes``: the size and shape line of `studio datasets`."""
        inputs = self.signature.describe_inputs()
        target = self.signature.target
        if target.task == "classification":
            goal = f"{target.num_classes} classes"
        elif target.task == "regression":
            goal = f"regression {format_dims(target.shape)}"
        else:
            goal = "no target"
        return f"{self.size:,} {self.unit}; {inputs} → {goal}"

    def load_reader(self) -> Reader:
        """Import the reader function (and whatever it needs) only now."""
        module_name, _, function_name = self.reader.partition(":")
        try:
            function: Reader = getattr(importlib.import_module(module_name), function_name)
        except (ImportError, AttributeError) as exc:
            raise DataError(f"dataset {self.name!r}: cannot load its reader ({exc})") from exc
        return function


class DatasetRegistry:
    """Datasets by name; registering a name twice raises, and so does a plugin's bare name."""

    def __init__(self) -> None:
        self._infos: dict[str, DatasetInfo] = {}
        self.origins: dict[str, str] = {}

    def register(self, info: DatasetInfo, *, origin: str = BUILTIN_NAMESPACE) -> None:
        """Add a dataset; `DuplicateDatasetError` when its name is taken.

        A plugin's dataset (any `origin` but ``"studio"``) needs a namespaced name:
        `studio.plugins.NamespaceError` otherwise.
        """
        if info.name in self._infos:
            raise DuplicateDatasetError(
                f"dataset {info.name!r} is already registered by {self.origins[info.name]}"
            )
        check_namespace(info.name, kind="dataset", builtin=origin == BUILTIN_NAMESPACE)
        self._infos[info.name] = info
        self.origins[info.name] = origin

    def get(self, name: str) -> DatasetInfo:
        try:
            return self._infos[name]
        except KeyError:
            known = ", ".join(self._infos) or "none"
            raise UnknownDatasetError(
                f"no dataset named {name!r}; `studio datasets` lists them ({known})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    def __iter__(self) -> Iterator[DatasetInfo]:
        return iter(self._infos.values())

    def __len__(self) -> int:
        return len(self._infos)

    def names(self) -> list[str]:
        return list(self._infos)


def discover_datasets(
    entries: list[EntryPoint] | None = None,
) -> tuple[DatasetRegistry, list[PluginReport]]:
    """A registry filled from every ``studio.datasets`` entry point, plus a report per plugin."""
    return discover(
        DATASET_GROUP,
        BUILTIN_ENTRY,
        DatasetRegistry,
        name_of=lambda info: info.name,
        duplicate=DuplicateDatasetError,
        entries=entries,
    )


@functools.cache
def default_datasets() -> DatasetRegistry:
    """The application's datasets, discovered once per process."""
    registry, reports = discover_datasets()
    log_problems(DATASET_GROUP, reports)
    return registry
