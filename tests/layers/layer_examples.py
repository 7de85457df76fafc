"""Plausible inputs for every built-in layer, and the output each must produce.

Torch-free on purpose: the builder tests run these through meta and real modules, and the
catalog test runs them through the shape rules in a process without torch. A layer added to the
catalog without an example here fails `test_every_layer_has_an_example`.

The core layers' examples are below; each later family keeps its own in an ``examples_*.py``
file beside this one, whose ``examples(ex)`` is called with `ex` and merged into `EXAMPLES`.
They are loaded by file path, because the catalog test loads this file by path in a process
without pytest.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.shapes import DType, TensorShape


@dataclass(frozen=True)
class Example:
    """Inputs (one sample's dims, per port) and the output dims the layer should produce.

    `more_outs` are the dims of the second and later outputs of a layer with several (Split);
    `batched` False makes every input a per-model tensor (leading 1 instead of the batch);
    `out_batched` False is what the rule of a layer without inputs (a parameter) says.
    """

    inputs: tuple[tuple[int, ...], ...]
    out: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)
    dtype: DType = "float"
    out_dtype: DType = "float"
    more_outs: tuple[tuple[int, ...], ...] = ()
    batched: bool = True
    out_batched: bool = True

    def shapes(self) -> list[TensorShape]:
        return [TensorShape(dims, self.dtype, self.batched) for dims in self.inputs]

    def output(self) -> TensorShape:
        return TensorShape(self.out, self.out_dtype)

    def outputs(self) -> list[TensorShape]:
        """Every output's shape, in port order (what a shape rule returns)."""
        return [
            TensorShape(dims, self.out_dtype, self.out_batched)
            for dims in (self.out, *self.more_outs)
        ]


def ex(
    *inputs: tuple[int, ...],
    out: tuple[int, ...],
    dtype: DType = "float",
    out_dtype: DType = "float",
    more_outs: tuple[tuple[int, ...], ...] = (),
    batched: bool = True,
    out_batched: bool = True,
    **params: Any,
) -> Example:
    return Example(tuple(inputs), out, params, dtype, out_dtype, more_outs, batched, out_batched)


EXAMPLES: dict[str, list[Example]] = {
    "studio.Input": [ex((1, 28, 28), out=(1, 28, 28))],  # Input/Output: the compiler's job
    "studio.Output": [ex((10,), out=(10,))],
    "studio.Linear": [ex((20,), out=(64,)), ex((7, 20), out=(7, 5), out_features=5, bias=False)],
    "studio.Embedding": [ex((12,), out=(12, 64), dtype="long")],
    "studio.Conv1d": [
        ex((4, 30), out=(16, 30)),
        ex((4, 30), out=(8, 13), out_channels=8, stride=2, padding=0, kernel_size=5),
    ],
    "studio.Conv2d": [
        ex((3, 32, 32), out=(16, 32, 32)),
        ex((4, 9, 9), out=(8, 5, 5), out_channels=8, dilation=2, groups=2, padding=0),
    ],
    "studio.ConvTranspose2d": [
        ex((8, 7, 7), out=(16, 14, 14)),
        ex((4, 5, 6), out=(6, 13, 15), out_channels=6, kernel_size=3, groups=2, dilation=2),
        ex((4, 5, 5), out=(16, 10, 10), kernel_size=3, padding=1, output_padding=1, bias=False),
    ],
    "studio.Upsample": [
        ex((2, 5, 5), out=(2, 10, 10)),
        ex((2, 5, 5), out=(2, 15, 15), scale_factor=3, mode="bilinear"),
        ex((2, 6), out=(2, 12)),
        ex((2, 3, 4, 5), out=(2, 6, 8, 10)),
        ex((2, 6), out=(2, 18), scale_factor=3, mode="linear", align_corners=True),
        ex((2, 5, 4), out=(2, 10, 8), mode="bicubic"),
        ex((2, 5, 4), out=(2, 10, 8), mode="bilinear", align_corners=True),
        ex((2, 3, 4, 5), out=(2, 6, 8, 10), mode="trilinear"),
    ],
    "studio.MaxPool1d": [
        ex((4, 10), out=(4, 5)),
        ex((4, 11), out=(4, 6), ceil_mode=True),
        ex((4, 11), out=(4, 5), kernel_size=3, stride=2, ceil_mode=True),
        # The last window would start in the right padding: torch drops it.
        ex((4, 5), out=(4, 3), stride=2, padding=1, ceil_mode=True),
    ],
    "studio.MaxPool2d": [
        ex((4, 10, 10), out=(4, 5, 5)),
        ex((4, 10, 10), out=(4, 5, 5), kernel_size=3, stride=2, padding=1),
        ex((4, 9, 10), out=(4, 5, 6), kernel_size=3, stride=2, padding=1, ceil_mode=True),
        ex((4, 7, 6), out=(4, 4, 3), ceil_mode=True),
    ],
    "studio.AvgPool1d": [ex((4, 10), out=(4, 5)), ex((4, 9), out=(4, 5), ceil_mode=True)],
    "studio.AvgPool2d": [
        ex((4, 10, 10), out=(4, 5, 5)),
        ex((4, 9, 7), out=(4, 5, 4), kernel_size=3, stride=2, padding=1, ceil_mode=True),
    ],
    "studio.AdaptiveAvgPool2d": [
        ex((4, 9, 7), out=(4, 1, 1)),
        ex((4, 9, 7), out=(4, 3, 2), output_size=(3, 2)),
    ],
    "studio.GlobalAvgPool": [ex((16, 5, 5), out=(16,)), ex((16, 9), out=(16,))],
    "studio.BatchNorm1d": [ex((20,), out=(20,)), ex((6, 11), out=(6, 11))],
    "studio.BatchNorm2d": [ex((6, 4, 4), out=(6, 4, 4))],
    "studio.LayerNorm": [ex((10, 32), out=(10, 32))],
    "studio.GroupNorm": [ex((16, 4, 4), out=(16, 4, 4))],
    "studio.Dropout": [ex((20,), out=(20,))],
    "studio.Dropout2d": [ex((6, 4, 4), out=(6, 4, 4))],
    "studio.RNN": [
        ex((9, 5), out=(9, 64)),
        # A starting state in and the final one out, batch first: (N, layers·directions, H).
        ex(
            (9, 5),
            (4, 8),
            out=(16,),
            more_outs=((4, 8),),
            hidden_size=8,
            num_layers=2,
            bidirectional=True,
            output="last",
            return_state=True,
        ),
    ],
    "studio.LSTM": [
        ex((9, 5), out=(9, 64)),
        ex(
            (9, 5),
            out=(40,),
            hidden_size=20,
            num_layers=2,
            dropout=0.1,
            bidirectional=True,
            output="last",
        ),
        # An encoder LSTM's h and c start a decoder; its own come out on h and c.
        ex(
            (9, 5),
            (1, 20),
            (1, 20),
            out=(9, 20),
            more_outs=((1, 20), (1, 20)),
            hidden_size=20,
            return_state=True,
        ),
        ex(
            (9, 5),
            out=(9, 12),
            more_outs=((2, 6), (2, 6)),
            hidden_size=6,
            bidirectional=True,
            return_state=True,
        ),
        ex((9, 5), (2, 6), (2, 6), out=(9, 6), hidden_size=6, num_layers=2),
    ],
    "studio.GRU": [
        ex((9, 5), out=(20,), hidden_size=20, output="last"),
        ex((9, 5), (1, 20), out=(9, 20), hidden_size=20),
        ex(
            (9, 5),
            out=(20,),
            more_outs=((3, 20),),
            hidden_size=20,
            num_layers=3,
            output="last",
            return_state=True,
        ),
    ],
    "studio.MultiheadAttention": [
        ex((10, 32), out=(10, 32)),
        ex((6, 8), out=(6, 8), num_heads=2, causal=True),
        ex((6, 8), (9, 8), out=(6, 8), num_heads=2),  # cross-attention to a memory
        ex((6, 8), (9, 8), out=(6, 8), num_heads=4, causal=True),
    ],
    "studio.TransformerEncoderLayer": [
        ex((10, 32), out=(10, 32)),
        ex((10, 32), out=(10, 32), activation="gelu", norm_first=True),
        ex((6, 8), out=(6, 8), nhead=2, dim_feedforward=16, causal=True),
        ex((6, 8), out=(6, 8), nhead=2, dim_feedforward=16, causal=True, norm_first=True),
    ],
    "studio.PositionalEncoding": [
        ex((10, 32), out=(10, 32)),
        ex((10, 7), out=(10, 7), kind="learned"),
    ],
    "studio.ReLU": [ex((20,), out=(20,))],
    "studio.LeakyReLU": [ex((20,), out=(20,))],
    "studio.GELU": [ex((20,), out=(20,)), ex((20,), out=(20,), approximate="tanh")],
    "studio.SiLU": [ex((20,), out=(20,))],
    "studio.ELU": [ex((20,), out=(20,))],
    "studio.Sigmoid": [ex((20,), out=(20,))],
    "studio.Tanh": [ex((20,), out=(20,))],
    "studio.Softmax": [ex((10,), out=(10,)), ex((4, 10), out=(4, 10), dim=1)],
    "studio.LogSoftmax": [ex((10,), out=(10,))],
    "studio.Identity": [
        ex((10, 2), out=(10, 2)),
        ex((5,), out=(5,), dtype="long", out_dtype="long"),
    ],
    "studio.Add": [
        ex((8, 4), (8, 4), out=(8, 4)),
        ex((8,), (8,), (8,), out=(8,), inputs=3),
        ex((8,), (8,), out=(8,), dtype="long", out_dtype="long"),
    ],
    "studio.Multiply": [ex((8,), (8,), out=(8,)), ex(*[(2, 3)] * 8, out=(2, 3), inputs=8)],
    "studio.Concat": [
        ex((8, 4), (3, 4), out=(11, 4)),
        ex((2, 5), (2, 1), (2, 3), out=(2, 9), inputs=3, dim=-1),
    ],
    "studio.Flatten": [
        ex((16, 8, 8), out=(1024,)),
        ex((3, 4), out=(12,), dtype="long", out_dtype="long"),
    ],
    "studio.Reshape": [ex((16, 8, 8), out=(1024,)), ex((64,), out=(4, 4, 4), shape=(4, -1, 4))],
    "studio.Permute": [ex((10, 6), out=(6, 10)), ex((2, 3, 4), out=(4, 2, 3), dims=(3, 1, 2))],
    "studio.SelectLast": [ex((10, 6), out=(6,))],
    "studio.Mean": [ex((10, 6), out=(6,)), ex((10, 6), out=(10, 1), dim=-1, keepdim=True)],
    "studio.Sum": [
        ex((10, 6), out=(6,)),
        ex((10, 6), out=(10,), dim=2, dtype="long", out_dtype="long"),
    ],
}


def _family_examples() -> dict[str, list[Example]]:
    found: dict[str, list[Example]] = {}
    for path in sorted(Path(__file__).parent.glob("examples_*.py")):
        spec = importlib.util.spec_from_file_location(f"layer_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        family = module.examples(ex)
        overlap = set(found) & set(family)
        assert not overlap, f"{path.name} repeats examples of {sorted(overlap)}"
        found.update(family)
    return found


_FAMILIES = _family_examples()
assert not set(_FAMILIES) & set(EXAMPLES), "a family file repeats a core layer's examples"
EXAMPLES.update(_FAMILIES)
