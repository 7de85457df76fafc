"""Standalone Python (a folder with `model.py` and `weights.pt`) that needs only torch.

`model.py` is the generated source of the graph (`generate_code`) plus a `load_model()` that
builds the class and loads the weights saved beside it, so a user can copy the folder into any
project with PyTorch and run ``from model import load_model``. When the run's preprocessing is
exported too, the folder holds ``preprocessing.json`` and `model.py` a ``preprocess(raw)`` and
``predict(raw)`` that prepare raw data exactly as the app did; the export is then verified from
raw samples through ``predict``'s preprocessing.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from pathlib import Path
from typing import cast

import torch

from studio.export.atomic import atomic_folder
from studio.export.exporters.base import Exporter, Plan
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


def import_model_file(path: Path) -> object:
    """Import a generated `model.py` from its path under a unique name, outside sys.modules."""
    name = f"_strata_export_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


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
        try:
            generated = import_model_file(path / MODEL_FILE)
            model = generated.load_model()  # type: ignore[attr-defined]
            actual = run_model(model, subject.samples)
        except Exception as exc:
            return Verification.failed(f"the generated model.py does not run: {exc}")
        result = compare_outputs(
            run_model(subject.module, subject.samples), actual, options.tolerance
        )
        if not result.ok or subject.preprocessing is None or subject.raw_samples is None:
            return result
        try:
            inputs = generated.preprocess(subject.raw_samples)  # type: ignore[attr-defined]
            from_raw = run_model(model, tuple(inputs))
        except Exception as exc:
            return Verification.failed(f"model.py's preprocess fails on raw samples: {exc}")
        check = compare_outputs(actual, from_raw, options.tolerance)
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
