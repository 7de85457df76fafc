"""The table of attribution methods: what each needs, which input kinds it supports, how it runs.

Every cross-cutting test iterates over `METHODS`, so a method added here (or by a plugin through
`register_method`) is checked on every model kind without writing a new test, as Captum's own
table of methods × models does. Captum is imported inside the runners: it pulls in matplotlib.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from studio.explain.errors import ExplainError
from studio.explain.input_kinds import InputKind

if TYPE_CHECKING:
    import torch
    from torch import nn

AttributionSpace = Literal["input", "layer"]


@dataclass
class MethodCall:
    """Everything a runner needs; the engine fills it so runners stay a few lines each.

    Attributes:
        model: the scoring module: the user's model with its output reduced to (N, K) or (N,).
        inputs: the batch (float, or token ids for text).
        target: class index per sample, or None for a single-score output.
        baseline: the reference batch, same shape as inputs.
        kind: the input kind.
        layer: the chosen layer (inside `model`) for layer methods, else None.
        embedding: the Embedding layer for text inputs, else None.
        internal_batch_size: how many path/perturbation points are evaluated at once.
        n_steps: integration steps of path methods.
        samples: random samples of NoiseTunnel/GradientShap.
    """

    model: nn.Module
    inputs: torch.Tensor
    target: torch.Tensor | None
    baseline: torch.Tensor
    kind: InputKind
    layer: nn.Module | None
    embedding: nn.Module | None
    internal_batch_size: int
    n_steps: int
    samples: int


MethodResult = tuple["torch.Tensor", dict[str, Any]]
MethodRunner = Callable[[MethodCall], MethodResult]

ALL_FLOAT_KINDS: frozenset[InputKind] = frozenset({"image", "table", "sequence"})
ALL_KINDS: frozenset[InputKind] = ALL_FLOAT_KINDS | {"text"}


@dataclass(frozen=True)
class MethodSpec:
    """One row of the method table.

    Attributes:
        name: the id used by the CLI and the UI (Captum's class name where there is one).
        title: what the UI shows.
        kinds: the input kinds the method supports.
        run: computes the attribution and its extras.
        needs_layer: the user must choose a layer (node) for it.
        space: "input" maps have the input's shape; "layer" maps have the layer output's shape.
        uses_baseline: the baseline changes the result.
        summary: one sentence for the UI's method picker.
    """

    name: str
    title: str
    kinds: frozenset[InputKind]
    run: MethodRunner
    needs_layer: bool = False
    space: AttributionSpace = "input"
    uses_baseline: bool = False
    summary: str = ""


def _text_scores(attribution: torch.Tensor) -> torch.Tensor:
    """Embedding-space attribution (N, L, E) → one score per token (N, L)."""
    return attribution.sum(dim=-1)


def _saliency(call: MethodCall) -> MethodResult:
    if call.kind == "text":
        from captum.attr import LayerGradientXActivation

        gradient = LayerGradientXActivation(
            call.model, call.embedding, multiply_by_inputs=False
        ).attribute(call.inputs, target=call.target)
        # Saliency is the gradient's magnitude; per token, its L1 norm over the embedding.
        return _text_scores(gradient.abs()), {}
    from captum.attr import Saliency

    return Saliency(call.model).attribute(call.inputs, target=call.target, abs=True), {}


def _input_x_gradient(call: MethodCall) -> MethodResult:
    if call.kind == "text":
        from captum.attr import LayerGradientXActivation

        attribution = LayerGradientXActivation(call.model, call.embedding).attribute(
            call.inputs, target=call.target
        )
        return _text_scores(attribution), {}
    from captum.attr import InputXGradient

    return InputXGradient(call.model).attribute(call.inputs, target=call.target), {}


def _integrated_gradients(call: MethodCall) -> MethodResult:
    from captum.attr import IntegratedGradients, LayerIntegratedGradients

    options: dict[str, Any] = {
        "baselines": call.baseline,
        "target": call.target,
        "n_steps": call.n_steps,
        "internal_batch_size": call.internal_batch_size,
        "return_convergence_delta": True,
    }
    if call.kind == "text":
        explainer = LayerIntegratedGradients(call.model, call.embedding)
        attribution, delta = explainer.attribute(call.inputs, **options)
        return _text_scores(attribution), {"delta": delta}
    attribution, delta = IntegratedGradients(call.model).attribute(call.inputs, **options)
    return attribution, {"delta": delta}


def _noise_scale(inputs: torch.Tensor) -> float:
    """SmoothGrad's noise: 15 % of the input range (Smilkov et al., 2017)."""
    spread = float(inputs.detach().max() - inputs.detach().min())
    return 0.15 * spread if spread > 0 else 0.15


def _smoothgrad(call: MethodCall) -> MethodResult:
    from captum.attr import NoiseTunnel, Saliency

    attribution = NoiseTunnel(Saliency(call.model)).attribute(
        call.inputs,
        nt_type="smoothgrad",
        nt_samples=call.samples,
        nt_samples_batch_size=call.internal_batch_size,
        stdevs=_noise_scale(call.inputs),
        target=call.target,
        abs=True,
    )
    return attribution, {}


def _gradient_shap(call: MethodCall) -> MethodResult:
    from captum.attr import GradientShap

    attribution, delta = GradientShap(call.model).attribute(
        call.inputs,
        baselines=call.baseline,
        n_samples=call.samples,
        stdevs=0.1 * _noise_scale(call.inputs),
        target=call.target,
        return_convergence_delta=True,
    )
    return attribution, {"delta": delta}


def _deep_lift(call: MethodCall) -> MethodResult:
    from captum.attr import DeepLift

    with warnings.catch_warnings():
        # Captum announces, every call, that it hooks the activations it then unhooks.
        warnings.filterwarnings("ignore", message="Setting forward, backward hooks")
        attribution, delta = DeepLift(call.model).attribute(
            call.inputs, baselines=call.baseline, target=call.target, return_convergence_delta=True
        )
    return attribution, {"delta": delta}


def occlusion_window(shape: tuple[int, ...], kind: InputKind) -> tuple[int, ...]:
    """The occluding patch for one sample: an eighth of an image side, one table feature,
    a sixteenth of a sequence (all channels at once)."""
    if kind == "image":
        channels, height, width = shape
        return (channels, max(2, height // 8), max(2, width // 8))
    if kind == "sequence":
        steps, channels = shape
        return (max(1, steps // 16), channels)
    return tuple(1 for _ in shape)


def _occlusion(call: MethodCall) -> MethodResult:
    from captum.attr import Occlusion

    window = occlusion_window(tuple(call.inputs.shape[1:]), call.kind)
    # Half-overlapping windows along space and time; the whole extent along channels.
    if call.kind == "image":
        strides: tuple[int, ...] = (window[0], max(1, window[1] // 2), max(1, window[2] // 2))
    elif call.kind == "sequence":
        strides = (max(1, window[0] // 2), window[1])
    else:
        strides = window
    attribution = Occlusion(call.model).attribute(
        call.inputs,
        sliding_window_shapes=window,
        strides=strides,
        baselines=call.baseline,
        target=call.target,
        perturbations_per_eval=call.internal_batch_size,
    )
    return attribution, {}


def _grad_cam(call: MethodCall) -> MethodResult:
    from captum.attr import LayerAttribution, LayerGradCam

    coarse = LayerGradCam(call.model, call.layer).attribute(
        call.inputs, target=call.target, relu_attributions=True
    )
    if coarse.dim() != 4:
        raise ExplainError(
            "Grad-CAM needs a layer whose output is an image (N, C, H, W); "
            f"the chosen layer gives {tuple(coarse.shape)}. Choose a convolution layer."
        )
    height, width = call.inputs.shape[-2:]
    upsampled = LayerAttribution.interpolate(coarse, (height, width), "bilinear")
    return upsampled.expand(-1, call.inputs.shape[1], -1, -1).contiguous(), {"layer_map": coarse}


def _layer_conductance(call: MethodCall) -> MethodResult:
    from captum.attr import LayerConductance

    attribution, delta = LayerConductance(call.model, call.layer).attribute(
        call.inputs,
        baselines=call.baseline,
        target=call.target,
        n_steps=call.n_steps,
        internal_batch_size=call.internal_batch_size,
        return_convergence_delta=True,
    )
    return attribution, {"delta": delta}


METHODS: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> None:
    """Add a method to the table (plugins use the `studio.explainers` entry point to call this)."""
    if spec.name in METHODS:
        raise ExplainError(f"An explanation method named {spec.name!r} already exists.")
    METHODS[spec.name] = spec


def unregister_method(name: str) -> None:
    """Remove a method (tests and plugin unloading)."""
    METHODS.pop(name, None)


def get_method(name: str) -> MethodSpec:
    """The table row for `name`, or an error listing the available methods."""
    try:
        return METHODS[name]
    except KeyError:
        raise ExplainError(
            f"Unknown explanation method {name!r}; choose one of {', '.join(METHODS)}."
        ) from None


for _spec in (
    MethodSpec(
        "Saliency",
        "Saliency",
        ALL_KINDS,
        _saliency,
        summary="How strongly the score reacts to a tiny change of each input.",
    ),
    MethodSpec(
        "InputXGradient",
        "Input × gradient",
        ALL_KINDS,
        _input_x_gradient,
        summary="Gradient times the input value: a first-order contribution.",
    ),
    MethodSpec(
        "IntegratedGradients",
        "Integrated gradients",
        ALL_KINDS,
        _integrated_gradients,
        uses_baseline=True,
        summary="Gradients averaged from the baseline to the input; sums to the score change.",
    ),
    MethodSpec(
        "SmoothGrad",
        "SmoothGrad (noise tunnel)",
        ALL_FLOAT_KINDS,
        _smoothgrad,
        summary="Saliency averaged over noisy copies of the input: less speckle.",
    ),
    MethodSpec(
        "GradientShap",
        "Gradient SHAP",
        ALL_FLOAT_KINDS,
        _gradient_shap,
        uses_baseline=True,
        summary="Expected gradients between noisy inputs and the baseline.",
    ),
    MethodSpec(
        "DeepLift",
        "DeepLIFT",
        ALL_FLOAT_KINDS,
        _deep_lift,
        uses_baseline=True,
        summary="Contributions relative to the baseline, layer by layer.",
    ),
    MethodSpec(
        "Occlusion",
        "Occlusion",
        ALL_FLOAT_KINDS,
        _occlusion,
        uses_baseline=True,
        summary="How the score drops when a patch is replaced by the baseline.",
    ),
    MethodSpec(
        "LayerGradCam",
        "Grad-CAM",
        frozenset({"image"}),
        _grad_cam,
        needs_layer=True,
        summary="Where a convolution layer's features matter for the class.",
    ),
    MethodSpec(
        "LayerConductance",
        "Layer conductance",
        ALL_FLOAT_KINDS,
        _layer_conductance,
        needs_layer=True,
        space="layer",
        uses_baseline=True,
        summary="How much each unit of a layer carries of the score change.",
    ),
):
    register_method(_spec)


def unsupported_reason(spec: MethodSpec, kind: InputKind) -> str | None:
    """Why `spec` cannot explain `kind` inputs, or None when it can."""
    if kind in spec.kinds:
        return None
    if kind == "text":
        return (
            f"{spec.title} does not apply to text: token ids cannot be perturbed or "
            "interpolated. Use Saliency, InputXGradient or IntegratedGradients, which work on "
            "the embedding."
        )
    supported = ", ".join(sorted(spec.kinds))
    return f"{spec.title} applies to {supported} inputs, not {kind}."
