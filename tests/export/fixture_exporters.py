"""Exporter plugins for the registry tests: one good (NumPy .npz weights), one broken, one
that clashes with a built-in format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from studio.export.atomic import atomic_file
from studio.export.exporters.base import Exporter, Plan
from studio.export.registry import ExporterRegistry
from studio.export.subject import ExportOptions, ExportSubject, run_model
from studio.export.verification import Verification, compare_outputs


class NpzExporter(Exporter):
    """Weights as a NumPy archive: what a third party's format plugin looks like."""

    format = "acme.npz"
    title = "NumPy weights (acme)"
    suffix = ".npz"

    def prepare(self, plan: Plan) -> None:
        state = plan.subject.module.state_dict()
        if any(not v.is_floating_point() and v.dtype != torch.int64 for v in state.values()):
            plan.blockers.append("acme.npz stores only float and int64 tensors")
            return
        plan.artifact = {k: v.detach().cpu().numpy() for k, v in state.items()}

    def write(self, plan: Plan, path: Path) -> None:
        with atomic_file(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **plan.artifact)  # type: ignore[arg-type]

    def verify(self, path: Path, subject: ExportSubject, options: ExportOptions) -> Verification:
        with np.load(path) as archive:
            state = {k: torch.from_numpy(archive[k]) for k in archive.files}
        fresh = subject.rebuild().eval()
        fresh.load_state_dict(state)
        return compare_outputs(
            run_model(subject.module, subject.samples),
            run_model(fresh, subject.samples),
            options.tolerance,
        )

    def load_snippet(self, filename: str, subject: ExportSubject) -> str:
        return f'import numpy\nweights = numpy.load("{filename}")'


class ImpostorOnnx(NpzExporter):
    format = "onnx"


def register_good(registry: ExporterRegistry) -> None:
    registry.register(NpzExporter())


def register_broken(registry: ExporterRegistry) -> None:
    raise RuntimeError("this exporter plugin is broken on purpose")


def register_clash(registry: ExporterRegistry) -> None:
    registry.register(ImpostorOnnx())
