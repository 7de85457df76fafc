"""The Code dock: the generated PyTorch source of the shown graph, read-only and highlighted.

The window generates the source in a worker (it builds the modules, which needs torch) and
hands the text here; when the graph has errors it hands the problems instead, since there is
no model to write.
"""

from __future__ import annotations

import builtins
import keyword
import re
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui import theme

# Longer listings are coloured a slice of about SLICE_SECONDS at a time.
SLICED_LINES = 600
SLICE_SECONDS = 0.008

# Syntax colours for a dark editor background (One Dark-like) and for a light one.
DARK_SYNTAX = {
    "keyword": "#c678dd",
    "string": "#98c379",
    "comment": "#7f848e",
    "number": "#d19a66",
    "self": "#e06c75",
    "definition": "#61afef",
    "builtin": "#56b6c2",
    "decorator": "#e5c07b",
}
LIGHT_SYNTAX = {
    "keyword": "#a626a4",
    "string": "#50a14f",
    "comment": "#8e9099",
    "number": "#986801",
    "self": "#e45649",
    "definition": "#4078f2",
    "builtin": "#0184bc",
    "decorator": "#c18401",
}


def syntax_colours() -> dict[str, QColor]:
    """The syntax colours that suit the current theme's editor background."""
    chosen = LIGHT_SYNTAX if theme.BASE.lightness() > 128 else DARK_SYNTAX
    return {kind: QColor(value) for kind, value in chosen.items()}


_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))
_TOKEN = re.compile(
    r"""
    (?P<triple>[rRbBuUfF]{0,2}(?:\"\"\"|'''))
  | (?P<string>[rRbBuUfF]{0,2}(?:"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?))
  | (?P<comment>\#.*)
  | (?P<decorator>^\s*@[\w.]+)
  | (?P<number>\b(?:0[xX][0-9a-fA-F_]+|\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)j?\b)
  | (?P<word>[A-Za-z_]\w*)
    """,
    re.VERBOSE,
)
_DEFINED = re.compile(r"\b(?:def|class)\s+([A-Za-z_]\w*)")

# Block states: inside a triple-quoted string opened with """ or '''.
_NORMAL, _IN_DOUBLE, _IN_SINGLE = -1, 1, 2


