"""One call from (model, inputs, target, method) to plain numpy attribution arrays.

The engine hides what differs between methods and models: the output is reduced to one score
per class, the target defaults to the predicted class, text models are attributed at their
embedding, layers are found by node name, and everything comes back as numpy so the UI, the
CLI and the tests never hold tensors or Captum objects.

A model with several inputs is explained with a tuple of batches (one per input, in the order
the model takes them); every input gets its own attribution (`Attribution.per_input`), since
Captum attributes tuples of inputs jointly: the attributions of all inputs together add up to
the score change for path methods.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.explain.baselines import make_baseline
from studio.explain.errors import ExplainError
from studio.explain.input_kinds import InputKind, check_input_kind, infer_input_kind
from studio.explain.methods import AttributionSpace, MethodCall, get_method, unsupported_reason

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class InputAttribution:
    """The attribution of one model input (models with several inputs have one per input).

    Attributes:
        values: attributions of this input, (N, *input shape).
        inputs: this input's batch as numpy.
        kind: image, table, sequence or text.
    """

    values: np.ndarray
    inputs: np.ndarray
    kind: InputKind


@dataclass
class Attribution:
    """An explanation as plain arrays, plus what a view needs to draw and judge it.

    Attributes:
        values: attributions, (N, *input shape) for input-space methods, (N, *layer output
            shape) for layer-space ones (LayerConductance). Text gives one score per token.
        inputs: the explained inputs as numpy (token ids for text).
        target: the class index explained for each sample, or None for single-score outputs.
        method: the method's name in the method table.
        kind: image, table, sequence or text.
        space: "input" or "layer".
        layer: the node name of the chosen layer, if any.
        baseline: the baseline name ("zeros", "blur", "mean" or "custom") when the method uses one.
        extras: method extras as numpy, e.g. "delta" (convergence delta per sample) and
            "output_difference" (score(input) − score(baseline) per sample) for path methods.
        per_input: one entry per model input for input-space methods (`values`, `inputs` and
            `kind` above are the first input's); empty for layer-space methods.
    """

    values: np.ndarray
    inputs: np.ndarray
    target: np.ndarray | None
    method: str
    kind: InputKind
    space: AttributionSpace
    layer: str | None = None
    baseline: str | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    per_input: tuple[InputAttribution, ...] = ()

    @property
    def several_inputs(self) -> bool:
        """The model takes several inputs (see `per_input`)."""
        return len(self.per_input) > 1


ModelInputs = Any
"""One batch (tensor or array), or a tuple/list of batches for a model with several inputs."""


def explain(
    model: nn.Module,
    inputs: ModelInputs,
    *,
    method: str,
    target: int | Sequence[int] | np.ndarray | torch.Tensor | None = None,
    layer: str | None = None,
    baseline: str | np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor] = "zeros",
    data_mean: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor] | None = None,
    internal_batch_size: int = 64,
    n_steps: int = 50,
    samples: int = 16,
    input_kind: str | Sequence[str] | None = None,
) -> Attribution:
    """Explain `model`'s score for `target` on a batch of `inputs` with one method.

    Args:
        model: any module taking one input batch (or several); a compiled graph's submodules
            are named after its nodes, so `layer` is a node name.
        inputs: a batch (N, ...) on any device, or a tuple of batches for a model with several
            inputs; numpy arrays go to the model's device.
        method: a name in `METHODS` (e.g. "IntegratedGradients").
        target: class index (one for all, or one per sample); None explains the predicted class.
            Models whose output is not (N, classes) are explained through their summed output.
        layer: node name of the layer for layer methods (LayerGradCam, LayerConductance).
        baseline: "zeros", "blur", "mean" (needs `data_mean`) or an explicit array (a tuple
            of arrays, one per input, for several inputs).
        data_mean: one sample's mean over the training data, for the "mean" baseline (one per
            input for several inputs).
        internal_batch_size: path and perturbation points evaluated per forward pass, which
            bounds memory for IntegratedGradients, LayerConductance, SmoothGrad and Occlusion.
        n_steps: integration steps of IntegratedGradients and LayerConductance.
        samples: noisy samples of SmoothGrad and GradientShap.
        input_kind: overrides the kind guessed from the inputs' dtype and rank (one per input
            for several inputs).

    Raises:
        ExplainError: unknown method, a method that does not apply to this input kind, a
            missing or unknown layer, or a baseline that does not fit.
    """
    spec = get_method(method)
    several = isinstance(inputs, (tuple, list))
    batches = _batches(model, tuple(inputs) if several else (inputs,))
    kinds = _kinds(batches, input_kind)
    for kind in kinds:
        reason = unsupported_reason(spec, kind)
        if reason:
            raise ExplainError(reason)
    if several and "text" in kinds:
        raise ExplainError(
            "Token-id inputs are explained at their embedding, which needs a model with one "
            "input; models with several inputs can be explained on float inputs only."
        )
    kind = kinds[0]
    scorer = class_scores(model)
    chosen_layer = _find_layer(model, layer) if spec.needs_layer else None
    if spec.needs_layer and chosen_layer is None:
        raise ExplainError(f"{spec.title} explains one layer: choose a layer (a node) first.")
    embedding = _find_embedding(model, batches[0]) if kind == "text" else None
    references = tuple(
        make_baseline(batch, part_baseline, kind=part_kind, data_mean=part_mean)
        for batch, part_kind, part_baseline, part_mean in zip(
            batches,
            kinds,
            _per_input(baseline, len(batches), "baseline"),
            _per_input(data_mean, len(batches), "data_mean"),
            strict=True,
        )
    )
    # Captum warns (and flips the flag itself) when an input does not require gradients.
    batches = tuple(
        batch.detach().clone().requires_grad_(True) if batch.is_floating_point() else batch
        for batch in batches
    )
    was_training = model.training
    model.eval()
    try:
        with _gradients_through_rnns(model):
            target_tensor = _resolve_target(scorer, batches, target)
            call = MethodCall(
                model=scorer,
                inputs=batches if several else batches[0],
                target=target_tensor,
                baseline=references if several else references[0],
                kind=kind,
                layer=chosen_layer,
                embedding=embedding,
                internal_batch_size=internal_batch_size,
                n_steps=n_steps,
                samples=samples,
                kinds=kinds,
            )
            try:
                values, extras = spec.run(call)
            except ExplainError:
                raise
            except (RuntimeError, ValueError, TypeError, AssertionError) as error:
                # Captum and torch speak in tensor terms; the user needs to know what failed.
                raise ExplainError(f"{spec.title} could not explain this model: {error}") from error
            if "delta" in extras:
                extras["output_difference"] = _score_difference(
                    scorer, batches, references, target_tensor
                )
    finally:
        model.train(was_training)
    parts = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    arrays = tuple(_to_numpy(part) for part in parts)
    inputs_np = tuple(_to_numpy(batch) for batch in batches)
    per_input = (
        tuple(
            InputAttribution(part, batch, part_kind)
            for part, batch, part_kind in zip(arrays, inputs_np, kinds, strict=True)
        )
        if spec.space == "input"
        else ()
    )
    return Attribution(
        values=arrays[0],
        inputs=inputs_np[0],
        target=None if target_tensor is None else _to_numpy(target_tensor),
        method=spec.name,
        kind=kind,
        space=spec.space,
        layer=layer if spec.needs_layer else None,
        baseline=(baseline if isinstance(baseline, str) else "custom")
        if spec.uses_baseline
        else None,
        extras={name: _to_numpy(value) for name, value in extras.items()},
        per_input=per_input,
    )


def _batches(model: nn.Module, raw: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
    """Every input as a tensor on the model's device; floats in the model's precision."""
    import torch

    if not raw:
        raise ExplainError("There is nothing to explain: no inputs were given.")
    device, dtype = _model_device(model), _model_dtype(model)
    batches = []
    for part in raw:
        batch = torch.as_tensor(part).to(device)
        if batch.is_floating_point():
            # numpy hands over float64; the model's weights decide the precision.
            batch = batch.to(dtype)
        batches.append(batch)
    sizes = {batch.shape[0] if batch.dim() else 0 for batch in batches}
    if len(sizes) != 1:
        raise ExplainError(
            "Every input needs the same number of samples; got "
            + ", ".join(str(tuple(batch.shape)) for batch in batches)
            + "."
        )
    return tuple(batches)


def _kinds(
    batches: tuple[torch.Tensor, ...], input_kind: str | Sequence[str] | None
) -> tuple[InputKind, ...]:
    if input_kind is None:
        return tuple(infer_input_kind(batch) for batch in batches)
    given = [input_kind] if isinstance(input_kind, str) else list(input_kind)
    if len(given) != len(batches):
        raise ExplainError(f"Give one input kind per input ({len(batches)}), not {len(given)}.")
    return tuple(check_input_kind(kind) for kind in given)


def _per_input(value: Any, count: int, name: str) -> tuple[Any, ...]:
    """A baseline or data mean given once for all inputs, or one per input."""
    if count == 1:
        return (value,)
    if value is None or isinstance(value, str):
        return (value,) * count
    if isinstance(value, (tuple, list)) and len(value) == count:
        return tuple(value)
    raise ExplainError(f"The model has {count} inputs: give {name} as one array per input.")


def _class_scores_module() -> type[nn.Module]:
    from torch import nn

    class _ClassScores(nn.Module):
        """The model with its output reduced to (N, classes) or (N,), as Captum's targets expect.

        Autoencoders and other models with (N, C, H, W) or (N, T, C) outputs have no classes; their
        summed output is explained instead, which says what drives the reconstruction overall.
        """

        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            output = self.model(*inputs)
            if isinstance(output, (tuple, list)):
                output = output[0]
            if output.dim() > 2:
                return output.flatten(1).sum(dim=1)
            if output.dim() == 2 and output.shape[1] == 1:
                return output[:, 0]
            return output

    return _ClassScores


def class_scores(model: nn.Module) -> nn.Module:
    """Wrap `model` so that it returns one score per class (or one score) per sample."""
    return _class_scores_module()(model)


def _resolve_target(
    scorer: nn.Module,
    batches: tuple[torch.Tensor, ...],
    target: int | Sequence[int] | np.ndarray | torch.Tensor | None,
) -> torch.Tensor | None:
    import torch

    batch = batches[0]
    with torch.no_grad():
        scores = scorer(*batches)
    if scores.dim() == 1:
        if target is not None:
            raise ExplainError(
                "This model gives one score per sample, so there is no class to choose; "
                "leave the target empty."
            )
        return None
    classes = scores.shape[1]
    if target is None:
        return scores.argmax(dim=1)
    chosen = torch.as_tensor(target, dtype=torch.long, device=batch.device).reshape(-1)
    if chosen.numel() == 1:
        chosen = chosen.expand(batch.shape[0])
    if chosen.numel() != batch.shape[0]:
        raise ExplainError(f"Give one target for all samples or one per sample ({batch.shape[0]}).")
    if bool(((chosen < 0) | (chosen >= classes)).any()):
        raise ExplainError(f"Targets must be class indices between 0 and {classes - 1}.")
    return chosen.contiguous()


def _score_difference(
    scorer: nn.Module,
    batches: tuple[torch.Tensor, ...],
    references: tuple[torch.Tensor, ...],
    target: torch.Tensor | None,
) -> torch.Tensor:
    """score(input) − score(baseline): what a complete attribution must sum to."""
    import torch

    with torch.no_grad():
        difference = scorer(*batches) - scorer(*references)
    if target is None:
        return difference
    return difference.gather(1, target.view(-1, 1)).squeeze(1)


def _find_layer(model: nn.Module, name: str | None) -> nn.Module | None:
    if name is None:
        return None
    layers = dict(model.named_modules())
    if name not in layers or name == "":
        known = ", ".join(n for n in layers if n and "." not in n)
        raise ExplainError(f"The model has no layer named {name!r}; its layers: {known}.")
    return layers[name]


def _find_embedding(model: nn.Module, batch: torch.Tensor) -> nn.Module:
    """The Embedding that reads the token ids themselves (not, say, a position table)."""
    import torch
    from torch import nn

    embeddings = [module for module in model.modules() if isinstance(module, nn.Embedding)]
    if not embeddings:
        raise ExplainError(
            "The inputs are token ids but the model has no Embedding layer to attribute at."
        )
    readers: list[nn.Module] = []

    def record(module: nn.Module, args: tuple[torch.Tensor, ...], _output: object) -> None:
        ids = args[0] if args else None
        if isinstance(ids, torch.Tensor) and ids.shape == batch.shape and torch.equal(ids, batch):
            readers.append(module)

    handles = [module.register_forward_hook(record) for module in embeddings]
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for handle in handles:
            handle.remove()
    return readers[0] if readers else embeddings[0]


def _model_device(model: nn.Module) -> torch.device:
    import torch

    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def _model_dtype(model: nn.Module) -> torch.dtype:
    import torch

    for parameter in model.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.get_default_dtype()


@contextlib.contextmanager
def _gradients_through_rnns(model: nn.Module) -> Iterator[None]:
    """cuDNN's RNN kernels refuse a backward pass in eval mode; use the native ones then."""
    import torch
    from torch import nn

    has_rnn = any(isinstance(module, nn.RNNBase) for module in model.modules())
    if has_rnn and _model_device(model).type == "cuda":
        with torch.backends.cudnn.flags(enabled=False):
            yield
    else:
        yield


def _to_numpy(value: Any) -> np.ndarray:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)
