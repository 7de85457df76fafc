"""Fuzzed project files: every mutation of every template either loads or ends in a
`ProjectError` with a message; never another exception, never a hang, never a changed file."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.core.errors import ProjectError
from studio.core.project import Project
from studio.core.registry import LayerRegistry

from .conftest import Figures, fuzz_settings

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


def mutate(document: Any, draw: st.DrawFn) -> tuple[Any, list[str]]:
    """Apply one to three mutations in place; returns the document and what was done."""
    done: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = paths_of(document)
        path = draw(st.sampled_from(paths))
        kind = draw(
            st.sampled_from(
                ["delete", "odd", "number", "nest", "dangling", "duplicate", "wrap", "key"]
            )
        )
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
                parent[f"{key}"] = parent[key]
        elif kind == "wrap":
            parent[key] = [parent[key]]
        elif kind == "key" and isinstance(parent, dict):
            parent[draw(st.sampled_from([*ODD_TEXT[:6], "extra", "id"]))] = parent.pop(key)
        done.append(f"{kind} at {path!r}"[:200])
    return document, done


def dump(document: Any, duplicate_first_key: bool) -> bytes:
    text = json.dumps(document, ensure_ascii=False, allow_nan=True)
    if duplicate_first_key and text.startswith("{") and len(text) > 2:
        # A key given twice: json keeps the last; the file must still load or be refused.
        first, _, rest = text[1:].partition(", ")
        if rest:
            text = "{" + first + ", " + first + ", " + rest
    text = re.sub(r'"\\u0000deep:(\d+)"', lambda m: "[" * int(m[1]) + "0" + "]" * int(m[1]), text)
    return text.encode("utf-8", "surrogatepass")


def check_loads_or_refuses(path: Path, figures: Figures) -> None:
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        project = Project.load(path, REGISTRY)
    except ProjectError as exc:
        assert str(exc).strip(), "a ProjectError without a message"
        figures.add("project fuzz: refused with ProjectError")
    else:
        # What loaded must also save: a file the app opens but cannot write is a trap.
        project.to_json()
        figures.add("project fuzz: loaded")
    figures.add("project fuzz: cases")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "loading changed the file"


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[str, bytes, list[str]]:
    template = draw(st.sampled_from(TEMPLATES))
    document = json.loads(template.read_text(encoding="utf-8"))
    document, done = mutate(document, draw)
    return template.name, dump(document, draw(st.booleans())), done


@fuzz_settings(default=120)
@given(case=mutated_files())
def test_mutated_templates_load_or_raise_project_error(
    case: tuple[str, bytes, list[str]], tmp_path_factory: pytest.TempPathFactory, figures: Figures
) -> None:
    name, data, _done = case
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    check_loads_or_refuses(path, figures)


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


def test_every_template_loads_unchanged(tmp_path: Path, figures: Figures) -> None:
    for template in TEMPLATES:
        check_loads_or_refuses(template, figures)


def test_truncation_at_every_byte_offset(tmp_path: Path, figures: Figures) -> None:
    raw = SMALLEST.read_bytes()
    path = tmp_path / SMALLEST.name
    for offset in range(len(raw)):
        path.write_bytes(raw[:offset])
        if not raw[offset:].strip():
            Project.load(path, REGISTRY)  # only trailing white space was cut
            continue
        with pytest.raises(ProjectError) as caught:
            Project.load(path, REGISTRY)
        assert str(caught.value).strip()
        figures.add("project fuzz: truncations refused")
    figures.add("project fuzz: cases", len(raw))
