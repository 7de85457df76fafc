"""The palette: icons, two-line rows, search over help too, drags, adding by double-click."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from studio.core.graph import Graph
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import list_templates
from studio.ui.main_window import MainWindow
from studio.ui.palette import (
    LAYER_MIME_TYPE,
    TYPE_ID_ROLE,
    PalettePanel,
    category_icon,
    layer_mime_data,
)

TEMPLATES = {t.name: t.path for t in list_templates()}


def open_mlp(window: MainWindow) -> Graph:
    project = Project.load(TEMPLATES["mlp_classifier"], window.registry)
    window.set_project(project)
    return project.main_graph


def test_every_layer_has_an_icon_a_title_and_its_help(qtbot, registry: LayerRegistry) -> None:
    panel = PalettePanel(registry)
    qtbot.addWidget(panel)
    for spec in registry:
        item = panel.item_for(spec.type_id)
        assert item is not None, spec.type_id
        assert item.text(0) == spec.title
        assert item.toolTip(0) == spec.help
        assert not item.icon(0).isNull()
        assert item.flags() & Qt.ItemFlag.ItemIsDragEnabled
    group = panel.tree.topLevelItem(0)
    assert not group.flags() & Qt.ItemFlag.ItemIsDragEnabled
    # Two lines per layer: its title and, smaller, its help.
    delegate = panel.tree.itemDelegate()
    option = QStyleOptionViewItem()
    option.initFrom(panel.tree)
    layer_index = panel.tree.indexFromItem(group.child(0))
    group_index = panel.tree.indexFromItem(group)
    layer_height = delegate.sizeHint(option, layer_index).height()
    assert layer_height > delegate.sizeHint(option, group_index).height()
    assert layer_height >= 2 * option.fontMetrics.height()
    assert delegate.sizeHint(option, QModelIndex()).isValid()


def test_a_category_without_an_svg_gets_a_painted_glyph(qtbot) -> None:
    assert not category_icon("Convolution").isNull()  # assets/icons/convolution.svg
    painted = category_icon("My Plugin Layers")
    assert not painted.isNull()
    assert painted.availableSizes(), "a painted glyph is a pixmap icon"
    assert not painted.pixmap(18, 18).isNull()


def test_search_matches_title_id_category_and_help(qtbot, registry: LayerRegistry) -> None:
    panel = PalettePanel(registry)
    qtbot.addWidget(panel)
    qtbot.keyClicks(panel.search, "overfitting")  # only in the help of Dropout and kin
    shown = panel.visible_layers()
    assert "studio.Dropout" in shown
    assert "studio.Linear" not in shown
    expected = [s.type_id for s in registry if "overfitting" in s.help.lower()]
    assert sorted(shown) == sorted(expected)
    panel.search.clear()
    qtbot.keyClicks(panel.search, "studio.conv2d")  # the type id, and those it begins
    assert panel.visible_layers() == ["studio.Conv2d", "studio.Conv2dRect"]
    panel.search.clear()
    qtbot.keyClicks(panel.search, "studio.conv2drect")
    assert panel.visible_layers() == ["studio.Conv2dRect"]
    panel.search.clear()
    qtbot.keyClicks(panel.search, "normalization batch")  # every word, anywhere
    shown = panel.visible_layers()
    assert {"studio.BatchNorm1d", "studio.BatchNorm2d"} <= set(shown)
    assert "studio.LayerNorm" not in shown or "batch" in registry.get("studio.LayerNorm").help
    assert "studio.Dropout" not in shown
    panel.search.clear()
    assert len(panel.visible_layers()) == len(registry)


def test_a_drag_carries_the_type_id(qtbot, registry: LayerRegistry) -> None:
    panel = PalettePanel(registry)
    qtbot.addWidget(panel)
    tree = panel.tree
    assert tree.dragEnabled()
    assert tree.mimeTypes() == [LAYER_MIME_TYPE]
    item = panel.item_for("studio.Conv2d")
    assert item is not None
    data = tree.mimeData([item])
    assert data.formats() == [LAYER_MIME_TYPE]
    assert bytes(data.data(LAYER_MIME_TYPE)).decode("utf-8") == "studio.Conv2d"
    assert bytes(layer_mime_data("x.Y").data(LAYER_MIME_TYPE)) == b"x.Y"
    assert not tree.mimeData([tree.topLevelItem(0)]).formats(), "a category is not a layer"
    # What Qt's drag uses: the model asks the view.
    index = tree.indexFromItem(item)
    from_model = tree.model().mimeData([index])
    assert bytes(from_model.data(LAYER_MIME_TYPE)).decode("utf-8") == "studio.Conv2d"


def test_double_click_adds_the_layer_at_the_view_centre(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    graph = open_mlp(main_window)
    palette = main_window.palette_panel
    before = {node.id for node in graph.nodes}
    view = main_window.view
    view.pan_by(140, 90)
    centre = view.mapToScene(view.viewport().rect().center())
    item = palette.item_for("studio.GELU")
    assert item is not None
    palette.tree.scrollToItem(item)
    rect = palette.tree.visualItemRect(item)
    with qtbot.waitSignal(palette.layer_activated) as activated:
        # As a real double-click: a press and a release first, then the double-click.
        qtbot.mouseClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert activated.args == ["studio.GELU"]
    added = [node for node in graph.nodes if node.id not in before]
    assert len(added) == 1
    node = added[0]
    assert node.type_id == "studio.GELU"
    assert abs(node.position[0] - centre.x()) < 1 and abs(node.position[1] - centre.y()) < 1
    scene = main_window.current.scene
    assert scene.selected_node_ids() == [node.id]
    assert main_window.inspector.node_id == node.id
    assert main_window.undo_stack.undoText() == "Add GELU"

    # Again: the second one steps aside instead of hiding the first.
    palette.tree.setCurrentItem(item)
    palette.tree.setFocus()
    qtbot.keyClick(palette.tree, Qt.Key.Key_Return)
    second = [n for n in graph.nodes if n.id not in before and n.id != node.id]
    assert len(second) == 1
    assert second[0].position != node.position
    assert main_window.undo_stack.count() == 2

    main_window.undo_action.trigger()
    main_window.undo_action.trigger()
    assert {n.id for n in graph.nodes} == before
    assert node.id not in scene.nodes
    main_window.redo_action.trigger()
    assert graph.node(node.id).position == node.position
    wait_for_analysis(main_window, summary=False)


def test_enter_in_the_search_field_adds_the_first_match(qtbot, main_window: MainWindow) -> None:
    graph = open_mlp(main_window)
    palette = main_window.palette_panel
    count = len(graph)
    qtbot.keyClicks(palette.search, "layernorm")
    # RMSNorm's description names LayerNorm too; the exact title comes first.
    assert palette.visible_layers()[0] == "studio.LayerNorm"
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert len(graph) == count + 1
    assert graph.nodes[-1].type_id == "studio.LayerNorm"
    qtbot.keyClick(palette.search, Qt.Key.Key_Down)
    assert palette.tree.currentItem() is palette.item_for("studio.LayerNorm")


def test_without_a_project_a_double_click_only_explains(qtbot, main_window: MainWindow) -> None:
    palette = main_window.palette_panel
    palette.layer_activated.emit("studio.ReLU")
    assert "Open a project" in main_window.statusBar().currentMessage()
    assert main_window.undo_stack.count() == 0
    item = palette.item_for("studio.ReLU")
    assert item is not None and item.data(0, TYPE_ID_ROLE) == "studio.ReLU"
