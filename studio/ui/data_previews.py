"""The data tab's pictures of a dataset: images, table rows, series, texts, class balance,
split sizes and column statistics.

Each widget draws plain data from `studio.data.previews` / `studio.data.overview` and computes
nothing heavier than a layout: the data was read and summarised in a worker, and the images
were turned into `QImage`s there too (`image_tiles`; a `QImage`, unlike a `QPixmap`, may be
made off the Qt thread). Colours are looked up when painting, so a theme switch needs only a
repaint (and a restyle of the plot and the HTML, which keep colours).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QImage,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSizePolicy,
    QTableView,
    QTextBrowser,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from studio.ui import theme

if TYPE_CHECKING:
    # Types only: numpy (0.15 s to import) loads when data is first read, not at start-up.
    import numpy as np

    from studio.data.overview import ClassBalance
    from studio.data.previews import (
        ColumnStats,
        ImagePreview,
        SeriesPreview,
        TablePreview,
        TextPreview,
    )

SPLITS = ("train", "validation", "test")
_ROOT = QModelIndex()
SPLIT_TITLES = {"train": "Train", "validation": "Validation", "test": "Test"}


def split_colour(split: str) -> QColor:
    """The colour of a split wherever splits are drawn (bars, legends)."""
    if split == "train":
        return theme.colour("accent")
    if split == "validation":
        return theme.category_colour("Merge")
    return theme.category_colour("Activation")


def number_text(value: float | None) -> str:
    """Four significant digits, no exponent for everyday magnitudes; an em dash for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e6:
        digits = max(0, 3 - math.floor(math.log10(magnitude)))
        text = f"{value:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value:.3g}"


# ----------------------------------------------------------------- images
@dataclass
class ImageTile:
    """One preview image, ready to paint; `mask` is an alpha-only image of the object."""

    image: QImage
    label: str
    mask: QImage | None = None


def _qimage(array: np.ndarray) -> QImage:
    import numpy as np

    array = np.ascontiguousarray(array, dtype=np.uint8)
    height, width = array.shape[:2]
    if array.ndim == 2:
        fmt, line = QImage.Format.Format_Grayscale8, width
    else:
        fmt, line = QImage.Format.Format_RGB888, width * 3
    # The QImage borrows the array's memory; `copy` gives it its own.
    return QImage(array.data, width, height, line, fmt).copy()


def image_tiles(preview: ImagePreview) -> list[ImageTile]:
    """`QImage`s of the preview's uint8 arrays (safe to call in a worker thread)."""
    import numpy as np

    masks: Sequence[np.ndarray | None] = (
        list(preview.masks) if preview.masks else [None] * len(preview.images)
    )
    tiles = []
    for array, label, mask in zip(preview.images, preview.labels, masks, strict=True):
        alpha = None
        if mask is not None:
            levels = (np.asarray(mask) > 0).astype(np.uint8) * 150
            alpha = _qimage(levels).convertToFormat(QImage.Format.Format_Alpha8)
        tiles.append(ImageTile(_qimage(array), label, alpha))
    return tiles


