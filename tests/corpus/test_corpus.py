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

_ALL_ROUTES = ("python", "onnx-torchscript", "onnx-dynamo")
_SWIN = (
    "the window partition reshapes (N, H, W, C) into (N·windows, s·s, C): the batch mixes with "
    "the windows, and every catalog layer keeps the batch first"
)
_SEQUENCE_FIRST = (
    "a sequence-first LSTM on (L, N) token ids, its logits flattened to (L·N, V): the batch is "
    "not the first dimension, and the catalog's tensors keep it first"
)
_NOISE = (
    "noise drawn in forward in eval mode too, exported as RandomNormalLike: the ONNX importer "
    "checks each op against the values onnxruntime computed, and those are random (from "
    "Python, torch.export's route reads it as a GaussianSample checked with the noise at 0)"
)

KNOWN_REFUSALS: dict[tuple[str, str], str] = {
    **{("SwinStyleBlock", route): _SWIN for route in _ALL_ROUTES},
    **{("WordLanguageModelRNN", route): _SEQUENCE_FIRST for route in _ALL_ROUTES},
    **{("ExamplesVAE", route): _NOISE for route in ("onnx-torchscript", "onnx-dynamo")},
    ("TimeSequencePrediction", "python"): (
        "aten.lstm_cell has no mapping from torch.export (both ONNX exporters' forms import)"
    ),
}

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
