"""Fuzzed project files: every mutation of every template either loads or ends in a
`ProjectError` with a message; never another exception, never a hang, never a changed file.

Keys given twice exist only in a file's text (a dict holds a key once), so a repeated key is
marked in the document (`DUP`) and written out by `dump`, with a value that differs from the
first one's."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.core.errors import ProjectError
from studio.core.project import Project
from studio.core.registry import LayerRegistry

from .conftest import Figures, fuzz_settings, fuzz_timeout, hard_timeout, time_bound

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"
TEMPLATES = sorted(EXAMPLES.glob("*.strata"))
SMALLEST = min(TEMPLATES, key=lambda p: p.stat().st_size)

pytestmark = pytest.mark.fuzz


def _registry() -> LayerRegistry:
    from studio.layers import register

    registry = LayerRegistry()
    register(registry)
    return registry


REGISTRY = _registry()

Path_ = tuple[int | str, ...]

# Values a hand-edited or damaged file could hold where something else belongs.
ODD_TEXT = [
    "",
    "\x00",
    "\ud800",  # a lone surrogate: no UTF-8 form
    "\u202e\u0627\u0644",  # right-to-left override and Arabic
    "👩‍👩‍👧‍👦" * 50,
    "e\u0301" * 100,
    "x" * 1_000_000,
    "../../etc/passwd",
    "/tmp/x",
    "C:\\Windows\\x",
    "studio.Linear",
    "out",
]
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    -(2**63),
    2**64,
    10**400,
    1e308,
    -1e308,
    5e-324,
    0.5,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    [],
    {},
    [1, 2, 3],
    {"a": 1},
    [[[]]],
    *ODD_TEXT,
]


def odd_value(draw: st.DrawFn) -> Any:
    # A copy: later mutations must never change the shared examples (hypothesis replays them).
    return copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))


def paths_of(value: Any, here: Path_ = ()) -> list[Path_]:
    """Every JSON path in a document, the root included."""
    out = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(paths_of(item, (*here, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(paths_of(item, (*here, index)))
    return out


def get(document: Any, path: Path_) -> Any:
    for part in path:
        document = document[part]
    return document


DEEP = "\x00deep:"
DUP = "\x00dup:"


def variant(value: Any) -> Any:
    """A value of the same kind that differs from `value`: a repeated key that a loader
    reads either way, so which of the two it kept shows."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2 + 1
    if isinstance(value, str):
        return value + "2"
    if isinstance(value, list):
        return [*value, *value] if value else [0]
    if isinstance(value, dict):
        return {} if value else {"extra": 1}
    return 0


def differs(a: Any, b: Any) -> bool:
    return type(a) is not type(b) or a != b


def repeat_key(parent: dict[str, Any], key: str, value: Any, last: bool) -> None:
    """Give `key` a second entry holding `value`, written after the first entry or before it."""
    assert differs(value, parent[key]), "a repeated key must carry a different value"
    items = list(parent.items())
    at = [k for k, _ in items].index(key)
    items.insert(at + 1 if last else at, (DUP + key, value))
    parent.clear()
    parent.update(items)


def twin(graph: dict[str, Any], part: str, at: int, where: int) -> None:
    """Copy `graph[part][at]`, id and all, to position `where`: two nodes (or two
    connections) with one id."""
    graph[part].insert(where, copy.deepcopy(graph[part][at]))


