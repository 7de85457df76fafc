"""The device doctor: what this machine offers for training, and in plain words why not a GPU.

`gather_facts()` reads torch and the environment into a `DeviceFacts`; `diagnose(facts)` turns
facts into sentences with no torch call, so every branch (no CUDA build, old driver, hidden
devices, ...) is tested with plain inputs on any machine. `studio doctor` and the window's
Help ▸ Device… show the same report.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GpuFacts:
    index: int
    name: str
    capability: str
    memory_mb: int


@dataclass(frozen=True)
class DeviceFacts:
    """What torch and the environment say, with no interpretation."""

    torch_version: str
    cuda_build: str | None
    cudnn_version: int | None
    cuda_available: bool
    cuda_messages: tuple[str, ...] = ()
    cuda_visible_devices: str | None = None
    gpus: tuple[GpuFacts, ...] = ()
    mps_built: bool = False
    mps_available: bool = False
    tf32_matmul: bool = False
    tf32_cudnn: bool = False
    cpu_threads: int = 1
    cpu_count: int = 1
    python: str = ""
    platform: str = ""


@dataclass(frozen=True)
class Diagnosis:
    """Where training would run and why, plus any advice, as sentences."""

    device: str
    summary: str
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DoctorReport:
    facts: DeviceFacts
    diagnosis: Diagnosis
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"facts": asdict(self.facts), "diagnosis": asdict(self.diagnosis)}

    def format_text(self) -> str:
        f, d = self.facts, self.diagnosis
        yes = {True: "yes", False: "no"}
        lines = [
            f"Training device: {d.device} — {d.summary}",
            *(f"  why: {r}" for r in d.reasons),
            *(f"  note: {n}" for n in d.notes),
            "",
        ]
        rows = [
            ("torch", f.torch_version),
            ("CUDA build", f.cuda_build or "none (CPU-only build)"),
            ("cuDNN", str(f.cudnn_version) if f.cudnn_version is not None else "-"),
            ("CUDA available", yes[f.cuda_available]),
            ("CUDA_VISIBLE_DEVICES", _shown(f.cuda_visible_devices)),
            *(
                (
                    f"GPU {g.index}",
                    f"{g.name}, compute capability {g.capability}, {g.memory_mb:,} MiB",
                )
                for g in f.gpus
            ),
            ("MPS (Apple GPU)", f"built {yes[f.mps_built]}, available {yes[f.mps_available]}"),
            ("TF32", f"matmul {_on(f.tf32_matmul)}, cuDNN {_on(f.tf32_cudnn)}"),
            ("CPU threads", f"{f.cpu_threads} (of {f.cpu_count} CPUs)"),
            ("Python", f.python),
            ("Platform", f.platform),
        ]
        lines += [f"{label:<21} {value}" for label, value in rows]
        return "\n".join(lines)


def _on(value: bool) -> str:
    return "on" if value else "off"


def _shown(value: str | None) -> str:
    if value is None:
        return "(not set)"
    return repr(value) if value.strip() == "" else value


def gather_facts() -> DeviceFacts:
    """Read what torch says about CUDA, MPS, TF32 and threads (imports torch)."""
    import torch

    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            available = bool(torch.cuda.is_available())
        except Exception as exc:  # a broken driver install raises from here on some systems
            available = False
            messages.append(str(exc))
    messages += [str(w.message) for w in caught if "cuda" in str(w.message).lower()]
    gpus: list[GpuFacts] = []
    if available:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append(
                GpuFacts(
                    index=index,
                    name=props.name,
                    capability=f"{props.major}.{props.minor}",
                    memory_mb=int(props.total_memory // 2**20),
                )
            )
    cudnn: int | None = None
    try:
        if torch.backends.cudnn.is_available():
            cudnn = torch.backends.cudnn.version()
    except Exception:  # cuDNN missing from a CUDA build: report none
        cudnn = None
    mps = getattr(torch.backends, "mps", None)
    return DeviceFacts(
        torch_version=torch.__version__,
        cuda_build=torch.version.cuda,
        cudnn_version=cudnn,
        cuda_available=available,
        cuda_messages=tuple(dict.fromkeys(m.strip() for m in messages if m.strip())),
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        gpus=tuple(gpus),
        mps_built=bool(mps is not None and mps.is_built()),
        mps_available=bool(mps is not None and mps.is_available()),
        tf32_matmul=bool(torch.backends.cuda.matmul.allow_tf32),
        tf32_cudnn=bool(torch.backends.cudnn.allow_tf32),
        cpu_threads=torch.get_num_threads(),
        cpu_count=os.cpu_count() or 1,
        python=sys.version.split()[0],
        platform=platform.platform(),
    )


def cuda_reasons(facts: DeviceFacts) -> list[str]:
    """Why CUDA cannot be used here, most fundamental first (empty when it can)."""
    if facts.cuda_available and facts.gpus:
        return []
    if facts.cuda_build is None:
        return [
            f"this torch ({facts.torch_version}) is a CPU-only build: it has no CUDA support. "
            "Install a CUDA build of torch (pytorch.org lists the command) to use an NVIDIA GPU."
        ]
    visible = facts.cuda_visible_devices
    if visible is not None and visible.strip() in ("", "-1"):
        return [
            f"CUDA_VISIBLE_DEVICES is set to {visible!r}, which hides every GPU from this "
            "process; unset it or list the GPUs to use (e.g. 0,1)."
        ]
    said = " ".join(facts.cuda_messages)
    lowered = said.lower()
    if "too old" in lowered or "driver version is insufficient" in lowered:
        return [
            f"the NVIDIA driver is too old for this torch's CUDA {facts.cuda_build}: update the "
            f"driver, or install a torch built for an older CUDA. (torch said: {said})"
        ]
    if "no nvidia driver" in lowered or "found no nvidia" in lowered:
        return [
            "no NVIDIA driver is installed or loaded, so CUDA sees no GPU. Install the "
            f"driver for your GPU. (torch said: {said})"
        ]
    if said:
        return [f"CUDA could not start: {said}"]
    return [
        f"this torch has CUDA {facts.cuda_build}, but no GPU is visible to this process "
        "(none installed, or its driver is not loaded)."
    ]


def diagnose(facts: DeviceFacts) -> Diagnosis:
    """Where `--device auto` would train, and why; never touches torch."""
    notes: list[str] = []
    if facts.cuda_available and facts.gpus:
        first = facts.gpus[0]
        count = len(facts.gpus)
        if count > 1:
            notes.append(
                f"{count} GPUs: `studio train PROJECT --nproc-per-node {count}` uses all of them."
            )
        if not facts.tf32_matmul and any(_ampere(g.capability) for g in facts.gpus):
            notes.append(
                "TF32 matmul is off: float32 matrix products run at full precision (slower on "
                "Ampere and newer); bf16 mixed precision is the faster choice."
            )
        return Diagnosis(
            device="cuda",
            summary=f"GPU 0, {first.name} ({first.memory_mb:,} MiB)",
            notes=tuple(notes),
        )
    reasons = cuda_reasons(facts)
    if facts.mps_available:
        return Diagnosis(device="mps", summary="Apple GPU (MPS)", reasons=tuple(reasons))
    if facts.mps_built and not facts.mps_available:
        reasons.append("this torch supports Apple GPUs (MPS), but none is available here.")
    if facts.cpu_threads < facts.cpu_count:
        notes.append(
            f"torch uses {facts.cpu_threads} of {facts.cpu_count} CPUs "
            "(OMP_NUM_THREADS or torch.set_num_threads limits it)."
        )
    return Diagnosis(
        device="cpu",
        summary=f"the CPU, {facts.cpu_threads} threads",
        reasons=tuple(reasons),
        notes=tuple(notes),
    )


def _ampere(capability: str) -> bool:
    try:
        return int(capability.split(".")[0]) >= 8
    except ValueError:
        return False


def doctor_report() -> DoctorReport:
    """Facts and diagnosis for this machine (imports torch: call it off the UI thread)."""
    facts = gather_facts()
    return DoctorReport(facts, diagnose(facts))
