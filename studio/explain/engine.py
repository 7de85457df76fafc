"""One call from (model, inputs, target, method) to plain numpy attribution arrays.

The engine hides what differs between methods and models: the output is reduced to one score
per class, the target defaults to the predicted class, text models are attributed at their
embedding, layers are found by node name, and everything comes back as numpy so the UI, the
CLI and the tests never hold tensors or Captum objects.
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


def explain(
    model: nn.Module,
    inputs: torch.Tensor | np.ndarray,
    *,
    method: str,
    target: int | Sequence[int] | np.ndarray | torch.Tensor | None = None,
    layer: str | None = None,
    baseline: str | np.ndarray | torch.Tensor = "zeros",
    data_mean: np.ndarray | torch.Tensor | None = None,
    internal_batch_size: int = 64,
    n_steps: int = 50,
    samples: int = 16,
    input_kind: str | None = None,
) -> Attribution:
    """Explain `model`'s score for `target` on a batch of `inputs` with one method.

    Args:
        model: any module taking one input batch; a compiled graph's submodules are named after
            its nodes, so `layer` is a node name.
        inputs: a batch (N, ...) on any device; numpy arrays go to the model's device.
        method: a name in `METHODS` (e.g. "IntegratedGradients").
        target: class index (one for all, or one per sample); None explains the predicted class.
            Models whose output is not (N, classes) are explained through their summed output.
        layer: node name of the layer for layer methods (LayerGradCam, LayerConductance).
        baseline: "zeros", "blur", "mean" (needs `data_mean`) or an explicit array.
        data_mean: one sample's mean over the training data, for the "mean" baseline.
        internal_batch_size: path and perturbation points evaluated per forward pass, which
            bounds memory for IntegratedGradients, LayerConductance, SmoothGrad and Occlusion.
        n_steps: integration steps of IntegratedGradients and LayerConductance.
        samples: noisy samples of SmoothGrad and GradientShap.
        input_kind: overrides the kind guessed from the inputs' dtype and rank.

    Raises:
        ExplainError: unknown method, a method that does not apply to this input kind, a
            missing or unknown layer, or a baseline that does not fit.
    """
    import torch

    spec = get_method(method)
    device = _model_device(model)
    batch = torch.as_tensor(inputs).to(device)
    if batch.is_floating_point():
        # numpy hands over float64; the model's weights decide the precision.
        batch = batch.to(_model_dtype(model))
    kind = check_input_kind(input_kind) if input_kind else infer_input_kind(batch)
    reason = unsupported_reason(spec, kind)
    if reason:
        raise ExplainError(reason)
    scorer = class_scores(model)
    chosen_layer = _find_layer(model, layer) if spec.needs_layer else None
    if spec.needs_layer and chosen_layer is None:
        raise ExplainError(f"{spec.title} explains one layer: choose a layer (a node) first.")
    embedding = _find_embedding(model, batch) if kind == "text" else None
    reference = make_baseline(batch, baseline, kind=kind, data_mean=data_mean)
    if batch.is_floating_point():
        # Captum warns (and flips the flag itself) when an input does not require gradients.
        batch = batch.detach().clone().requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        with _gradients_through_rnns(model):
            target_tensor = _resolve_target(scorer, batch, target)
            call = MethodCall(
                model=scorer,
                inputs=batch,
                target=target_tensor,
                baseline=reference,
                kind=kind,
                layer=chosen_layer,
                embedding=embedding,
                internal_batch_size=internal_batch_size,
                n_steps=n_steps,
                samples=samples,
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
                    scorer, batch, reference, target_tensor
                )
    finally:
        model.train(was_training)
    return Attribution(
        values=_to_numpy(values),
        inputs=_to_numpy(batch),
        target=None if target_tensor is None else _to_numpy(target_tensor),
        method=spec.name,
        kind=kind,
        space=spec.space,
        layer=layer if spec.needs_layer else None,
        baseline=(baseline if isinstance(baseline, str) else "custom")
        if spec.uses_baseline
        else None,
        extras={name: _to_numpy(value) for name, value in extras.items()},
    )


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

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            output = self.model(inputs)
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
    batch: torch.Tensor,
    target: int | Sequence[int] | np.ndarray | torch.Tensor | None,
) -> torch.Tensor | None:
    import torch

    with torch.no_grad():
        scores = scorer(batch)
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
    scorer: nn.Module, batch: torch.Tensor, reference: torch.Tensor, target: torch.Tensor | None
) -> torch.Tensor:
    """score(input) − score(baseline): what a complete attribution must sum to."""
    import torch

    with torch.no_grad():
        difference = scorer(batch) - scorer(reference)
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
