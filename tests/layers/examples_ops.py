"""Examples for the tensor operations (merged into `layer_examples.EXAMPLES`)."""

from __future__ import annotations

from typing import Any


def examples(ex: Any) -> dict[str, list[Any]]:
    """Type id → examples, written with `layer_examples.ex` (passed in: loaded by path)."""
    long = {"dtype": "long", "out_dtype": "long"}
    per_model = {"batched": False, "out_batched": False}
    return {
        "studio.Subtract": [
            ex((4, 3), (4, 3), out=(4, 3)),
            ex((4, 3), (1, 3), out=(4, 3)),
            ex((2, 5), (2, 5), out=(2, 5), **long),
        ],
        "studio.Divide": [
            ex((4, 3), (4, 1), out=(4, 3)),
            ex((6,), (6,), out=(6,), dtype="long"),
        ],
        "studio.Scale": [ex((5,), out=(5,), factor=0.5), ex((2, 3), out=(2, 3), dtype="long")],
        "studio.Shift": [ex((5,), out=(5,), offset=-1.0)],
        "studio.Pow": [ex((5,), out=(5,)), ex((3, 2), out=(3, 2), exponent=3.0, dtype="long")],
        "studio.Exp": [ex((5,), out=(5,)), ex((4,), out=(4,), **per_model)],
        "studio.Log": [ex((5, 2), out=(5, 2))],
        "studio.Sqrt": [ex((5,), out=(5,))],
        "studio.Abs": [ex((5,), out=(5,)), ex((3,), out=(3,), **long)],
        "studio.Clamp": [
            ex((5,), out=(5,), min=0.0),
            ex((5, 2), out=(5, 2), min=-1.0, max=1.0),
            ex((5,), out=(5,), max=2.5, dtype="long"),
        ],
        "studio.MatMul": [
            ex((4, 8), (8, 3), out=(4, 3)),
            ex((2, 4, 8), (2, 8, 5), out=(2, 4, 5)),
            ex((3, 4, 8), (1, 8, 2), out=(3, 4, 2)),
        ],
        "studio.ScaledDotProductAttention": [
            ex((5, 8), (5, 8), (5, 6), out=(5, 6)),
            ex((2, 4, 8), (2, 7, 8), (2, 7, 3), out=(2, 4, 3), causal=True),
            ex((2, 4, 8), (1, 4, 8), (1, 4, 8), out=(2, 4, 8), scale=0.5),
        ],
        "studio.Einsum": [
            ex((4, 8), (8, 3), out=(4, 3)),
            ex((5, 6), (5, 6), out=(5, 5), equation="id,jd->ij"),
            ex((5, 6), out=(6,), inputs=1, equation="ld->d"),
        ],
        "studio.Split": [
            ex((6, 4), out=(2, 4), more_outs=((4, 4),), sizes=(2, 4)),
            ex((3, 9), out=(3, 3), more_outs=((3, 3), (3, 3)), sizes=(3, 3, 3), dim=-1),
            ex((4,), out=(1,), more_outs=((3,),), sizes=(1, 3), **long),
        ],
        "studio.Chunk": [
            ex((6, 4), out=(3, 4), more_outs=((3, 4),)),
            ex((2, 10), out=(2, 4), more_outs=((2, 4), (2, 2)), chunks=3, dim=2),
        ],
        "studio.Stack": [
            ex((4, 3), (4, 3), out=(2, 4, 3)),
            ex((4, 3), (4, 3), (4, 3), out=(4, 3, 3), inputs=3, dim=-1),
            ex((4,), (4,), out=(2, 4), **per_model),
        ],
        "studio.Slice": [
            ex((10, 3), out=(4, 3), start=2, end=6),
            ex((10, 3), out=(5, 3), step=2),
            ex((4, 10), out=(4, 3), dim=-1, start=-3),
            ex((8,), out=(2,), start=1, end=-3, step=3, **long),
        ],
        "studio.Index": [
            ex((10, 3), out=(3, 3), indices=(0, 9, 0)),
            ex((4, 6), out=(4, 1), dim=2, indices=(5,), **long),
        ],
        "studio.Select": [
            ex((10, 3), out=(3,)),
            ex((4, 6, 2), out=(4, 2), dim=2, index=-1),
            ex((5, 2), out=(2,), index=4, **long),
        ],
        "studio.Transpose": [
            ex((4, 3), out=(3, 4)),
            ex((2, 3, 5), out=(5, 3, 2), dim0=1, dim1=-1, **long),
        ],
        "studio.Squeeze": [ex((1, 3), out=(3,)), ex((4, 1), out=(4,), dim=-1)],
        "studio.Unsqueeze": [
            ex((4,), out=(1, 4)),
            ex((4, 3), out=(4, 3, 1), dim=-1),
            ex((4, 3), out=(4, 1, 3), dim=2, **long),
        ],
        "studio.Expand": [
            ex((1, 3), out=(5, 3), sizes=(5, -1)),
            ex((2, 1), out=(2, 4), sizes=(2, 4), **per_model),
        ],
        "studio.Max": [
            ex((4, 3), out=(3,)),
            ex((2, 4, 3), out=(2, 1, 1), dims=(2, 3), keepdim=True),
            ex((4, 3), out=(4,), dim=-1, **long),
        ],
        "studio.Min": [ex((4, 3), out=(4,), dims=(2,)), ex((2, 4, 3), out=(4,), dims=(-1, 1))],
        "studio.Parameter": [
            ex(out=(1, 64), out_batched=False),
            ex(out=(3, 4), out_batched=False, shape=(3, 4), init="uniform", scale=0.5),
        ],
        "studio.Constant": [
            ex(out=(1, 64), out_batched=False),
            ex(out=(6, 4), out_batched=False, shape=(6, 4), kind="arange", dim=1),
            ex(out=(6, 4), out_batched=False, shape=(6, 4), kind="sinusoidal"),
            ex(out=(2, 3), out_batched=False, shape=(2, 3), kind="values"),
            ex(out=(5,), out_batched=False, shape=(5,), kind="fill", value=1.5),
        ],
    }
