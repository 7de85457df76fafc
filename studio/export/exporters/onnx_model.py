"""ONNX (`.onnx`): one self-contained file with a dynamic batch, checked with onnxruntime.

The dynamo exporter translates the `torch.export` capture and reports every operator it cannot
translate while exporting in memory, so those are blockers found before anything is written.
Below opset 18 it converts its own output down and, when that fails, silently keeps opset 18;
onnx's version converter is then tried, and a model neither can write in the requested opset
is refused rather than written in another.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from studio.export.atomic import atomic_file
from studio.export.exporters.base import Exporter, Plan
from studio.export.exporters.torch_export import export_program
from studio.export.subject import ExportOptions, ExportSubject, run_model
from studio.export.verification import Verification, compare_outputs

if TYPE_CHECKING:
    import onnx


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def conversion_failure(exc: BaseException) -> str:
    """The operation the exporter could not translate, and why, from its long error text.

    The dynamo exporter's message starts with generic next steps; its "Exception summary"
    holds the root cause and the fx node (``target=torch.ops.aten.histc.default``).
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    causes = [
        line.split(">: ", 1)[1]
        for line in text.splitlines()
        if line.startswith("<class ") and ">: " in line
    ]
    if not causes:
        return _first_line(exc)
    target = re.search(r"target=(?:torch\.ops\.)?([\w.]+)", text)
    where = f"the operation {target.group(1)} cannot be translated: " if target else ""
    return f"{where}{causes[0]}"


@contextlib.contextmanager
def _quiet():
    """The exporter prints progress and warns about optional torchvision ops: keep it quiet."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def convert_opset(model: onnx.ModelProto, written: int, plan: Plan) -> onnx.ModelProto | None:
    """`model` (in opset `written`) converted to the requested opset; None with a blocker when
    onnx's version converter cannot do it. Verification then runs the converted model."""
    from onnx import version_converter

    opset = plan.options.opset
    try:
        converted = version_converter.convert_version(model, opset)
    except Exception as exc:
        plan.blockers.append(
            f"ONNX (opset {opset}) cannot carry this model: the exporter wrote opset {written} "
            f"and converting it failed: {_first_line(exc)}; choose opset {written} or later"
        )
        return None
    plan.notes.append(f"converted from opset {written} to {opset} with onnx's version converter")
    return converted


class OnnxExporter(Exporter):
    format = "onnx"
    title = "ONNX"
    suffix = ".onnx"

    def prepare(self, plan: Plan) -> None:
        # The torch.export capture (dynamic batch, or a note saying why not) is shared with
        # the pt2 format; ONNX only translates it.
        program = export_program(plan)
        if program is None:
            return
        try:
            with _quiet():
                onnx_program = torch.onnx.export(
                    program,
                    (),
                    dynamo=True,
                    input_names=plan.subject.input_names or None,
                    opset_version=plan.options.opset,
                    external_data=False,
                    optimize=True,
                    verbose=False,
                )
        except Exception as exc:
            plan.blockers.append(
                f"ONNX (opset {plan.options.opset}) cannot carry this model: "
                f"{conversion_failure(exc)}"
            )
            return
        assert onnx_program is not None  # returned by the dynamo exporter
        plan.artifact = onnx_program
        written = onnx_program.model.opset_imports.get("")
        if written is not None and written != plan.options.opset:
            plan.artifact = convert_opset(onnx_program.model_proto, written, plan)

    def write(self, plan: Plan, path: Path) -> None:
        import onnx

        artifact = plan.artifact
        with atomic_file(path) as tmp, _quiet():
            if isinstance(artifact, onnx.ModelProto):
                onnx.save_model(artifact, str(tmp))
            else:
                artifact.save(str(tmp), external_data=False)  # type: ignore[attr-defined]

    def verify(self, path: Path, subject: ExportSubject, options: ExportOptions) -> Verification:
        import onnxruntime

        try:
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            # The exporter drops inputs the model never reads; feed the ones it kept.
            by_name = dict(zip(subject.input_names, subject.samples, strict=False))
            feeds = {}
            for i, arg in enumerate(session.get_inputs()):
                tensor = by_name.get(arg.name, subject.samples[i])
                feeds[arg.name] = tensor.detach().cpu().numpy()
            actual = session.run(None, feeds)
        except Exception as exc:
            return Verification.failed(f"onnxruntime cannot run it: {_first_line(exc)}")
        return compare_outputs(
            run_model(subject.module, subject.samples), actual, options.tolerance
        )

    def load_snippet(self, filename: str, subject: ExportSubject) -> str:
        names = subject.input_names or ["input"]
        feeds = ", ".join(f'"{n}": {n}.numpy()' for n in names)
        return (
            "import onnxruntime\n"
            f'session = onnxruntime.InferenceSession("{filename}")\n'
            f"outputs = session.run(None, {{{feeds}}})"
        )
