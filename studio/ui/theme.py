"""Colours, fonts, icons and the application palette: a dark and a light theme.

Every colour has a name (`colour("card")`), and the module-level constants (`theme.CARD`,
`theme.BACKGROUND`, ...) always hold the current theme's colours: code that reads them when
it paints follows a theme switch on its own. Code that keeps colours (pens, brushes, style
sheets made once) connects to `notifier().theme_changed` and rebuilds them.

Icons are SVG files in `assets/icons/` drawn in `currentColor`; `icon(name)` paints them in
the current theme's colour at whatever device pixel ratio the screen has, so they stay crisp
on high-DPI screens and recolour when the theme changes.

Fonts and metrics are made once, after the QApplication exists (a QFont needs one), and
shared by every node, so painting a canvas of thousands of nodes allocates no fonts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import TypeVar

from PySide6.QtCore import QByteArray, QObject, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QIcon,
    QIconEngine,
    QImage,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QStyleFactory

from studio.core.resources import assets_dir

APP_NAME = "Strata Studio"
ORGANIZATION = "Strata"
DEFAULT_THEME = "dark"
T = TypeVar("T")


@dataclass(frozen=True)
class Theme:
    """A named set of colours: the canvas's, the widgets', and one per layer category."""

    name: str
    title: str
    colours: Mapping[str, str]
    categories: Mapping[str, str]

    def colour(self, name: str) -> QColor:
        return QColor(self.colours[name])


DARK = Theme(
    name="dark",
    title="Dark",
    colours={
        # canvas
        "background": "#1b1d21",
        "grid_dot": "#34373d",
        "card": "#2a2d33",
        "card_border": "#3c4048",
        "card_selected": "#5aa9ff",
        "text": "#e8eaed",
        "text_muted": "#9aa0a8",
        "text_disabled": "#6b7078",
        "separator": "#3a3e46",
        "edge": "#7b828d",
        "edge_selected": "#5aa9ff",
        "edge_label_bg": "#24272c",
        "port_input": "#8b929c",
        "error": "#f05252",
        "warning": "#e3a008",
        "ok": "#3fb950",
        # widgets
        "window": "#23252a",
        "base": "#1e2024",
        "alternate": "#26292e",
        "button": "#2d3036",
        "highlight": "#2f6fb3",
        "highlighted_text": "#ffffff",
        "accent": "#5aa9ff",
        "icon": "#cdd1d7",
        "chrome": "#2a2d33",
        "chrome_text": "#c9ccd1",
        "chrome_line": "#1a1c20",
        "list_alternate": "#23262b",
        "header_text": "#b8bcc3",
        "input": "#16181b",
        "input_border": "#3a3e46",
        "toolbar": "#23252a",
        "status": "#1f2125",
        "tab_text": "#a9adb4",
        "hover": "#33373e",
        "pressed": "#2f6fb3",
        "tooltip": "#30343b",
        "section": "#8d939b",
        "tile": "#26292e",
        "tile_border": "#33373e",
    },
    categories={
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
        "Padding": "#9fb7a0",
        "Sampling": "#f08a7a",
        "Arithmetic": "#c9b27c",
        "Tensor": "#7fb0d8",
    },
)

LIGHT = Theme(
    name="light",
    title="Light",
    colours={
        "background": "#f3f4f6",
        "grid_dot": "#cfd4db",
        "card": "#ffffff",
        "card_border": "#c5cad2",
        "card_selected": "#2f7de1",
        "text": "#1f2328",
        "text_muted": "#5f6670",
        "text_disabled": "#a3a9b1",
        "separator": "#e1e4e8",
        "edge": "#8a919c",
        "edge_selected": "#2f7de1",
        "edge_label_bg": "#e9ecf0",
        "port_input": "#7b828d",
        "error": "#d92d2d",
        "warning": "#b7791f",
        "ok": "#1f883d",
        "window": "#eceef1",
        "base": "#ffffff",
        "alternate": "#f5f6f8",
        "button": "#f7f8fa",
        "highlight": "#2f7de1",
        "highlighted_text": "#ffffff",
        "accent": "#2f7de1",
        "icon": "#3b4148",
        "chrome": "#e3e6ea",
        "chrome_text": "#3b4048",
        "chrome_line": "#d0d4da",
        "list_alternate": "#f6f7f9",
        "header_text": "#4a5059",
        "input": "#ffffff",
        "input_border": "#c7ccd3",
        "toolbar": "#f3f4f6",
        "status": "#e6e8ec",
        "tab_text": "#5d636c",
        "hover": "#dde1e6",
        "pressed": "#bcd4f6",
        "tooltip": "#ffffff",
        "section": "#6b727c",
        "tile": "#ffffff",
        "tile_border": "#d5d9df",
    },
    categories={
        "Input/Output": "#5b6472",
        "Dense": "#2f7de1",
        "Convolution": "#8e4fc4",
        "Pooling": "#178f98",
        "Normalization": "#3f8f33",
        "Regularization": "#767d88",
        "Recurrent": "#d2692a",
        "Attention": "#d43f86",
        "Activation": "#a88208",
        "Merge": "#12917a",
        "Reshape": "#4f6a9e",
        "Padding": "#4c7a4e",
        "Sampling": "#c2493a",
        "Arithmetic": "#8a6d1f",
        "Tensor": "#2d6f9e",
    },
)

THEMES: dict[str, Theme] = {DARK.name: DARK, LIGHT.name: LIGHT}

# The current theme's colours, rebound by `set_theme` (see the module docstring).
BACKGROUND = DARK.colour("background")
GRID_DOT = DARK.colour("grid_dot")
CARD = DARK.colour("card")
CARD_BORDER = DARK.colour("card_border")
CARD_SELECTED = DARK.colour("card_selected")
TEXT = DARK.colour("text")
TEXT_MUTED = DARK.colour("text_muted")
SEPARATOR = DARK.colour("separator")
EDGE = DARK.colour("edge")
EDGE_SELECTED = DARK.colour("edge_selected")
EDGE_LABEL_BG = DARK.colour("edge_label_bg")
PORT_INPUT = DARK.colour("port_input")
ERROR = DARK.colour("error")
WARNING = DARK.colour("warning")
OK = DARK.colour("ok")
WINDOW = DARK.colour("window")
BASE = DARK.colour("base")
ALTERNATE = DARK.colour("alternate")
BUTTON = DARK.colour("button")
HIGHLIGHT = DARK.colour("highlight")
CATEGORY_COLOURS: dict[str, str] = dict(DARK.categories)

_CONSTANTS = (
    "background",
    "grid_dot",
    "card",
    "card_border",
    "card_selected",
    "text",
    "text_muted",
    "separator",
    "edge",
    "edge_selected",
    "edge_label_bg",
    "port_input",
    "error",
    "warning",
    "ok",
    "window",
    "base",
    "alternate",
    "button",
    "highlight",
)

_current: Theme = DARK


class ThemeNotifier(QObject):
    """Announces a theme switch; its argument is the new theme's name."""

    theme_changed = Signal(str)


