"""Models exactly as the libraries users install define them: torchvision's classifiers and
Hugging Face's GPT-2, BERT and ViT, at small input sizes with random weights.

Neither library is a dependency of the app, and nothing here is downloaded: each class builds
the library's own module when the library is importable, and `LIBRARY_CORPUS` lists only those.
Run them with ``.venv/bin/python -m tests.corpus.corpus_run --library`` after installing
torchvision (a build matching the pinned torch) and transformers in the venv.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def _torchvision_model(name: str, **kwargs: Any) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from torchvision import models

        return getattr(models, name)(**kwargs)  # type: ignore[no-any-return]

    return build


class _Wrapped(nn.Module):
    """The library's module as `net`, called on one input."""

    build: Callable[[], nn.Module]
    example_input_shape: tuple[int, ...] = (2, 3, 64, 64)

    def __init__(self) -> None:
        super().__init__()
        self.net = type(self).build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]


def _vision(name: str, shape: tuple[int, ...] = (2, 3, 64, 64), **kwargs: Any) -> type[_Wrapped]:
    return type(
        name,
        (_Wrapped,),
        {
            "build": staticmethod(_torchvision_model(name, **kwargs)),
            "example_input_shape": shape,
            "__module__": __name__,
        },
    )


resnet18 = _vision("resnet18", num_classes=10)
resnet50 = _vision("resnet50", num_classes=10)
resnext50_32x4d = _vision("resnext50_32x4d", num_classes=10)
vgg11_bn = _vision("vgg11_bn", (2, 3, 224, 224), num_classes=10)
mobilenet_v2 = _vision("mobilenet_v2", num_classes=10)
mobilenet_v3_small = _vision("mobilenet_v3_small", num_classes=10)
efficientnet_b0 = _vision("efficientnet_b0", num_classes=10)
squeezenet1_1 = _vision("squeezenet1_1", num_classes=10)
shufflenet_v2_x0_5 = _vision("shufflenet_v2_x0_5", num_classes=10)
densenet121 = _vision("densenet121", num_classes=10)
googlenet = _vision("googlenet", num_classes=10, aux_logits=False, init_weights=True)
inception_v3 = _vision(
    "inception_v3", (2, 3, 80, 80), num_classes=10, aux_logits=False, init_weights=True
)
mnasnet0_5 = _vision("mnasnet0_5", num_classes=10)
regnet_y_400mf = _vision("regnet_y_400mf", num_classes=10)
convnext_tiny = _vision("convnext_tiny", num_classes=10)


class vit_small(_Wrapped):
    example_input_shape = (2, 3, 32, 32)

    @staticmethod
    def build() -> nn.Module:
        from torchvision.models.vision_transformer import VisionTransformer

        return VisionTransformer(32, 8, 2, 2, 32, 64, num_classes=10)


class swin_small(_Wrapped):
    example_input_shape = (2, 3, 32, 32)

    @staticmethod
    def build() -> nn.Module:
        from torchvision.models.swin_transformer import SwinTransformer

        return SwinTransformer([4, 4], 16, [2, 2], [2, 4], [4, 4], num_classes=10)


class HFGPT2(nn.Module):
    """Hugging Face's GPT2LMHeadModel: Conv1D projections, causal SDPA, tied head."""

    example_input_shape = (2, 16)
    example_input_dtype = "long"

    def __init__(self) -> None:
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        config = GPT2Config(
            n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=32, use_cache=False
        )
        self.model = GPT2LMHeadModel(config)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids).logits  # type: ignore[no-any-return]


class HFBert(nn.Module):
    """Hugging Face's BertForSequenceClassification."""

    example_input_shape = (2, 16)
    example_input_dtype = "long"

    def __init__(self) -> None:
        super().__init__()
        from transformers import BertConfig, BertForSequenceClassification

        config = BertConfig(
            num_hidden_layers=2,
            hidden_size=32,
            num_attention_heads=2,
            intermediate_size=64,
            vocab_size=100,
            max_position_embeddings=32,
            num_labels=3,
        )
        self.model = BertForSequenceClassification(config)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids).logits  # type: ignore[no-any-return]


class HFViT(nn.Module):
    """Hugging Face's ViTForImageClassification."""

    example_input_shape = (2, 3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        from transformers import ViTConfig, ViTForImageClassification

        config = ViTConfig(
            num_hidden_layers=2,
            hidden_size=32,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=32,
            patch_size=8,
            num_labels=10,
        )
        self.model = ViTForImageClassification(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=x).logits  # type: ignore[no-any-return]


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


_VISION = [
    resnet18, resnet50, resnext50_32x4d, vgg11_bn, mobilenet_v2, mobilenet_v3_small,
    efficientnet_b0, squeezenet1_1, shufflenet_v2_x0_5, densenet121, googlenet, inception_v3,
    mnasnet0_5, regnet_y_400mf, convnext_tiny, vit_small, swin_small,
]  # fmt: skip
_TEXT = [HFGPT2, HFBert, HFViT]

LIBRARY_CORPUS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in [*(_VISION if _available("torchvision") else []),
                *(_TEXT if _available("transformers") else [])]
}  # fmt: skip
"""The library models whose library is installed, by class name."""
