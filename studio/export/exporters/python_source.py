"""Standalone Python (a folder with `model.py` and `weights.pt`) that needs only torch.

`model.py` is the generated source of the graph (`generate_code`) plus a `load_model()` that
builds the class and loads the weights saved beside it, so a user can copy the folder into any
project with PyTorch and run ``from model import load_model``. When the run's preprocessing is
exported too, the folder holds ``preprocessing.json`` and `model.py` a ``preprocess(raw)`` and
``predict(raw)`` that prepare raw data exactly as the app did; the export is then verified from
raw samples through ``predict``'s preprocessing.

Verification runs the written `model.py` in a fresh, isolated interpreter
(`studio.export.fresh_interpreter`), never by importing it into the app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import torch

from studio.export.atomic import atomic_folder
from studio.export.exporters.base import Exporter, Plan
from studio.export.fresh_interpreter import ChildResult, run_export
from studio.export.preprocessing import PREPROCESS_SOURCE, PREPROCESSING_FILE
from studio.export.subject import ExportOptions, ExportSubject, run_model
from studio.export.verification import Verification, compare_outputs

MODEL_FILE = "model.py"
WEIGHTS_FILE = "weights.pt"

_LOADER = f'''

def load_model(path=None):
    """The model with its exported weights, in eval mode.

    Args:
        path: a state dict file; by default the ``{WEIGHTS_FILE}`` beside this file.
    """
    import os

    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "{WEIGHTS_FILE}")
    model = build_model()
    model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
    return model.eval()
'''


def with_loader(source: str, preprocessing: bool = False) -> str:
    """The generated source with `load_model()` (and `preprocess`/`predict`) appended."""
    text = source.rstrip("\n") + "\n" + _LOADER
    return text + PREPROCESS_SOURCE if preprocessing else text


class PythonExporter(Exporter):
    format = "python"
    title = "Python code"
    suffix = "_python"

    def prepare(self, plan: Plan) -> None:
        if plan.subject.source is None:
            plan.blockers.append(
                "Python code is generated from the graph, and this model has no graph"
            )
            return
        weights = {
            k: v.detach().cpu().contiguous() for k, v in plan.subject.module.state_dict().items()
        }
        preprocessing = plan.subject.preprocessing
        source = with_loader(plan.subject.source, preprocessing is not None)
        plan.artifact = (source, weights, preprocessing)
        if preprocessing is None:
            plan.notes.append(
                "no preprocessing is exported with this model: prepare inputs as it was trained"
            )

    def write(self, plan: Plan, path: Path) -> None:
        source, weights, preprocessing = cast(
            tuple[str, dict[str, torch.Tensor], dict | None], plan.artifact
        )
        with atomic_folder(path) as tmp:
            (tmp / MODEL_FILE).write_text(source, encoding="utf-8")
            torch.save(weights, tmp / WEIGHTS_FILE)
            if preprocessing is not None:
                (tmp / PREPROCESSING_FILE).write_text(
                    json.dumps(preprocessing, indent=1) + "\n", encoding="utf-8"
                )

    def verify(self, path: Path, subject: ExportSubject, options: ExportOptions) -> Verification:
        """Run the written folder in a fresh interpreter and compare what it computes.

        The outputs of `load_model()` on the samples must match the app's model; with
        preprocessing, `preprocess` on the raw samples must then give the same outputs.
        """
        raw = subject.raw_samples if subject.preprocessing is not None else None
        child = run_export(
            path,
            [MODEL_FILE, WEIGHTS_FILE, PREPROCESSING_FILE],
            subject.samples,
            raw,
            options.verify_timeout_s,
        )
        if child.outputs is None:
            return Verification.failed(_failure_reason(child))
        result = compare_outputs(
            run_model(subject.module, subject.samples), child.outputs, options.tolerance
        )
        if not result.ok or raw is None:
            return result
        if child.from_raw is None:
            return Verification.failed(_failure_reason(child))
        check = compare_outputs(child.outputs, child.from_raw, options.tolerance)
        if not check.ok:
            return Verification(
                check.max_abs_diff,
                False,
                f"predictions from raw samples differ from the app's: {check.reason}",
            )
        return Verification(max(result.max_abs_diff, check.max_abs_diff), True)

    def load_snippet(self, filename: str, subject: ExportSubject) -> str:
        if subject.preprocessing is not None:
            return (
                f"# copy the folder {filename}/ next to your code, or put it on sys.path\n"
                "from model import predict\n"
                "outputs = predict(raw_samples)  # preprocessed as in the app"
            )
        return (
            f"# copy the folder {filename}/ next to your code, or put it on sys.path\n"
            "from model import load_model\n"
            "model = load_model()\n"
            "outputs = model(inputs)"
        )


def _failure_reason(child: ChildResult) -> str:
    if child.stage == "preprocess":
        return f"model.py's preprocess fails on raw samples: {child.message}"
    return f"the generated model.py does not run: {child.message}"