@cache
def notifier() -> ThemeNotifier:
    """The one notifier (made on first use)."""
    return ThemeNotifier()


def current() -> Theme:
    return _current


def colour(name: str) -> QColor:
    """A colour of the current theme by name, e.g. ``colour("card_border")``."""
    return _current.colour(name)


def category_colour(category: str) -> QColor:
    """The colour of a layer category; a plugin's own category gets a stable colour of its own."""
    known = _current.categories.get(category)
    if known is not None:
        return QColor(known)
    digest = hashlib.sha1(category.encode("utf-8")).digest()
    value = 220 if _current is DARK else 170
    return QColor.fromHsv(digest[0] * 360 // 256, 120 if _current is DARK else 160, value)


def per_theme(factory: Callable[[], T]) -> Callable[[], T]:
    """Memoise `factory` once per theme: pens and brushes made once, remade after a switch.

    For example ``_pens = theme.per_theme(make_pens)`` at module level, then
    ``pens = _pens()`` in `paint`: a dict lookup, no allocation while painting.
    """
    made: dict[str, T] = {}

    def get() -> T:
        value = made.get(_current.name)
        if value is None:
            value = made[_current.name] = factory()
        return value

    return get


def _bind_constants(chosen: Theme) -> None:
    module = globals()
    for name in _CONSTANTS:
        module[name.upper()] = chosen.colour(name)
    module["CATEGORY_COLOURS"] = dict(chosen.categories)


def set_theme(name: str, app: QApplication | None = None) -> Theme:
    """Make `name` the current theme, restyle `app` (default: the running one), and announce it.

    An unknown name falls back to the default theme.
    """
    global _current
    chosen = THEMES.get(name, THEMES[DEFAULT_THEME])
    changed = chosen is not _current
    _current = chosen
    _bind_constants(chosen)
    if app is None:
        instance = QApplication.instance()
        app = instance if isinstance(instance, QApplication) else None
    if app is not None:
        _style_application(app, chosen)
    if changed:
        notifier().theme_changed.emit(chosen.name)
    return chosen


def apply_theme(app: QApplication, name: str | None = None) -> None:
    """Fusion with the theme's palette and style sheet (the current theme by default)."""
    set_theme(name or _current.name, app)


# ----------------------------------------------------------------- fonts
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


# ----------------------------------------------------------------- style
STYLE_TEMPLATE = Template("""
QMainWindow::separator { background: $chrome_line; width: 3px; height: 3px; }
QDockWidget { color: $chrome_text; }
QDockWidget::title {
    background: $chrome; padding: 5px 8px; border-bottom: 1px solid $chrome_line;
}
QTreeWidget, QListWidget, QTableWidget, QTreeView, QListView, QTableView {
    border: none; background: $base; alternate-background-color: $list_alternate;
}
QTreeWidget::item, QListWidget::item { padding: 3px 2px; }
QHeaderView::section {
    background: $chrome; color: $header_text; border: none; border-right: 1px solid $base;
    padding: 4px 6px;
}
QLineEdit, QPlainTextEdit#details {
    background: $input; border: 1px solid $input_border; border-radius: 4px; padding: 4px 6px;
}
QLineEdit:focus { border-color: $highlight; }
QToolBar {
    background: $toolbar; border: none; border-bottom: 1px solid $chrome_line; spacing: 4px;
}
QStatusBar { background: $status; color: $header_text; }
QStatusBar QLabel { padding: 0 8px; }
QTabBar::tab { background: $toolbar; color: $tab_text; padding: 5px 14px; border: none; }
QTabBar::tab:selected { background: $chrome; color: $text; border-top: 2px solid $accent; }
QComboBox { padding: 3px 8px; min-width: 9em; }
QToolBar QToolButton { padding: 4px 7px; border-radius: 4px; color: $text; }
QToolBar QToolButton:hover { background: $hover; }
QToolBar QToolButton:disabled { color: $text_disabled; }
QToolBar QToolButton:pressed { background: $pressed; }
QLabel#section {
    color: $section; font-size: 8pt; font-weight: 600; letter-spacing: 1px; padding-top: 8px;
}
QLabel#muted { color: $text_muted; }
QScrollArea { border: none; }
QDialogButtonBox { dialogbuttonbox-buttons-have-icons: 0; }
QPushButton { padding: 5px 16px; }
QToolTip { background: $tooltip; color: $text; border: 1px solid $input_border; padding: 4px; }
QListView#gallery { background: $window; border: none; }
""")


def style_sheet(chosen: Theme | None = None) -> str:
    """The application's style sheet for a theme (the current one by default)."""
    return STYLE_TEMPLATE.substitute((chosen or _current).colours)


def _style_application(app: QApplication, chosen: Theme) -> None:
    fusion = QStyleFactory.create("Fusion")
    if fusion is not None and app.style().name().lower() != "fusion":
        app.setStyle(fusion)
    c = chosen.colour
    # Fusion draws bevels and frames from the light/mid/dark shades this derives from them.
    palette = QPalette(c("button"), c("window"))
    roles = {
        QPalette.ColorRole.Window: c("window"),
        QPalette.ColorRole.WindowText: c("text"),
        QPalette.ColorRole.Base: c("base"),
        QPalette.ColorRole.AlternateBase: c("alternate"),
        QPalette.ColorRole.ToolTipBase: c("tooltip"),
        QPalette.ColorRole.ToolTipText: c("text"),
        QPalette.ColorRole.PlaceholderText: c("text_muted"),
        QPalette.ColorRole.Text: c("text"),
        QPalette.ColorRole.Button: c("button"),
        QPalette.ColorRole.ButtonText: c("text"),
        QPalette.ColorRole.BrightText: c("error"),
        QPalette.ColorRole.Link: c("accent"),
        QPalette.ColorRole.Highlight: c("highlight"),
        QPalette.ColorRole.HighlightedText: c("highlighted_text"),
    }
    for role, value in roles.items():
        palette.setColor(role, value)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, c("text_disabled"))
    app.setPalette(palette)
    app.setStyleSheet(style_sheet(chosen))


