"""A deliberately broken plugin: every way a plugin can go wrong, one per entry point.

`tests.plugins.installing.write_distribution` installs it as the distribution
``strata-broken-fixture``. Its layer entry points: a module that does not exist, a bad spec,
a builder path that names no module, an id in Strata Studio's own namespace, and a builder
that raises (its spec is fine, so only building it finds the fault). Its dataset has no
prefix and its export format claims ``studio.``. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from studio.core.registry import LayerRegistry
from studio.core.shapes import TensorShape
from studio.core.specs import LayerSpec

DISTRIBUTION = "strata-broken-fixture"
BUILDER_MESSAGE = "this builder is broken on purpose"
HERE = "tests.plugins.broken_plugin"
ENTRY_POINTS = {
    "studio.layers": {
        "import_error": "strata_no_such_module_xyz:register",
        "bad_spec": f"{HERE}:register_bad_spec",
        "raising_builder": f"{HERE}:register_raising_builder",
        "unresolved_builder": f"{HERE}:register_unresolved_builder",
        "studio_namespace": f"{HERE}:register_in_studio_namespace",
    },
    "studio.datasets": {"unprefixed": f"{HERE}:register_unprefixed_dataset"},
    "studio.exporters": {"studio_namespace": f"{HERE}:register_exporter_in_studio_namespace"},
}
#: Each entry point's error, by a phrase it contains (the one it is about).
EXPECTED_ERRORS = {
    "import_error": "strata_no_such_module_xyz",
    "bad_spec": "must be namespaced",
    "raising_builder": BUILDER_MESSAGE,
    "unresolved_builder": "strata_no_such_builders_xyz",
    "studio_namespace": "'studio.' namespace",
    "unprefixed": "needs its plugin's own prefix",
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
            f"{HERE}:build_explodes",
        )
    )


def register_unresolved_builder(registry: LayerRegistry) -> None:
    registry.register(
        LayerSpec(
            "broken.Unimportable",
            "Unimportable",
            "Activation",
            "A layer whose builder's module does not exist.",
            "strata_no_such_builders_xyz:build",
        )
    )


def register_in_studio_namespace(registry: LayerRegistry) -> None:
    registry.register(
        LayerSpec(
            "studio.Hijack", "Hijack", "Activation", "Not ours to add.", f"{HERE}:build_explodes"
        )
    )


def register_unprefixed_dataset(registry: Any) -> None:
    from studio.data.catalog import BUNDLED

    registry.register(replace(BUNDLED[0], name="broken_iris"))


class _Exporter:
    format = "studio.npz"
    title = "Not ours to add"
    suffix = ".npz"


def register_exporter_in_studio_namespace(registry: Any) -> None:
    registry.register(_Exporter())


def build_explodes(params: Mapping[str, Any], inputs: Sequence[TensorShape]) -> Any:
    raise RuntimeError(BUILDER_MESSAGE)
