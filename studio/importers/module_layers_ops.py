"""Module rules (see `studio.importers.module_layers`) for the ops family of layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from studio.importers.module_layers import LayerOf, Unmappable, maps_named


@maps_named("transformers.pytorch_utils.Conv1D")
def _hugging_face_conv1d(module: Any, shapes: Sequence[tuple[int, ...]]) -> LayerOf:
    """GPT-2's "Conv1D" is a Linear whose weight is stored transposed, (in, out).

    Its forward views the input as (N·L, in) for ``addmm`` and back, which would mix the batch
    with the positions if read op by op; as one module it is the catalog's Linear.
    """
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if weight is None or weight.dim() != 2 or len(shapes) != 1:
        raise Unmappable("a Conv1D without a 2-d weight, or called with several tensors")
    if shapes[0][-1] != weight.shape[0]:
        raise Unmappable(f"Conv1D of {weight.shape[0]} inputs called on {shapes[0]}")
    weights = {"weight": weight.detach().t().contiguous()}
    if bias is not None:
        weights["bias"] = bias.detach().clone()
    params = {"out_features": int(weight.shape[1]), "bias": bias is not None}
    return LayerOf("studio.Linear", params, weights)
