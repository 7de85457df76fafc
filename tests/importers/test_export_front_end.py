"""The torch.export front end of `studio import` on models written as people write them.

The models (`export_models.py`) hold the Python symbolic fx tracing stops at; each import is
checked by running the compiled project against the source on the same inputs (1e-5 relative),
and each refusal by the op and the source line it names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from studio.cli import EXIT_OK, main
from studio.core.errors import StudioError
from studio.core.registry import LayerRegistry
from studio.importers.command import compiled_model
from studio.importers.export_import import FRONT_END, import_python_file
from studio.importers.inputs import InputArg, TensorInput, parse_input
from studio.importers.mapping import ImportedModel, UnsupportedModelError
from studio.training.runs import runs_folder

MODELS = Path(__file__).with_name("export_models.py")

pytestmark = pytest.mark.timeout(60)


def _line(code: str) -> str:
    """``export_models.py:<n>`` of the first line holding `code`."""
    lines = MODELS.read_text(encoding="utf-8").splitlines()
    number = next(i + 1 for i, line in enumerate(lines) if code in line)
    return f"export_models.py:{number}"


def _import(
    registry: LayerRegistry, name: str, inputs: list[InputArg], **kwargs: object
) -> ImportedModel:
    return import_python_file(f"{MODELS}:{name}", registry, kwargs=kwargs, inputs=inputs)


def _refusal(registry: LayerRegistry, name: str, inputs: list[InputArg]) -> str:
    with pytest.raises(UnsupportedModelError) as caught:
        _import(registry, name, inputs)
    message = str(caught.value)
    assert "Traceback" not in message and "def forward" not in message
    return message


def _assert_reproduces(imported: ImportedModel) -> None:
    model = compiled_model(imported)
    with torch.no_grad():
        produced = model(*imported.example_inputs)
    outputs = list(produced) if isinstance(produced, tuple | list) else [produced]
    assert len(outputs) == len(imported.expected)
    for got, want in zip(outputs, imported.expected, strict=True):
        want = want.float()
        assert got.shape == want.shape
        scale = max(1.0, float(want.abs().max()))
        assert float((got - want).abs().max()) <= 1e-5 * scale


def _types(imported: ImportedModel) -> list[str]:
    return [node.type_id.removeprefix("studio.") for node in imported.project.main_graph.nodes]


def _needs(registry: LayerRegistry, *names: str) -> None:
    missing = [n for n in names if f"studio.{n}" not in registry]
    if missing:
        pytest.skip(f"the catalog has no {', '.join(missing)} yet")


def test_gpt_block_with_size_checks_and_defaults_imports(registry: LayerRegistry) -> None:
    _needs(registry, "MatMul", "Split", "Scale")
    imported = _import(registry, "GPTBlock", [TensorInput((2, 8, 16))])
    assert imported.front_end == FRONT_END
    types = _types(imported)
    assert types.count("MatMul") == 2 and "Split" in types and types.count("LayerNorm") == 2
    # The attention's q, k, v came from one Linear: the module call collapsed to one layer.
    assert types.count("Linear") == 4
    _assert_reproduces(imported)


def test_gpt_with_causal_mask_and_position_embedding_imports(registry: LayerRegistry) -> None:
    _needs(registry, "MatMul", "Split", "Scale", "Parameter", "Constant")
    # Given as a plain shape, the input feeds an Embedding: it is drawn as int64 token ids.
    imported = _import(registry, "TinyGPT", [TensorInput((2, 8))])
    (node,) = [n for n in imported.project.main_graph.nodes if n.type_id == "studio.Input"]
    assert node.params["dtype"] == "long"
    assert imported.example_inputs[0].dtype == torch.int64
    types = _types(imported)
    # wpe(arange(t)) is the table's first t rows, still learned; the causal mask a Constant.
    assert types.count("Parameter") == 1 and types.count("Constant") == 1
    assert "Embedding" in types
    _assert_reproduces(imported)


def test_token_ids_described_by_name_and_dtype(registry: LayerRegistry) -> None:
    _needs(registry, "Parameter", "Slice")
    imported = _import(registry, "LearnedPositions", [parse_input("tokens:long:2,8")])
    assert next(n.name for n in imported.project.main_graph.nodes) == "tokens"
    assert {"Parameter", "SelectLast"} <= set(_types(imported))
    _assert_reproduces(imported)


def test_einops_style_rearrange_and_class_token(registry: LayerRegistry) -> None:
    _needs(registry, "Parameter", "Expand")
    imported = _import(registry, "PatchEmbedding", [TensorInput((2, 3, 8, 8))])
    types = _types(imported)
    assert {"Reshape", "Permute", "Linear", "Parameter", "Concat"} <= set(types)
    # A layer module called on a parameter (self.cls_norm(self.cls_token)) reads it as input.
    assert "LayerNorm" in types
    _assert_reproduces(imported)


def test_tuple_argument_becomes_one_input_per_tensor(registry: LayerRegistry) -> None:
    imported = _import(registry, "PairFusion", [parse_input("img:float:2,8+float:2,3")])
    inputs = [n for n in imported.project.main_graph.nodes if n.type_id == "studio.Input"]
    assert [n.params["shape"] for n in inputs] == [(8,), (3,)]
    assert inputs[0].name == "img"
    _assert_reproduces(imported)


def test_float64_input_imports_as_float(registry: LayerRegistry) -> None:
    imported = _import(registry, "DoubleInput", [parse_input("double:2,6")])
    assert imported.example_inputs[0].dtype == torch.float32
    assert imported.expected[0].dtype == torch.float32  # the model casts to float itself
    _assert_reproduces(imported)


def test_lstm_state_tuple_is_described_and_its_refusal_names_the_line(
    registry: LayerRegistry,
) -> None:
    state = parse_input("float:1,2,6+float:1,2,6")
    message = _refusal(registry, "StatefulTagger", [TensorInput((2, 7, 5)), state])
    assert "self.lstm" in message and "initial hidden state" in message
    assert _line("y, _ = self.lstm(x, state)") in message


def test_unmapped_op_is_named_with_its_source_line(registry: LayerRegistry) -> None:
    with pytest.raises(UnsupportedModelError) as caught:
        _import(registry, "GPTBlock", [TensorInput((2, 8, 16))], causal=True, fill=-1e9)
    message = str(caught.value)
    assert len(caught.value.constructs) == 1
    assert "aten.masked_fill" in message and "-1000000000.0" in message
    assert _line("att = att.masked_fill(") in message
    assert "self.attn" in message  # the module path
    # Never only its consumers: the softmax after it is not blamed.
    assert "aten.softmax" not in message and "not a tensor the catalog" not in message


def test_value_dependent_branch_is_refused_with_its_line(
    registry: LayerRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    message = _refusal(registry, "ValueBranch", [TensorInput((2, 4))])
    assert "data-dependent control flow" in message
    assert _line("if x.sum() > 0:") in message
    printed = capsys.readouterr()
    assert "def forward" not in printed.err + printed.out  # torch's graph dump stays hidden


def test_module_called_twice_is_one_set_of_weights(registry: LayerRegistry) -> None:
    inputs: list[InputArg] = [TensorInput((2, 4)), TensorInput((2, 4))]
    imported = _import(registry, "Siamese", inputs)
    graph = imported.project.main_graph
    tied = [n for n in graph.nodes if n.shares is not None and n.type_id == "studio.Linear"]
    assert len(tied) == 2  # the second call's two Linears use the first call's weights
    assert len(imported.state_dict) == 4
    _assert_reproduces(imported)


def test_tensor_used_as_two_layers_weights_is_refused(registry: LayerRegistry) -> None:
    message = _refusal(registry, "TiedHead", [TensorInput((2, 5))])
    assert "self.wte.weight is used by self.wte and" in message
    assert "F.linear(x, self.wte.weight)" in message
    assert "only an nn.Embedding's table and an nn.Linear module's weight can be tied" in message


def test_falls_back_to_fx_where_torch_export_cannot_run(registry: LayerRegistry) -> None:
    imported = _import(registry, "DebugPointer", [TensorInput((2, 4))])
    assert imported.front_end.startswith("torch.fx (torch.export could not run the model")
    assert "data pointer" in imported.front_end
    _assert_reproduces(imported)


def test_parse_input_reads_names_dtypes_and_tuples() -> None:
    assert parse_input("tokens:long:2,16") == TensorInput((2, 16), "int64", "tokens")
    assert parse_input("2x3") == TensorInput((2, 3))
    assert parse_input("double:4,2") == TensorInput((4, 2), "float64")
    assert parse_input("hc:float:1,2,8+float:1,2,8") == (
        TensorInput((1, 2, 8), "float32", "hc"),
        TensorInput((1, 2, 8), "float32"),
    )
    with pytest.raises(StudioError, match="neither a name nor a dtype"):
        parse_input("x:complex:2,3")
    with pytest.raises(StudioError, match="positive sizes"):
        parse_input("tokens:long:")


def test_cli_describes_inputs_and_names_the_front_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pair.strata"
    code = main(
        ["import", f"{MODELS}:PairFusion", "--out", str(out), "--input", "img:float:2,8+2,3"]
    )
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    assert "read with torch.export" in printed and out.exists()
    (run,) = runs_folder(out).iterdir()
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["resolved"]["front_end"] == "torch.export"


def test_recurrent_layers_map_from_their_tuple_results(registry: LayerRegistry) -> None:
    imported = _import(registry, "RecurrentLM", [TensorInput((2, 6))])
    assert _types(imported) == [
        "Input", "Embedding", "GRU", "LSTM", "SelectLast", "Linear", "Output"
    ]  # fmt: skip
    _assert_reproduces(imported)


def test_recurrent_final_state_is_refused_with_its_line(registry: LayerRegistry) -> None:
    message = _refusal(registry, "FinalState", [TensorInput((2, 7, 4))])
    assert "self.lstm" in message and "final state" in message
    assert _line("_, (h, _) = self.lstm(x)") in message


def test_upsampling_stack_and_clamp(registry: LayerRegistry) -> None:
    _needs(registry, "Stack", "Clamp", "Scale")
    imported = _import(registry, "DecoderPieces", [TensorInput((2, 4, 5, 5))])
    assert {"Upsample", "Stack", "Clamp", "Sum"} <= set(_types(imported))
    _assert_reproduces(imported)


def test_max_values_map_and_indices_are_refused(registry: LayerRegistry) -> None:
    _needs(registry, "Max", "Min", "Subtract")
    imported = _import(registry, "Centered", [TensorInput((2, 5))])
    assert {"Max", "Min", "Subtract"} <= set(_types(imported))
    _assert_reproduces(imported)
    message = _refusal(registry, "ArgMax", [TensorInput((2, 5))])
    assert "indices of max/min" in message and _line("_, where = x.max(dim=1)") in message


def test_in_place_residual_add_imports(registry: LayerRegistry) -> None:
    imported = _import(registry, "BasicBlock", [TensorInput((2, 4, 6, 6))])
    assert _types(imported).count("Add") == 1
    _assert_reproduces(imported)


def test_in_place_op_after_a_view_is_followed(registry: LayerRegistry) -> None:
    _needs(registry, "Scale", "Slice")
    imported = _import(registry, "ReadsOldValue", [TensorInput((2, 4))])
    assert _types(imported) == ["Input", "Linear", "Add", "Slice", "Scale", "Output"]
    _assert_reproduces(imported)


def test_module_call_keyword_arguments_reach_the_rule(registry: LayerRegistry) -> None:
    """The encoder's ops never read the mask (is_causal): the recorded call still shows it."""
    imported = _import(registry, "EncoderWithMask", [TensorInput((2, 5, 8))])
    (layer,) = [n for n in imported.project.main_graph.nodes if n.type_id.endswith("EncoderLayer")]
    if "causal" not in layer.params:
        pytest.skip("the catalog's TransformerEncoderLayer has no causal setting yet")
    assert layer.params["causal"] is True
    _assert_reproduces(imported)


