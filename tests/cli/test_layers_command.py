"""`studio layers [--json]`: the catalog on the command line, plugins included, without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from studio.cli import EXIT_OK, main
from studio.plugins import default_registry

REPO_ROOT = Path(__file__).resolve().parents[2]

LAYER_KEYS = {
    "type_id",
    "title",
    "category",
    "help",
    "origin",
    "role",
    "inputs",
    "variadic_inputs",
    "outputs",
    "variadic_outputs",
    "params",
}
PARAM_KEYS = {
    "name",
    "kind",
    "default",
    "help",
    "minimum",
    "maximum",
    "choices",
    "length",
    "min_length",
    "max_length",
    "nullable",
}
PORT_KEYS = {"name", "help", "optional", "when"}

# Runs the command in a fresh interpreter and reports which torch modules it loaded.
RUN_AND_LIST_TORCH = """
import sys
from studio.cli import main
code = main(sys.argv[1:])
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "torch")
print(f"exit {code}; torch modules: {loaded}", file=sys.stderr)
"""


def run_fresh(*args: str, pythonpath: str | None = None) -> tuple[str, str, float]:
    """`studio ARGS` in a new process: its stdout, its torch report and its seconds."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_TORCH, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr.strip().splitlines()[-1], seconds


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.timeout(120)
def test_json_lists_every_layer_without_importing_torch() -> None:
    stdout, report, seconds = run_fresh("layers", "--json")
    assert report == "exit 0; torch modules: []"
    # A fresh interpreter, the whole catalog: start-up time, not torch's import.
    assert seconds < 10, f"studio layers --json took {seconds:.1f} s"
    document = strict_json(stdout)
    assert document["format"] == "strata-layers" and document["version"] == 1
    registry = default_registry()
    assert [layer["type_id"] for layer in document["layers"]] == [s.type_id for s in registry]


@pytest.mark.timeout(120)
def test_plain_text_is_torch_free_too() -> None:
    stdout, report, _ = run_fresh("layers")
    assert report == "exit 0; torch modules: []"
    assert "studio.Linear  Linear" in stdout


def test_json_follows_the_documented_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layers", "--json"]) == EXIT_OK
    layers = strict_json(capsys.readouterr().out)["layers"]
    registry = default_registry()
    for layer in layers:
        assert set(layer) == LAYER_KEYS, layer["type_id"]
        spec = registry.get(layer["type_id"])
        assert layer["origin"] == "studio" and layer["role"] in ("layer", "input", "output")
        assert [p["name"] for p in layer["inputs"]] == [p.name for p in spec.inputs]
        assert [p["name"] for p in layer["outputs"]] == [p.name for p in spec.outputs]
        assert all(set(port) == PORT_KEYS for port in layer["inputs"] + layer["outputs"])
        for param in layer["params"]:
            assert set(param) == PARAM_KEYS
            own = spec.param(param["name"])
            assert param["kind"] == own.kind
            # The default a script reads is one the layer accepts back.
            assert own.validate(param["default"]) == own.default, (spec.type_id, param)
            assert param["choices"] == list(own.choices)


def test_json_describes_ports_and_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layers", "--json"]) == EXIT_OK
    layers = {layer["type_id"]: layer for layer in strict_json(capsys.readouterr().out)["layers"]}
    conv = layers["studio.Conv2d"]
    assert conv["category"] and conv["title"] == "Conv2d"
    out_channels = next(p for p in conv["params"] if p["name"] == "out_channels")
    assert out_channels["kind"] == "int" and out_channels["minimum"] == 1
    assert layers["studio.Concat"]["variadic_inputs"] == "inputs"
    assert layers["studio.Split"]["variadic_outputs"] == "sizes"
    upsample_mode = next(p for p in layers["studio.Upsample"]["params"] if p["name"] == "mode")
    assert upsample_mode["kind"] == "choice" and "nearest" in upsample_mode["choices"]
    assert layers["studio.Input"]["inputs"] == [] and layers["studio.Input"]["role"] == "input"


def test_text_groups_layers_by_category(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layers"]) == EXIT_OK
    out = capsys.readouterr().out
    registry = default_registry()
    headers = [line for line in out.splitlines() if line and not line.startswith(" ")]
    categories = list(registry.categories())
    assert headers[: len(categories)] == categories
    assert headers[-1] == f"{len(registry)} layers"
    dense = out.split("\nDense\n", 1)[1].split("\n\n", 1)[0]
    assert "studio.Linear  Linear" in dense
    assert "inputs: in  ->  outputs: out" in dense
    assert "out_features: int = 64, 1 to " in dense
    assert "inputs: in1..inN (N from inputs)" in out  # Concat


@pytest.fixture
def installed_plugin(tmp_path: Path) -> str:
    """A PYTHONPATH on which a distribution `acme-layers` declares a `studio.layers` entry
    point, as `pip install` leaves one (`tests.plugins.fixture_plugins:register_good`)."""
    info = tmp_path / "acme_layers-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-layers\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[studio.layers]\nacme = tests.plugins.fixture_plugins:register_good\n"
    )
    return os.pathsep.join([str(tmp_path), str(REPO_ROOT)])


@pytest.mark.timeout(120)
def test_plugin_layers_name_their_plugin(installed_plugin: str) -> None:
    stdout, report, _ = run_fresh("layers", "--json", pythonpath=installed_plugin)
    assert report == "exit 0; torch modules: []"
    layers = {layer["type_id"]: layer for layer in strict_json(stdout)["layers"]}
    swish = layers["acme.Swish"]
    assert swish["origin"] == "plugin acme (acme-layers)"
    (beta,) = swish["params"]
    assert beta == {
        "name": "beta",
        "kind": "float",
        "default": 1.0,
        "help": "Steepness.",
        "minimum": 0.0,
        "maximum": 10.0,
        "choices": [],
        "length": None,
        "min_length": 1,
        "max_length": 8,
        "nullable": False,
    }
    text, _, _ = run_fresh("layers", pythonpath=installed_plugin)
    assert "acme.Swish  Swish  [plugin acme (acme-layers)]" in text
    assert text.rstrip().endswith("layers, 1 from plugins")
