"""The Code dock: live generated source, problems instead of code, highlighting, Copy."""

from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QTextDocument
from PySide6.QtWidgets import QDockWidget

from studio.compile.compiler import class_name_for
from studio.core.commands import SetParamCommand
from studio.core.graph import Graph
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import list_templates
from studio.ui import code_view, theme
from studio.ui.code_view import CodeView, PythonHighlighter
from studio.ui.main_window import MainWindow

TEMPLATES = {t.name: t.path for t in list_templates()}
CODE_TIMEOUT_MS = 60_000


def show_code_dock(window: MainWindow) -> None:
    window.code_dock.show()
    window.code_dock.raise_()


def test_the_code_dock_is_tabbed_with_problems_and_summary(main_window: MainWindow) -> None:
    dock = main_window.code_dock
    assert isinstance(dock, QDockWidget)
    assert dock.windowTitle() == "Code"
    tabbed = main_window.tabifiedDockWidgets(main_window.summary_dock)
    assert dock in tabbed and main_window.problems_dock in tabbed
    view_menu = main_window.menuBar().actions()[2].menu()
    assert dock.toggleViewAction() in view_menu.actions()
    assert main_window.code_view.editor.isReadOnly()


def test_the_mlp_template_shows_its_class_and_follows_an_edit(
    qtbot, main_window: MainWindow
) -> None:
    project = Project.load(TEMPLATES["mlp_classifier"], main_window.registry)
    main_window.set_project(project)
    show_code_dock(main_window)
    view = main_window.code_view
    qtbot.waitUntil(
        lambda: "class MLPClassifier(nn.Module)" in view.text(), timeout=CODE_TIMEOUT_MS
    )
    assert "self.hidden1 = nn.Linear(4, 32)" in view.text()
    assert view.copy_button.isEnabled()
    assert view.status.text().startswith("MLPClassifier · ")
    font = view.editor.font()
    assert font.fixedPitch() or font.styleHint() == font.StyleHint.Monospace

    graph = project.main_graph
    hidden1 = graph.node_by_name("hidden1")
    assert hidden1 is not None
    assert main_window.push(SetParamCommand(graph, hidden1.id, "out_features", 48))
    qtbot.waitUntil(
        lambda: "self.hidden1 = nn.Linear(4, 48)" in view.text(), timeout=CODE_TIMEOUT_MS
    )
    assert "self.hidden2 = nn.Linear(48, 32)" in view.text()

    view.copy_button.click()
    assert QGuiApplication.clipboard().text() == view.code
    assert view.copy_button.text() == "Copied"


def test_a_broken_graph_shows_its_problems_instead_of_code(
    qtbot, main_window: MainWindow, registry: LayerRegistry, wait_for_analysis
) -> None:
    graph = Graph(registry)
    # Token ids into a Linear: torch refuses them (an image it takes, so that only warns).
    image = graph.add_node("studio.Input", name="ids", params={"shape": [8], "dtype": "long"})
    linear = graph.add_node("studio.Linear", name="classifier", position=(220.0, 0.0))
    output = graph.add_node("studio.Output", name="label", position=(440.0, 0.0))
    graph.connect(image.id, "out", linear.id, "in")
    graph.connect(linear.id, "out", output.id, "in")
    main_window.set_project(Project("broken", registry, graphs={"model": graph}))
    show_code_dock(main_window)
    view = main_window.code_view
    qtbot.waitUntil(lambda: "Embedding" in view.text(), timeout=CODE_TIMEOUT_MS)
    assert view.text().startswith("# classifier: ")
    assert view.status.text() == "Fix the 1 problem to see the generated code."
    assert "class " not in view.text()
    assert not view.copy_button.isEnabled()

    # Fixing it brings the code.
    graph.set_param(image.id, "dtype", "float")
    qtbot.waitUntil(lambda: "class Broken(nn.Module)" in view.text(), timeout=CODE_TIMEOUT_MS)
    assert "nn.Linear(8, " in view.text()
    wait_for_analysis(main_window)


def test_code_is_made_only_while_the_dock_is_on_screen(
    qtbot, main_window: MainWindow, wait_for_analysis
) -> None:
    project = Project.load(TEMPLATES["mlp_classifier"], main_window.registry)
    main_window.set_project(project)
    main_window.problems_dock.raise_()
    wait_for_analysis(main_window)
    qtbot.wait(100)
    assert main_window.code_dock.visibleRegion().isEmpty()
    assert "class " not in main_window.code_view.text()
    show_code_dock(main_window)
    qtbot.waitUntil(
        lambda: "class MLPClassifier(nn.Module)" in main_window.code_view.text(),
        timeout=CODE_TIMEOUT_MS,
    )