class ImageGrid(QWidget):
    """Images in rows with their labels underneath; small images are enlarged by whole
    factors with nearest-neighbour sampling, so 8×8 digits stay crisp squares of ink."""

    GAP = 8
    LABEL_HEIGHT = 18

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.tiles: list[ImageTile] = []
        self.side = 64
        # Rows hold a whole number of "rounds" (one image of each class) when they fit.
        self.round = 0
        self._mask_colour: tuple[str, QImage] | None = None
        self.setMouseTracking(True)

    def set_tiles(self, tiles: list[ImageTile], round_length: int = 0) -> None:
        self.tiles = tiles
        self.round = round_length
        largest = max((max(t.image.width(), t.image.height()) for t in tiles), default=8)
        if largest <= 16:
            self.side = largest * max(1, 72 // largest)
        elif largest <= 48:
            self.side = largest * max(1, 80 // largest)
        else:
            self.side = 96
        self.updateGeometry()
        self.update()

    def columns(self, width: int) -> int:
        fit = max(1, (width - self.GAP + self.GAP) // (self.side + self.GAP))
        if 1 < self.round <= fit:
            return fit - fit % self.round
        return fit

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if not self.tiles:
            return 0
        rows = math.ceil(len(self.tiles) / self.columns(width))
        return rows * (self.side + self.LABEL_HEIGHT + self.GAP)

    def sizeHint(self) -> QSize:
        return QSize(10 * (self.side + self.GAP), self.heightForWidth(10 * (self.side + self.GAP)))

    def minimumSizeHint(self) -> QSize:
        return QSize(self.side + self.GAP, self.side + self.LABEL_HEIGHT)

    def _cell(self, index: int) -> QRect:
        columns = self.columns(self.width())
        row, column = divmod(index, columns)
        used = columns * (self.side + self.GAP) - self.GAP
        left = max(0, (self.width() - used) // 2)
        x = left + column * (self.side + self.GAP)
        y = row * (self.side + self.LABEL_HEIGHT + self.GAP)
        return QRect(x, y, self.side, self.side)

    def _tinted_mask(self, mask: QImage) -> QImage:
        tint = theme.colour("accent")
        image = QImage(mask.size(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(tint)
        painter = QPainter(image)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
        painter.drawImage(0, 0, mask)
        painter.end()
        return image

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        border = theme.colour("tile_border")
        label_colour = theme.colour("text_muted")
        font = QFont(self.font())
        font.setPointSizeF(max(7.5, font.pointSizeF() - 0.5))
        painter.setFont(font)
        exposed = event.rect()
        for index, tile in enumerate(self.tiles):
            cell = self._cell(index)
            if not exposed.intersects(cell.adjusted(0, 0, 0, self.LABEL_HEIGHT)):
                continue
            image = tile.image
            scale = min(self.side / image.width(), self.side / image.height())
            # Enlarged: whole pixels, no blur. Reduced: averaged, so no aliasing.
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1)
            width, height = round(image.width() * scale), round(image.height() * scale)
            target = QRect(
                cell.x() + (self.side - width) // 2,
                cell.y() + (self.side - height) // 2,
                width,
                height,
            )
            painter.drawImage(target, image)
            if tile.mask is not None:
                painter.drawImage(target, self._tinted_mask(tile.mask))
            painter.setPen(border)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(target.adjusted(0, 0, -1, -1))
            painter.setPen(label_colour)
            label_box = QRect(cell.x() - 4, cell.bottom() + 2, self.side + 8, self.LABEL_HEIGHT - 2)
            text = QFontMetrics(font).elidedText(
                tile.label, Qt.TextElideMode.ElideRight, label_box.width()
            )
            painter.drawText(
                label_box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text
            )
        painter.end()

    def tile_at(self, point: QPoint) -> int | None:
        for index in range(len(self.tiles)):
            if self._cell(index).adjusted(0, 0, 0, self.LABEL_HEIGHT).contains(point):
                return index
        return None

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.tile_at(event.pos())
            if index is None:
                QToolTip.hideText()
            else:
                tile = self.tiles[index]
                size = f"{tile.image.width()}×{tile.image.height()}"
                QToolTip.showText(event.globalPos(), f"{tile.label} · {size} pixels", self)
            return True
        return super().event(event)


# ----------------------------------------------------------------- tables
@dataclass
class TextCell:
    """One cell of a `TextTable`: its text, and how it is shown."""

    text: str
    right: bool = False
    muted: bool = False
    warn: bool = False
    bold: bool = False
    tip: str | None = None


class TextTableModel(QAbstractTableModel):
    """Rows of `TextCell`s; a view asks only for the cells it paints, so a preview of a
    CSV with a thousand columns costs no more to show than one with five."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headers: list[TextCell] = []
        self.rows: list[list[TextCell]] = []
        self._bold = QFont()
        self._bold.setBold(True)

    def set_table(self, headers: list[TextCell], rows: list[list[TextCell]]) -> None:
        self.beginResetModel()
        self.headers = headers
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def _style(self, cell: TextCell, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if cell.right else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and (cell.warn or cell.muted):
            return theme.colour("warning" if cell.warn else "text_muted")
        if role == Qt.ItemDataRole.FontRole and cell.bold:
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell.tip
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        return self._style(self.rows[index.row()][index.column()], role)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Vertical:
            if role == Qt.ItemDataRole.DisplayRole:
                return str(section + 1)
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if 0 <= section < len(self.headers):
            return self._style(self.headers[section], role)
        return None


class TextTable(QTableView):
    """A read-only table of text; columns as wide as their text (measured on the first
    columns only), widened to fill the view when there are few of them."""

    # Column widths are measured on this many columns and rows; the rest get a default.
    MEASURED_COLUMNS = 40
    MEASURED_ROWS = 60
    MAX_WIDTH = 240

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = TextTableModel(self)
        self.setModel(self.table)
        self.setObjectName("data_table")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setHighlightSections(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.stretch_last = False
        self._natural: list[int] = []

    def set_table(self, headers: list[TextCell], rows: list[list[TextCell]]) -> None:
        self.table.set_table(headers, rows)
        metrics = self.fontMetrics()
        bold = QFont(self.font())
        bold.setBold(True)
        bold_metrics = QFontMetrics(bold)
        widths = []
        self.horizontalHeader().setDefaultSectionSize(80)
        for column, header in enumerate(headers[: self.MEASURED_COLUMNS]):
            texts = [header, *(row[column] for row in rows[: self.MEASURED_ROWS])]
            widest = max(
                (bold_metrics if c.bold else metrics).horizontalAdvance(c.text) for c in texts
            )
            widths.append(min(self.MAX_WIDTH, max(56, widest + 24)))
        self._natural = widths
        self._fit_columns()

    def header_texts(self) -> list[str]:
        return [h.text for h in self.table.headers]

    def cell_text(self, row: int, column: int) -> str:
        return self.table.rows[row][column].text

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        natural = self._natural
        if not natural:
            return
        room = self.viewport().width()
        if self.stretch_last and len(natural) == self.table.columnCount():
            for column, width in enumerate(natural[:-1]):
                self.setColumnWidth(column, width)
            self.setColumnWidth(len(natural) - 1, max(natural[-1], room - sum(natural[:-1])))
            return
        columns = self.table.columnCount()
        spare = room - sum(natural)
        extra = min(spare // columns, 48) if spare > 0 and columns == len(natural) else 0
        for column, width in enumerate(natural):
            self.setColumnWidth(column, width + extra)


TableCells = tuple[list[TextCell], list[list[TextCell]]]


def table_cells(preview: TablePreview, roles: Mapping[str, str]) -> TableCells:
    """The header and cells of a table preview (plain data: made in the reading worker)."""
    numeric = [
        bool(preview.rows) and all(_looks_numeric(r[c]) for r in preview.rows[:10])
        for c in range(len(preview.columns))
    ]
    headers = []
    for column, name in enumerate(preview.columns):
        role = roles.get(name, "feature")
        headers.append(
            TextCell(name, right=numeric[column], bold=role == "target", tip=f"{name}: {role}")
        )
    rows = []
    for values in preview.rows:
        row = []
        for column, value in enumerate(values):
            role = roles.get(preview.columns[column], "feature")
            row.append(
                TextCell(
                    value,
                    right=numeric[column],
                    muted=role == "ignored",
                    bold=role == "target",
                )
            )
        rows.append(row)
    return headers, rows


class TablePreviewView(TextTable):
    """The first rows of a CSV as the file has them; the target column in bold, columns the
    model does not see dimmed."""

    def set_preview(self, preview: TablePreview, roles: Mapping[str, str]) -> None:
        self.set_table(*table_cells(preview, roles))


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


STAT_HEADERS = ("Column", "Role", "Type", "Count", "Missing", "Mean", "Std", "Min", "Max", "Values")


class StatisticsTable(TextTable):
    """Per column (or image channel, or text length): count, missing, mean, std, min, max;
    the distinct values of a categorical column."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verticalHeader().hide()
        self.stretch_last = True

    def set_statistics(self, statistics: Sequence[ColumnStats]) -> None:
        self.set_table(*statistics_cells(statistics))


def statistics_cells(statistics: Sequence[ColumnStats]) -> TableCells:
    """The header and cells of the statistics table (plain data: made in the worker)."""
    headers = [TextCell(name, right=3 <= i <= 8) for i, name in enumerate(STAT_HEADERS)]
    rows = []
    for stats in statistics:
        missing = TextCell(f"{stats.missing:,}", right=True, muted=not stats.missing)
        if stats.missing:
            share = stats.missing / stats.count if stats.count else 0.0
            missing = TextCell(f"{stats.missing:,} ({share:.0%})", right=True, warn=True)
        numbers = (stats.mean, stats.std, stats.min, stats.max)
        rows.append(
            [
                TextCell(stats.name, muted=stats.role == "ignored"),
                TextCell(stats.role, muted=True),
                TextCell(stats.type, muted=True),
                TextCell(f"{stats.count:,}", right=True),
                missing,
                *(TextCell(number_text(v), right=True) for v in numbers),
                TextCell(_values_text(stats), muted=True, tip=_values_text(stats, limit=10)),
            ]
        )
    return headers, rows


def _values_text(stats: ColumnStats, limit: int = 3) -> str:
    if stats.top and stats.type == "categorical":
        shown = ", ".join(f"{value} ({count:,})" for value, count in stats.top[:limit])
        more = (stats.unique or 0) - min(limit, len(stats.top))
        return shown + (f", … {more:,} more" if more > 0 else "")
    if stats.top:  # counts of note about a numeric column (e.g. texts cut to the max length)
        return ", ".join(f"{value}: {count:,}" for value, count in stats.top[:limit])
    if stats.unique is not None:
        return f"{stats.unique:,} distinct"
    return ""


# ----------------------------------------------------------------- texts
class TextSamples(QTextBrowser):
    """Texts with their labels and, under each, the tokens the model sees."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self._preview: TextPreview | None = None

    def set_preview(self, preview: TextPreview) -> None:
        self._preview = preview
        self.restyle()

    def restyle(self) -> None:
        preview = self._preview
        if preview is None:
            self.clear()
            return
        muted = theme.colour("text_muted").name()
        chip = theme.colour("hover").name()
        unknown = theme.colour("warning").name()
        accent = theme.colour("accent").name()
        parts = []
        for text, label, tokens in zip(preview.texts, preview.labels, preview.tokens, strict=True):
            shown = " ".join(
                f"<span style='background:{chip};"
                f"{' color:' + unknown + ';' if token in ('<unk>', '<pad>') else ''}'>"
                f"&nbsp;{html.escape(token)}&nbsp;</span>"
                for token in tokens
            )
            parts.append(
                "<p style='margin:0 0 2px 0'>"
                f"<b style='color:{accent}'>{html.escape(label)}</b>&nbsp;&nbsp;"
                f"{html.escape(text)}</p>"
                f"<p style='margin:0 0 10px 0; font-family:monospace; font-size:8pt;"
                f" color:{muted}'>{len(tokens)} tokens: {shown}</p>"
            )
        self.setHtml("".join(parts))


# ----------------------------------------------------------------- series
CURVE_CATEGORIES = (
    "Dense",
    "Recurrent",
    "Merge",
    "Attention",
    "Activation",
    "Convolution",
    "Pooling",
    "Normalization",
)
MAX_CURVES = 3


class SeriesPlot(QWidget):
    """A few series on one plot (pyqtgraph, made on first use; the worker that read the
    data imported pyqtgraph already, so making the plot costs milliseconds)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.plot: object | None = None
        self._preview: SeriesPreview | None = None
        self.curve_names: list[str] = []

    def set_preview(self, preview: SeriesPreview) -> None:
        self._preview = preview
        self._draw()

    def restyle(self) -> None:
        if self.plot is not None:
            self._draw()

    def _draw(self) -> None:
        import numpy as np
        import pyqtgraph as pg

        preview = self._preview
        if preview is None:
            return
        if self.plot is None:
            widget = pg.PlotWidget()
            widget.setMenuEnabled(False)
            widget.showGrid(x=True, y=True, alpha=0.15)
            widget.getPlotItem().setLabel("bottom", "time step")
            self._layout.addWidget(widget)
            self.plot = widget
        widget = self.plot
        assert isinstance(widget, pg.PlotWidget)
        widget.setBackground(theme.colour("base"))
        for side in ("left", "bottom"):
            axis = widget.getPlotItem().getAxis(side)
            axis.setPen(pg.mkPen(theme.colour("separator")))
            axis.setTextPen(pg.mkPen(theme.colour("text_muted")))
        item = widget.getPlotItem()
        item.clear()
        if item.legend is None:
            item.addLegend(offset=(8, 8))
        legend = item.legend
        legend.clear()
        legend.setLabelTextColor(theme.colour("text"))
        backdrop = theme.colour("window")
        backdrop.setAlpha(220)
        legend.setBrush(pg.mkBrush(backdrop))
        legend.setPen(pg.mkPen(theme.colour("separator")))
        curves: list[tuple[str, np.ndarray]] = []
        if len(preview.channels) == 1 or len(preview.series) > 1:
            for name, series in zip(preview.names, preview.series, strict=True):
                label = name if len(preview.channels) == 1 else f"{name} · {preview.channels[0]}"
                curves.append((label, np.asarray(series)[:, 0]))
        else:
            series = np.asarray(preview.series[0])
            for column, channel in enumerate(preview.channels):
                curves.append((channel, series[:, column]))
        curves = curves[:MAX_CURVES]
        self.curve_names = [name for name, _ in curves]
        for index, (name, values) in enumerate(curves):
            colour = theme.category_colour(CURVE_CATEGORIES[index % len(CURVE_CATEGORIES)])
            curve = item.plot(
                np.arange(len(values)), values, pen=pg.mkPen(colour, width=1.4), name=name
            )
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        item.enableAutoRange()


# ----------------------------------------------------------------- balance and splits
class ClassBalanceChart(QWidget):
    """Samples per class, one bar per class split into train, validation and test."""

    ROW = 20
    LEGEND = 24

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.balance: list[ClassBalance] = []
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def set_balance(self, balance: Sequence[ClassBalance]) -> None:
        self.balance = list(balance)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, self.LEGEND + self.ROW * len(self.balance) + 4)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def _name_width(self) -> int:
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(c.name) for c in self.balance), default=0)
        return min(140, widest + 10)

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.balance:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = self.fontMetrics()
        text, muted = theme.colour("text"), theme.colour("text_muted")
        # legend
        x = 0
        for split in SPLITS:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(split_colour(split))
            painter.drawRoundedRect(QRectF(x, 7, 10, 10), 2, 2)
            painter.setPen(muted)
            title = SPLIT_TITLES[split]
            painter.drawText(QRect(x + 14, 2, 200, 20), Qt.AlignmentFlag.AlignVCenter, title)
            x += 14 + metrics.horizontalAdvance(title) + 16
        name_width = self._name_width()
        widest = max(c.total for c in self.balance)
        count_width = metrics.horizontalAdvance(f"{widest:,}") + 8
        bar_left = name_width + 6
        bar_width = max(20, self.width() - bar_left - count_width - 6)
        largest = max(c.total for c in self.balance) or 1
        for row, balance in enumerate(self.balance):
            top = self.LEGEND + row * self.ROW
            painter.setPen(text)
            name = metrics.elidedText(balance.name, Qt.TextElideMode.ElideRight, name_width - 6)
            painter.drawText(
                QRect(0, top, name_width, self.ROW),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
            x_bar = float(bar_left)
            for split in SPLITS:
                share = getattr(balance, split) / largest * bar_width
                if share <= 0:
                    continue
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(split_colour(split))
                painter.drawRect(QRectF(x_bar, top + 5, share, self.ROW - 10))
                x_bar += share
            painter.setPen(muted)
            painter.drawText(
                QRect(round(x_bar) + 6, top, count_width, self.ROW),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"{balance.total:,}",
            )
        painter.end()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            row = (event.pos().y() - self.LEGEND) // self.ROW
            if 0 <= row < len(self.balance) and event.pos().y() >= self.LEGEND:
                c = self.balance[row]
                QToolTip.showText(
                    event.globalPos(),
                    f"{c.name}: {c.total:,} in all — train {c.train:,}, validation "
                    f"{c.validation:,}, test {c.test:,}",
                    self,
                )
            else:
                QToolTip.hideText()
            return True
        return super().event(event)


class SplitBar(QWidget):
    """How the samples are divided: one bar in three parts, with each part's size."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sizes: dict[str, int] = {}
        self.unit = "samples"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_sizes(self, sizes: dict[str, int], unit: str = "samples") -> None:
        self.sizes = dict(sizes)
        self.unit = unit
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(400, 40)

    def text(self) -> str:
        """``Train 1,257 (70%) · Validation 270 (15%) · Test 270 (15%)``."""
        total = sum(self.sizes.values()) or 1
        return " · ".join(
            f"{SPLIT_TITLES[s]} {self.sizes.get(s, 0):,} ({self.sizes.get(s, 0) / total:.0%})"
            for s in SPLITS
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        total = sum(self.sizes.values())
        if not total:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = self.fontMetrics()
        width = self.width()
        # the bar
        x = 0.0
        painter.setPen(Qt.PenStyle.NoPen)
        for split in SPLITS:
            share = self.sizes.get(split, 0) / total * width
            if share > 0:
                painter.setBrush(split_colour(split))
                painter.drawRect(QRectF(x, 4, max(0.0, share - 2), 8))
            x += share
        # the numbers under it
        x = 0.0
        for split in SPLITS:
            count = self.sizes.get(split, 0)
            label = f"{SPLIT_TITLES[split]} {count:,} · {count / total:.0%}"
            painter.setBrush(split_colour(split))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(QRectF(x, 22, 9, 9), 2, 2)
            painter.setPen(theme.colour("text"))
            painter.drawText(QRectF(x + 14, 16, 400, 20), Qt.AlignmentFlag.AlignVCenter, label)
            x += 14 + metrics.horizontalAdvance(label) + 22
        painter.setPen(theme.colour("text_muted"))
        painter.drawText(
            QRectF(0, 16, width, 20),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            f"{total:,} {self.unit} in all",
        )
        painter.end()
