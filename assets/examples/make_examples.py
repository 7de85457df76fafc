"""Writes the bundled template projects (`*.strata`) through the graph API.

Run `python assets/examples/make_examples.py [NAME ...]` after changing the catalog (naming
templates writes only those); the tests check that every written template validates clean and
compiles. Each template names the bundled dataset it is meant for (see the data issue), so it
trains out of the box.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from studio.core.graph import Graph
from studio.core.layout import layered_layout
from studio.core.project import DataSection, Project, TrainingSection
from studio.core.registry import LayerRegistry
from studio.core.training_settings import SchedulerSettings
from studio.plugins import default_registry

HERE = Path(__file__).resolve().parent


class Builder:
    """Adds layers in a chain by default; `at=` starts from another node (skips, merges)."""

    def __init__(self, registry: LayerRegistry) -> None:
        self.graph = Graph(registry)
        self.last: str | None = None

    def add(
        self, layer: str, name: str, *, at: str | list[str] | None = None, **params: Any
    ) -> str:
        node = self.graph.add_node(f"studio.{layer}", name=name, params=params)
        sources = [self.last] if at is None else [at] if isinstance(at, str) else at
        ports = self.graph.input_ports(node.id)
        for src, port in zip([s for s in sources if s], ports, strict=False):
            self.graph.connect(self.id(src), "out", node.id, port)
        self.last = name
        return name

    def id(self, name: str) -> str:
        node = self.graph.node_by_name(name)
        assert node is not None, name
        return node.id

    def done(self) -> Graph:
        for node_id, pos in layered_layout(self.graph).items():
            self.graph.move_node(node_id, pos)
        return self.graph


def mlp(r: LayerRegistry) -> Project:
    b = Builder(r)
    b.add("Input", "features", shape=[4], dtype="float")
    b.add("Linear", "hidden1", out_features=32)
    b.add("ReLU", "relu1")
    b.add("Dropout", "dropout", p=0.1)
    b.add("Linear", "hidden2", out_features=32)
    b.add("ReLU", "relu2")
    b.add("Linear", "classifier", out_features=3)
    b.add("Output", "species")
    return Project(
        "MLP classifier",
        r,
        graphs={"model": b.done()},
        description="A feed-forward network for tables: iris flowers (4 measurements, 3 species).",
        data=DataSection(dataset="iris"),
        training=TrainingSection(epochs=60, batch_size=16, learning_rate=1e-2),
    )


def mlp_regressor(r: LayerRegistry) -> Project:
    b = Builder(r)
    b.add("Input", "features", shape=[10], dtype="float")
    b.add("Linear", "hidden1", out_features=64)
    b.add("ReLU", "relu1")
    b.add("Dropout", "dropout", p=0.1)
    b.add("Linear", "hidden2", out_features=32)
    b.add("ReLU", "relu2")
    b.add("Linear", "regressor", out_features=1)
    b.add("Output", "progression")
    return Project(
        "MLP regressor",
        r,
        graphs={"model": b.done()},
        description="A feed-forward network predicting a number: diabetes progression from 10 "
        "measurements.",
        data=DataSection(dataset="diabetes"),
        training=TrainingSection(task="regression", epochs=100, batch_size=32, learning_rate=3e-3),
    )


def cnn(r: LayerRegistry) -> Project:
    b = Builder(r)
    b.add("Input", "image", shape=[1, 8, 8])
    b.add("Conv2d", "conv1", out_channels=16, kernel_size=3, padding=1)
    b.add("BatchNorm2d", "bn1")
    b.add("ReLU", "relu1")
    b.add("Conv2d", "conv2", out_channels=32, kernel_size=3, padding=1)
    b.add("BatchNorm2d", "bn2")
    b.add("ReLU", "relu2")
    b.add("MaxPool2d", "pool", kernel_size=2)
    b.add("Flatten", "flatten")
    b.add("Dropout", "dropout", p=0.25)
    b.add("Linear", "classifier", out_features=10)
    b.add("Output", "digit")
    return Project(
        "CNN image classifier",
        r,
        graphs={"model": b.done()},
        description="A convolutional network for images: handwritten digits, 8x8 pixels.",
        data=DataSection(dataset="digits"),
        training=TrainingSection(epochs=20, batch_size=64),
    )


def lstm(r: LayerRegistry) -> Project:
    b = Builder(r)
    b.add("Input", "window", shape=[32, 1])
    b.add("LSTM", "lstm", hidden_size=32, num_layers=2, dropout=0.1, output="last")
    b.add("Linear", "head", out_features=1)
    b.add("Output", "next_value")
    return Project(
        "LSTM sequence model",
        r,
        graphs={"model": b.done()},
        description="A recurrent network for time series: forecast the next value of a sine mix.",
        data=DataSection(dataset="sine"),
        training=TrainingSection(task="regression", epochs=15, batch_size=32),
    )


def gru_text(r: LayerRegistry) -> Project:
    b = Builder(r)
    b.add("Input", "tokens", shape=[64], dtype="long")
    b.add("Embedding", "embedding", num_embeddings=2000, embedding_dim=32)
    b.add("GRU", "gru", hidden_size=48, bidirectional=True, output="last")
    b.add("Dropout", "dropout", p=0.3)
    b.add("Linear", "classifier", out_features=2)
    b.add("Output", "label")
    return Project(
        "GRU text classifier",
        r,
        graphs={"model": b.done()},
        description="A bidirectional GRU over word tokens: classify short texts.",
        data=DataSection(dataset="text"),
        training=TrainingSection(epochs=10, batch_size=32),
    )


def transformer(r: LayerRegistry) -> Project:
    b = Builder(r)
    b.add("Input", "tokens", shape=[64], dtype="long")
    b.add("Embedding", "embedding", num_embeddings=2000, embedding_dim=64)
    b.add("PositionalEncoding", "positions", kind="sinusoidal", max_len=64)
    b.add("TransformerEncoderLayer", "encoder1", nhead=4, dim_feedforward=128, norm_first=True)
    b.add("TransformerEncoderLayer", "encoder2", nhead=4, dim_feedforward=128, norm_first=True)
    b.add("LayerNorm", "norm")
    b.add("Mean", "pool", dim=1)
    b.add("Linear", "classifier", out_features=2)
    b.add("Output", "label")
    return Project(
        "Transformer encoder classifier",
        r,
        graphs={"model": b.done()},
        description="Two transformer encoder blocks over word tokens, mean-pooled: classify texts.",
        data=DataSection(dataset="text"),
        training=TrainingSection(epochs=10, batch_size=32, learning_rate=5e-4),
    )


def autoencoder(r: LayerRegistry) -> Project:
    b = Builder(r)
    b.add("Input", "image", shape=[1, 32, 32])
    b.add("Conv2d", "enc1", out_channels=16, kernel_size=3, padding=1)
    b.add("ReLU", "enc1_relu")
    b.add("MaxPool2d", "enc1_pool", kernel_size=2)
    b.add("Conv2d", "enc2", out_channels=8, kernel_size=3, padding=1)
    b.add("ReLU", "enc2_relu")
    b.add("MaxPool2d", "latent", kernel_size=2)
    b.add("ConvTranspose2d", "dec1", out_channels=16, kernel_size=2, stride=2)
    b.add("ReLU", "dec1_relu")
    b.add("ConvTranspose2d", "dec2", out_channels=1, kernel_size=2, stride=2)
    b.add("Sigmoid", "pixels")
    b.add("Output", "reconstruction")
    return Project(
        "Convolutional autoencoder",
        r,
        graphs={"model": b.done()},
        description="Compresses 32x32 shape images to an 8x8x8 code and rebuilds them.",
        data=DataSection(dataset="shapes"),
        training=TrainingSection(mode="autoencoder", task="reconstruction", epochs=15),
    )


def gan(r: LayerRegistry) -> Project:
    g = Builder(r)
    g.add("Input", "noise", shape=[16])
    g.add("Linear", "fc1", out_features=128)
    g.add("LeakyReLU", "act1", negative_slope=0.2)
    g.add("Linear", "fc2", out_features=256)
    g.add("BatchNorm1d", "bn2")
    g.add("LeakyReLU", "act2", negative_slope=0.2)
    g.add("Linear", "fc3", out_features=64)
    g.add("Sigmoid", "pixels")  # digits are scaled to [0, 1]
    g.add("Reshape", "to_image", shape=[1, 8, 8])
    g.add("Output", "image")
    d = Builder(r)
    d.add("Input", "image", shape=[1, 8, 8])
    d.add("Flatten", "flatten")
    d.add("Linear", "fc1", out_features=128)
    d.add("LeakyReLU", "act1", negative_slope=0.2)
    d.add("Dropout", "dropout", p=0.3)
    d.add("Linear", "fc2", out_features=1)
    d.add("Output", "real_logit")
    return Project(
        "GAN",
        r,
        graphs={"generator": g.done(), "discriminator": d.done()},
        description="A generator and a discriminator trained against each other on 8x8 digits.",
        data=DataSection(dataset="digits"),
        training=TrainingSection(mode="gan", task="generation", epochs=50, batch_size=64),
    )


def residual(r: LayerRegistry) -> Project:
    b = Builder(r)
    b.add("Input", "image", shape=[1, 32, 32])
    b.add("Conv2d", "stem", out_channels=16, kernel_size=3, padding=1)
    b.add("BatchNorm2d", "stem_bn")
    b.add("ReLU", "stem_relu")
    skip = "stem_relu"
    for i in (1, 2):
        b.add("Conv2d", f"block{i}_conv1", out_channels=16, kernel_size=3, padding=1, bias=False)
        b.add("BatchNorm2d", f"block{i}_bn1")
        b.add("ReLU", f"block{i}_relu1")
        b.add("Conv2d", f"block{i}_conv2", out_channels=16, kernel_size=3, padding=1, bias=False)
        b.add("BatchNorm2d", f"block{i}_bn2")
        b.add("Add", f"block{i}_add", at=[f"block{i}_bn2", skip])
        skip = b.add("ReLU", f"block{i}_out")
    b.add("GlobalAvgPool", "pool")
    b.add("Linear", "classifier", out_features=3)
    b.add("Output", "shape_class")
    return Project(
        "Residual CNN",
        r,
        graphs={"model": b.done()},
        description="Two residual blocks with skip connections: circles, squares or triangles.",
        data=DataSection(dataset="shapes"),
        training=TrainingSection(epochs=10, batch_size=32),
    )


def shapes_cnn(r: LayerRegistry) -> Project:
    b = Builder(r)
    b.add("Input", "image", shape=[1, 32, 32])
    for i, channels in enumerate((16, 32), start=1):
        b.add("Conv2d", f"conv{i}", out_channels=channels, kernel_size=3, padding=1, bias=False)
        b.add("BatchNorm2d", f"bn{i}")
        b.add("ReLU", f"relu{i}")
        b.add("MaxPool2d", f"pool{i}", kernel_size=2)
    # The last convolution works on 8x8 maps: coarse enough to see whole shapes, fine enough
    # for a Grad-CAM heatmap on it to point at the object.
    b.add("Conv2d", "conv3", out_channels=64, kernel_size=3, padding=1, bias=False)
    b.add("BatchNorm2d", "bn3")
    b.add("ReLU", "relu3")
    b.add("GlobalAvgPool", "pool")
    b.add("Linear", "classifier", out_features=3)
    b.add("Output", "shape_class")
    return Project(
        "Shapes CNN",
        r,
        graphs={"model": b.done()},
        description="A small convolutional network with batch normalisation: circles, squares "
        "or triangles on noise (32x32).",
        data=DataSection(dataset="shapes"),
        # One-cycle ends on a low rate, so batch-norm's running statistics settle on the final
        # weights; with a constant rate the evaluation-mode accuracy swings from epoch to epoch.
        training=TrainingSection(
            epochs=8,
            batch_size=32,
            learning_rate=3e-3,
            scheduler=SchedulerSettings(name="onecycle"),
        ),
    )


def vision_transformer(r: LayerRegistry) -> Project:
    """A ViT drawn from the palette: patches, a class token, learned positions, two blocks."""
    b = Builder(r)
    b.add("Input", "image", shape=[1, 8, 8], dtype="float")
    b.add("Conv2d", "patches", out_channels=32, kernel_size=2, stride=2, padding=0)
    b.add("Reshape", "flatten_patches", shape=[32, -1])
    b.add("Permute", "tokens", dims=[2, 1])
    b.add("Parameter", "class_token", shape=[1, 32], init="zeros")
    b.add("Concat", "with_class", at=["class_token", "tokens"], dim=1)
    b.add("Parameter", "position_table", shape=[17, 32], init="normal", scale=0.02)
    b.add("Add", "positioned", at=["with_class", "position_table"])
    common = {"nhead": 4, "dim_feedforward": 64, "activation": "gelu", "norm_first": True}
    b.add("TransformerEncoderLayer", "block1", **common)
    b.add("TransformerEncoderLayer", "block2", **common)
    b.add("LayerNorm", "norm")
    b.add("Select", "class_output", dim=1, index=0)
    b.add("Linear", "head", out_features=10)
    b.add("Output", "digit")
    return Project(
        "Vision transformer",
        r,
        graphs={"model": b.done()},
        description=(
            "A small vision transformer for the 8×8 digits: 2×2 patches become 16 tokens, a "
            "learned class token and position table join them, two encoder blocks attend, and "
            "the class token's output is classified."
        ),
        data=DataSection(dataset="digits"),
        training=TrainingSection(epochs=30, batch_size=32, learning_rate=3e-3),
    )


def gpt_block(r: LayerRegistry) -> Project:
    """A GPT-style decoder block drawn from the palette, reading texts left to right."""
    b = Builder(r)
    b.add("Input", "tokens", shape=[64], dtype="long")
    b.add("Embedding", "token_embed", num_embeddings=2000, embedding_dim=32)
    b.add("Parameter", "positions", shape=[64, 32], init="normal", scale=0.02)
    b.add("Add", "embedded", at=["token_embed", "positions"])
    b.add("LayerNorm", "ln_1")
    b.add("MultiheadAttention", "causal_attn", num_heads=4, causal=True)
    b.add("Add", "residual_1", at=["embedded", "causal_attn"])
    b.add("LayerNorm", "ln_2")
    b.add("Linear", "mlp_up", out_features=128)
    b.add("GELU", "mlp_gelu", approximate="tanh")
    b.add("Linear", "mlp_down", out_features=32)
    b.add("Dropout", "mlp_dropout", p=0.1)
    b.add("Add", "residual_2", at=["residual_1", "mlp_dropout"])
    b.add("LayerNorm", "ln_final")
    b.add("SelectLast", "last_token")
    b.add("Linear", "classifier", out_features=2)
    b.add("Output", "label")
    return Project(
        "GPT block classifier",
        r,
        graphs={"model": b.done()},
        description=(
            "One GPT-2-style block (pre-norm causal self-attention and a GELU MLP, each with a "
            "residual connection) over word tokens with learned positions; the last token, "
            "which has read the whole text, is classified."
        ),
        data=DataSection(dataset="text"),
        training=TrainingSection(epochs=10, batch_size=32, learning_rate=1e-3),
    )


TEMPLATES = {
    "mlp_classifier": mlp,
    "mlp_regressor": mlp_regressor,
    "cnn_classifier": cnn,
    "lstm_sequence": lstm,
    "gru_text_classifier": gru_text,
    "transformer_classifier": transformer,
    "conv_autoencoder": autoencoder,
    "gan": gan,
    "residual_cnn": residual,
    "shapes_cnn": shapes_cnn,
    "vision_transformer": vision_transformer,
    "gpt_block": gpt_block,
}


def main(names: list[str]) -> None:
    """Write the named templates (all when none are named).

    Node ids are fresh uuid4s on every run, so naming only the new template leaves the other
    files byte for byte as they were.
    """
    unknown = sorted(set(names) - set(TEMPLATES))
    if unknown:
        raise SystemExit(
            f"unknown templates: {', '.join(unknown)}; choose from {', '.join(TEMPLATES)}"
        )
    registry = default_registry()
    for name, make in TEMPLATES.items():
        if names and name not in names:
            continue
        path = make(registry).save(HERE / f"{name}.strata")
        print(f"wrote {path.relative_to(HERE.parents[1])}")


if __name__ == "__main__":
    main(sys.argv[1:])