def test_a_project_with_several_graphs_names_each_class_after_its_graph(
    qtbot, main_window: MainWindow
) -> None:
    project = Project.load(TEMPLATES["gan"], main_window.registry)
    main_window.set_project(project)
    show_code_dock(main_window)
    view = main_window.code_view
    for name in project.graphs:
        main_window.show_graph(name)
        expected = class_name_for(f"{project.name} {name}")
        qtbot.waitUntil(
            lambda expected=expected: f"class {expected}(nn.Module)" in view.text(),
            timeout=CODE_TIMEOUT_MS,
        )
        assert view.status.text().startswith(expected)


# ----------------------------------------------------------------- highlighting
SAMPLE = '''"""A docstring
over two lines."""
import torch


class Net(nn.Module):  # a comment with "quotes"
    def forward(self, x):
        return x * 2.5e-3 + len("text")
'''


def colour_at(document: QTextDocument, line: int, column: int) -> QColor | None:
    block = document.findBlockByNumber(line)
    for span in block.layout().formats():
        if span.start <= column < span.start + span.length:
            return span.format.foreground().color()
    return None


def test_the_highlighter_colours_python(qtbot) -> None:
    document = QTextDocument()
    highlighter = PythonHighlighter(document)
    document.setPlainText(SAMPLE)
    highlighter.rehighlight()
    colours = highlighter.colours
    assert colours == code_view.syntax_colours()
    lines = SAMPLE.splitlines()

    def at(line: int, text: str, offset: int = 0) -> QColor | None:
        return colour_at(document, line, lines[line].index(text) + offset)

    assert at(0, "A docstring") == colours["string"]
    assert at(1, "over") == colours["string"], "a docstring goes on over lines"
    assert at(2, "import") == colours["keyword"]
    assert at(2, "torch") is None
    assert at(5, "class") == colours["keyword"]
    assert at(5, "Net") == colours["definition"]
    assert at(5, "# a comment") == colours["comment"]
    assert at(5, '"quotes"') == colours["comment"], "quotes in a comment are the comment's"
    assert at(6, "forward") == colours["definition"]
    assert at(6, "self") == colours["self"]
    assert at(7, "return") == colours["keyword"]
    assert at(7, "2.5e-3") == colours["number"]
    assert at(7, "len") == colours["builtin"]
    assert at(7, '"text"') == colours["string"]


def test_copy_is_off_without_code(qtbot) -> None:
    view = CodeView()
    qtbot.addWidget(view)
    assert not view.copy_button.isEnabled()
    view.copy()  # nothing to copy: nothing happens
    view.show_code("x = 1\n", "note")
    assert view.copy_button.isEnabled()
    assert view.status.text() == "note"
    view.show_failure("boom")
    assert view.code is None and view.text() == "# boom"


def test_a_long_listing_is_coloured_in_slices(qtbot) -> None:
    view = CodeView()
    qtbot.addWidget(view)
    code = "x = 1  # one\n" * 3000 + "y = 'last'\n"
    view.show_code(code)
    assert view.highlighting, "not all at once"
    qtbot.waitUntil(lambda: not view.highlighting)
    colours = view.highlighter.colours
    document = view.editor.document()
    assert colour_at(document, 0, 7) == colours["comment"]
    assert colour_at(document, 3000, 4) == colours["string"]


def test_the_code_view_follows_a_theme_switch(qtbot) -> None:
    view = CodeView()
    qtbot.addWidget(view)
    view.show_code("import torch\n")
    dark = view.highlighter.colours["keyword"]
    try:
        theme.set_theme("light")
        assert view.highlighter.colours["keyword"] != dark
        assert colour_at(view.editor.document(), 0, 0) == view.highlighter.colours["keyword"]
        assert theme.BASE.name() in view.editor.styleSheet()
    finally:
        theme.set_theme("dark")
    assert view.highlighter.colours["keyword"] == dark


def test_a_data_mismatch_does_not_hide_the_code(qtbot, main_window: MainWindow) -> None:
    project = Project.load(TEMPLATES["cnn_classifier"], main_window.registry)
    image = project.main_graph.node_by_name("image")
    assert image is not None
    project.main_graph.set_param(image.id, "shape", [1, 16, 16])  # digits are (1, 8, 8)
    main_window.set_project(project)
    show_code_dock(main_window)
    view = main_window.code_view
    qtbot.waitUntil(lambda: "class CNNImageClassifier(nn.Module)" in view.text(), timeout=60_000)
    report = main_window.current.shapes
    assert report is not None and report.error_count == 1 and report.graph_error_count == 0
    assert "(1, 8, 8)" in report.data_problems[0].message
