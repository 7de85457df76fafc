"""Examples for the elementwise family of layers (merged into `layer_examples.EXAMPLES`)."""

from __future__ import annotations

from typing import Any


def examples(ex: Any) -> dict[str, list[Any]]:
    """Type id → examples, written with `layer_examples.ex` (passed in: loaded by path)."""
    return {
        "studio.ReLU6": [ex((20,), out=(20,)), ex((3, 5, 5), out=(3, 5, 5))],
        "studio.Hardswish": [ex((20,), out=(20,))],
        "studio.Hardsigmoid": [ex((4, 6), out=(4, 6))],
        "studio.Hardtanh": [
            ex((20,), out=(20,)),
            ex((4, 6), out=(4, 6), min_val=-2.0, max_val=0.5),
        ],
        "studio.PReLU": [
            ex((20,), out=(20,)),
            ex((6, 5, 5), out=(6, 5, 5), per_channel=True, init=0.1),
            ex((6, 9), out=(6, 9), per_channel=True),
        ],
        "studio.SELU": [ex((20,), out=(20,))],
        "studio.CELU": [ex((20,), out=(20,)), ex((20,), out=(20,), alpha=0.5)],
        "studio.Mish": [ex((3, 8, 8), out=(3, 8, 8))],
        "studio.Softplus": [ex((20,), out=(20,)), ex((20,), out=(20,), beta=2.0, threshold=5.0)],
        "studio.Softsign": [ex((20,), out=(20,))],
        "studio.GLU": [ex((20,), out=(10,)), ex((6, 5), out=(3, 5), dim=1)],
        "studio.Threshold": [ex((20,), out=(20,)), ex((20,), out=(20,), threshold=-1.0, value=2.0)],
        "studio.LogSigmoid": [ex((20,), out=(20,))],
        "studio.BatchNorm3d": [ex((4, 3, 5, 5), out=(4, 3, 5, 5))],
        "studio.InstanceNorm1d": [
            ex((6, 10), out=(6, 10)),
            ex((6, 10), out=(6, 10), affine=True, track_running_stats=True),
        ],
        "studio.InstanceNorm2d": [
            ex((3, 8, 8), out=(3, 8, 8)),
            ex((3, 8, 8), out=(3, 8, 8), affine=True),
        ],
        "studio.RMSNorm": [
            ex((10, 32), out=(10, 32)),
            ex((16,), out=(16,), eps=1e-6, elementwise_affine=False),
        ],
        "studio.LocalResponseNorm": [
            ex((8, 6, 6), out=(8, 6, 6)),
            ex((8, 10), out=(8, 10), size=3, alpha=0.01, beta=0.5, k=2.0),
        ],
        "studio.Dropout1d": [ex((6, 10), out=(6, 10))],
        "studio.AlphaDropout": [ex((20,), out=(20,)), ex((3, 4, 4), out=(3, 4, 4), p=0.2)],
    }
