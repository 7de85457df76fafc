"""The table of attribution methods: what each needs, which input kinds it supports, how it runs.

Every cross-cutting test iterates over `METHODS`, so a method added here (or by a plugin) is
checked on every model kind without writing a new test, as Captum's own table of methods ×
models does. Captum is imported inside the runners: it pulls in matplotlib.

The table is a `MethodRegistry` filled through the ``studio.explainers`` entry point: the
built-ins (`register`, below) go through the same API as plugins, a broken plugin is reported
and skipped (`discover_explainers`, on `studio.plugins.discover`; it lives here, as
`discover_datasets` lives in `studio.data`, because `studio.plugins` is imported by layers
below this one and must not import it). Ids are namespaced: the built-ins are the
``studio`` namespace and answer to their short name too ("Saliency" is "studio.Saliency");
a plugin's ids carry its own prefix ("acme.Lime").
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint
from typing import TYPE_CHECKING, Any, Literal

from studio.explain.errors import ExplainError
from studio.explain.input_kinds import InputKind
from studio.plugins import BUILTIN_NAMESPACE, PluginReport, check_namespace, discover

if TYPE_CHECKING:
    import torch
    from torch import nn

AttributionSpace = Literal["input", "layer"]
EXPLAINER_GROUP = "studio.explainers"
BUILTIN_EXPLAINERS_ENTRY = "studio.explain.methods:register"


@dataclass
class MethodCall:
    """Everything a runner needs; the engine fills it so runners stay a few lines each.

    Attributes:
        model: the scoring module: the user's model with its output reduced to (N, K) or (N,).
        inputs: the batch (float, or token ids for text); a tuple of batches for a model with
            several inputs (Captum takes either; a runner returns attributions alike).
        target: class index per sample, or None for a single-score output.
        baseline: the reference batch, same shape as inputs (a tuple for several inputs).
        kind: the input kind (the first input's for several inputs).
        layer: the chosen layer (inside `model`) for layer methods, else None.
        embedding: the Embedding layer for text inputs, else None.
        internal_batch_size: how many path/perturbation points are evaluated at once.
        n_steps: integration steps of path methods.
        samples: random samples of NoiseTunnel/GradientShap.
        kinds: the kind of every input, in order.
    """

    model: nn.Module
    inputs: Any  # torch.Tensor | tuple[torch.Tensor, ...]
    target: torch.Tensor | None
    baseline: Any  # torch.Tensor | tuple[torch.Tensor, ...]
    kind: InputKind
    layer: nn.Module | None
    embedding: nn.Module | None
    internal_batch_size: int
    n_steps: int
    samples: int
    kinds: tuple[InputKind, ...] = field(default_factory=tuple)

    @property
    def several(self) -> bool:
        return isinstance(self.inputs, tuple)

    def input_tuple(self) -> tuple[torch.Tensor, ...]:
        return self.inputs if isinstance(self.inputs, tuple) else (self.inputs,)

    def kind_tuple(self) -> tuple[InputKind, ...]:
        return self.kinds or (self.kind,) * len(self.input_tuple())

    def per_input(self, values: tuple[Any, ...]) -> Any:
        """One value per input as Captum wants it: bare for one input, a tuple for several."""
        return values if self.several else values[0]


MethodResult = tuple[Any, dict[str, Any]]  # attributions like the inputs (tensor or tuple)
MethodRunner = Callable[[MethodCall], MethodResult]

ALL_FLOAT_KINDS: frozenset[InputKind] = frozenset({"image", "table", "sequence"})
ALL_KINDS: frozenset[InputKind] = ALL_FLOAT_KINDS | {"text"}


@dataclass(frozen=True)
class MethodSpec:
    """One row of the method table.

    Attributes:
        name: the id used by the CLI and the UI: Captum's class name for the built-ins, a
            namespaced id ("acme.Lime") for a plugin's methods.
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


def _at_embedding(run: MethodRunner, *, token_scores: bool = True) -> MethodRunner:
    """`run` as it is for float inputs; for text, run on the model fed with embeddings
    (`studio.explain.embedding_space`), with one score per token unless the attribution is
    a layer's."""

    def runner(call: MethodCall) -> MethodResult:
        if call.kind != "text":
            return run(call)
        from studio.explain.embedding_space import embedding_call

        with embedding_call(call) as on_embeddings:
            values, extras = run(on_embeddings)
        return (_text_scores(values) if token_scores else values), extras

    return runner


def _noise_scale(inputs: torch.Tensor) -> float:
    """SmoothGrad's noise: 15 % of the input range (Smilkov et al., 2017)."""
    spread = float(inputs.detach().max() - inputs.detach().min())
    return 0.15 * spread if spread > 0 else 0.15


def _noise_scales(call: MethodCall, factor: float = 1.0) -> Any:
    return call.per_input(tuple(factor * _noise_scale(part) for part in call.input_tuple()))


def _smoothgrad(call: MethodCall) -> MethodResult:
    from captum.attr import NoiseTunnel, Saliency

    attribution = NoiseTunnel(Saliency(call.model)).attribute(
        call.inputs,
        nt_type="smoothgrad",
        nt_samples=call.samples,
        nt_samples_batch_size=call.internal_batch_size,
        stdevs=_noise_scales(call),
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
        stdevs=_noise_scales(call, 0.1),
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
    if kind == "text" and len(shape) == 2:
        return (1, shape[1])  # one token's whole embedding vector
    return tuple(1 for _ in shape)


def _occlusion_strides(window: tuple[int, ...], kind: InputKind) -> tuple[int, ...]:
    """Half-overlapping windows along space and time; the whole extent along channels."""
    if kind == "image":
        return (window[0], max(1, window[1] // 2), max(1, window[2] // 2))
    if kind == "sequence":
        return (max(1, window[0] // 2), window[1])
    return window


def _occlusion(call: MethodCall) -> MethodResult:
    from captum.attr import Occlusion

    windows = tuple(
        occlusion_window(tuple(part.shape[1:]), kind)
        for part, kind in zip(call.input_tuple(), call.kind_tuple(), strict=True)
    )
    strides = tuple(
        _occlusion_strides(window, kind)
        for window, kind in zip(windows, call.kind_tuple(), strict=True)
    )
    attribution = Occlusion(call.model).attribute(
        call.inputs,
        sliding_window_shapes=call.per_input(windows),
        strides=call.per_input(strides),
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
    maps = []
    for image in call.input_tuple():
        upsampled = LayerAttribution.interpolate(coarse, tuple(image.shape[-2:]), "bilinear")
        maps.append(upsampled.expand(-1, image.shape[1], -1, -1).contiguous())
    return call.per_input(tuple(maps)), {"layer_map": coarse}


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


class DuplicateMethodError(ExplainError):
    """A method id was registered twice, or a plugin used an id outside its own namespace."""


class MethodRegistry:
    """Explanation methods by id, each with where it came from ("studio" or a plugin)."""

    def __init__(self) -> None:
        self._specs: dict[str, MethodSpec] = {}
        self._origins: dict[str, str] = {}

    def register(self, spec: MethodSpec, *, origin: str = BUILTIN_NAMESPACE) -> None:
        """Add a method; a clash, or a plugin id without its own prefix, raises."""
        name = canonical_name(spec.name)
        # The same rule as every plugin registry (a bare or ``studio.`` id is refused).
        check_namespace(spec.name, kind="explanation method", builtin=origin == BUILTIN_NAMESPACE)
        if name in self._specs:
            raise DuplicateMethodError(
                f"An explanation method named {spec.name!r} already exists "
                f"(from {self._origins[name]})."
            )
        self._specs[name] = spec
        self._origins[name] = origin

    def unregister(self, name: str) -> None:
        self._specs.pop(canonical_name(name), None)
        self._origins.pop(canonical_name(name), None)

    def get(self, name: str) -> MethodSpec:
        """The method for `name` ("Saliency" and "studio.Saliency" are the same)."""
        try:
            return self._specs[canonical_name(name)]
        except KeyError:
            raise ExplainError(
                f"Unknown explanation method {name!r}; choose one of {', '.join(self._specs)}."
            ) from None

    def origin(self, name: str) -> str:
        return self._origins[canonical_name(name)]

    def names(self) -> list[str]:
        return list(self._specs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_name(name) in self._specs

    def __iter__(self) -> Iterator[MethodSpec]:
        return iter(list(self._specs.values()))

    def __len__(self) -> int:
        return len(self._specs)


def canonical_name(name: str) -> str:
    """Built-in ids are stored by their short name: "studio.Saliency" → "Saliency"."""
    return name.removeprefix(f"{BUILTIN_NAMESPACE}.")


def discover_explainers(
    entries: list[EntryPoint] | None = None,
) -> tuple[MethodRegistry, list[PluginReport]]:
    """A registry from every ``studio.explainers`` entry point, plus a report per plugin.

    The built-ins register through the same entry point; a plugin's ids must carry its own
    prefix ("acme.Lime"), else that method is reported and skipped.
    """
    return discover(
        EXPLAINER_GROUP,
        BUILTIN_EXPLAINERS_ENTRY,
        MethodRegistry,
        name_of=lambda spec: spec.name,
        duplicate=DuplicateMethodError,
        entries=entries,
    )


@cache
def default_methods() -> MethodRegistry:
    """The application's methods: the built-ins and every ``studio.explainers`` plugin."""
    return discover_explainers()[0]


class _MethodTable(Mapping[str, MethodSpec]):
    """`METHODS`: the default registry as a read-only name → spec mapping, discovered lazily."""

    def __getitem__(self, name: str) -> MethodSpec:
        if name not in default_methods():
            raise KeyError(name)
        return default_methods().get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(default_methods().names())

    def __len__(self) -> int:
        return len(default_methods())


METHODS: Mapping[str, MethodSpec] = _MethodTable()


def register_method(spec: MethodSpec) -> None:
    """Add a method to the application's table at run time (tests, scripts); plugins use the
    ``studio.explainers`` entry point instead."""
    default_methods().register(spec, origin="runtime" if "." in spec.name else BUILTIN_NAMESPACE)


def unregister_method(name: str) -> None:
    """Remove a method (tests and plugin unloading)."""
    default_methods().unregister(name)


def get_method(name: str) -> MethodSpec:
    """The table row for `name`, or an error listing the available methods."""
    return default_methods().get(name)


BUILTIN_METHODS: tuple[MethodSpec, ...] = (
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
        ALL_KINDS,
        _at_embedding(_smoothgrad),
        summary="Saliency averaged over noisy copies of the input: less speckle.",
    ),
    MethodSpec(
        "GradientShap",
        "Gradient SHAP",
        ALL_KINDS,
        _at_embedding(_gradient_shap),
        uses_baseline=True,
        summary="Expected gradients between noisy inputs and the baseline.",
    ),
    MethodSpec(
        "DeepLift",
        "DeepLIFT",
        ALL_KINDS,
        _at_embedding(_deep_lift),
        uses_baseline=True,
        summary="Contributions relative to the baseline, layer by layer.",
    ),
    MethodSpec(
        "Occlusion",
        "Occlusion",
        ALL_KINDS,
        _at_embedding(_occlusion),
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
        ALL_KINDS,
        _at_embedding(_layer_conductance, token_scores=False),
        needs_layer=True,
        space="layer",
        uses_baseline=True,
        summary="How much each unit of a layer carries of the score change.",
    ),
)


def register(registry: MethodRegistry) -> None:
    """Add the built-in methods (the ``studio.explainers`` entry point of Strata Studio)."""
    for spec in BUILTIN_METHODS:
        registry.register(spec)


def unsupported_reason(spec: MethodSpec, kind: InputKind) -> str | None:
    """Why `spec` cannot explain `kind` inputs, or None when it can."""
    if kind in spec.kinds:
        return None
    if kind == "text":
        return (
            f"{spec.title} does not apply to text: it explains an image-shaped layer. "
            "Every other method explains a text model at its embedding."
        )
    supported = ", ".join(sorted(spec.kinds))
    return f"{spec.title} applies to {supported} inputs, not {kind}."