# ----------------------------------------------------------------- icons
def icons_dir() -> Path:
    return assets_dir() / "icons"


@cache
def _svg_source(name: str) -> bytes:
    try:
        return (icons_dir() / f"{name}.svg").read_bytes()
    except OSError:
        return b""


class SvgIconEngine(QIconEngine):
    """Paints an SVG drawn in `currentColor` in a colour of the current theme.

    The colour is looked up at paint time, so icons follow a theme switch; pixmaps are
    rendered at the requested device pixel ratio and cached per size, ratio, mode and colour.
    """

    def __init__(self, name: str, role: str = "icon", category: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.role = role
        self.category = category
        self._pixmaps: dict[tuple[int, int, float, int, str], QPixmap] = {}

    def _colour(self, mode: QIcon.Mode) -> QColor:
        if mode == QIcon.Mode.Disabled:
            return colour("text_disabled")
        if mode == QIcon.Mode.Selected:
            return colour("highlighted_text")
        if self.category is not None:
            return category_colour(self.category)
        return colour(self.role)

    def _renderer(self, tint: QColor) -> QSvgRenderer:
        source = _svg_source(self.name).replace(b"currentColor", tint.name().encode("ascii"))
        return QSvgRenderer(QByteArray(source))

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        renderer = self._renderer(self._colour(mode))
        if renderer.isValid():
            renderer.render(painter, QRectF(rect))

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        tint = self._colour(mode)
        key = (size.width(), size.height(), scale, int(mode.value), tint.name())
        cached = self._pixmaps.get(key)
        if cached is not None:
            return cached
        width, height = max(1, round(size.width() * scale)), max(1, round(size.height() * scale))
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer = self._renderer(tint)
        if renderer.isValid():
            renderer.render(painter, QRectF(0, 0, width, height))
        painter.end()
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(scale)
        if len(self._pixmaps) > 64:
            self._pixmaps.clear()
        self._pixmaps[key] = pixmap
        return pixmap

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        return size

    def clone(self) -> QIconEngine:
        return SvgIconEngine(self.name, self.role, self.category)

    def isNull(self) -> bool:
        return not _svg_source(self.name)


def icon(name: str, role: str = "icon") -> QIcon:
    """The icon `assets/icons/NAME.svg` in the theme colour `role` (it follows the theme)."""
    return QIcon(SvgIconEngine(name, role))


def category_icon_name(category: str) -> str:
    """`Input/Output` → `input-output`: the icon file of a palette category."""
    return "-".join(category.lower().replace("/", " ").split())


def category_icon(category: str) -> QIcon:
    """A category's glyph in the category's colour; `layer` for a category without one."""
    name = category_icon_name(category)
    if not _svg_source(name):
        name = "layer"
    return QIcon(SvgIconEngine(name, category=category))


# The rendered sizes of the mark in assets/icons/app/ (installers/make_icons.py makes them).
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon() -> QIcon:
    """The application's mark as rendered PNGs, one per size (16 to 32 px drawn bolder, so
    they stay legible in a title bar); the SVG master when the PNGs are missing."""
    folder = icons_dir() / "app"
    icon = QIcon()
    for size in APP_ICON_SIZES:
        path = folder / f"strata-{size}.png"
        if path.is_file():
            icon.addFile(str(path), QSize(size, size))
    return icon if not icon.isNull() else QIcon(str(icons_dir() / "strata.svg"))
