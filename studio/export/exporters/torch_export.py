"""`torch.export` programs (`.pt2`) with a symbolic batch dimension."""

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


def batch_dynamic_shapes(inputs: tuple[torch.Tensor, ...]) -> tuple[dict, ...]:
    """The first dimension of every input is one shared symbolic batch size."""
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    return tuple({0: batch} for _ in inputs)


def export_program(plan: Plan) -> torch.export.ExportedProgram | None:
    """The subject captured by `torch.export`, once per subject: pt2 and ONNX both use it.

    Notes and blockers of the capture are added to `plan` every time it is asked for.
    """
    key = ("torch.export", plan.options.dynamic_batch)
    capture = plan.subject.cache.get(key)
    if not isinstance(capture, Plan):
        capture = Plan(plan.subject, plan.options)
        with warnings.catch_warnings():
            # torch warns about its own modules' internals (an LSTM's flat weights).
            warnings.simplefilter("ignore")
            capture.artifact = _export_program(capture)
        plan.subject.cache[key] = capture
    plan.notes += capture.notes
    plan.blockers += capture.blockers
    return capture.artifact  # type: ignore[return-value]


def _export_program(plan: Plan) -> torch.export.ExportedProgram | None:
    """`torch.export` the subject, dynamic in the batch when possible; None when it fails.

    A model whose code fixes the batch size (a reshape to a constant) cannot have a symbolic
    batch: it is exported for the example batch size and a note says so.
    """
    subject = plan.subject
    module, inputs = subject.module, subject.inputs
    if plan.options.dynamic_batch:
        try:
            return torch.export.export(module, inputs, dynamic_shapes=batch_dynamic_shapes(inputs))
        except Exception as exc:
            plan.notes.append(
                f"the batch size is fixed at {inputs[0].shape[0]}: a dynamic batch failed "
                f"({_first_line(exc)})"
            )
    try:
        return torch.export.export(module, inputs)
    except Exception as exc:
        plan.blockers.append(f"torch.export cannot capture this model: {_first_line(exc)}")
        return None


class TorchExportExporter(Exporter):
    format = "pt2"
    title = "torch.export program"
    suffix = ".pt2"

    def prepare(self, plan: Plan) -> None:
        plan.artifact = export_program(plan)

    def write(self, plan: Plan, path: Path) -> None:
        assert isinstance(plan.artifact, torch.export.ExportedProgram)
        with atomic_file(path) as tmp:
            torch.export.save(plan.artifact, tmp)

    def verify(self, path: Path, subject: ExportSubject, options: ExportOptions) -> Verification:
        try:
            program = torch.export.load(path)
            actual = run_model(program.module(), subject.samples)
        except Exception as exc:
            return Verification.failed(f"torch.export.load cannot run it: {_first_line(exc)}")
        return compare_outputs(
            run_model(subject.module, subject.samples), actual, options.tolerance
        )

    def load_snippet(self, filename: str, subject: ExportSubject) -> str:
        return (
            "import torch\n"
            f'program = torch.export.load("{filename}")\n'
            "outputs = program.module()(inputs)"
        )
