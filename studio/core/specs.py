"""Layer and parameter descriptions that the palette, inspector and validator read.

A `LayerSpec` names its builder by import path instead of holding it, so listing the whole
catalog (and every plugin's layers) imports nothing heavier than this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

ParamKind = Literal["int", "float", "bool", "choice", "str", "int_tuple"]
ParamValue = int | float | bool | str | tuple[int, ...] | None

TYPE_ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class ParamError(ValueError):
    """A parameter value that its spec refuses; the message is a sentence for the user."""


@dataclass(frozen=True)
class ParamSpec:
    """One typed, documented layer parameter.

    `minimum`/`maximum` bound ints and floats and every element of an `int_tuple`;
    `length` fixes a tuple's length (`None` for any length from `min_length` to `max_length`).
    `nullable` lets `None` mean "not set" (e.g. an optional hidden size).
    """

    name: str
    kind: ParamKind
    default: ParamValue
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    length: int | None = None
    min_length: int = 1
    max_length: int = 8
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"param {self.name!r}: a choice param needs choices")
        if not self.help:
            raise ValueError(f"param {self.name!r}: every param needs one line of help")
        self.validate(self.default)

    def validate(self, value: object) -> ParamValue:
        """Return `value` normalised to this param's type, or raise `ParamError`."""
        if value is None:
            if self.nullable:
                return None
            raise ParamError(f"{self.name}: a value is required")
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ParamError(f"{self.name}: must be true or false")
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParamError(f"{self.name}: must be an integer")
            self._check_range(value)
            return value
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamError(f"{self.name}: must be a number")
            try:
                number = float(value)
            except OverflowError:  # an int beyond float range, e.g. 10**400 in a project file
                raise ParamError(f"{self.name}: must be a finite number") from None
            if not math.isfinite(number):
                raise ParamError(f"{self.name}: must be a finite number")
            self._check_range(number)
            return number
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ParamError(f"{self.name}: must be one of {', '.join(self.choices)}")
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise ParamError(f"{self.name}: must be text")
            if len(value) > 200:
                raise ParamError(f"{self.name}: must be at most 200 characters")
            return value
        return self._validate_tuple(value)

    def _validate_tuple(self, value: object) -> tuple[int, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ParamError(f"{self.name}: must be a list of integers")
        items = list(value)
        if any(isinstance(v, bool) or not isinstance(v, int) for v in items):
            raise ParamError(f"{self.name}: must be a list of integers")
        if self.length is not None and len(items) != self.length:
            raise ParamError(f"{self.name}: must have exactly {self.length} integers")
        if len(items) < self.min_length:
            raise ParamError(f"{self.name}: must have at least {self.min_length} integers")
        if len(items) > self.max_length:
            raise ParamError(f"{self.name}: must have at most {self.max_length} integers")
        for item in items:
            self._check_range(item)
        return tuple(items)

    def _check_range(self, value: float) -> None:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not low <= value <= high:
            raise ParamError(f"{self.name}: must be between {_num(low)} and {_num(high)}")
        if low is not None and value < low:
            if low == 1 and self.kind != "float":
                raise ParamError(f"{self.name}: must be a positive integer")
            raise ParamError(f"{self.name}: must be at least {_num(low)}")
        if high is not None and value > high:
            raise ParamError(f"{self.name}: must be at most {_num(high)}")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class PortSpec:
    """A named input or output of a layer. Optional inputs may stay unconnected.

    `when` names a bool param: the port exists only while it is true (a recurrent layer's
    final-state outputs), so nodes saved before the param existed keep their ports.
    """

    name: str
    help: str = ""
    optional: bool = False
    when: str | None = None


@dataclass(frozen=True)
class LayerSpec:
    """What the catalog knows about a layer type without importing torch.

    `builder` is ``"package.module:function"``; the function receives the validated params
    and the input shapes and returns an ``nn.Module``. `shape_rule`, also ``"module:function"``,
    optionally computes output shapes in pure Python: shape inference then needs no torch and
    costs microseconds instead of a meta-tensor forward pass (tests hold the rule equal to
    the builder's real output). `variadic_inputs` names an int param that sets how many
    inputs a merge layer has (ports ``in1`` .. ``inN``); `variadic_outputs` likewise sets how
    many outputs a layer has (ports ``out1`` .. ``outN``, e.g. Split and Chunk), whose module
    then returns a tuple of that length; an int_tuple param counts by its length (Split's
    sizes).
    """

    type_id: str
    title: str
    category: str
    help: str
    builder: str
    params: tuple[ParamSpec, ...] = ()
    inputs: tuple[PortSpec, ...] = (PortSpec("in"),)
    outputs: tuple[PortSpec, ...] = (PortSpec("out"),)
    variadic_inputs: str | None = None
    variadic_outputs: str | None = None
    shape_rule: str | None = None
    role: Literal["layer", "input", "output"] = "layer"
    key_params: tuple[str, ...] = ()
    _by_name: Mapping[str, ParamSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not TYPE_ID_PATTERN.match(self.type_id):
            raise ValueError(
                f"layer id {self.type_id!r} must be namespaced, like 'studio.Conv2d' "
                "or 'myplugin.MyLayer'"
            )
        if ":" not in self.builder:
            raise ValueError(f"layer {self.type_id}: builder must be 'module:function'")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"layer {self.type_id}: duplicate param names")
        object.__setattr__(self, "_by_name", {p.name: p for p in self.params})
        for variadic in (self.variadic_inputs, self.variadic_outputs):
            if variadic is not None and variadic not in self._by_name:
                raise ValueError(f"layer {self.type_id}: unknown variadic param {variadic!r}")
        for port in (*self.inputs, *self.outputs):
            if port.when is not None and port.when not in self._by_name:
                raise ValueError(f"layer {self.type_id}: port {port.name!r} needs unknown param")

    @property
    def namespace(self) -> str:
        return self.type_id.rsplit(".", 1)[0]

    def param(self, name: str) -> ParamSpec:
        return self._by_name[name]

    def has_param(self, name: str) -> bool:
        return name in self._by_name

    def defaults(self) -> dict[str, ParamValue]:
        return {p.name: p.default for p in self.params}

    def input_ports(self, params: Mapping[str, object]) -> tuple[PortSpec, ...]:
        """The input ports a node with these params has."""
        if self.variadic_inputs is None:
            return _present(self.inputs, params)
        count = params.get(self.variadic_inputs, self.param(self.variadic_inputs).default)
        if not isinstance(count, int):
            return self.inputs
        return tuple(PortSpec(f"in{i}") for i in range(1, count + 1))

    def output_ports(self, params: Mapping[str, object]) -> tuple[PortSpec, ...]:
        """The output ports a node with these params has."""
        if self.variadic_outputs is None:
            return _present(self.outputs, params)
        count = params.get(self.variadic_outputs, self.param(self.variadic_outputs).default)
        if isinstance(count, tuple):  # Split's sizes: one port per piece
            count = len(count)
        if not isinstance(count, int):
            return self.outputs
        return tuple(PortSpec(f"out{i}") for i in range(1, count + 1))

    def validate_params(self, params: Mapping[str, object]) -> dict[str, ParamValue]:
        """Check and complete `params`; raise `ParamError` naming the first bad one.

        Missing params take their defaults; unknown names are refused so a typo in a
        hand-edited project file is reported instead of silently ignored.
        """
        unknown = sorted(set(params) - set(self._by_name))
        if unknown:
            raise ParamError(f"{unknown[0]}: {self.title} has no parameter of that name")
        out: dict[str, ParamValue] = {}
        for spec in self.params:
            out[spec.name] = (
                spec.validate(params[spec.name]) if spec.name in params else spec.default
            )
        return out


def _present(ports: tuple[PortSpec, ...], params: Mapping[str, object]) -> tuple[PortSpec, ...]:
    """The ports whose `when` param is unset or true (a missing param counts as false)."""
    return tuple(p for p in ports if p.when is None or params.get(p.when) is True)