def mutate(document: Any, draw: st.DrawFn) -> tuple[Any, list[str]]:
    """Apply one to three mutations in place; returns the document and what was done."""
    done: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = paths_of(document)
        path = draw(st.sampled_from(paths))
        kind = draw(
            st.sampled_from(
                [
                    "delete",
                    "odd",
                    "number",
                    "nest",
                    "dangling",
                    "duplicate",
                    "twin",
                    "wrap",
                    "key",
                ]
            )
        )
        if kind == "twin":
            graphs = document.get("graphs") if isinstance(document, dict) else None
            graph = draw(st.sampled_from(graphs)) if isinstance(graphs, list) and graphs else None
            part = draw(st.sampled_from(["nodes", "edges"]))
            if isinstance(graph, dict) and isinstance(graph.get(part), list) and graph[part]:
                size = len(graph[part])
                twin(graph, part, draw(st.integers(0, size - 1)), draw(st.integers(0, size)))
                done.append(f"twin in {part}")
            continue
        if not path:
            if kind in ("odd", "wrap"):
                document = odd_value(draw) if kind == "odd" else [document]
                done.append(f"root {kind}")
            continue
        parent = get(document, path[:-1])
        key = path[-1]
        if kind == "delete":
            del parent[key]
        elif kind == "odd":
            parent[key] = odd_value(draw)
        elif kind == "number":
            parent[key] = draw(
                st.one_of(
                    st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True, allow_infinity=True),
                )
            )
        elif kind == "nest":
            # Nested in the text only (see `dump`): a real nested list would exhaust the
            # recursion of this test's own helpers before the loader sees it.
            parent[key] = f"{DEEP}{draw(st.sampled_from([10, 1000, 100_000]))}"
        elif kind == "dangling":
            parent[key] = draw(st.sampled_from(["no-such-node", "", "0" * 64, "1" * 65]))
        elif kind == "duplicate":
            if isinstance(parent, list):
                parent.insert(int(key), json.loads(json.dumps(parent[int(key)])))
            else:
                first = parent[key]
                second = draw(
                    st.one_of(
                        st.just(variant(first)),
                        st.sampled_from(ODD_VALUES).filter(partial(differs, first)),
                    )
                )
                repeat_key(parent, key, copy.deepcopy(second), draw(st.booleans()))
        elif kind == "wrap":
            parent[key] = [parent[key]]
        elif kind == "key" and isinstance(parent, dict):
            parent[draw(st.sampled_from([*ODD_TEXT[:6], "extra", "id"]))] = parent.pop(key)
        done.append(f"{kind} at {path!r}"[:200])
    return document, done


def dump(document: Any) -> bytes:
    """The file's text, with `DUP` keys written as repeats and `DEEP` values as nesting."""
    text = json.dumps(document, ensure_ascii=False, allow_nan=True)
    text = text.replace('"\\u0000dup:', '"')
    text = re.sub(r'"\\u0000deep:(\d+)"', lambda m: "[" * int(m[1]) + "0" + "]" * int(m[1]), text)
    return text.encode("utf-8", "surrogatepass")


def check_loads_or_refuses(path: Path, figures: Figures) -> None:
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        with time_bound():
            project = Project.load(path, REGISTRY)
            # What loaded must also save, and load again unchanged: a file the app opens but
            # cannot write is a trap, and one whose values turn into null on save loses work.
            again = Project.from_json(project.to_json(), REGISTRY, source="saved")
            assert again.to_dict() == project.to_dict(), "the saved project differs"
    except ProjectError as exc:
        assert str(exc).strip(), "a ProjectError without a message"
        figures.add("project fuzz: refused with ProjectError")
    else:
        figures.add("project fuzz: loaded")
    figures.add("project fuzz: cases")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "loading changed the file"


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[str, bytes, list[str]]:
    template = draw(st.sampled_from(TEMPLATES))
    document = json.loads(template.read_text(encoding="utf-8"))
    document, done = mutate(document, draw)
    return template.name, dump(document), done


@fuzz_timeout(default=120)
@fuzz_settings(default=120)
@given(case=mutated_files())
def test_mutated_templates_load_or_raise_project_error(
    case: tuple[str, bytes, list[str]], tmp_path_factory: pytest.TempPathFactory, figures: Figures
) -> None:
    name, data, _done = case
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    check_loads_or_refuses(path, figures)


@fuzz_timeout(default=60)
@fuzz_settings(default=60)
@given(data=st.binary(max_size=4096), name=st.sampled_from(TEMPLATES))
def test_random_bytes_spliced_into_a_template(
    data: bytes, name: Path, tmp_path_factory: pytest.TempPathFactory, figures: Figures
) -> None:
    raw = name.read_bytes()
    at = len(data) * 7 % max(1, len(raw))
    path = tmp_path_factory.mktemp("splice") / name.name
    path.write_bytes(raw[:at] + data + raw[at:])
    check_loads_or_refuses(path, figures)


@hard_timeout(60)
def test_every_template_loads_unchanged(tmp_path: Path, figures: Figures) -> None:
    for template in TEMPLATES:
        check_loads_or_refuses(template, figures)


@hard_timeout(120)
def test_truncation_at_every_byte_offset(tmp_path: Path, figures: Figures) -> None:
    raw = SMALLEST.read_bytes()
    path = tmp_path / SMALLEST.name
    for offset in range(len(raw)):
        path.write_bytes(raw[:offset])
        if not raw[offset:].strip():
            with time_bound():
                Project.load(path, REGISTRY)  # only trailing white space was cut
            continue
        with pytest.raises(ProjectError) as caught, time_bound():
            Project.load(path, REGISTRY)
        assert str(caught.value).strip()
        figures.add("project fuzz: truncations refused")
    figures.add("project fuzz: cases", len(raw))


