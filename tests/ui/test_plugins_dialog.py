"""Help ▸ Plugins… lists the built-ins, the example plugin, and a broken plugin with its
errors in red; the window starts with both installed and the palette shows the layers that
were not skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QTreeWidgetItem

from studio.core.registry import LayerRegistry
from studio.plugins import default_registry
from studio.ui import theme
from studio.ui.plugins_dialog import PluginsDialog
from tests.plugins.broken_plugin import DISTRIBUTION, ENTRY_POINTS, EXPECTED_ERRORS
from tests.plugins.installing import EXAMPLE_PLUGIN, on_path, pip_install, write_distribution

LOAD_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site") / "packages"
    pip_install(EXAMPLE_PLUGIN, target)
    return target


@pytest.fixture
def installed(example_site: Path, tmp_path: Path) -> Iterator[None]:
    """The example plugin and a broken one, installed as real distributions."""
    write_distribution(tmp_path, DISTRIBUTION, "6.6.6", ENTRY_POINTS)
    with on_path(example_site), on_path(tmp_path):
        yield


@pytest.fixture
def registry(installed: None) -> LayerRegistry:
    """The window gets the application's own registry, discovered with both plugins present."""
    return default_registry()


def _top(dialog: PluginsDialog, distribution: str) -> QTreeWidgetItem:
    tree = dialog.tree
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        if item.text(0).startswith(distribution + " "):
            return item
    raise AssertionError(f"{distribution} is not listed: {dialog.rows()}")


def _errors(group: QTreeWidgetItem) -> dict[str, QTreeWidgetItem]:
    """The red error rows under a group row, by their first column (``✖ entry point``)."""
    children = (group.child(i) for i in range(group.childCount()))
    return {child.text(0): child for child in children if child.text(0).startswith("✖")}


def _text(item: QTreeWidgetItem) -> str:
    """An error row's message with the line breaks the dialog wraps it with taken out."""
    return " ".join(item.text(1).split())


def test_lists_builtins_and_a_broken_plugin_with_its_errors(main_window, qtbot):
    help_menu = main_window._menu_holding(main_window.about_action)
    assert help_menu is not None and main_window.plugins_action in help_menu.actions()

    main_window.plugins_action.trigger()
    dialog = main_window.plugins_dialog
    assert isinstance(dialog, PluginsDialog)
    assert dialog.isVisible()  # open at once; discovery runs in the window's worker
    qtbot.waitUntil(lambda: dialog.plugins is not None, timeout=LOAD_TIMEOUT_MS)

    builtin = _top(dialog, "strata-studio")
    assert dialog.tree.indexOfTopLevelItem(builtin) == 0
    assert builtin.text(1).startswith("built-in: layers, datasets, explainers")
    layers = builtin.child(0)
    assert layers.text(0) == "Layers" and "studio.Conv2d" in layers.toolTip(1)
    assert "studio.Conv2d" in [layers.child(i).text(1) for i in range(layers.childCount())]
    assert not layers.isExpanded()

    broken = _top(dialog, DISTRIBUTION)
    assert "6.6.6" in broken.text(0) and "7 errors" in broken.text(1)
    assert broken.text(1).startswith("plugin: layers, datasets, export formats")
    layers_group, datasets_group, formats_group = (broken.child(i) for i in range(3))
    assert layers_group.text(1) == "1 layer: broken.Explodes"
    errors = _errors(layers_group)
    assert sorted(errors) == sorted(f"✖ {name}" for name in ENTRY_POINTS["studio.layers"])
    for name, item in errors.items():
        assert EXPECTED_ERRORS[name.removeprefix("✖ ")] in _text(item), name
        assert item.foreground(1).color() == theme.colour("error")
    # Found by building the layer on the dialog's worker; discovery could not know.
    assert "RuntimeError" in _text(errors["✖ raising_builder"])
    assert "ModuleNotFoundError" in _text(errors["✖ import_error"])
    assert layers_group.isExpanded()
    assert datasets_group.text(1) == "0 datasets"
    assert list(_errors(datasets_group)) == ["✖ unprefixed"]
    assert formats_group.text(1) == "0 formats"
    assert "'studio.npz'" in _text(_errors(formats_group)["✖ studio_namespace"])
    assert DISTRIBUTION in dialog.summary.text()

    extra = _top(dialog, "strata-extra-layers")
    assert extra.text(1) == "plugin: layers, datasets, export formats"
    assert extra.child(0).text(1) == (
        "3 layers: extra.SqueezeExcite, extra.SeparableConv2d, extra.Mish"
    )

    dialog.close()
    qtbot.waitUntil(lambda: main_window.tasks.pending == 0, timeout=LOAD_TIMEOUT_MS)


def test_the_example_plugins_layers_are_in_the_palette(main_window) -> None:
    palette = main_window.palette_panel
    for type_id in ("extra.SqueezeExcite", "extra.SeparableConv2d", "extra.Mish"):
        assert palette.item_for(type_id) is not None, type_id
    palette.apply_filter("mish")
    # The catalog has its own Mish now; the plugin's stays listed beside it, not hidden by it.
    assert sorted(palette.visible_layers()) == ["extra.Mish", "studio.Mish"]
    # Skipped at discovery: a builder path naming no module, an id in the studio namespace.
    assert palette.item_for("broken.Unimportable") is None
    assert palette.item_for("studio.Hijack") is None
    # Listed: its spec is sound, and only building it (which needs torch, which the palette
    # never waits for) finds that its builder raises; Help ▸ Plugins… and the node say so.
    assert palette.item_for("broken.Explodes") is not None