def _format(colour: QColor, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(colour)
    if bold:
        fmt.setFontWeight(QFont.Weight.DemiBold)
    fmt.setFontItalic(italic)
    return fmt


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, strings (docstrings over several lines too), comments, numbers, ``self``,
    builtins, decorators, and the names that ``def`` and ``class`` introduce."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.colours: dict[str, QColor] = {}
        self.formats: dict[str, QTextCharFormat] = {}
        self.use_theme_colours()
        self._keywords = frozenset(keyword.kwlist) - {"None", "True", "False"}
        # While paused, new text is left plain; `CodeView` then colours it a slice at a time.
        self.paused = False

    def use_theme_colours(self) -> None:
        """Take the current theme's syntax colours (call `rehighlight` after a switch)."""
        self.colours = syntax_colours()
        styles = {
            "comment": {"italic": True},
            "self": {"italic": True},
            "definition": {"bold": True},
        }
        self.formats = {
            kind: _format(colour, **styles.get(kind, {})) for kind, colour in self.colours.items()
        }

    def highlightBlock(self, text: str) -> None:
        if self.paused:
            return
        self.setCurrentBlockState(_NORMAL)
        position = 0
        previous = self.previousBlockState()
        if previous in (_IN_DOUBLE, _IN_SINGLE):
            quote = '"""' if previous == _IN_DOUBLE else "'''"
            position = self._string(text, 0, quote, search_from=0)
            if position < 0:
                return
        quiet: list[tuple[int, int]] = [(0, position)]  # strings and comments
        while (match := _TOKEN.search(text, position)) is not None:
            kind = match.lastgroup
            begin, end = match.span()
            position = end
            if kind == "triple":
                position = self._string(text, begin, match.group()[-3:], search_from=end)
                if position < 0:
                    return
                quiet.append((begin, position))
            elif kind == "word":
                word = match.group()
                if word in self._keywords:
                    self.setFormat(begin, end - begin, self.formats["keyword"])
                elif word == "self":
                    self.setFormat(begin, end - begin, self.formats["self"])
                elif word in _BUILTINS:
                    self.setFormat(begin, end - begin, self.formats["builtin"])
            elif kind is not None:
                self.setFormat(begin, end - begin, self.formats[kind])
                if kind in ("string", "comment"):
                    quiet.append((begin, end))
        for match in _DEFINED.finditer(text):
            start = match.start(1)
            if not any(low <= start < high for low, high in quiet):
                self.setFormat(start, len(match.group(1)), self.formats["definition"])

    def _string(self, text: str, begin: int, quote: str, *, search_from: int) -> int:
        """Colour a triple-quoted string from `begin`; the index after it, or -1 if it goes on."""
        closing = text.find(quote, search_from)
        if closing < 0:
            self.setFormat(begin, len(text) - begin, self.formats["string"])
            self.setCurrentBlockState(_IN_DOUBLE if quote == '"""' else _IN_SINGLE)
            return -1
        self.setFormat(begin, closing + 3 - begin, self.formats["string"])
        return closing + 3


def code_font() -> QFont:
    font = QFont()
    font.setFamilies(["JetBrains Mono", "DejaVu Sans Mono", "Menlo", "Consolas", "monospace"])
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setFixedPitch(True)
    font.setPointSizeF(9.5)
    return font


class CodeView(QWidget):
    """Read-only source with a Copy button; or, when there is no code, why not."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the generated source to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        self.editor = QPlainTextEdit()
        self.editor.setReadOnly(True)
        self.editor.setFont(code_font())
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setWordWrapMode(QTextOption.WrapMode.NoWrap)
        self.editor.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.highlighter = PythonHighlighter(self.editor.document())
        self._style_editor()
        theme.notifier().theme_changed.connect(self._on_theme_changed)
        self._next_block = 0
        self._highlight_timer = QTimer(self)
        self._highlight_timer.setSingleShot(True)
        self._highlight_timer.setInterval(0)
        self._highlight_timer.timeout.connect(self._highlight_slice)
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 4, 6, 0)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.copy_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(bar)
        column.addWidget(self.editor)
        self.code: str | None = None
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.setInterval(1500)
        self._copied_timer.timeout.connect(lambda: self.copy_button.setText("Copy"))
        self.show_pending("Open a project to see its code.")

    def show_code(self, code: str, note: str = "") -> None:
        """Show generated source; the scroll position is kept when only values changed."""
        self.status.setText(note)
        self.copy_button.setEnabled(True)
        if code == self.code:
            return
        bar = self.editor.verticalScrollBar()
        position = bar.value() if self.code is not None else 0
        self.code = code
        # Colouring costs about 10 µs a line: a long listing is coloured in slices, top first,
        # so that the window never stalls on it.
        self._highlight_timer.stop()
        self.highlighter.paused = code.count("\n") > SLICED_LINES
        self.editor.setPlainText(code)
        bar.setValue(position)
        if self.highlighter.paused:
            self._next_block = 0
            self._highlight_timer.start()

    def _style_editor(self) -> None:
        self.editor.setStyleSheet(
            f"QPlainTextEdit {{ background: {theme.BASE.name()}; color: {theme.TEXT.name()};"
            " border: none; padding: 4px; }"
        )
        self.status.setStyleSheet(f"color: {theme.TEXT_MUTED.name()};")

    def _on_theme_changed(self, name: str) -> None:
        self._style_editor()
        self.highlighter.use_theme_colours()
        if not self.highlighter.paused:
            self.highlighter.rehighlight()
        elif self.code is not None:
            self._next_block = 0
            self._highlight_timer.start()

    def _highlight_slice(self) -> None:
        deadline = time.perf_counter() + SLICE_SECONDS
        document = self.editor.document()
        block = document.findBlockByNumber(self._next_block)
        self.highlighter.paused = False
        while block.isValid() and time.perf_counter() < deadline:
            self.highlighter.rehighlightBlock(block)
            block = block.next()
            self._next_block += 1
        if block.isValid():
            self.highlighter.paused = True
            self._highlight_timer.start()

    @property
    def highlighting(self) -> bool:
        """Whether a long listing is still being coloured."""
        return self._highlight_timer.isActive()

    def show_problems(self, lines: list[str]) -> None:
        """No code while the graph has errors: list them instead."""
        count = len(lines)
        self.status.setText(
            f"Fix the {count} problem{'s' if count != 1 else ''} to see the generated code."
        )
        self._show_text("\n".join(f"# {line}" for line in lines))

    def show_pending(self, message: str) -> None:
        self.status.setText(message)
        self._show_text("")

    def show_failure(self, message: str) -> None:
        self.status.setText("The code could not be generated.")
        self._show_text(f"# {message}")

    def _show_text(self, text: str) -> None:
        self._highlight_timer.stop()
        self.highlighter.paused = False
        self.code = None
        self.copy_button.setEnabled(False)
        self.editor.setPlainText(text)

    def text(self) -> str:
        """What the editor shows."""
        return self.editor.toPlainText()

    def copy(self) -> None:
        if self.code is None:
            return
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(self.code)
        self.copy_button.setText("Copied")
        self._copied_timer.start()
