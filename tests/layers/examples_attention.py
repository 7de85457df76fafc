"""Examples for the attention family of layers (merged into `layer_examples.EXAMPLES`).

Examples give every input one dtype, so MultiheadAttention's long padding mask is exercised
in `tests/layers/test_attention_layers.py` instead.
"""

from __future__ import annotations

from typing import Any


def examples(ex: Any) -> dict[str, list[Any]]:
    """Type id → examples, written with `layer_examples.ex` (passed in: loaded by path)."""
    return {
        "studio.TransformerDecoderLayer": [
            ex((6, 16), (9, 16), out=(6, 16), nhead=4, dim_feedforward=32),
            ex(
                (5, 8),
                (5, 8),
                out=(5, 8),
                nhead=2,
                dim_feedforward=16,
                causal=False,
                norm_first=True,
                activation="gelu",
            ),
        ],
        "studio.Bilinear": [
            ex((5,), (7,), out=(3,), out_features=3),
            ex((4, 6), (4, 2), out=(4, 8), out_features=8, bias=False),
            ex((2, 3, 6), (2, 3, 2), out=(2, 3, 4), out_features=4),
        ],
        "studio.CosineSimilarity": [
            ex((10,), (10,), out=()),
            ex((3, 4, 5), (3, 4, 5), out=(3, 5), dim=2),
            ex((3, 4), (3, 4), out=(3,), dim=-1, eps=1e-6),
        ],
        "studio.PairwiseDistance": [
            ex((10,), (10,), out=()),
            ex((3, 4), (3, 4), out=(3, 1), keepdim=True, p=1.0),
            ex((3, 4), (3, 4), out=(3,), dtype="long"),
        ],
        "studio.Unflatten": [
            ex((12,), out=(3, 4), sizes=(3, 4)),
            ex((5, 12), out=(5, 2, 6), dim=-1, sizes=(2, -1)),
            ex((12, 5), out=(12, 1, 5), dim=1, sizes=(12, 1)),
            ex((6,), out=(2, 3), sizes=(-1, 3), dtype="long", out_dtype="long"),
        ],
        "studio.GaussianSample": [ex((4,), (4,), out=(4,)), ex((2, 3), (2, 3), out=(2, 3))],
    }
