"""Fuzzed run folders: a real run of the iris MLP, one of its files damaged per case.

Each case damages one file of the run (metrics lines, config.json values, status.json, the
checkpoints' bytes or contents) or puts a special file in its place (a FIFO, a link to
/dev/zero, a link out of the folder, a folder, a link loop). Then it does what `studio
evaluate`, the runs table and `studio train --resume` do before training: list the runs,
load the run and its model, and prepare the resume. Every step must succeed or raise a
`StudioError` with a message naming a file; never another exception, never a hang, and no
file of the run changes (nothing lost).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.core.errors import StudioError
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import examples_dir

from .conftest import Figures, fuzz_settings, fuzz_timeout, hard_timeout, time_bound

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, /dev/zero and links are POSIX"),
]

EXAMPLES = 6  # per family, in the default suite: a few seconds in all
FILES = ("metrics.jsonl", "config.json", "status.json", "last.pt", "best.pt", "train.lock")


def _registry() -> LayerRegistry:
    from studio.layers import register

    registry = LayerRegistry()
    register(registry)
    return registry


REGISTRY = _registry()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with iris.strata and one real, two-epoch run beside it (trained once)."""
    from studio.training.session import run_training

    folder = tmp_path_factory.mktemp("pristine")
    path = folder / "iris.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", path)
    project = Project.load(path, REGISTRY)
    project.training = project.training.model_copy(update={"epochs": 2, "device": "cpu"})
    project.save(path)
    run_training(project, progress=io.StringIO())
    return folder


# ----------------------------------------------------------------- odd values
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -5,
    -(2**63),
    10**400,
    1e308,
    math.nan,
    math.inf,
    "",
    "ten",
    "x" * 10_000,
    [],
    [1, 2],
    {},
    {"a": 1},
]
ODD_PATHS = ["", ".", "missing.csv", "../nowhere.csv", "sub/../../x", "\x00", "a" * 5000]
METRICS_LINES = [
    "garbage{",
    "[1, 2, 3]",
    "null",
    '"text"',
    "{}",
    '{"epoch": "2"}',
    '{"epoch": -1}',
    '{"epoch": 1e999}',
    '{"epoch": 99999999999999999999999}',
    '{"epoch": 1, "val_loss": NaN}',
    '{"epoch": 1, "val_loss": Infinity, "val_accuracy": -Infinity}',
    '{"epoch": 1, "val_loss": 1' + "0" * 500 + "}",
    '{"epoch": 1, "val_loss": "low", "train_loss": [1], "lr": {}}',
    '{"epoch": true, "val_loss": 0.1}',
    "[" * 100_000,
    '{"epoch": 2, "val_loss": 0.5',  # torn
    "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
]
# Where a config.json value may be changed (None: the key is removed instead).
CONFIG_PLACES: list[tuple[str, ...]] = [
    ("resolved", "epochs"),
    ("resolved",),
    ("resolved", "device"),
    ("project",),
    ("project", "training"),
    ("project", "training", "epochs"),
    ("project", "training", "mode"),
    ("project", "training", "batch_size"),
    ("project", "training", "early_stopping"),
    ("project", "graphs"),
    ("project", "schema_version"),
    ("project", "data"),
    ("project_path",),
    ("run",),
]
STATUS_KEYS = ["status", "pid", "started", "updated", "epoch", "step", "epochs", "message"]


# ----------------------------------------------------------------- mutations
Mutation = Callable[[Path, Path], str]  # (run folder, a folder outside it) -> what was done


