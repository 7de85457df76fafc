"""A deliberately broken plugin: a bad spec, and a layer whose builder raises.

`tests.plugins.installing.write_distribution` installs it as the distribution
``strata-broken-fixture`` with a third entry point whose module does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.registry import LayerRegistry
from studio.core.shapes import TensorShape
from studio.core.specs import LayerSpec

DISTRIBUTION = "strata-broken-fixture"
BUILDER_MESSAGE = "this builder is broken on purpose"
ENTRY_POINTS = {
    "studio.layers": {
        "import_error": "strata_no_such_module_xyz:register",
        "bad_spec": "tests.plugins.broken_plugin:register_bad_spec",
        "raising_builder": "tests.plugins.broken_plugin:register_raising_builder",
    }
}


def register_bad_spec(registry: LayerRegistry) -> None:
    # An id without a namespace: LayerSpec refuses it before anything is registered.
    registry.register(LayerSpec("Unprefixed", "Unprefixed", "Dense", "No namespace.", "x:y"))


def register_raising_builder(registry: LayerRegistry) -> None:
    registry.register(
        LayerSpec(
            "broken.Explodes",
            "Explodes",
            "Activation",
            "A layer whose builder raises.",
            "tests.plugins.broken_plugin:build_explodes",
        )
    )


def build_explodes(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> Any:
    raise RuntimeError(BUILDER_MESSAGE)
