"""TorchScript (`.pt`): `torch.jit.script`, falling back to `torch.jit.trace` with a note.

Scripting keeps control flow; a module TorchScript cannot script (``*args``, unsupported
Python) is traced instead, which freezes whatever branches the example inputs took, so the
fallback is always reported.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from studio.export.atomic import atomic_file
from studio.export.exporters.base import Exporter, Plan
from studio.export.subject import ExportOptions, ExportSubject, run_model
from studio.export.verification import Verification, compare_outputs


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class TorchScriptExporter(Exporter):
    format = "torchscript"
    title = "TorchScript"
    suffix = ".torchscript.pt"
    carries_quantized = True

    def prepare(self, plan: Plan) -> None:
        module = plan.subject.module
        with warnings.catch_warnings():
            # torch.jit is deprecated upstream; the warning is torch's, not the user's.
            warnings.simplefilter("ignore")
            try:
                plan.artifact = torch.jit.script(module)
                return
            except Exception as exc:
                reason = _first_line(exc)
            try:
                plan.artifact = torch.jit.trace(module, plan.subject.inputs, check_trace=False)
            except Exception as exc:
                plan.blockers.append(
                    f"TorchScript can neither script ({reason}) nor trace "
                    f"({_first_line(exc)}) this model"
                )
                return
        plan.notes.append(
            f"scripting failed ({reason}); the model was traced instead, so any "
            "input-dependent branch is frozen to the path the example inputs took"
        )

    def write(self, plan: Plan, path: Path) -> None:
        with atomic_file(path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(plan.artifact, str(tmp))  # type: ignore[no-untyped-call]

    def verify(self, path: Path, subject: ExportSubject, options: ExportOptions) -> Verification:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = torch.jit.load(str(path), map_location="cpu")
            actual = run_model(loaded, subject.samples)
        except Exception as exc:
            return Verification.failed(f"torch.jit.load cannot run it: {_first_line(exc)}")
        return compare_outputs(
            run_model(subject.module, subject.samples), actual, options.tolerance
        )

    def load_snippet(self, filename: str, subject: ExportSubject) -> str:
        return f'import torch\nmodel = torch.jit.load("{filename}")\noutputs = model(inputs)'
