"""Choosing the device: auto = cuda > mps > cpu, with a reason the user can read."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from studio.training.errors import TrainingError


@dataclass(frozen=True)
class DeviceChoice:
    """The device training runs on and why it was chosen (shown in the window and logs)."""

    device: torch.device
    reason: str


def _cuda_problem() -> str | None:
    if torch.version.cuda is None:
        return "CUDA not available in this torch build"
    if not torch.cuda.is_available():
        return "no CUDA GPU found (or its driver is missing)"
    return None


def _mps_problem() -> str | None:
    backend = getattr(torch.backends, "mps", None)
    if backend is None or not backend.is_built():
        return "MPS not available in this torch build"
    if not backend.is_available():
        return "no Apple GPU (MPS) found"
    return None


def choose_device(requested: str = "auto") -> DeviceChoice:
    """Resolve "auto", "cpu", "cuda" or "mps" to a torch device.

    Raises:
        TrainingError: a specific device was asked for and is not usable here.
    """
    if requested == "cpu":
        return DeviceChoice(torch.device("cpu"), "CPU requested")
    if requested in ("cuda", "mps"):
        problem = _cuda_problem() if requested == "cuda" else _mps_problem()
        if problem is not None:
            raise TrainingError(f"device {requested!r} cannot be used: {problem}; use --device cpu")
        return DeviceChoice(torch.device(requested), f"{requested.upper()} requested")
    if requested != "auto":
        raise TrainingError(f"unknown device {requested!r}; choose auto, cpu, cuda or mps")
    cuda = _cuda_problem()
    if cuda is None:
        return DeviceChoice(torch.device("cuda"), f"CUDA GPU: {torch.cuda.get_device_name(0)}")
    mps = _mps_problem()
    if mps is None:
        return DeviceChoice(torch.device("mps"), f"Apple GPU (MPS); {cuda}")
    return DeviceChoice(torch.device("cpu"), f"CPU: {cuda}; {mps}")


@dataclass(frozen=True)
class PrecisionChoice:
    """The autocast dtype training uses (None: full fp32) and, when it differs from what the
    settings asked for, why."""

    dtype: torch.dtype | None
    note: str | None = None

    @property
    def needs_grad_scaler(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 has fp32's exponent range."""
        return self.dtype == torch.float16


def choose_precision(
    device: torch.device, precision: str, bf16_supported: bool | None = None
) -> PrecisionChoice:
    """Mixed precision runs only on CUDA; elsewhere a request for it trains in fp32.

    "mixed" takes bf16 where the GPU has it (Ampere and newer), else fp16 with a gradient
    scaler; "bf16" on a GPU without it falls back to fp16 instead of running bf16 in slow
    emulation. `bf16_supported` is the GPU's answer (asked of torch when None).
    """
    if precision == "fp32":
        return PrecisionChoice(None)
    if device.type != "cuda":
        return PrecisionChoice(
            None, f"{precision} precision applies on CUDA GPUs only; training in fp32 here"
        )
    if precision == "fp16":
        return PrecisionChoice(torch.float16)
    if bf16_supported is None:
        bf16_supported = bool(torch.cuda.is_bf16_supported())
    if bf16_supported:
        return PrecisionChoice(torch.bfloat16)
    note = "this GPU has no bfloat16: mixed precision uses fp16 with a gradient scaler"
    return PrecisionChoice(torch.float16, None if precision == "mixed" else note)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for mixed precision, which we use only on CUDA (None: full fp32)."""
    return choose_precision(device, precision).dtype


def cuda_memory_mb(device: torch.device) -> dict[str, float]:
    """What the caching allocator holds on `device`, in MiB, for the `step` events.

    "allocated" is held by tensors, "reserved" by the allocator (what `nvidia-smi` counts
    against the process), "peak" the most ever allocated in this process. These read the
    allocator's counters and do not wait for the GPU, so they cost no synchronisation.
    """
    mib = 2**20
    return {
        "allocated": round(torch.cuda.memory_allocated(device) / mib, 1),
        "reserved": round(torch.cuda.memory_reserved(device) / mib, 1),
        "peak": round(torch.cuda.max_memory_allocated(device) / mib, 1),
    }


def gpu_utilization(device: torch.device) -> float | None:
    """The GPU's busy share in percent over the last sample period (NVML), or None when NVML
    (the `nvidia-ml-py` package) is not there: utilisation is a nicety, never a requirement."""
    try:
        return float(torch.cuda.utilization(device))
    except Exception:  # no pynvml, no NVML library, or a device it does not know
        return None


def enable_cuda_speedups(device: torch.device) -> list[str]:
    """TF32 matmuls and convolutions on Ampere and newer, where they are 2-8x faster than
    fp32 with a 10-bit mantissa that training does not notice; returns what was turned on."""
    if device.type != "cuda":
        return []
    major, _minor = torch.cuda.get_device_capability(device)
    if major < 8:
        return []
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return ["TF32 matmuls and convolutions (Ampere or newer)"]


def wants_channels_last(model: torch.nn.Module, device: torch.device) -> bool:
    """Convolutions on a GPU run faster on NHWC tensors (tensor cores); elsewhere, and for
    models without 2-d convolutions, the default layout is as fast or faster."""
    if device.type != "cuda":
        return False
    return any(isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d) for m in model.modules())
