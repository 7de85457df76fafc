"""An export format: the trained weights as a NumPy ``.npz`` archive, checked and verified.

Like every format it goes check → write → verify: `prepare` (called by `check`) converts the
weights and blocks what NumPy cannot hold, `write` saves atomically, and `verify` loads the
file with NumPy alone (no pickles), puts the arrays into a freshly built model and compares
its outputs with the trained model's on the export samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from studio.export.atomic import atomic_file
from studio.export.exporters.base import Exporter, Plan
from studio.export.subject import ExportOptions, ExportSubject, run_model
from studio.export.verification import Verification, compare_outputs

# Tensor types without a NumPy counterpart: such a model is blocked, never half-written.
_NO_NUMPY = (torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2)


class NpzWeightsExporter(Exporter):
    """``extra.npz``: one array per state-dict entry, named by its key."""

    format = "extra.npz"
    title = "NumPy weights (.npz)"
    suffix = ".weights.npz"

    def prepare(self, plan: Plan) -> None:
        arrays: dict[str, np.ndarray] = {}
        for key, value in plan.subject.module.state_dict().items():
            if not isinstance(value, torch.Tensor):
                continue
            if value.dtype in _NO_NUMPY or value.is_quantized:
                plan.blockers.append(
                    f"{key} is {value.dtype}, which NumPy cannot hold; export safetensors instead"
                )
                continue
            arrays[key] = value.detach().cpu().contiguous().numpy()
        plan.artifact = arrays

    def write(self, plan: Plan, path: Path) -> None:
        arrays = plan.artifact
        assert isinstance(arrays, dict)
        with atomic_file(path) as tmp, open(tmp, "wb") as handle:
            # A file object, not a name: np.savez would append ".npz" to the temporary name.
            np.savez(handle, **arrays)

    def verify(self, path: Path, subject: ExportSubject, options: ExportOptions) -> Verification:
        try:
            with np.load(path, allow_pickle=False) as archive:
                state = {key: torch.from_numpy(archive[key]) for key in archive.files}
        except Exception as exc:
            return Verification.failed(f"numpy.load cannot read it: {exc}")
        fresh = subject.rebuild().eval()
        try:
            fresh.load_state_dict(state)
        except (RuntimeError, KeyError) as exc:
            return Verification.failed(f"the weights do not fit the model: {exc}")
        return compare_outputs(
            run_model(subject.module, subject.samples),
            run_model(fresh, subject.samples),
            options.tolerance,
        )

    def load_snippet(self, filename: str, subject: ExportSubject) -> str:
        return (
            "import numpy as np, torch\n"
            f"model = build_model()  # the {subject.class_name} class from the Python export\n"
            f'with np.load("{filename}") as archive:\n'
            "    model.load_state_dict({k: torch.from_numpy(archive[k]) for k in archive.files})\n"
            "model.eval()"
        )
