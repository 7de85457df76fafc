"""The inspector as an editor: typed edits, undo and redo, refusals, renames."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QLineEdit, QSpinBox

from studio.core.commands import SetParamCommand
from studio.core.graph import Graph
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import list_templates
from studio.core.specs import ParamError, ParamSpec
from studio.ui import theme
from studio.ui.inspector import InspectorPanel
from studio.ui.main_window import MainWindow
from studio.ui.param_editors import (
    BoolEditor,
    ChoiceEditor,
    FloatEditor,
    FloatSpinBox,
    IntEditor,
    TextEditor,
    format_value,
    make_editor,
    number_text,
    parse_value,
    range_text,
)

TEMPLATES = {t.name: t.path for t in list_templates()}


def open_mlp(window: MainWindow) -> Graph:
    project = Project.load(TEMPLATES["mlp_classifier"], window.registry)
    window.set_project(project)
    return project.main_graph


def select(window: MainWindow, graph: Graph, name: str) -> str:
    node = graph.node_by_name(name)
    assert node is not None
    assert window.current is not None
    window.current.scene.select_node(node.id)
    assert window.inspector.node_id == node.id
    return node.id


def retype(qtbot, widget: QSpinBox | QLineEdit, text: str) -> None:
    """Focus a field, select what it holds and type `text` key by key."""
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def norm_graph(registry: LayerRegistry) -> Graph:
    """features (8) → BatchNorm1d → Output: a node with float params, eps among them."""
    graph = Graph(registry)
    x = graph.add_node("studio.Input", name="x", params={"shape": [8]})
    norm = graph.add_node("studio.BatchNorm1d", name="norm", position=(220.0, 0.0))
    y = graph.add_node("studio.Output", name="y", position=(440.0, 0.0))
    graph.connect(x.id, "out", norm.id, "in")
    graph.connect(norm.id, "out", y.id, "in")
    return graph


def test_typing_in_a_spin_box_reshapes_downstream_as_you_type(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    graph = open_mlp(main_window)
    wait_for_analysis(main_window, summary=False)
    hidden1 = select(main_window, graph, "hidden1")
    relu1 = graph.node_by_name("relu1")
    assert relu1 is not None
    field = main_window.inspector.field("out_features")
    spin = field.editor.input
    assert isinstance(spin, QSpinBox)
    assert spin.keyboardTracking()
    assert (spin.minimum(), spin.text()) == (1, "32")
    assert field.hint.text() == "1 – 1,000,000"
    assert "out_features" not in field.editor.toolTip()  # the help, not the name
    assert graph.spec(hidden1).param("out_features").help in spin.toolTip()

    retype(qtbot, spin, "64")
    assert graph.node(hidden1).params["out_features"] == 64
    assert main_window.undo_stack.count() == 1, "the keystrokes of one burst are one step"
    scene = main_window.current.scene
    qtbot.waitUntil(lambda: scene.nodes[relu1.id].shape_text == "(N, 64)", timeout=30_000)
    assert scene.nodes[hidden1].shape_text == "(N, 64)"
    assert main_window.current.shapes.outputs[relu1.id]["out"].dims == (64,)
    qtbot.waitUntil(lambda: main_window.inspector.field_text("Output") == "(N, 64)")
    # A new report does not rebuild the form under the cursor.
    assert main_window.inspector.field("out_features").editor.input is spin

    spin.editingFinished.emit()  # leaving the field ends the burst
    retype(qtbot, spin, "16")
    assert graph.node(hidden1).params["out_features"] == 16
    assert main_window.undo_stack.count() == 2

    main_window.undo_action.trigger()
    assert graph.node(hidden1).params["out_features"] == 64
    assert spin.text() == "64"
    main_window.undo_action.trigger()
    assert graph.node(hidden1).params["out_features"] == 32
    assert spin.text() == "32"
    assert main_window.undo_stack.count() == 2, "following the model pushes nothing"
    qtbot.waitUntil(lambda: scene.nodes[relu1.id].shape_text == "(N, 32)", timeout=30_000)
    main_window.redo_action.trigger()
    assert graph.node(hidden1).params["out_features"] == 64
    assert spin.text() == "64"
    main_window.redo_action.trigger()
    assert graph.node(hidden1).params["out_features"] == 16
    assert spin.text() == "16"
    qtbot.waitUntil(lambda: scene.nodes[relu1.id].shape_text == "(N, 16)", timeout=30_000)


def test_set_value_and_editing_finished_commit_one_step(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    graph = open_mlp(main_window)
    classifier = select(main_window, graph, "classifier")
    spin = main_window.inspector.field("out_features").editor.input
    assert isinstance(spin, QSpinBox)
    spin.setValue(5)
    spin.editingFinished.emit()
    assert graph.node(classifier).params["out_features"] == 5
    assert main_window.undo_stack.count() == 1
    assert main_window.undo_stack.undoText() == "Set classifier.out_features"
    wait_for_analysis(main_window, summary=False)
    qtbot.waitUntil(lambda: main_window.inspector.field_text("Output") == "(N, 5)")


def test_a_float_field_shows_and_takes_tiny_values(
    qtbot, main_window: MainWindow, registry: LayerRegistry
) -> None:
    graph = norm_graph(registry)
    main_window.set_project(Project("norm", registry, graphs={"model": graph}))
    norm = select(main_window, graph, "norm")
    field = main_window.inspector.field("eps")
    spin = field.editor.input
    assert isinstance(spin, FloatSpinBox)
    assert spin.text() == "1e-05"
    assert field.hint.text() == "1e-12 – 1.0"

    retype(qtbot, spin, "2")  # on the way to 2e-7: out of range, said so, not committed
    assert field.error_text == "eps: must be between 1e-12 and 1"
    assert graph.node(norm).params["eps"] == 1e-05
    qtbot.keyClicks(spin, "e-7")
    assert graph.node(norm).params["eps"] == 2e-07
    assert field.error_text is None
    assert main_window.undo_stack.count() == 1

    spin.editingFinished.emit()
    spin.stepBy(1)  # an epsilon steps by factors of ten
    assert graph.node(norm).params["eps"] == pytest.approx(2e-06)
    assert spin.text() == "2e-06"
    momentum = main_window.inspector.field("momentum").editor.input
    assert isinstance(momentum, FloatSpinBox)
    momentum.stepBy(2)  # a fraction steps by tenths, without float noise
    assert graph.node(norm).params["momentum"] == 0.3
    assert momentum.text() == "0.3"
    main_window.undo_action.trigger()
    assert graph.node(norm).params["momentum"] == 0.1
    assert momentum.text() == "0.1"


def test_an_invalid_tuple_is_refused_with_the_specs_sentence(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    graph = open_mlp(main_window)
    features = select(main_window, graph, "features")
    field = main_window.inspector.field("shape")
    line = field.editor.input
    assert isinstance(line, QLineEdit)
    assert line.text() == "4"
    assert field.hint.text() == "1 to 4 integers, each 1 – 1,000,000"
    before = graph.to_dict()

    for text, sentence in [
        ("3, 0, 32", "shape: must be between 1 and 1000000"),
        ("1, 2, 3, 4, 5", "shape: must have at most 4 integers"),
        ("3, x", "shape: write whole numbers separated by commas, e.g. 1, 28, 28"),
    ]:
        line.setFocus()
        line.selectAll()
        line.insert(text)  # one edit, as a paste would be
        assert field.error_text == sentence
        qtbot.waitUntil(field.error.isVisible)  # rows added to a shown form show a moment later
        assert line.text() == text, "the text stays for the person to fix"
    line.editingFinished.emit()
    assert field.error_text is not None
    assert graph.to_dict() == before
    assert main_window.undo_stack.count() == 0

    line.selectAll()
    line.insert("[2, 3]")
    assert graph.node(features).params["shape"] == (2, 3)
    assert field.error_text is None
    main_window.undo_action.trigger()
    assert graph.node(features).params["shape"] == (4,)
    assert line.text() == "4"
    wait_for_analysis(main_window, summary=False)


def test_a_refusal_by_the_graph_is_shown_beside_the_field(
    qtbot, main_window: MainWindow, registry: LayerRegistry
) -> None:
    graph = Graph(registry)
    a = graph.add_node("studio.Input", name="a", params={"shape": [4]})
    b = graph.add_node("studio.Input", name="b", params={"shape": [4]})
    c = graph.add_node("studio.Input", name="c", params={"shape": [4]})
    add = graph.add_node("studio.Add", name="add", params={"inputs": 3})
    for port, source in zip(("in1", "in2", "in3"), (a, b, c), strict=True):
        graph.connect(source.id, "out", add.id, port)
    main_window.set_project(Project("merge", registry, graphs={"model": graph}))
    select(main_window, graph, "add")
    field = main_window.inspector.field("inputs")
    spin = field.editor.input
    assert isinstance(spin, QSpinBox)
    spin.setFocus()
    spin.setValue(2)
    assert (
        field.error_text
        == "add.in3 is connected; disconnect it before reducing the number of inputs"
    )
    assert graph.node(add.id).params["inputs"] == 3
    assert main_window.undo_stack.count() == 0
    spin.clearFocus()
    spin.editingFinished.emit()
    assert spin.value() == 3, "leaving the field puts the model's value back"
    assert field.error_text is None


def test_choice_and_bool_fields_commit_each_change(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    graph = open_mlp(main_window)
    hidden1 = select(main_window, graph, "hidden1")
    bias = main_window.inspector.field("bias").editor
    assert isinstance(bias, BoolEditor)
    assert bias.check.isChecked()
    box = QPoint(8, bias.check.height() // 2)  # on the box: the check box is as wide as the form
    qtbot.mouseClick(bias.check, Qt.MouseButton.LeftButton, pos=box)
    assert graph.node(hidden1).params["bias"] is False
    qtbot.mouseClick(bias.check, Qt.MouseButton.LeftButton, pos=box)
    assert graph.node(hidden1).params["bias"] is True
    assert main_window.undo_stack.count() == 2, "each click is a step"
    main_window.undo_action.trigger()
    assert not bias.check.isChecked()

    features = select(main_window, graph, "features")
    dtype = main_window.inspector.field("dtype").editor
    assert isinstance(dtype, ChoiceEditor)
    choices = graph.spec(features).param("dtype").choices
    other = next(c for c in choices if c != "float")
    dtype.combo.setCurrentText(other)
    dtype.combo.activated.emit(dtype.combo.currentIndex())
    assert graph.node(features).params["dtype"] == other
    main_window.undo_action.trigger()
    assert dtype.text() == "float"


def test_rename_is_undoable_and_a_duplicate_name_is_refused(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    graph = open_mlp(main_window)
    hidden1 = select(main_window, graph, "hidden1")
    inspector = main_window.inspector
    retype(qtbot, inspector.name_edit, "encoder")
    qtbot.keyClick(inspector.name_edit, Qt.Key.Key_Return)
    assert graph.node(hidden1).name == "encoder"
    assert "encoder" in inspector.heading.text()
    assert main_window.current.scene.nodes[hidden1].title == "encoder"
    assert main_window.undo_stack.count() == 1

    retype(qtbot, inspector.name_edit, "relu1")
    qtbot.keyClick(inspector.name_edit, Qt.Key.Key_Return)
    assert graph.node(hidden1).name == "encoder"
    assert inspector.name_error_text == "the name 'relu1' is already used by another node"
    assert main_window.undo_stack.count() == 1

    main_window.undo_action.trigger()
    assert graph.node(hidden1).name == "hidden1"
    assert inspector.name_edit.text() == "hidden1"
    assert inspector.name_error_text is None
    assert inspector.field_text("Name") == "hidden1"
    main_window.redo_action.trigger()
    assert inspector.field_text("Name") == "encoder"


def test_edits_made_elsewhere_update_the_form_without_echo(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    graph = open_mlp(main_window)
    dropout = select(main_window, graph, "dropout")
    assert main_window.push(SetParamCommand(graph, dropout, "p", 0.25))
    assert main_window.inspector.field_text("p") == "0.25"
    assert main_window.undo_stack.count() == 1
    wait_for_analysis(main_window, summary=False)
    assert main_window.inspector.field_text("p") == "0.25"
    assert main_window.undo_stack.count() == 1


def test_the_form_shows_shapes_and_the_problem_first(
    qtbot, main_window: MainWindow, registry: LayerRegistry, wait_for_analysis
) -> None:
    graph = Graph(registry)
    image = graph.add_node("studio.Input", name="image", params={"shape": [3, 8, 8]})
    linear = graph.add_node("studio.Linear", name="classifier", position=(220.0, 0.0))
    graph.connect(image.id, "out", linear.id, "in")
    main_window.set_project(Project("broken", registry, graphs={"model": graph}))
    wait_for_analysis(main_window, summary=False)
    select(main_window, graph, "classifier")
    inspector = main_window.inspector
    assert inspector.field_text("Input") == "(N, 3, 8, 8)"
    assert "Flatten" in (inspector.field_text("Problem") or "")
    assert inspector.field_text("Type") == "studio.Linear"
    main_window.current.scene.clearSelection()
    assert inspector.node_id is None
    assert inspector.field_text("Name") is None


def test_without_push_the_form_is_read_only(qtbot, registry: LayerRegistry) -> None:
    panel = InspectorPanel()
    qtbot.addWidget(panel)
    graph = norm_graph(registry)
    norm = graph.node_by_name("norm")
    assert norm is not None
    panel.show_node(graph, norm.id, None)
    assert not panel.field("eps").editor.input.isEnabled()
    assert panel.name_edit.isReadOnly()
    graph.set_param(norm.id, "eps", 0.001)
    assert panel.field_text("eps") == "0.001"
    panel.show_node(None, None, None)
    graph.set_param(norm.id, "eps", 0.01)  # no longer followed: nothing to update, no error


# ----------------------------------------------------------------- the editors alone
def spec(kind: str, default: object, **extra: object) -> ParamSpec:
    return ParamSpec("p", kind, default, "A test param.", **extra)  # type: ignore[arg-type]


def test_editors_are_chosen_by_kind() -> None:
    assert isinstance(make_editor(spec("int", 3, minimum=1)), IntEditor)
    assert isinstance(make_editor(spec("float", 0.5)), FloatEditor)
    assert isinstance(make_editor(spec("bool", True)), BoolEditor)
    assert isinstance(make_editor(spec("choice", "a", choices=("a", "b"))), ChoiceEditor)
    assert isinstance(make_editor(spec("int_tuple", (1, 2), length=2)), TextEditor)
    assert isinstance(make_editor(spec("str", "")), TextEditor)
    assert isinstance(make_editor(spec("int", None, nullable=True)), TextEditor)
    nullable_bool = make_editor(spec("bool", None, nullable=True))
    assert isinstance(nullable_bool, ChoiceEditor)
    assert nullable_bool.text() == "—"


def test_text_and_values_round_trip() -> None:
    assert number_text(1e-05) == "1e-05"
    assert number_text(0.1 + 0.2) == "0.3"
    assert number_text(1.0) == "1.0"
    assert number_text(1_000_000) == "1,000,000"
    tuple_spec = spec("int_tuple", (1, 28, 28), minimum=1, max_length=4)
    assert parse_value(tuple_spec, "3, 32, 32") == (3, 32, 32)
    assert parse_value(tuple_spec, "(3 32 32)") == (3, 32, 32)
    assert parse_value(tuple_spec, "3x32x32") == (3, 32, 32)
    assert format_value(tuple_spec, (3, 32, 32)) == "3, 32, 32"
    with pytest.raises(ParamError, match="at most 4"):
        parse_value(tuple_spec, "1 2 3 4 5")
    with pytest.raises(ParamError, match="whole numbers"):
        parse_value(tuple_spec, "")
    optional = spec("int", None, nullable=True, minimum=1)
    assert parse_value(optional, "  ") is None
    assert parse_value(optional, "1,024") == 1024
    assert range_text(optional) == "≥ 1; empty for none"
    assert range_text(spec("int_tuple", (1, 1), minimum=1, maximum=9, length=2)) == (
        "2 integers, each 1 – 9"
    )
    assert parse_value(spec("float", 0.5), "1e-3") == 0.001


def test_the_float_spin_box_validates_partial_numbers(qtbot) -> None:
    box = FloatSpinBox(spec("float", 1e-5, minimum=1e-12, maximum=1.0))
    qtbot.addWidget(box)
    state = QValidator.State
    assert box.validate("1e-05", 0)[0] == state.Acceptable
    assert box.validate("1e-", 0)[0] == state.Intermediate
    assert box.validate("2", 0)[0] == state.Intermediate  # out of range, maybe not yet typed
    assert box.validate("abc", 0)[0] == state.Invalid
    assert box.validate("nan", 0)[0] == state.Invalid
    box.setValue(3e-9)
    assert box.text() == "3e-09"


def test_the_form_follows_a_theme_switch(qtbot, main_window: MainWindow) -> None:
    graph = open_mlp(main_window)
    hidden1 = select(main_window, graph, "hidden1")
    dark_muted = theme.TEXT_MUTED.name()
    try:
        theme.set_theme("light")
        assert theme.TEXT_MUTED.name() != dark_muted
        inspector = main_window.inspector
        assert inspector.node_id == hidden1, "still showing the node"
        assert theme.TEXT_MUTED.name() in inspector.styleSheet()
        hint = inspector.field("out_features").hint
        assert hint.palette().color(hint.foregroundRole()) == theme.TEXT_MUTED
        assert inspector.field_text("out_features") == "32"
    finally:
        theme.set_theme("dark")


def test_a_tied_layer_shows_whose_weights_it_uses_and_unties_undoably(
    qtbot, main_window: MainWindow, registry: LayerRegistry
) -> None:
    graph = Graph(registry)
    x = graph.add_node("studio.Input", name="x", params={"shape": [4]})
    tower = graph.add_node("studio.Linear", name="tower", position=(200.0, 0.0))
    again = graph.add_node("studio.Linear", name="again", position=(200.0, 120.0))
    graph.connect(x.id, "out", tower.id, "in")
    graph.connect(x.id, "out", again.id, "in")
    graph.set_shares(again.id, tower.id)
    main_window.set_project(Project("tied", registry, graphs={"model": graph}))
    select(main_window, graph, "again")
    button = main_window.inspector.untie_button
    assert button is not None
    qtbot.waitUntil(lambda: button.isVisibleTo(main_window.inspector))
    assert main_window.current is not None
    card = main_window.current.scene.nodes[again.id]
    assert card.subtitle == "Linear = tower"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert graph.node(again.id).shares is None
    assert main_window.inspector.untie_button is None
    assert card.subtitle == "Linear"
    main_window.undo_action.trigger()
    assert graph.node(again.id).shares == tower.id
    assert main_window.inspector.untie_button is not None
    assert card.subtitle == "Linear = tower"


def test_tied_weights_are_counted_once_in_the_status_bar(
    qtbot, main_window: MainWindow, registry: LayerRegistry
) -> None:
    """The window's analysis works on a copy of the graph: the tie must travel with it."""
    graph = Graph(registry)
    x = graph.add_node("studio.Input", name="x", params={"shape": [4]})
    tower = graph.add_node("studio.Linear", name="tower", params={"out_features": 3})
    again = graph.add_node("studio.Linear", name="again", params={"out_features": 3})
    both = graph.add_node("studio.Add", name="both")
    out = graph.add_node("studio.Output", name="y")
    graph.connect(x.id, "out", tower.id, "in")
    graph.connect(x.id, "out", again.id, "in")
    for port, node in zip(graph.input_ports(both.id), (tower, again), strict=True):
        graph.connect(node.id, "out", both.id, port)
    graph.connect(both.id, "out", out.id, "in")
    graph.set_shares(again.id, tower.id)
    main_window.set_project(Project("tied", registry, graphs={"model": graph}))
    status = main_window.params_status
    qtbot.waitUntil(lambda: status.text() == "Parameters: 15", timeout=30_000)
    select(main_window, graph, "again")
    button = main_window.inspector.untie_button
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: status.text() == "Parameters: 30", timeout=30_000)
    assert main_window.modified
    main_window.undo_action.trigger()
    qtbot.waitUntil(lambda: status.text() == "Parameters: 15", timeout=30_000)


def test_a_weight_tied_head_says_so_and_the_table_is_counted_once(
    qtbot, main_window: MainWindow, registry: LayerRegistry
) -> None:
    from PySide6.QtWidgets import QLabel

    graph = Graph(registry)
    ids = graph.add_node("studio.Input", name="ids", params={"shape": [8], "dtype": "long"})
    wte = graph.add_node(
        "studio.Embedding", name="wte", params={"num_embeddings": 64, "embedding_dim": 32}
    )
    head = graph.add_node("studio.Linear", name="lm_head", params={"out_features": 64})
    out = graph.add_node("studio.Output", name="logits")
    graph.connect(ids.id, "out", wte.id, "in")
    graph.connect(wte.id, "out", head.id, "in")
    graph.connect(head.id, "out", out.id, "in")
    graph.set_shares(head.id, wte.id)
    main_window.set_project(Project("gpt", registry, graphs={"model": graph}))
    status = main_window.params_status
    qtbot.waitUntil(lambda: status.text() == "Parameters: 2,112", timeout=30_000)
    select(main_window, graph, "lm_head")
    labels = [w.text() for w in main_window.inspector.findChildren(QLabel)]
    assert "weight tied to" in labels and "wte" in labels
    assert main_window.inspector.untie_button is not None