def test_constant_indices_of_embeddings_become_parameters(registry: LayerRegistry) -> None:
    _needs(registry, "Parameter")
    imported = _import(registry, "BertEmbeddings", [parse_input("input_ids:long:2,6")])
    graph = imported.project.main_graph
    shapes = sorted(n.params["shape"] for n in graph.nodes if n.type_id == "studio.Parameter")
    # Positions 0..5 are six learned rows; token type 0 everywhere is one, for every sample.
    assert shapes == [(6, 8), (8,)]
    _assert_reproduces(imported)


def test_a_list_index_and_a_none_output_import(registry: LayerRegistry) -> None:
    imported = _import(registry, "LastTokenLogits", [TensorInput((2, 6, 8))])
    assert "Index" in _types(imported)
    assert len(imported.expected) == 1  # the None loss is no output
    _assert_reproduces(imported)
    picked = _import(registry, "PickedPositions", [TensorInput((2, 4, 3))])
    index = next(n for n in picked.project.main_graph.nodes if n.type_id == "studio.Index")
    assert index.params["dim"] == 1 and tuple(index.params["indices"]) == (2, 0)
    _assert_reproduces(picked)


@pytest.mark.parametrize("name", ["ExamplesVAE", "InPlaceSamplingVAE"])
def test_noise_drawn_in_forward_becomes_a_gaussian_sample(
    registry: LayerRegistry, name: str
) -> None:
    imported = _import(registry, name, [TensorInput((4, 12))])
    assert _types(imported).count("GaussianSample") == 1
    assert "Exp" not in _types(imported)  # the std went into the layer with the noise
    assert "noise at 0" in imported.front_end
    _assert_reproduces(imported)  # in eval: the mean, as the source with its noise at 0
    model = compiled_model(imported).train()
    x = imported.example_inputs[0]
    with torch.no_grad():
        first, second = model(x)[0], model(x)[0]
    assert not torch.equal(first, second)  # training draws a sample each call


