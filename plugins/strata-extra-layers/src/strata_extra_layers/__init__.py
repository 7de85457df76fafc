"""Strata Studio example plugin: three layers, a dataset and an export format.

The three functions below are this distribution's entry points (see its ``pyproject.toml``).
Each receives a registry and registers into it; Strata Studio calls them at start-up, so this
module and what it imports at module level stay free of torch: `specs` and `spirals` describe
layers and the dataset by import path, and torch is imported only when a graph is compiled, a
dataset read, or an export format discovered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strata_extra_layers.specs import LAYERS, NAMESPACE
from strata_extra_layers.spirals import SPIRALS

if TYPE_CHECKING:
    from studio.core.registry import LayerRegistry
    from studio.data.registry import DatasetRegistry
    from studio.export.registry import ExporterRegistry

__all__ = ["LAYERS", "NAMESPACE", "register_datasets", "register_exporters", "register_layers"]
__version__ = "0.1.0"


def register_layers(registry: LayerRegistry) -> None:
    """The ``studio.layers`` entry point: Squeeze-Excite, SeparableConv2d and Mish."""
    for spec in LAYERS:
        registry.register(spec, origin="strata-extra-layers")


def register_datasets(registry: DatasetRegistry) -> None:
    """The ``studio.datasets`` entry point: the generated two-spirals table."""
    registry.register(SPIRALS, origin="strata-extra-layers")


def register_exporters(registry: ExporterRegistry) -> None:
    """The ``studio.exporters`` entry point: trained weights as a NumPy ``.npz`` archive."""
    from strata_extra_layers.npz_export import NpzWeightsExporter

    registry.register(NpzWeightsExporter(), origin="strata-extra-layers")
