"""Reference inputs ("what absence looks like") for path and perturbation methods.

Zeros are Captum's default but a black image is itself a strong signal for some models; a
blurred copy keeps brightness and removes detail; the data mean is the average sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from studio.explain.errors import ExplainError

if TYPE_CHECKING:
    import torch

    from studio.explain.input_kinds import InputKind

BaselineName = Literal["zeros", "blur", "mean"]
BASELINES: tuple[BaselineName, ...] = ("zeros", "blur", "mean")


def make_baseline(
    inputs: torch.Tensor,
    baseline: str | np.ndarray | torch.Tensor,
    *,
    kind: InputKind,
    data_mean: np.ndarray | torch.Tensor | None = None,
) -> torch.Tensor:
    """A baseline batch of the inputs' shape, dtype and device.

    Args:
        inputs: the batch being explained.
        baseline: "zeros", "blur", "mean", or an explicit array (one sample or a batch).
        kind: the input kind; text only admits "zeros" (the padding token id).
        data_mean: one sample's mean over the training data, needed for "mean".
    """
    import torch

    if not isinstance(baseline, str):
        return _broadcast(torch.as_tensor(baseline), inputs)
    if baseline not in BASELINES:
        raise ExplainError(f"Unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}.")
    if baseline == "zeros":
        return torch.zeros_like(inputs)
    if kind == "text":
        raise ExplainError(
            "Text inputs are token ids; only the 'zeros' (padding) baseline applies."
        )
    if baseline == "mean":
        if data_mean is None:
            raise ExplainError("The 'mean' baseline needs the data mean (data_mean=...).")
        return _broadcast(torch.as_tensor(data_mean), inputs)
    return blur(inputs, kind=kind)


def blur(inputs: torch.Tensor, *, kind: InputKind, sigma: float | None = None) -> torch.Tensor:
    """Gaussian-blur images over (H, W) and sequences over time; tables have no neighbours.

    The default sigma is an eighth of the image side or of the sequence length,
    strong enough to erase the shapes a classifier uses while keeping overall brightness.
    """
    import torch
    import torch.nn.functional as functional

    if kind == "image":
        size = inputs.shape[-1]
        spatial_dims: tuple[int, ...] = (2, 3)
    elif kind == "sequence":
        size = inputs.shape[1]
        spatial_dims = (1,)
    else:
        raise ExplainError(f"A blurred baseline needs an image or a sequence, not {kind} data.")
    sigma = sigma if sigma is not None else max(1.0, size / 8)
    radius = max(1, min(int(3 * sigma), size - 1))
    offsets = torch.arange(-radius, radius + 1, dtype=inputs.dtype, device=inputs.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    result = inputs
    for dim in spatial_dims:
        # Move the blurred axis last, convolve every other position as its own channel.
        moved = result.movedim(dim, -1)
        flat = moved.reshape(-1, 1, moved.shape[-1])
        padded = functional.pad(flat, (radius, radius), mode="reflect")
        blurred = functional.conv1d(padded, kernel.view(1, 1, -1))
        result = blurred.reshape(moved.shape).movedim(-1, dim)
    return result


def _broadcast(reference: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    reference = reference.to(dtype=inputs.dtype, device=inputs.device)
    if reference.shape == inputs.shape:
        return reference
    if reference.shape == inputs.shape[1:]:
        return reference.unsqueeze(0).expand_as(inputs).clone()
    raise ExplainError(
        f"A baseline of shape {tuple(reference.shape)} does not fit inputs of shape "
        f"{tuple(inputs.shape)}; give one sample or one per input."
    )
