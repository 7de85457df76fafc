"""`studio layers`: the catalog, plugins included, as text for people and JSON for scripts.

Everything here reads `LayerSpec`s only, so listing a thousand layers imports no torch: a
script that asks which layers exist gets its answer in the time Python takes to start.

The JSON document (``studio layers --json``) is a contract; fields are only ever added::

    {
      "format": "strata-layers",
      "version": 1,
      "layers": [                       # registration order: built-ins, then plugins
        {
          "type_id": "studio.Conv2d",   # what a project file names
          "title": "Conv2d",
          "category": "Convolution",
          "help": "one line",
          "origin": "studio",           # or "plugin NAME (DISTRIBUTION)"
          "role": "layer",              # "input" and "output" for the graph's ends
          "inputs": [{"name": "in", "help": "", "optional": false}],
          "variadic_inputs": null,      # or the int param whose value N makes in1..inN
          "outputs": [{"name": "out", "help": "", "optional": false}],
          "variadic_outputs": null,     # or the param making out1..outN (a tuple: its length)
          "params": [
            {
              "name": "kernel_size", "kind": "int_tuple", "default": [3, 3], "help": "...",
              "minimum": 1, "maximum": null,      # bounds of ints, floats, tuple elements
              "choices": [],                      # the values of a "choice" param
              "length": 2, "min_length": 1, "max_length": 8,  # of an "int_tuple"
              "nullable": false                    # whether null means "not set"
            }
          ]
        }
      ]
    }

`kind` is one of int, float, bool, choice, str, int_tuple; a bound that is infinite is null.
"""

from __future__ import annotations

import math
from typing import Any

from studio.core.registry import LayerRegistry
from studio.core.specs import LayerSpec, ParamSpec, ParamValue, PortSpec

FORMAT = "strata-layers"
VERSION = 1


def catalog_document(registry: LayerRegistry) -> dict[str, Any]:
    """The whole catalog as the ``--json`` document (see the module's docstring)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "layers": [layer_record(spec, registry.origin(spec.type_id)) for spec in registry],
    }


def layer_record(spec: LayerSpec, origin: str) -> dict[str, Any]:
    """One layer as a JSON object: its id, ports and params, and where it comes from."""
    return {
        "type_id": spec.type_id,
        "title": spec.title,
        "category": spec.category,
        "help": spec.help,
        "origin": origin,
        "role": spec.role,
        "inputs": [_port(p) for p in spec.inputs],
        "variadic_inputs": spec.variadic_inputs,
        "outputs": [_port(p) for p in spec.outputs],
        "variadic_outputs": spec.variadic_outputs,
        "params": [_param(p) for p in spec.params],
    }


def _port(port: PortSpec) -> dict[str, Any]:
    return {"name": port.name, "help": port.help, "optional": port.optional, "when": port.when}


def _param(param: ParamSpec) -> dict[str, Any]:
    return {
        "name": param.name,
        "kind": param.kind,
        "default": _json_value(param.default),
        "help": param.help,
        "minimum": _finite(param.minimum),
        "maximum": _finite(param.maximum),
        "choices": list(param.choices),
        "length": param.length,
        "min_length": param.min_length,
        "max_length": param.max_length,
        "nullable": param.nullable,
    }


def _json_value(value: ParamValue) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no Infinity; no default is infinite today
    return value


def _finite(bound: float | None) -> float | None:
    return bound if bound is not None and math.isfinite(bound) else None


# ---- text for people
def catalog_text(registry: LayerRegistry) -> str:
    """The catalog grouped by category, one block per layer, as `studio layers` prints it."""
    blocks = []
    for category, specs in registry.categories().items():
        lines = [f"{category}"]
        for spec in specs:
            lines += ["  " + line for line in _layer_lines(spec, registry.origin(spec.type_id))]
        blocks.append("\n".join(lines))
    count = len(registry)
    plugins = sum(1 for spec in registry if registry.origin(spec.type_id) != "studio")
    from_plugins = f", {plugins} from plugins" if plugins else ""
    return "\n\n".join([*blocks, f"{count} layers{from_plugins}"])


def _layer_lines(spec: LayerSpec, origin: str) -> list[str]:
    where = "" if origin == "studio" else f"  [{origin}]"
    lines = [f"{spec.type_id}  {spec.title}{where}", f"    {spec.help}"]
    inputs = _ports_text(spec.inputs, spec.variadic_inputs, "in")
    outputs = _ports_text(spec.outputs, spec.variadic_outputs, "out")
    if spec.role == "input":
        lines.append(f"    outputs: {outputs}")
    elif spec.role == "output":
        lines.append(f"    inputs: {inputs}")
    else:
        lines.append(f"    inputs: {inputs}  ->  outputs: {outputs}")
    lines += [f"    {_param_text(param)}" for param in spec.params]
    return lines


def _ports_text(ports: tuple[PortSpec, ...], variadic: str | None, stem: str) -> str:
    if variadic is not None:
        return f"{stem}1..{stem}N (N from {variadic})"
    if not ports:
        return "none"
    return ", ".join(_port_text(p) for p in ports)


def _port_text(port: PortSpec) -> str:
    if port.when is not None:
        return f"{port.name} (with {port.when})"
    return f"{port.name} (optional)" if port.optional else port.name


def _param_text(param: ParamSpec) -> str:
    """``kernel_size: int_tuple of 2 = (3, 3), 1 or more. Size of the kernel.``"""
    kind: str = param.kind
    if kind == "int_tuple":
        count = param.length or f"{param.min_length} to {param.max_length}"
        kind += f" of {count}"
    if param.nullable:
        kind += " or none"
    default = _default_text(param.default)
    limits = _limits_text(param)
    return f"{param.name}: {kind} = {default}{f', {limits}' if limits else ''}. " + (
        param.help.rstrip(".") + "."
    )


def _default_text(value: ParamValue) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "(" + ", ".join(str(v) for v in value) + ")"
    if isinstance(value, str):
        return repr(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _limits_text(param: ParamSpec) -> str:
    if param.choices:
        return "one of " + ", ".join(param.choices)
    low, high = _finite(param.minimum), _finite(param.maximum)
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)}"
    if low is not None:
        return f"{_number(low)} or more"
    if high is not None:
        return f"at most {_number(high)}"
    return ""


def _number(value: float) -> str:
    """``1000000`` rather than ``1e+06``: limits are read as the numbers one would type."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