@st.composite
def byte_damage(draw: st.DrawFn) -> Callable[[bytes], bytes]:
    """Truncate, flip, insert or delete bytes at a drawn place (a fraction of the length)."""
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "empty"]))
    where = draw(st.floats(0, 1))
    flips = draw(st.lists(st.integers(1, 255), min_size=1, max_size=8))
    inserted = draw(st.binary(min_size=1, max_size=64))
    deleted = draw(st.integers(1, 256))

    def damage(data: bytes) -> bytes:
        at = min(int(where * len(data)), max(0, len(data) - 1))
        if kind == "truncate":
            return data[:at]
        if kind == "flip" and data:
            out = bytearray(data)
            for offset, mask in enumerate(flips):
                out[(at + offset * 997) % len(out)] ^= mask
            return bytes(out)
        if kind == "insert":
            return data[:at] + inserted + data[at:]
        if kind == "delete":
            return data[:at] + data[at + deleted :]
        return b""

    return damage


def mutations(family: str) -> st.SearchStrategy[tuple[str, Mutation]]:
    """(file, mutation) of one family; one test per family keeps every family's share."""
    if family == "metrics":
        return st.tuples(st.just("metrics.jsonl"), metrics_mutation())
    if family == "config":
        return st.tuples(st.just("config.json"), json_mutation("config.json", CONFIG_PLACES))
    if family == "status":
        places = [(k,) for k in STATUS_KEYS]
        return st.tuples(st.just("status.json"), json_mutation("status.json", places))
    names = st.sampled_from(["last.pt", "best.pt"])
    if family == "checkpoint bytes":
        return names.flatmap(lambda name: st.tuples(st.just(name), byte_mutation(name)))
    if family == "checkpoint":
        return names.flatmap(lambda name: st.tuples(st.just(name), checkpoint_mutation(name)))
    return st.sampled_from(FILES).flatmap(
        lambda name: st.tuples(st.just(name), special_mutation(name))
    )


@st.composite
def metrics_mutation(draw: st.DrawFn) -> Mutation:
    lines = draw(st.lists(st.sampled_from(METRICS_LINES), min_size=1, max_size=4))
    position = draw(st.integers(0, 3))
    torn_end = draw(st.booleans())
    raw = draw(st.booleans())
    damage = draw(byte_damage())

    def mutate(run: Path, _outside: Path) -> str:
        path = run / "metrics.jsonl"
        if raw:
            path.write_bytes(damage(path.read_bytes()))
            return "metrics bytes"
        existing = path.read_text(encoding="utf-8").splitlines()
        at = min(position, len(existing))
        text = "\n".join(existing[:at] + lines + existing[at:])
        path.write_text(text + ("" if torn_end else "\n"), encoding="utf-8", errors="replace")
        return "metrics lines"

    return mutate