def test_other_noise_is_refused_by_name(registry: LayerRegistry) -> None:
    message = _refusal(registry, "OtherNoise", [TensorInput((2, 3))])
    assert "randn_like" in message


def test_scaled_dot_product_attention_imports_as_its_layer(registry: LayerRegistry) -> None:
    imported = _import(registry, "FlashSelfAttention", [TensorInput((2, 6, 16))])
    attention = [
        n
        for n in imported.project.main_graph.nodes
        if n.type_id == "studio.ScaledDotProductAttention"
    ]
    assert len(attention) == 1 and attention[0].params["causal"] is True
    _assert_reproduces(imported)
    kept = _import(registry, "KeepAllMaskAttention", [TensorInput((2, 2, 5, 4))])
    assert "ScaledDotProductAttention" in _types(kept)
    _assert_reproduces(kept)


def test_a_data_dependent_attention_mask_is_refused_in_words(registry: LayerRegistry) -> None:
    message = _refusal(
        registry, "PaddingMaskAttention", [TensorInput((2, 2, 5, 4)), TensorInput((2, 5))]
    )
    assert "attn_mask" in message


def test_scaled_dot_product_attention_imports_through_fx(registry: LayerRegistry) -> None:
    from studio.importers.command import check_outputs
    from studio.importers.fx_import import import_module_file

    imported = import_module_file(
        f"{MODELS}:FlashSelfAttention", registry, input_shapes=[(2, 6, 16)]
    )
    assert "ScaledDotProductAttention" in _types(imported)
    assert check_outputs(imported) <= 1e-5


def test_gpt2_conv1d_and_its_causal_mask_import(registry: LayerRegistry) -> None:
    imported = _import(registry, "GPT2Attention", [TensorInput((2, 6, 16))])
    types = _types(imported)
    assert types.count("Linear") == 2  # each Conv1D, its weight transposed
    attention = [
        n
        for n in imported.project.main_graph.nodes
        if n.type_id == "studio.ScaledDotProductAttention"
    ]
    assert len(attention) == 1 and attention[0].params["causal"] is True
    _assert_reproduces(imported)


def test_a_branch_inside_torch_falls_back_to_fx(registry: LayerRegistry) -> None:
    imported = _import(registry, "EncoderMaskOnly", [TensorInput((2, 6, 8))])
    assert imported.front_end.startswith("torch.fx (torch.export stopped at a branch")
    layers = [n for n in imported.project.main_graph.nodes if n.type_id.endswith("EncoderLayer")]
    assert len(layers) == 1 and layers[0].params["causal"] is True
    _assert_reproduces(imported)
