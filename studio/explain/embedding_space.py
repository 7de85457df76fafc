"""Text models explained at their embedding, for methods that perturb or interpolate inputs.

Token ids cannot be blurred, noised or interpolated, so SmoothGrad, GradientShap, DeepLift,
Occlusion and LayerConductance explain a text model through the same model fed with
embeddings: the embedding layer's output is replaced by the tensor the method hands in. Its
noise, baselines and occluded patches then live where the model computes, and a token's
score is the sum over its embedding vector, as Captum's own text tutorials do it with
`configure_interpretable_embedding_layer` (which we avoid: it swaps the user's module).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from studio.explain.errors import ExplainError

if TYPE_CHECKING:
    from studio.explain.methods import MethodCall


class FedWithEmbeddings(nn.Module):
    """`model` with its embedding layer's output replaced by `forward`'s argument.

    The token ids still go in (repeated to the batch the method expands to), so whatever
    else reads them, such as a padding mask, sees the real text.
    """

    def __init__(self, model: nn.Module, embedding: nn.Module, token_ids: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.embedding = embedding
        self.token_ids = token_ids
        self.replacement: torch.Tensor | None = None

    def replace_output(self, _module: nn.Module, _args: Any, output: torch.Tensor) -> Any:
        return output if self.replacement is None else self.replacement

    def forward(self, embedded: torch.Tensor) -> torch.Tensor:
        ids = self.token_ids
        if len(embedded) != len(ids):
            if len(embedded) % len(ids):
                raise ExplainError(
                    f"the method asked for {len(embedded)} rows of {len(ids)} texts; "
                    "choose a batch of texts that divides it"
                )
            # Captum repeats each input in place (NoiseTunnel, GradientShap, path steps).
            ids = ids.repeat_interleave(len(embedded) // len(ids), dim=0)
        self.replacement = embedded
        try:
            output: torch.Tensor = self.model(ids)
        finally:
            self.replacement = None
        return output


@contextlib.contextmanager
def embedding_call(call: MethodCall) -> Iterator[MethodCall]:
    """`call` turned into one on embeddings: float inputs (N, L, E) and baselines alike."""
    if call.embedding is None or call.several:
        raise ExplainError("text is explained at the embedding of a model with one input")
    ids, reference_ids = call.inputs, call.baseline
    wrapper = FedWithEmbeddings(call.model, call.embedding, ids)
    handle = call.embedding.register_forward_hook(wrapper.replace_output)
    try:
        with torch.no_grad():
            embedded = call.embedding(ids).detach()
            reference = call.embedding(reference_ids).detach()
        yield replace(
            call,
            model=wrapper,
            inputs=embedded.requires_grad_(True),
            baseline=reference,
            embedding=None,
        )
    finally:
        handle.remove()
