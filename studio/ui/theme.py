"""Colours, fonts and the application palette: one dark, neutral look for every widget.

Fonts and metrics are made once, after the QApplication exists (a QFont needs one), and
shared by every node, so painting a canvas of thousands of nodes allocates no fonts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

APP_NAME = "Strata Studio"
ORGANIZATION = "Strata"

# Canvas
BACKGROUND = QColor("#1b1d21")
GRID_DOT = QColor("#34373d")
CARD = QColor("#2a2d33")
CARD_BORDER = QColor("#3c4048")
CARD_SELECTED = QColor("#5aa9ff")
TEXT = QColor("#e8eaed")
TEXT_MUTED = QColor("#9aa0a8")
SEPARATOR = QColor("#3a3e46")
EDGE = QColor("#7b828d")
EDGE_SELECTED = QColor("#5aa9ff")
EDGE_LABEL_BG = QColor("#24272c")
ERROR = QColor("#f05252")
WARNING = QColor("#e3a008")
OK = QColor("#3fb950")

# Widgets
WINDOW = QColor("#23252a")
BASE = QColor("#1e2024")
ALTERNATE = QColor("#26292e")
BUTTON = QColor("#2d3036")
HIGHLIGHT = QColor("#2f6fb3")

CATEGORY_COLOURS: dict[str, str] = {
    "Input/Output": "#d7dae0",
    "Dense": "#5ea8f2",
    "Convolution": "#b57edc",
    "Pooling": "#4fc1c9",
    "Normalization": "#7cc36e",
    "Regularization": "#a3a9b3",
    "Recurrent": "#e5935a",
    "Attention": "#ee6fa8",
    "Activation": "#e3c560",
    "Merge": "#35c4a1",
    "Reshape": "#8fa4c8",
}


def category_colour(category: str) -> QColor:
    """The colour of a layer category; a plugin's own category gets a stable colour of its own."""
    known = CATEGORY_COLOURS.get(category)
    if known is not None:
        return QColor(known)
    digest = hashlib.sha1(category.encode("utf-8")).digest()
    return QColor.fromHsv(digest[0] * 360 // 256, 120, 220)


@dataclass(frozen=True)
class CanvasFonts:
    """The fonts a node card and an edge label use, with their metrics."""

    title: QFont
    subtitle: QFont
    body: QFont
    shape: QFont
    label: QFont
    badge: QFont
    placeholder: QFont
    title_metrics: QFontMetricsF
    subtitle_metrics: QFontMetricsF
    body_metrics: QFontMetricsF
    shape_metrics: QFontMetricsF
    label_metrics: QFontMetricsF


def _font(point_size: float, *, bold: bool = False, mono: bool = False) -> QFont:
    font = QFont()
    if mono:
        font.setFamilies(["DejaVu Sans Mono", "Menlo", "Consolas", "monospace"])
        font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSizeF(point_size)
    font.setBold(bold)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    return font


@cache
def canvas_fonts() -> CanvasFonts:
    """Made on first use (after the QApplication exists) and shared by every item."""
    title = _font(10.5, bold=True)
    subtitle = _font(9.0)
    body = _font(9.0)
    shape = _font(9.0, mono=True)
    label = _font(8.0, mono=True)
    badge = _font(8.0, bold=True)
    placeholder = _font(13.0)
    return CanvasFonts(
        title=title,
        subtitle=subtitle,
        body=body,
        shape=shape,
        label=label,
        badge=badge,
        placeholder=placeholder,
        title_metrics=QFontMetricsF(title),
        subtitle_metrics=QFontMetricsF(subtitle),
        body_metrics=QFontMetricsF(body),
        shape_metrics=QFontMetricsF(shape),
        label_metrics=QFontMetricsF(label),
    )


STYLE_SHEET = """
QMainWindow::separator { background: #1a1c20; width: 3px; height: 3px; }
QDockWidget { color: #c9ccd1; }
QDockWidget::title {
    background: #2a2d33; padding: 5px 8px; border-bottom: 1px solid #1a1c20;
}
QTreeWidget, QListWidget, QTableWidget {
    border: none; background: #1e2024; alternate-background-color: #23262b;
}
QTreeWidget::item, QListWidget::item { padding: 3px 2px; }
QHeaderView::section {
    background: #2a2d33; color: #b8bcc3; border: none; border-right: 1px solid #1e2024;
    padding: 4px 6px;
}
QLineEdit {
    background: #16181b; border: 1px solid #3a3e46; border-radius: 4px; padding: 4px 6px;
}
QLineEdit:focus { border-color: #2f6fb3; }
QToolBar { background: #23252a; border: none; border-bottom: 1px solid #1a1c20; spacing: 6px; }
QStatusBar { background: #1f2125; color: #b8bcc3; }
QStatusBar QLabel { padding: 0 8px; }
QTabBar::tab {
    background: #23252a; color: #a9adb4; padding: 5px 14px; border: none;
}
QTabBar::tab:selected { background: #2a2d33; color: #e8eaed; border-top: 2px solid #5aa9ff; }
QComboBox { padding: 3px 8px; min-width: 9em; }
QToolBar QToolButton {
    padding: 4px 10px; border-radius: 4px; color: #d5d8dd;
}
QToolBar QToolButton:hover { background: #33373e; }
QToolBar QToolButton:disabled { color: #5f646c; }
QToolBar QToolButton:pressed { background: #2f6fb3; }
QLabel#section {
    color: #8d939b; font-size: 8pt; font-weight: 600; letter-spacing: 1px; padding-top: 8px;
}
QScrollArea { border: none; }
"""


def apply_theme(app: QApplication) -> None:
    """Fusion with a dark palette: the same look on every platform."""
    fusion = QStyleFactory.create("Fusion")
    if fusion is not None:
        app.setStyle(fusion)
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: ALTERNATE,
        QPalette.ColorRole.ToolTipBase: QColor("#30343b"),
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: TEXT_MUTED,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: BUTTON,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: ERROR,
        QPalette.ColorRole.Link: CARD_SELECTED,
        QPalette.ColorRole.Highlight: HIGHLIGHT,
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
    }
    for role, colour in roles.items():
        palette.setColor(role, colour)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7078"))
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)
