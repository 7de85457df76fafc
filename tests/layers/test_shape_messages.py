"""Builders refuse impossible inputs with a sentence a beginner can act on."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from studio.core.shapes import DType, ShapeError, TensorShape, collect_warnings
from studio.layers import CATALOG, load_builder, load_shape_rule

SPECS = {spec.type_id.removeprefix("studio."): spec for spec in CATALOG}


def build(layer: str, *dims: tuple[int, ...], dtype: DType = "float", **params: Any) -> None:
    spec = SPECS[layer]
    load_builder(spec)(spec.validate_params(params), [TensorShape(d, dtype) for d in dims])


def message(layer: str, *dims: tuple[int, ...], dtype: DType = "float", **params: Any) -> str:
    """The builder's refusal, checked to be word for word the shape rule's."""
    spec = SPECS[layer]
    rule = load_shape_rule(spec)
    assert rule is not None
    with pytest.raises(ShapeError) as by_rule:
        rule(spec.validate_params(params), [TensorShape(d, dtype) for d in dims])
    with pytest.raises(ShapeError) as by_builder:
        build(layer, *dims, dtype=dtype, **params)
    assert str(by_builder.value) == str(by_rule.value)
    return str(by_rule.value)


def test_linear_on_an_image_runs_and_warns_to_flatten() -> None:
    """torch's Linear mixes the last dim at any rank; on an image that is rarely what a beginner
    meant, so the rule accepts (as torch does) and its warning keeps the Flatten advice."""
    spec = SPECS["Linear"]
    rule = load_shape_rule(spec)
    assert rule is not None
    with collect_warnings() as notes:
        shapes = rule(spec.validate_params({"out_features": 4}), [TensorShape((16, 8, 8))])
    assert shapes == [TensorShape((16, 8, 4))]
    assert notes == [
        "Linear mixes only the last dimension of its input (N, 16, 8, 8), separately at every "
        "other position. Insert Flatten before it to classify the whole image (for "
        "channels-last features, this is already right)."
    ]


def test_linear_on_a_scalar_per_sample_says_to_reshape() -> None:
    assert message("Linear", ()) == (
        "Linear expects (N, ..., F); it receives (N). Insert Reshape before it."
    )


def test_conv2d_on_features_says_to_reshape() -> None:
    assert message("Conv2d", (64,)) == (
        "Conv2d expects (N, C, H, W); it receives (N, 64). Insert Reshape before it."
    )


def test_embedding_on_floats_says_to_use_long() -> None:
    assert message("Embedding", (12,)) == (
        "Embedding expects integer token ids; it receives float values. "
        "Set the Input's dtype to long."
    )


def test_linear_on_token_ids_says_to_embed() -> None:
    assert message("Linear", (12,), dtype="long") == (
        "Linear expects float values; it receives integer token ids (N, 12). "
        "Insert Embedding before it, or set the Input's dtype to float."
    )


def test_kernel_larger_than_the_input() -> None:
    assert message("Conv2d", (3, 3, 3), kernel_size=5, padding=0).startswith(
        "Conv2d's kernel (5×5) is larger than its input (3×3). Use a smaller kernel_size"
    )
    assert "spanning 5" in message("Conv1d", (3, 4), kernel_size=3, dilation=2, padding=0)
    assert "larger than its input (1×1)" in message("MaxPool2d", (8, 1, 1))


def test_kernel_that_fits_thanks_to_padding_is_accepted() -> None:
    build("Conv2d", (3, 3, 3), kernel_size=5, padding=1)


@pytest.mark.parametrize(
    ("layer", "dims", "params", "expected"),
    [
        ("GroupNorm", (12, 4, 4), {"num_groups": 8}, "GroupNorm's num_groups (8) must divide"),
        ("MultiheadAttention", (10, 30), {"num_heads": 4}, "must divide the embedding size E"),
        ("TransformerEncoderLayer", (10, 30), {"nhead": 4}, "Try 1, 2, 3, 5, 6, 10, 15, 30."),
        ("Conv2d", (3, 8, 8), {"groups": 2}, "groups (2) must divide both"),
        ("MaxPool2d", (4, 8, 8), {"kernel_size": 3, "padding": 2}, "at most half its"),
        ("ConvTranspose2d", (4, 8, 8), {"output_padding": 2}, "smaller than its stride (2)"),
        ("PositionalEncoding", (600, 8), {}, "Raise max_len to at least 600."),
        ("Softmax", (10,), {"dim": 0}, "dim 0 would be the batch"),
        ("Mean", (10,), {"dim": 2}, "has 1 dimension after the batch"),
        ("Permute", (10, 6), {"dims": (1, 1)}, "must list each of 1 to 2 exactly once"),
        ("Reshape", (16, 8, 8), {"shape": (10, 10)}, "(1024 values per sample)"),
        ("Reshape", (16,), {"shape": (-1, -1)}, "-1 only once"),
        ("Upsample", (12,), {"mode": "bilinear"}, "Upsample in bilinear mode expects"),
        ("RNN", (8, 8, 8), {}, "RNN expects (N, L, F); it receives (N, 8, 8, 8)."),
        ("GlobalAvgPool", (64,), {}, "Insert Reshape before it."),
        ("BatchNorm2d", (64,), {}, "Use BatchNorm1d for features or sequences."),
        ("BatchNorm3d", (3, 4, 4), {}, "BatchNorm3d expects (N, C, D, H, W)"),
        ("Hardtanh", (8,), {"min_val": 1.0, "max_val": 1.0}, "must be larger than its min_val"),
        ("GLU", (5, 3), {"dim": 1}, "its size (5) is odd"),
        ("PReLU", (), {"per_channel": True}, "Turn per_channel off."),
        ("InstanceNorm1d", (4,), {"affine": True}, "turn affine and track_running_stats off"),
        ("InstanceNorm2d", (3, 1, 1), {}, "has only one per channel"),
        ("InstanceNorm2d", (3, 4, 4, 4), {}, "InstanceNorm2d expects (N, C, H, W)"),
        ("LocalResponseNorm", (8,), {}, "LocalResponseNorm expects (N, C, L, ...)"),
        ("Dropout1d", (3, 4, 4), {}, "Use Dropout2d for images"),
        ("Dropout2d", (), {}, "which has no channels to zero"),
    ],
)
def test_refusals_name_the_problem(
    layer: str, dims: tuple[int, ...], params: dict[str, Any], expected: str
) -> None:
    assert expected in message(layer, dims, **params)


def test_add_lists_every_shape_it_receives() -> None:
    assert message("Add", (16,), (16,), (32,), inputs=3) == (
        "Add cannot broadcast (N, 16), (N, 16) and (N, 32): lined up from the right, each size "
        "must match or be 1. Insert Reshape, Unsqueeze or Linear on a branch so they match."
    )


def test_add_refuses_sizes_that_do_not_broadcast() -> None:
    assert "(N, 4, 2) and (N, 4, 5)" in message("Add", (4, 2), (4, 5))


def test_add_refuses_a_batch_lined_up_with_a_sample_dimension() -> None:
    """torch would add (N, 5) to (N, 4, 5) only when N is 1 or 4: never what a drawing means."""
    assert "line its batch up" in message("Add", (5,), (4, 5))


def test_add_with_a_missing_input() -> None:
    assert message("Add", (16,), (16,), inputs=3).startswith("Add has 3 inputs but receives 2.")


def test_concat_names_the_mismatch() -> None:
    assert message("Concat", (16, 8, 8), (32, 4, 4)) == (
        "Concat along dim 1 expects every other dimension to match; it receives "
        "(N, 16, 8, 8) and (N, 32, 4, 4). Insert Reshape, pooling or Linear on a branch so "
        "they match."
    )
    assert "(N, 4) and (N, 4, 2)" in message("Concat", (4,), (4, 2))


@pytest.mark.parametrize("dtype", ["float", "long"])
@pytest.mark.parametrize("dims", [(), (1,), (2, 1), (1, 1, 1), (3, 2, 2, 2, 2)], ids=str)
def test_odd_inputs_get_a_shape_error_or_a_working_module(
    dims: tuple[int, ...], dtype: DType
) -> None:
    """Whatever arrives, a layer either refuses it in words or builds a module that runs on it
    and matches its shape rule; it never crashes inside torch."""
    for spec in SPECS.values():
        if spec.role != "layer":
            continue
        params = spec.validate_params({})
        shapes = [TensorShape(dims, dtype)] * (
            params[spec.variadic_inputs] if spec.variadic_inputs else 1
        )
        rule = load_shape_rule(spec)
        assert rule is not None
        try:
            predicted = rule(params, shapes)
        except ShapeError:
            with pytest.raises(ShapeError):
                load_builder(spec)(params, shapes)
            continue
        module = load_builder(spec)(params, shapes)
        tensor = torch.zeros((2, *dims), dtype=torch.long if dtype == "long" else torch.float32)
        result = module(*[tensor] * len(shapes))
        outs = result if isinstance(result, tuple) else (result,)  # Split and Chunk give several
        found = [
            TensorShape(tuple(out.shape[1:]), "float" if out.is_floating_point() else "long")
            for out in outs
        ]
        assert found == predicted, spec.type_id