# Objects whose keys are each given twice: the top level, a graph, a node, its parameters, a
# connection, and the data and training sections.
REPEATED_IN: list[Path_] = [
    (),
    ("graphs", 0),
    ("graphs", 0, "nodes", 0),
    ("graphs", 0, "nodes", 1, "params"),
    ("graphs", 0, "edges", 0),
    ("data",),
    ("training",),
]


def outcome(path: Path) -> str:
    """The saved text of what loads, or "refused"; the file must not change either way."""
    before = path.read_bytes()
    try:
        with time_bound():
            text = Project.load(path, REGISTRY).to_json()
    except ProjectError as exc:
        assert str(exc).strip(), "a ProjectError without a message"
        text = "refused"
    assert path.read_bytes() == before, "loading changed the file"
    return text


# A table model, one with two graphs, one whose nodes take two inputs; the fuzz test above
# repeats keys in every template.
REPEATED_TEMPLATES = [EXAMPLES / f"{n}.strata" for n in ("mlp_classifier", "gan", "residual_cnn")]


@hard_timeout(120)
@pytest.mark.parametrize("template", REPEATED_TEMPLATES, ids=lambda p: p.stem)
def test_a_key_given_twice_loads_as_its_last_value_or_is_refused(
    template: Path, tmp_path: Path, figures: Figures
) -> None:
    """json keeps the last of two entries; the loader may do the same or refuse the file,
    but never keep a mix, the first, or fail with another exception."""
    original = json.loads(template.read_text(encoding="utf-8"))
    repeated = tmp_path / "repeated.strata"
    last_only = tmp_path / "last-only.strata"
    plain = dump(original)
    for where in REPEATED_IN:
        for key in list(get(original, where)):
            for last in (True, False):
                document = copy.deepcopy(original)
                parent = get(document, where)
                repeat_key(parent, key, variant(parent[key]), last)
                text = dump(document)
                written = json.dumps(key, ensure_ascii=False).encode("utf-8", "surrogatepass")
                assert text.count(written + b":") == plain.count(written + b":") + 1
                repeated.write_bytes(text)
                last_only.write_bytes(dump(json.loads(text)))
                got = outcome(repeated)
                if got != "refused":
                    assert got == outcome(last_only), f"{key!r} in {where!r}: not the last value"
                    figures.add("project fuzz: loaded")
                else:
                    figures.add("project fuzz: refused with ProjectError")
                figures.add("project fuzz: repeated keys")
                figures.add("project fuzz: cases")


@hard_timeout(60)
@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_duplicate_ids_are_refused(template: Path, tmp_path: Path, figures: Figures) -> None:
    """Two nodes with one id, two identical connections, or a graph given twice."""
    original = json.loads(template.read_text(encoding="utf-8"))
    path = tmp_path / template.name
    node_id = r"graphs\[{}\]\.nodes\[\d+\]\.id: .* used by an earlier node"
    edge_id = r"graphs\[{}\]\.edges\[\d+\]\.id: .* used by an earlier connection"
    cases: list[tuple[str, int, str]] = [("graph", 0, r"graphs\[\d+\]\.name: .* used twice")]
    for gi, graph in enumerate(original["graphs"]):
        cases += [("node", gi, node_id.format(gi)), ("renamed node", gi, node_id.format(gi))]
        if graph["edges"]:
            cases += [("edge", gi, edge_id.format(gi))]
    for what, gi, message in cases:
        document = copy.deepcopy(original)
        graph = document["graphs"][gi]
        if what == "graph":
            document["graphs"].append(copy.deepcopy(graph))
        else:
            part = "edges" if what == "edge" else "nodes"
            twin(graph, part, 0, len(graph[part]))
            if what == "renamed node":
                graph["nodes"][-1]["name"] = "a_new_name"
        path.write_bytes(dump(document))
        before = path.read_bytes()
        with pytest.raises(ProjectError, match=message), time_bound():
            Project.load(path, REGISTRY)
        assert path.read_bytes() == before
        figures.add("project fuzz: duplicate ids refused")
        figures.add("project fuzz: cases")


@hard_timeout(60)
def test_a_nan_replaced_by_a_repeated_key_loads_or_is_refused(tmp_path: Path) -> None:
    document = json.loads(SMALLEST.read_text(encoding="utf-8"))
    repeat_key(document, "schema_version", math.nan, last=False)
    path = tmp_path / SMALLEST.name
    path.write_bytes(dump(document))
    assert path.read_bytes().startswith(b'{"schema_version": NaN, "schema_version": 1,')
    assert outcome(path) == "refused"
