"""Each corpus model imports from Python and from both torch ONNX exporters, reproduces its
source's outputs and exports to ONNX (`pytest -m corpus tests/corpus`, several minutes).

`KNOWN_REFUSALS` lists the cases the graph language cannot express yet, each with the reason;
they are strict xfails, so a case that starts to pass must leave the list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .corpus_run import ROUTES, run_case
from .models import CORPUS

KNOWN_REFUSALS: dict[tuple[str, str], str] = {}

CASES = [
    pytest.param(
        name,
        route,
        id=f"{name}-{route}",
        marks=[pytest.mark.xfail(reason=KNOWN_REFUSALS[(name, route)], strict=True)]
        if (name, route) in KNOWN_REFUSALS
        else [],
    )
    for name in CORPUS
    for route in ROUTES
]


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("name", "route"), CASES)
def test_corpus_model_imports_reproduces_and_exports(name: str, route: str, tmp_path: Path) -> None:
    result = run_case(name, route, tmp_path)
    assert result.ok, f"stopped at {result.stage}: {result.message}"
