"""Optional dynamic int8 quantisation of Linear and LSTM layers, with its cost measured.

Dynamic quantisation stores weights as int8 and quantises activations on the fly: smaller
files and faster CPU inference for Linear/LSTM-heavy models, at some accuracy. The change is
always measured and reported, never assumed small.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from studio.export.subject import run_model

QUANTIZABLE = (nn.Linear, nn.LSTM)
_READS_WEIGHTS_DIRECTLY = (
    nn.MultiheadAttention,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
    nn.modules.linear.NonDynamicallyQuantizableLinear,
)


@dataclass(frozen=True)
class QuantizationReport:
    """How much quantisation changed the model.

    Attributes:
        quantized_layers: how many Linear/LSTM layers were replaced.
        max_output_change: the max abs difference of the outputs on the samples.
        accuracy_before: accuracy of the float model on the labelled set, when one was given.
        accuracy_after: accuracy of the quantised model on the same set.
    """

    quantized_layers: int
    max_output_change: float
    accuracy_before: float | None = None
    accuracy_after: float | None = None

    @property
    def accuracy_change(self) -> float | None:
        if self.accuracy_before is None or self.accuracy_after is None:
            return None
        return self.accuracy_after - self.accuracy_before

    def describe(self) -> str:
        text = (
            f"int8 dynamic quantisation of {self.quantized_layers} Linear/LSTM layers; "
            f"outputs changed by up to {self.max_output_change:.3g}"
        )
        change = self.accuracy_change
        if change is not None:
            text += (
                f"; accuracy {self.accuracy_before:.2%} → {self.accuracy_after:.2%} ({change:+.2%})"
            )
        return text


def quantizable_layers(module: nn.Module) -> list[str]:
    """Names of the Linear/LSTM submodules that can be quantised.

    Layers inside attention and transformer blocks are left alone: those blocks read their
    Linear weights directly (their fused fast path), which a quantised Linear does not have.
    """
    names = []
    for name, sub in module.named_modules():
        if not isinstance(sub, QUANTIZABLE) or isinstance(sub, _READS_WEIGHTS_DIRECTLY):
            continue
        parents = [name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)]
        if not any(isinstance(module.get_submodule(p), _READS_WEIGHTS_DIRECTLY) for p in parents):
            names.append(name)
    return names


def quantize_dynamic_int8(module: nn.Module) -> nn.Module:
    """A dynamically quantised copy of `module` (the original is untouched)."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # torch.ao.quantization warns that it is deprecated; it is still what ships in torch.
        warnings.simplefilter("ignore")
        return quantize_dynamic(
            module, set(quantizable_layers(module)), dtype=torch.qint8, inplace=False
        )


def accuracy(module: nn.Module, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor) -> float:
    """Top-1 accuracy of a classifier's first output against integer labels."""
    logits = run_model(module, inputs)[0]
    return float((logits.argmax(dim=-1) == labels).float().mean())


def measure_quantization(
    original: nn.Module,
    quantized: nn.Module,
    samples: tuple[torch.Tensor, ...],
    labelled: tuple[tuple[torch.Tensor, ...], torch.Tensor] | None = None,
) -> QuantizationReport:
    """Compare the quantised model with the original on samples (and a labelled test set)."""
    before = run_model(original, samples)
    after = run_model(quantized, samples)
    change = max(
        (float((a - b).abs().max()) for a, b in zip(after, before, strict=True) if a.numel()),
        default=0.0,
    )
    acc_before = acc_after = None
    if labelled is not None:
        inputs, labels = labelled
        acc_before = accuracy(original, inputs, labels)
        acc_after = accuracy(quantized, inputs, labels)
    return QuantizationReport(len(quantizable_layers(original)), change, acc_before, acc_after)
