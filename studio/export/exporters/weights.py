"""Weights only: a `state_dict` `.pt` (loaded with ``weights_only=True``) and `.safetensors`.

Neither format holds code, so both are verified by loading into a freshly built module of the
same structure: exactly what a user of the weights does.
"""

from __future__ import annotations

from pathlib import Path

import torch

from studio.export.atomic import atomic_file
from studio.export.exporters.base import Exporter, Plan
from studio.export.subject import ExportOptions, ExportSubject, run_model
from studio.export.verification import Verification, compare_outputs


def _tensors_only(subject: ExportSubject) -> dict[str, torch.Tensor]:
    # Detached, contiguous CPU copies: what both formats can store without pickled objects.
    return {
        k: v.detach().cpu().contiguous()
        for k, v in subject.module.state_dict().items()
        if isinstance(v, torch.Tensor)
    }


def _compare_loaded(state: dict, subject: ExportSubject, options: ExportOptions) -> Verification:
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


class StateDictExporter(Exporter):
    format = "state_dict"
    title = "PyTorch state_dict"
    suffix = ".state_dict.pt"

    def prepare(self, plan: Plan) -> None:
        plan.artifact = _tensors_only(plan.subject)

    def write(self, plan: Plan, path: Path) -> None:
        with atomic_file(path) as tmp:
            torch.save(plan.artifact, tmp)

    def verify(self, path: Path, subject: ExportSubject, options: ExportOptions) -> Verification:
        try:
            state = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as exc:
            return Verification.failed(f"torch.load(weights_only=True) cannot read it: {exc}")
        return _compare_loaded(state, subject, options)

    def load_snippet(self, filename: str, subject: ExportSubject) -> str:
        return (
            "import torch\n"
            f"model = build_model()  # the {subject.class_name} class from the Python export\n"
            f'model.load_state_dict(torch.load("{filename}", weights_only=True))\n'
            "model.eval()"
        )


class SafetensorsExporter(Exporter):
    format = "safetensors"
    title = "safetensors"
    suffix = ".safetensors"

    def prepare(self, plan: Plan) -> None:
        tensors = _tensors_only(plan.subject)
        # safetensors refuses tensors that share memory; clone the later aliases.
        seen: dict[int, str] = {}
        for key, tensor in tensors.items():
            pointer = tensor.untyped_storage().data_ptr() if tensor.numel() else -1
            if pointer in seen and pointer != -1:
                tensors[key] = tensor.clone()
            seen.setdefault(pointer, key)
        plan.artifact = tensors

    def write(self, plan: Plan, path: Path) -> None:
        from safetensors.torch import save_file

        with atomic_file(path) as tmp:
            save_file(plan.artifact, str(tmp), metadata={"format": "pt"})  # type: ignore[arg-type]

    def verify(self, path: Path, subject: ExportSubject, options: ExportOptions) -> Verification:
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as exc:
            return Verification.failed(f"safetensors cannot read it: {exc}")
        return _compare_loaded(state, subject, options)

    def load_snippet(self, filename: str, subject: ExportSubject) -> str:
        return (
            "from safetensors.torch import load_file\n"
            f"model = build_model()  # the {subject.class_name} class from the Python export\n"
            f'model.load_state_dict(load_file("{filename}"))\n'
            "model.eval()"
        )