@st.composite
def json_mutation(draw: st.DrawFn, name: str, places: list[tuple[str, ...]]) -> Mutation:
    place = draw(st.sampled_from(places))
    action = draw(st.sampled_from(["set", "remove", "bytes", "not an object"]))
    data_path = ""
    if place == ("project", "data"):
        data_path = draw(st.sampled_from(ODD_PATHS))
        value: Any = {"source": {"kind": "table", "path": data_path}}
    elif place[-1] in ("project_path", "run"):
        value = draw(st.sampled_from(ODD_PATHS + ODD_VALUES))
    else:
        value = draw(st.sampled_from(ODD_VALUES))
    damage = draw(byte_damage())

    def mutate(run: Path, _outside: Path) -> str:
        path = run / name
        if action == "bytes":
            path.write_bytes(damage(path.read_bytes()))
            return f"{name} bytes"
        if action == "not an object":
            path.write_text(json.dumps([1, 2]), encoding="utf-8")
            return f"{name} not an object"
        document = json.loads(path.read_text(encoding="utf-8"))
        target = document
        for key in place[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        if action == "remove":
            target.pop(place[-1], None)
        else:
            target[place[-1]] = value
        path.write_text(json.dumps(document, allow_nan=True), encoding="utf-8")
        # A data path the config now names is a file a refusal may name instead.
        shown = f" {data_path}" if place == ("project", "data") and action == "set" else ""
        return f"{name} {'.'.join(place)} {action}{shown}"

    return mutate


@st.composite
def byte_mutation(draw: st.DrawFn, name: str) -> Mutation:
    damage = draw(byte_damage())

    def mutate(run: Path, _outside: Path) -> str:
        path = run / name
        path.write_bytes(damage(path.read_bytes()))
        return f"{name} bytes"

    return mutate


CHECKPOINT_KEYS = ["epoch", "step", "best", "rng", "mode", "epoch_progress", "format"]


@st.composite
def checkpoint_mutation(draw: st.DrawFn, name: str) -> Mutation:
    action = draw(
        st.sampled_from(
            [
                "remove",
                "rename",
                "odd value",
                "weights removed",
                "weights renamed",
                "shape",
                "dtype",
                "rng",
                "old format",
                "old format only",
                "not a dict",
            ]
        )
    )
    key = draw(st.sampled_from(CHECKPOINT_KEYS))
    value = draw(st.sampled_from([v for v in ODD_VALUES if not isinstance(v, float) or v == v]))
    index = draw(st.integers(0, 5))

    def mutate(run: Path, _outside: Path) -> str:
        import torch

        from studio.training.checkpoints import load_checkpoint, save_checkpoint

        path = run / name
        state = load_checkpoint(path)
        weights = state["mode"]["models"]["model"]
        names = sorted(weights)
        victim = names[index % len(names)]
        if action == "remove":
            state.pop(key, None)
        elif action == "rename":
            state[key + "_old"] = state.pop(key, None)
        elif action == "odd value":
            state[key] = value
        elif action == "weights removed":
            del weights[victim]
        elif action == "weights renamed":
            weights["renamed." + victim] = weights.pop(victim)
        elif action == "shape":
            weights[victim] = torch.zeros(3, 7)
        elif action == "dtype":
            weights[victim] = weights[victim].to(torch.int64)
        elif action == "rng":
            rng = state["rng"]
            rng[sorted(rng)[index % len(rng)]] = torch.zeros(index)
        elif action == "old format":
            state["model"] = {k: torch.zeros_like(v) for k, v in weights.items()}
        elif action == "old format only":
            state["model"] = state["mode"].pop("models")["model"]
        else:
            state = [1, 2, 3]  # type: ignore[assignment]
        save_checkpoint(path, state)  # type: ignore[arg-type]
        return f"{name} {action}"

    return mutate


@st.composite
def special_mutation(draw: st.DrawFn, name: str) -> Mutation:
    kind = draw(
        st.sampled_from(["fifo", "dev zero", "link outside", "folder", "link loop", "dangling"])
    )

    def mutate(run: Path, outside: Path) -> str:
        path = run / name
        kept = outside / f"kept-{name}"
        if path.exists():
            shutil.copy(path, kept)  # the target of "link outside"
        else:
            kept.write_text("1\n")
        path.unlink(missing_ok=True)
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "dev zero":
            path.symlink_to("/dev/zero")
        elif kind == "link outside":
            path.symlink_to(kept)
        elif kind == "folder":
            path.mkdir()
        elif kind == "link loop":
            path.symlink_to(path)
        else:
            path.symlink_to(run / "nothing-here")
        return f"{name} {kind}"

    return mutate


# ----------------------------------------------------------------- one case
def fingerprint(folder: Path) -> dict[str, str]:
    """What every entry of `folder` is (never opening a special file): the "nothing lost" check."""
    result = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        key = str(path.relative_to(folder))
        if stat.S_ISLNK(mode):
            result[key] = "link to " + os.readlink(path)
        elif stat.S_ISREG(mode):
            result[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            result[key] = f"kind {stat.S_IFMT(mode)}"
    return result


def exercise(project_path: Path, run_id: str) -> list[tuple[str, str | None]]:
    """Everything read before training: (step, None) on success, (step, message) on refusal."""
    from studio.training.run_index import compare_runs, list_runs
    from studio.training.runs import RunFolder
    from studio.training.session import build_mode, load_mode_state, prepare_resume
    from studio.training.trained import (
        latest_run_id,
        load_run,
        run_context,
        runs_with_weights,
        trained_model,
    )

    outcomes: list[tuple[str, str | None]] = []

    def step(name: str, work: Callable[[], object]) -> None:
        try:
            with time_bound():
                work()
        except StudioError as exc:
            assert str(exc).strip(), f"{name}: a StudioError without a message"
            outcomes.append((name, str(exc)))
        else:
            outcomes.append((name, None))

    step("list", lambda: (list_runs(project_path), runs_with_weights(project_path)))
    step("compare", lambda: compare_runs(project_path, [run_id]))
    step("latest", lambda: latest_run_id(project_path))

    def evaluate() -> None:
        trained = load_run(project_path, run_id, registry=REGISTRY, allow_gan=True)
        trained_model(trained)
        _ = trained.metrics

    step("evaluate", evaluate)

    def resume() -> None:
        import torch

        run = RunFolder.open(project_path, run_id)
        plan = prepare_resume(run, Project.load(project_path, REGISTRY))
        with run_context(run.run_id, run.path):  # as `prepare_trainer` does for a resume
            mode = build_mode(
                plan.project, plan.project.training, torch.device("cpu"), steps_per_epoch=1
            )
        load_mode_state(mode, plan.checkpoint, run.last)

    step("resume", resume)
    return outcomes


def check_case(
    family: str, name: str, mutate: Mutation, pristine: Path, root: Path, figures: Figures
) -> None:
    """Damage a copy of the pristine run, exercise it, and check what came out."""
    shutil.copytree(pristine, root / "p")
    outside = root / "outside"
    outside.mkdir()
    project_path = root / "p" / "iris.strata"
    (run,) = (root / "p" / "iris.runs").iterdir()
    what = mutate(run, outside)
    before = fingerprint(root)
    outcomes = exercise(project_path, run.name)
    assert fingerprint(root) == before, f"{what}: a file of the run changed"
    for step, message in outcomes:
        if message is None:
            figures.add(f"run fuzz: {step} succeeded")
            continue
        figures.add(f"run fuzz: {step} refused with a sentence")
        named = [name, str(root), run.name, "iris.strata"]
        if what.startswith("config.json project.data set"):
            named.append(what.removeprefix("config.json project.data set ") + ":")
        assert any(part in message for part in named), f"{what}: {step}: names no file: {message}"
    figures.add("run fuzz: cases")
    figures.add(f"run fuzz: {family} cases")


def fuzz_family(family: str) -> Callable[..., None]:
    @fuzz_timeout(default=EXAMPLES)
    @fuzz_settings(default=EXAMPLES)
    @given(case=mutations(family))
    def test(
        case: tuple[str, Mutation],
        pristine: Path,
        tmp_path_factory: pytest.TempPathFactory,
        figures: Figures,
    ) -> None:
        name, mutate = case
        root = tmp_path_factory.mktemp("fuzz-run")
        check_case(family, name, mutate, pristine, root, figures)

    return test


test_fuzzed_metrics = fuzz_family("metrics")
test_fuzzed_config = fuzz_family("config")
test_fuzzed_status = fuzz_family("status")
test_fuzzed_checkpoint_bytes = fuzz_family("checkpoint bytes")
test_fuzzed_checkpoint_contents = fuzz_family("checkpoint")
test_special_files_in_the_run = fuzz_family("special")


@hard_timeout(120)
def test_the_pristine_run_passes_every_step(pristine: Path, tmp_path: Path) -> None:
    """The fuzzer's baseline: an undamaged run lists, loads and is ready to resume."""
    shutil.copytree(pristine, tmp_path / "p")
    project_path = tmp_path / "p" / "iris.strata"
    (run,) = (tmp_path / "p" / "iris.runs").iterdir()
    before = fingerprint(tmp_path)
    assert exercise(project_path, run.name) == [
        ("list", None),
        ("compare", None),
        ("latest", None),
        ("evaluate", None),
        ("resume", None),
    ]
    assert fingerprint(tmp_path) == before
