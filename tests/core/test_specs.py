"""Param and layer specs, and the layer registry."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from studio.core.errors import DuplicateLayerError, StudioError, UnknownLayerError
from studio.core.registry import LayerRegistry
from studio.core.shapes import TensorShape, describe
from studio.core.specs import LayerSpec, ParamError, ParamSpec, PortSpec

from .fake_layers import ADD, CONV, INPUT, OUTPUT, SPECS, SPLIT


def int_param(**kw: Any) -> ParamSpec:
    return ParamSpec(**{"name": "n", "kind": "int", "default": 5, "help": "h", **kw})


def float_param(**kw: Any) -> ParamSpec:
    return ParamSpec(**{"name": "rate", "kind": "float", "default": 0.5, "help": "h", **kw})


def tuple_param(**kw: Any) -> ParamSpec:
    return ParamSpec(**{"name": "size", "kind": "int_tuple", "default": (3, 3), "help": "h", **kw})


def refused(spec: ParamSpec, value: object) -> str:
    with pytest.raises(ParamError) as info:
        spec.validate(value)
    message = str(info.value)
    assert message.startswith(f"{spec.name}: "), message
    return message


# ----------------------------------------------------------------- int
def test_int_accepts_integers_in_range() -> None:
    spec = int_param(minimum=1, maximum=10)
    assert spec.validate(1) == 1
    assert spec.validate(10) == 10
    assert type(spec.validate(7)) is int


@pytest.mark.parametrize("value", [True, False, 5.0, "5", [5], None])
def test_int_refuses_non_integers_and_bool_is_not_an_int(value: object) -> None:
    message = refused(int_param(), value)
    assert "integer" in message or "required" in message


@pytest.mark.parametrize(
    ("bounds", "value", "message"),
    [
        ({"minimum": 1, "maximum": 10}, 0, "n: must be between 1 and 10"),
        ({"minimum": 1, "maximum": 10}, 11, "n: must be between 1 and 10"),
        ({"minimum": 1}, 0, "n: must be a positive integer"),
        ({"minimum": 3}, 2, "n: must be at least 3"),
        ({"maximum": 9}, 10, "n: must be at most 9"),
        ({"minimum": -5}, -6, "n: must be at least -5"),
    ],
)
def test_int_range_messages(bounds: dict[str, int], value: int, message: str) -> None:
    assert refused(int_param(**bounds), value) == message


def test_int_without_range_takes_any_integer() -> None:
    assert int_param().validate(-(10**30)) == -(10**30)


# ----------------------------------------------------------------- float
def test_float_normalises_ints_to_float() -> None:
    spec = float_param(minimum=0, maximum=1)
    result = spec.validate(1)
    assert result == 1.0
    assert type(result) is float
    assert spec.validate(0.25) == 0.25


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        pytest.param(10**400, id="10**400"),
        pytest.param(-(10**400), id="-10**400"),
    ],
)
def test_float_refuses_nan_inf_and_ints_beyond_float(value: object) -> None:
    assert refused(float_param(), value) == "rate: must be a finite number"


@pytest.mark.parametrize("value", [True, "0.5", None, [0.5]])
def test_float_refuses_non_numbers(value: object) -> None:
    refused(float_param(), value)


@pytest.mark.parametrize(
    ("bounds", "value", "message"),
    [
        ({"minimum": 0, "maximum": 1}, 1.5, "rate: must be between 0 and 1"),
        ({"minimum": 0, "maximum": 0.5}, -0.1, "rate: must be between 0 and 0.5"),
        ({"minimum": 1}, 0.5, "rate: must be at least 1"),
        ({"maximum": 2.5}, 3, "rate: must be at most 2.5"),
    ],
)
def test_float_range_messages(bounds: dict[str, float], value: float, message: str) -> None:
    default = bounds.get("minimum", bounds.get("maximum"))
    assert refused(float_param(default=default, **bounds), value) == message


# ----------------------------------------------------------------- bool, choice, str
@pytest.mark.parametrize("value", [True, False])
def test_bool_accepts_bools(value: bool) -> None:
    assert ParamSpec("on", "bool", False, "h").validate(value) is value


@pytest.mark.parametrize("value", [0, 1, "true", None, 1.0])
def test_bool_refuses_everything_else(value: object) -> None:
    assert refused(ParamSpec("on", "bool", False, "h"), value) in (
        "on: must be true or false",
        "on: a value is required",
    )


def test_choice() -> None:
    spec = ParamSpec("mode", "choice", "a", "h", choices=("a", "b"))
    assert spec.validate("b") == "b"
    assert refused(spec, "c") == "mode: must be one of a, b"
    assert refused(spec, 1) == "mode: must be one of a, b"


def test_choice_needs_choices() -> None:
    with pytest.raises(ValueError, match="needs choices"):
        ParamSpec("mode", "choice", "a", "h")


def test_str_length_limit() -> None:
    spec = ParamSpec("label", "str", "", "h")
    assert spec.validate("x" * 200) == "x" * 200
    assert refused(spec, "x" * 201) == "label: must be at most 200 characters"
    assert refused(spec, 3) == "label: must be text"


# ----------------------------------------------------------------- int_tuple
def test_tuple_normalises_lists_to_tuples() -> None:
    spec = tuple_param(length=2, minimum=1, maximum=31)
    assert spec.validate([5, 7]) == (5, 7)
    assert spec.validate((1, 31)) == (1, 31)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([3], "size: must have exactly 2 integers"),
        ([3, 3, 3], "size: must have exactly 2 integers"),
        ([0, 3], "size: must be between 1 and 31"),
        ([3, 32], "size: must be between 1 and 31"),
        ([3, True], "size: must be a list of integers"),
        ([3, 3.0], "size: must be a list of integers"),
        ("33", "size: must be a list of integers"),
        (b"\x03\x03", "size: must be a list of integers"),
        (3, "size: must be a list of integers"),
        ({3: 3}, "size: must be a list of integers"),
    ],
)
def test_tuple_refusals(value: object, message: str) -> None:
    assert refused(tuple_param(length=2, minimum=1, maximum=31), value) == message


def test_tuple_of_free_length_has_min_and_max_length() -> None:
    spec = tuple_param(default=(1,), min_length=1)
    assert spec.validate([1] * 8) == (1,) * 8
    assert refused(spec, []) == "size: must have at least 1 integers"
    assert refused(spec, [1] * 9) == "size: must have at most 8 integers"


# ----------------------------------------------------------------- nullable, spec checks
def test_nullable_param_takes_none_and_others_do_not() -> None:
    assert int_param(default=None, nullable=True).validate(None) is None
    assert refused(int_param(), None) == "n: a value is required"


def test_default_is_validated_when_the_spec_is_made() -> None:
    with pytest.raises(ParamError, match="n: must be a positive integer"):
        int_param(default=0, minimum=1)
    with pytest.raises(ParamError):
        ParamSpec("on", "bool", 1, "h")


def test_every_param_needs_help() -> None:
    with pytest.raises(ValueError, match="help"):
        ParamSpec("n", "int", 1, "")


def test_param_error_is_a_value_error() -> None:
    # The inspector catches ValueError from any validator; ParamError must be one.
    assert issubclass(ParamError, ValueError)


# ----------------------------------------------------------------- LayerSpec
def layer(**kw: Any) -> LayerSpec:
    base = {"type_id": "test.Thing", "title": "Thing", "category": "c", "help": "h"}
    return LayerSpec(**{**base, "builder": "tests.fake:build", **kw})


@pytest.mark.parametrize("type_id", ["studio.Conv2d", "my_plugin.sub.Layer", "_x.Y1"])
def test_layer_id_namespaced_ok(type_id: str) -> None:
    assert layer(type_id=type_id).type_id == type_id


@pytest.mark.parametrize(
    "type_id", ["Conv2d", "", "studio.", ".Conv2d", "studio..Conv", "1studio.Conv", "studio.Co-nv"]
)
def test_layer_id_must_be_namespaced(type_id: str) -> None:
    with pytest.raises(ValueError, match="namespaced"):
        layer(type_id=type_id)


def test_layer_namespace() -> None:
    assert layer(type_id="my_plugin.sub.Layer").namespace == "my_plugin.sub"


def test_builder_must_be_an_import_path() -> None:
    with pytest.raises(ValueError, match="module:function"):
        layer(builder="tests.fake.build")


def test_duplicate_param_names_refused() -> None:
    with pytest.raises(ValueError, match="duplicate param"):
        layer(params=(int_param(), int_param()))


def test_variadic_param_must_exist() -> None:
    with pytest.raises(ValueError, match="variadic"):
        layer(variadic_inputs="inputs")


def test_defaults_and_param_lookup() -> None:
    assert CONV.defaults() == {
        "channels": 8,
        "dropout": 0.0,
        "bias": True,
        "padding": "same",
        "kernel_size": (3, 3),
        "note": "",
        "groups": None,
    }
    assert CONV.param("channels").maximum == 1024
    assert CONV.has_param("bias")
    assert not CONV.has_param("nope")
    with pytest.raises(KeyError):
        CONV.param("nope")


def test_validate_params_completes_and_normalises() -> None:
    params = CONV.validate_params({"kernel_size": [5, 1], "dropout": 1})
    assert params["kernel_size"] == (5, 1)
    assert params["dropout"] == 1.0 and type(params["dropout"]) is float
    assert params["channels"] == 8
    assert set(params) == {p.name for p in CONV.params}


def test_validate_params_refuses_unknown_names_and_bad_values() -> None:
    with pytest.raises(ParamError, match=r"^chanels: Conv has no parameter of that name$"):
        CONV.validate_params({"chanels": 3})
    with pytest.raises(ParamError, match=r"^kernel_size: must be between 1 and 31$"):
        CONV.validate_params({"kernel_size": [0, 3]})


def test_fixed_ports() -> None:
    assert [p.name for p in CONV.input_ports({})] == ["in"]
    assert [p.name for p in CONV.output_ports({})] == ["out"]
    assert INPUT.input_ports({}) == ()
    assert OUTPUT.output_ports({}) == ()
    assert [p.name for p in SPLIT.output_ports({})] == ["first", "second"]


@pytest.mark.parametrize(
    ("params", "ports"),
    [
        ({}, ["in1", "in2"]),
        ({"inputs": 3}, ["in1", "in2", "in3"]),
        ({"inputs": 4}, ["in1", "in2", "in3", "in4"]),
    ],
)
def test_variadic_port_expansion(params: dict[str, int], ports: list[str]) -> None:
    assert [p.name for p in ADD.input_ports(params)] == ports
    assert all(isinstance(p, PortSpec) for p in ADD.input_ports(params))
    assert [p.name for p in ADD.output_ports(params)] == ["out"]


# ----------------------------------------------------------------- registry
def test_registry_lists_and_groups(registry: LayerRegistry) -> None:
    assert len(registry) == len(SPECS)
    assert list(registry) == list(SPECS)
    assert "test.Conv" in registry and "test.Nope" not in registry
    assert registry.get("test.Conv") is CONV
    assert registry.origin("test.Conv") == "tests"
    assert {k: [s.type_id for s in v] for k, v in registry.categories().items()} == {
        "Data": ["test.Input", "test.Output"],
        "Convolution": ["test.Conv"],
        "Merge": ["test.Add", "test.Split"],
    }


def test_duplicate_registration_raises_and_keeps_the_first(registry: LayerRegistry) -> None:
    impostor = layer(type_id="test.Conv", title="Impostor")
    with pytest.raises(DuplicateLayerError) as info:
        registry.register(impostor, origin="evil_plugin")
    assert "test.Conv" in str(info.value)
    assert "evil_plugin" in str(info.value) and "tests" in str(info.value)
    assert registry.get("test.Conv") is CONV
    assert registry.origin("test.Conv") == "tests"
    assert len(registry) == len(SPECS)


def test_unknown_id_raises(registry: LayerRegistry) -> None:
    with pytest.raises(UnknownLayerError, match=re.escape("'test.Nope'")):
        registry.get("test.Nope")
    assert issubclass(UnknownLayerError, StudioError)
    assert not issubclass(UnknownLayerError, KeyError)


def test_fresh_registry_is_empty() -> None:
    registry = LayerRegistry()
    assert len(registry) == 0
    assert registry.categories() == {}
    registry.register(ADD)
    assert registry.origin("test.Add") == "studio"


# ----------------------------------------------------------------- shapes
def test_tensor_shape_reads_as_the_user_sees_it() -> None:
    shape = TensorShape((16, 8, 8))
    assert str(shape) == "(N, 16, 8, 8)"
    assert shape.rank == 4
    assert shape.numel() == 1024
    assert TensorShape(()).numel() == 1 and str(TensorShape(())) == "(N)"
    assert describe([TensorShape((3,)), TensorShape((4,), "long")]) == "(N, 3) and (N, 4)"
