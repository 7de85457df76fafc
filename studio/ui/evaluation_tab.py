"""The Evaluation tab: how a trained run does on held-out data, and which samples it gets wrong.

A run chooser lists the project's runs (newest first); Evaluate runs
`studio.training.evaluation.evaluate_run` in a worker, which also turns every picture into a
`QImage` (safe off the Qt thread), so the Qt thread only lays out what arrives. A classifier
shows its confusion matrix (`ConfusionMatrix`, painted, colour-scaled by each row's share);
clicking a cell fetches exactly that cell's samples in a worker and shows them with their
true label, prediction and confidence. A regression shows predicted against actual values,
an autoencoder its inputs beside their reconstructions, a GAN what its generator makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.ui import theme
from studio.ui.data_previews import (
    ImageGrid,
    ImageTile,
    SeriesPlot,
    TextCell,
    TextSamples,
    TextTable,
    image_tiles,
    number_text,
    table_cells,
)
from studio.ui.tasks import Task, TaskRunner

if TYPE_CHECKING:
    import numpy as np

    from studio.core.project import DataSection, Project
    from studio.data.previews import Preview
    from studio.training.evaluation import Evaluation
    from studio.training.trained import RunChoice, TrainedRun
    from studio.ui.runs_model import RunsModel, RunsSnapshot

NO_PROJECT = "Open a project to evaluate its trained model."
UNSAVED = "Save the project and train it (Training tab); its runs are kept beside the file."
NO_RUNS = "Train the model first (Training tab), then evaluate the run here."
READING_RUNS = "Reading the project's runs…"
# An imported model names no data unless `--dataset` was given: say what to set.
NO_DATA = (
    "This project names no data (an imported model has none), so there is nothing to evaluate "
    "its runs on. Choose a dataset or a file in the Data tab, then press Evaluate: the run's "
    "weights are evaluated on it."
)
CHOOSE_CELL = "Click a cell of the confusion matrix to see its samples."
# A cell's gallery shows at most this many samples (and says how many there are).
GALLERY_LIMIT = 200
FEW_SAMPLES = 12
# The regression scatter draws at most this many points.
MAX_POINTS = 20_000
METRIC_TITLES = {
    "loss": "loss",
    "accuracy": "accuracy",
    "f1": "F1 (macro)",
    "precision": "precision (macro)",
    "recall": "recall (macro)",
    "mae": "mean abs. error",
    "r2": "R²",
    "g_loss": "generator loss",
    "d_loss": "discriminator loss",
}


# ----------------------------------------------------------------- worker side
@dataclass
class EvaluationShown:
    """An evaluation and the pictures made for it in the worker."""

    evaluation: Evaluation
    per_class: tuple[list[TextCell], list[list[TextCell]]] | None = None
    reconstruction_tiles: list[ImageTile] = field(default_factory=list)
    reconstruction_table: tuple[list[TextCell], list[list[TextCell]]] | None = None
    grid_tiles: list[ImageTile] = field(default_factory=list)
    generated_tiles: list[ImageTile] = field(default_factory=list)


@dataclass
class CellSamples:
    """One confusion-matrix cell's samples, ready to show."""

    actual: int
    predicted: int
    total: int
    kind: str  # "image", "table", "text", "sequence"
    tiles: list[ImageTile] = field(default_factory=list)
    table: tuple[list[TextCell], list[list[TextCell]]] | None = None
    preview: Preview | None = None

    @property
    def shown(self) -> int:
        if self.kind == "image":
            return len(self.tiles)
        if self.kind == "table":
            return len(self.table[1]) if self.table is not None else 0
        preview = self.preview
        return len(getattr(preview, "texts", getattr(preview, "series", [])))


def _tiles(arrays: np.ndarray, labels: Sequence[str]) -> list[ImageTile]:
    """(n, C, H, W) float images, scaled together, as tiles; [] for anything else."""
    import numpy as np

    from studio.data.previews import ImagePreview, images_for_display

    if arrays.ndim != 4 or arrays.shape[1] not in (1, 3) or not len(arrays):
        return []
    low, high = float(np.min(arrays)), float(np.max(arrays))
    return image_tiles(ImagePreview(images_for_display(arrays, low, high), list(labels)))


def evaluate_work(
    project_path: Path,
    run_id: str,
    split: str,
    cancelled: Callable[[], bool],
    data: tuple[DataSection, str] | None = None,
) -> Iterator[object]:
    """Work for a worker: evaluate the run and make everything the views show.

    `data` (the window's data section and training task) stands in for the run's own when
    the run names none: an imported model is evaluated on the data chosen after importing.
    """
    from studio.training.evaluation import evaluate_run

    trained = run_with_data(project_path, run_id, data)
    evaluation = evaluate_run(project_path, run_id, split, trained=trained, cancelled=cancelled)
    shown = EvaluationShown(evaluation)
    if evaluation.classification is not None:
        result = evaluation.classification
        headers = [
            TextCell("Class"),
            *(TextCell(h, right=True) for h in ("Precision", "Recall", "F1", "Support")),
        ]
        rows = [
            [
                TextCell(row["class"]),
                TextCell(f"{row['precision']:.3f}", right=True),
                TextCell(f"{row['recall']:.3f}", right=True),
                TextCell(f"{row['f1']:.3f}", right=True, bold=True),
                TextCell(f"{row['support']:,}", right=True, muted=True),
            ]
            for row in result.per_class()
        ]
        shown.per_class = (headers, rows)
    elif evaluation.regression is not None:
        import pyqtgraph  # noqa: F401  (0.4 s to import: here, not on the Qt thread)
    elif evaluation.reconstruction is not None:
        import numpy as np

        r = evaluation.reconstruction
        pairs = np.stack([r.inputs, r.reconstructions], axis=1) if len(r.inputs) else r.inputs
        if pairs.ndim == 5:
            labels = []
            for position in r.positions:
                labels += [f"input #{position}", f"error {r.errors[position]:.2g}"]
            shown.reconstruction_tiles = _tiles(pairs.reshape(-1, *pairs.shape[2:]), labels)
        if not shown.reconstruction_tiles and len(r.inputs):
            headers = [TextCell("Sample", right=True), TextCell("Error", right=True)]
            headers += [TextCell("Input"), TextCell("Reconstruction")]
            rows = [
                [
                    TextCell(str(int(p)), right=True),
                    TextCell(number_text(float(r.errors[p])), right=True),
                    TextCell(_values_text(r.inputs[i])),
                    TextCell(_values_text(r.reconstructions[i]), muted=True),
                ]
                for i, p in enumerate(r.positions)
            ]
            shown.reconstruction_table = (headers, rows)
    elif evaluation.generation is not None:
        g = evaluation.generation
        if g.grid is not None:
            shown.grid_tiles = _tiles(g.grid, [f"#{i + 1}" for i in range(len(g.grid))])
        shown.generated_tiles = _tiles(
            g.generated, [f"new #{i + 1}" for i in range(len(g.generated))]
        )
    yield shown


def run_with_data(
    project_path: Path, run_id: str, data: tuple[DataSection, str] | None
) -> TrainedRun:
    """The run with its data; a run naming none takes `data` (the window's current choice).

    Raises:
        RunError: neither the run nor the window names data (the sentence says what to set).
    """
    from studio.data.pipeline import load_project_data
    from studio.training.trained import load_run_weights, require_data, run_context

    run = load_run_weights(project_path, run_id, allow_gan=True)
    if run.data is None and data is not None:
        section, task = data
        run.project.data = section
        run.project.training.task = task  # type: ignore[assignment]
        with run_context(run.run_id, run.path, "data settings"):
            run.data = load_project_data(run.project)
    return require_data(run, "evaluating it needs a test split")


def _values_text(values: Any, limit: int = 8) -> str:
    flat = [float(v) for v in values.reshape(-1)[: limit + 1]]
    text = ", ".join(number_text(v) for v in flat[:limit])
    return text + (", …" if len(flat) > limit else "")


def cell_work(
    evaluation: Evaluation, actual: int, predicted: int, cancelled: Callable[[], bool]
) -> Iterator[object]:
    """Work for a worker: the samples of one cell, with pictures made here."""
    gallery = evaluation.cell_gallery(actual, predicted, limit=GALLERY_LIMIT)
    preview = gallery.preview
    cell = CellSamples(actual, predicted, gallery.total, preview.kind)
    if preview.kind == "image":
        cell.tiles = image_tiles(preview)  # type: ignore[arg-type]
    elif preview.kind == "table":
        cell.table = table_cells(preview, {})  # type: ignore[arg-type]
    else:
        cell.preview = preview
        if preview.kind == "sequence":
            import pyqtgraph  # noqa: F401
    yield cell


# ----------------------------------------------------------------- the confusion matrix
def _mix(low: QColor, high: QColor, share: float) -> QColor:
    share = max(0.0, min(1.0, share))
    return QColor(
        round(low.red() + (high.red() - low.red()) * share),
        round(low.green() + (high.green() - low.green()) * share),
        round(low.blue() + (high.blue() - low.blue()) * share),
    )


def _readable_on(fill: QColor) -> QColor:
    luminance = 0.2126 * fill.redF() + 0.7152 * fill.greenF() + 0.0722 * fill.blueF()
    return QColor("#111316") if luminance > 0.55 else QColor("#f4f5f7")


class ConfusionMatrix(QWidget):
    """Counts of (actual, predicted) pairs, rows actual, columns predicted.

    Each cell is coloured by its share of the row (the class's samples): the diagonal in the
    accent colour, mistakes in the error colour, so the confusions stand out whatever the
    class sizes. Clicking a cell emits `cell_clicked(actual, predicted)`.
    """

    cell_clicked = Signal(int, int)

    MIN_CELL = 22
    MAX_CELL = 112
    TITLE = 20  # room for the axis titles "Predicted" (top) and "Actual" (left)
    GAP = 6

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix: list[list[int]] = []
        self.names: list[str] = []
        self.selected: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_matrix(self, matrix: Sequence[Sequence[int]], names: Sequence[str]) -> None:
        self.matrix = [[int(v) for v in row] for row in matrix]
        self.names = list(names)
        self.selected = None
        self.updateGeometry()
        self.update()

    def select(self, actual: int, predicted: int) -> None:
        self.selected = (actual, predicted)
        self.update()

    # layout
    def _label_font(self) -> QFont:
        return QFont(self.font())

    def _row_label_width(self) -> int:
        metrics = QFontMetrics(self._label_font())
        widest = max((metrics.horizontalAdvance(n) for n in self.names), default=0)
        return min(160, widest + 10)

    def _rotated_columns(self, cell: int) -> bool:
        metrics = QFontMetrics(self._label_font())
        return any(metrics.horizontalAdvance(n) > cell - 4 for n in self.names)

    def _geometry(self) -> tuple[int, int, int, int]:
        """(left, top, cell size, header height) of the grid in the widget."""
        count = max(1, len(self.names))
        metrics = QFontMetrics(self._label_font())
        left = self.TITLE + self._row_label_width() + self.GAP
        # First guess with horizontal column labels, then make room for rotated ones.
        header = metrics.height() + 4
        cell = self._cell_size(left, self.TITLE + header + self.GAP, count)
        if self._rotated_columns(cell):
            widest = max((metrics.horizontalAdvance(n) for n in self.names), default=0)
            header = min(160, widest + 8)
            cell = self._cell_size(left, self.TITLE + header + self.GAP, count)
        top = self.TITLE + header + self.GAP
        return left, top, cell, header

    def _cell_size(self, left: int, top: int, count: int) -> int:
        room = min((self.width() - left - 4) // count, (self.height() - top - 4) // count)
        return max(self.MIN_CELL, min(self.MAX_CELL, room))

    def cell_rect(self, actual: int, predicted: int) -> QRect:
        left, top, cell, _ = self._geometry()
        return QRect(left + predicted * cell, top + actual * cell, cell, cell)

    def cell_at(self, point: QPoint) -> tuple[int, int] | None:
        left, top, cell, _ = self._geometry()
        count = len(self.matrix)
        column = (point.x() - left) // cell if point.x() >= left else -1
        row = (point.y() - top) // cell if point.y() >= top else -1
        if 0 <= row < count and 0 <= column < count:
            return row, column
        return None

    def sizeHint(self) -> QSize:
        count = max(1, len(self.names))
        side = self.TITLE + self._row_label_width() + self.GAP + count * 44 + 4
        return QSize(side, side)

    def minimumSizeHint(self) -> QSize:
        count = max(1, len(self.names))
        side = self.TITLE + self._row_label_width() + self.GAP + count * self.MIN_CELL + 40
        return QSize(side, side)

    # painting
    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.matrix:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        left, top, cell, header = self._geometry()
        count = len(self.matrix)
        grid = QRect(left, top, cell * count, cell * count)
        base, accent, error = theme.colour("base"), theme.colour("accent"), theme.colour("error")
        text, muted = theme.colour("text"), theme.colour("text_muted")
        font = self._label_font()
        painter.setFont(font)
        metrics = QFontMetrics(font)
        # axis titles
        title_font = QFont(font)
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(muted)
        painter.drawText(
            QRect(grid.left(), 0, grid.width(), self.TITLE),
            Qt.AlignmentFlag.AlignCenter,
            "Predicted",
        )
        painter.save()
        painter.translate(0, grid.center().y())
        painter.rotate(-90)
        painter.drawText(
            QRect(-grid.height() // 2, 0, grid.height(), self.TITLE),
            Qt.AlignmentFlag.AlignCenter,
            "Actual",
        )
        painter.restore()
        painter.setFont(font)
        # class names
        rotated = self._rotated_columns(cell)
        label_width = self._row_label_width()
        for i, name in enumerate(self.names[:count]):
            painter.setPen(text)
            row_box = QRect(self.TITLE, top + i * cell, label_width, cell)
            shown = metrics.elidedText(name, Qt.TextElideMode.ElideRight, label_width - 4)
            painter.drawText(
                row_box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, shown
            )
            x = left + i * cell
            if rotated:
                painter.save()
                painter.translate(x + cell / 2 + metrics.ascent() / 2 - 2, top - self.GAP)
                painter.rotate(-90)
                shown = metrics.elidedText(name, Qt.TextElideMode.ElideRight, header - 4)
                painter.drawText(QPoint(0, 0), shown)
                painter.restore()
            else:
                painter.drawText(
                    QRect(x, self.TITLE, cell, header),
                    Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                    name,
                )
        # cells
        count_font = QFont(font)
        count_font.setPointSizeF(max(7.0, min(font.pointSizeF() + 1, cell / 4.2)))
        painter.setFont(count_font)
        for row, values in enumerate(self.matrix):
            total = sum(values) or 1
            for column, value in enumerate(values):
                rect = QRectF(left + column * cell, top + row * cell, cell, cell)
                share = value / total
                if value == 0:
                    fill = base
                elif row == column:
                    fill = _mix(base, accent, 0.18 + 0.82 * share)
                else:
                    fill = _mix(base, error, 0.25 + 0.75 * min(1.0, share * 2))
                painter.setPen(QPen(theme.colour("separator"), 1))
                painter.setBrush(fill)
                painter.drawRect(rect.adjusted(0.5, 0.5, -0.5, -0.5))
                painter.setPen(muted if value == 0 else _readable_on(fill))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{value:,}")
        if self.selected is not None:
            row, column = self.selected
            if 0 <= row < count and 0 <= column < count:
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(text, 2.5))
                painter.drawRect(QRectF(self.cell_rect(row, column)).adjusted(1, 1, -1, -1))
        painter.end()

    # interaction
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            found = self.cell_at(event.position().toPoint())
            if found is not None:
                self.select(*found)
                self.cell_clicked.emit(*found)
                return
        super().mousePressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            found = self.cell_at(event.pos())
            if found is None:
                QToolTip.hideText()
            else:
                row, column = found
                value = self.matrix[row][column]
                total = sum(self.matrix[row]) or 1
                QToolTip.showText(
                    event.globalPos(),
                    f"Actual {self.names[row]}, predicted {self.names[column]}: "
                    f"{value:,} sample{'s' if value != 1 else ''} "
                    f"({value / total:.0%} of {self.names[row]})",
                    self,
                )
            return True
        return super().event(event)


# ----------------------------------------------------------------- the tab
def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("section")
    return label


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label


class EvaluationTab(QWidget):
    """Choose a run, evaluate it, and look at the results.

    `set_project` follows the window's project; the run picker lists the window's runs model
    (read in a worker), and `refresh_runs` asks it to read again (the window calls it when
    the tab is shown). `evaluation_shown` fires when a result is on screen and
    `cell_shown(actual, predicted)` when a cell's samples are.
    """

    evaluation_shown = Signal()
    evaluation_failed = Signal(str)
    cell_shown = Signal(int, int)
    # (run id, test-split positions): "why did the model predict that?" for a cell's samples.
    explain_requested = Signal(str, list)

    def __init__(
        self, tasks: TaskRunner, runs_model: RunsModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.runs_model = runs_model
        self.project: Project | None = None
        self.runs: list[RunChoice] = []
        self._runs_read = False  # the runs model has read this project's runs
        self.evaluation: Evaluation | None = None
        self.error: str | None = None
        self.cell: CellSamples | None = None
        self._task: Task | None = None
        self._cell_task: Task | None = None
        self._scatter: Any = None

        self._make_bar()
        self._make_pages()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.bar)
        outer.addWidget(self.pages, 1)
        self._restyle()
        theme.notifier().theme_changed.connect(self._restyle)
        runs_model.runs_changed.connect(self._show_runs)
        self.set_project(None)

    # ------------------------------------------------------------- building
    def _make_bar(self) -> None:
        bar = QFrame()
        bar.setObjectName("evaluation_bar")
        self.run_combo = QComboBox()
        self.run_combo.setMinimumWidth(360)
        self.run_combo.setToolTip("The trained run to evaluate (newest first)")
        self.split_combo = QComboBox()
        for split in ("test", "validation", "train"):
            self.split_combo.addItem(split.capitalize(), split)
        self.split_combo.setToolTip("The data to evaluate on: held-out test data by default")
        self.split_combo.setMinimumWidth(110)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("↻")
        self.refresh_button.setToolTip("Look for new runs")
        self.refresh_button.clicked.connect(self.refresh_runs)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setDefault(True)
        self.evaluate_button.setToolTip("Run the chosen run's model over the chosen split")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.status_label = _muted()
        self.status_label.setWordWrap(False)
        row = QHBoxLayout(bar)
        row.setContentsMargins(12, 8, 12, 8)
        row.setSpacing(8)
        row.addWidget(QLabel("Run"))
        row.addWidget(self.run_combo)
        row.addWidget(self.refresh_button)
        row.addSpacing(8)
        row.addWidget(QLabel("Split"))
        row.addWidget(self.split_combo)
        row.addWidget(self.evaluate_button)
        row.addSpacing(8)
        row.addWidget(self.status_label, 1)
        self.bar = bar

    def _make_pages(self) -> None:
        self.pages = QStackedWidget()
        self.message_label = QLabel()
        self.message_label.setObjectName("evaluation_message")
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setWordWrap(True)
        self.pages.addWidget(self.message_label)

        self.result_page = QWidget()
        column = QVBoxLayout(self.result_page)
        column.setContentsMargins(12, 6, 12, 8)
        column.setSpacing(6)
        self.metrics_row = QHBoxLayout()
        self.metrics_row.setSpacing(22)
        self.metric_labels: list[QLabel] = []
        column.addLayout(self.metrics_row)
        self.views = QStackedWidget()
        column.addWidget(self.views, 1)
        self.pages.addWidget(self.result_page)

        self._make_classification_view()
        self._make_regression_view()
        self._make_pictures_view()

    def _make_classification_view(self) -> None:
        self.matrix = ConfusionMatrix()
        self.matrix.cell_clicked.connect(self.show_cell)
        self.per_class_table = TextTable()
        self.per_class_table.verticalHeader().hide()
        self.per_class_table.stretch_last = False
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.setSpacing(4)
        heading = QHBoxLayout()
        heading.addWidget(_section("CONFUSION MATRIX"))
        heading.addWidget(_muted("rows: actual class · columns: predicted · click a cell"), 1)
        left_column.addLayout(heading)
        left_column.addWidget(self.matrix, 1)

        self.gallery_title = QLabel()
        self.gallery_title.setObjectName("evaluation_gallery_title")
        self.gallery_note = _muted()
        self.gallery_stack = QStackedWidget()
        self.gallery_message = _muted(CHOOSE_CELL)
        self.gallery_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.gallery_grid = ImageGrid()
        self.gallery_scroll = QScrollArea()
        self.gallery_scroll.setWidgetResizable(True)
        self.gallery_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.gallery_scroll.setWidget(self.gallery_grid)
        self.gallery_table = TextTable()
        self.gallery_texts = TextSamples()
        self.gallery_series = SeriesPlot()
        for page in (
            self.gallery_message,
            self.gallery_scroll,
            self.gallery_table,
            self.gallery_texts,
            self.gallery_series,
        ):
            self.gallery_stack.addWidget(page)
        samples = QWidget()
        samples_column = QVBoxLayout(samples)
        samples_column.setContentsMargins(0, 0, 0, 0)
        samples_column.setSpacing(4)
        self.explain_button = QPushButton("Explain These…")
        self.explain_button.setToolTip(
            "Open the cell's samples (the first 16) in the Explain tab: why did the model "
            "predict this?"
        )
        self.explain_button.setEnabled(False)
        self.explain_button.clicked.connect(self.request_explanation)
        title_row = QHBoxLayout()
        title_row.addWidget(self.gallery_title, 1)
        title_row.addWidget(self.explain_button)
        samples_column.addWidget(_section("SAMPLES"))
        samples_column.addLayout(title_row)
        samples_column.addWidget(self.gallery_note)
        samples_column.addWidget(self.gallery_stack, 1)
        per_class = QWidget()
        per_class_column = QVBoxLayout(per_class)
        per_class_column.setContentsMargins(0, 0, 0, 0)
        per_class_column.setSpacing(4)
        per_class_column.addWidget(_section("PER CLASS"))
        per_class_column.addWidget(self.per_class_table, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.setChildrenCollapsible(False)
        right.addWidget(samples)
        right.addWidget(per_class)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([640, 900])
        self.classification_view = splitter
        self.views.addWidget(splitter)

    def _make_regression_view(self) -> None:
        self.regression_view = QWidget()
        column = QVBoxLayout(self.regression_view)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        heading = QHBoxLayout()
        heading.addWidget(_section("PREDICTED AGAINST ACTUAL"))
        heading.addWidget(_muted("in the data's units · the line is a perfect prediction"), 1)
        column.addLayout(heading)
        self.residuals_label = _muted()
        column.addWidget(self.residuals_label)
        self.plot_holder = QVBoxLayout()
        column.addLayout(self.plot_holder, 1)
        self.views.addWidget(self.regression_view)

    def _make_pictures_view(self) -> None:
        """Autoencoder pairs and GAN samples: pictures in sections, or a table of values."""
        self.pictures_view = QWidget()
        column = QVBoxLayout(self.pictures_view)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        self.pictures_title = _section("")
        self.pictures_note = _muted()
        self.pictures_grid = ImageGrid()
        self.second_title = _section("")
        self.second_grid = ImageGrid()
        inner = QWidget()
        inner_column = QVBoxLayout(inner)
        inner_column.setContentsMargins(0, 0, 0, 0)
        inner_column.addWidget(self.pictures_grid)
        inner_column.addWidget(self.second_title)
        inner_column.addWidget(self.second_grid)
        inner_column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)
        self.pictures_table = TextTable()
        column.addWidget(self.pictures_title)
        column.addWidget(self.pictures_note)
        column.addWidget(scroll, 1)
        column.addWidget(self.pictures_table, 1)
        self.views.addWidget(self.pictures_view)

    def _restyle(self, *_: object) -> None:
        c = theme.colour
        self.setStyleSheet(
            f"QFrame#evaluation_bar {{ background: {c('chrome').name()};"
            f" border-bottom: 1px solid {c('chrome_line').name()}; }}"
            f"QLabel#evaluation_message {{ color: {c('text_muted').name()}; font-size: 11pt; }}"
            f"QLabel#evaluation_error {{ color: {c('error').name()}; font-size: 10pt; }}"
            f"QLabel#evaluation_gallery_title {{ font-weight: 600; font-size: 10.5pt; }}"
            "QTableView#data_table::item { padding: 0px 6px; }"
        )
        self.gallery_texts.restyle()
        self.gallery_series.restyle()
        if self.evaluation is not None:
            self._set_metrics(self.evaluation)
            if self.evaluation.regression is not None:
                self._show_regression(self.evaluation)
        self.update()

    # ------------------------------------------------------------- the project and its runs
    def set_project(self, project: Project | None) -> None:
        """Follow the window's project: forget the last result, list the project's runs."""
        self.cancel()
        self.project = project
        self.evaluation = None
        self.error = None
        self.cell = None
        self._show_runs(self.runs_model.snapshot)

    def project_path(self) -> Path | None:
        return self.project.path if self.project is not None else None

    def tab_shown(self) -> None:
        """The window shows this tab: training may have made a run since."""
        self.refresh_runs()

    def refresh_runs(self) -> None:
        """Have the runs model read the project's runs again (in a worker)."""
        self.runs_model.refresh()

    def _show_runs(self, snapshot: RunsSnapshot) -> None:
        """List the runs the model last read for this project, keeping the choice."""
        path = self.project_path()
        chosen = self.run_combo.currentData()
        mine = path is not None and snapshot.project_path == path
        self.runs = list(snapshot.with_weights) if mine else []
        self._runs_read = mine and snapshot.complete
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for info in self.runs:
            self.run_combo.addItem(info.describe(), info.run_id)
            self.run_combo.setItemData(
                self.run_combo.count() - 1, str(info.path), Qt.ItemDataRole.ToolTipRole
            )
        index = self.run_combo.findData(chosen) if chosen is not None else -1
        self.run_combo.setCurrentIndex(max(0, index) if self.runs else -1)
        self.run_combo.blockSignals(False)
        self._update_controls()
        if self.evaluation is None and self._task is None:
            self._show_message(self._empty_message())

    def _empty_message(self) -> str:
        if self.project is None:
            return NO_PROJECT
        if self.project.path is None:
            return UNSAVED
        if not self.runs:
            return NO_RUNS if self._runs_read else READING_RUNS
        if not self.project.data.names_data:
            return NO_DATA
        return "Choose a run and press Evaluate to see how it does on data it never trained on."

    def _update_controls(self) -> None:
        busy = self._task is not None
        data = self.project is not None and self.project.data.names_data
        self.run_combo.setEnabled(bool(self.runs) and not busy)
        self.split_combo.setEnabled(bool(self.runs) and data and not busy)
        self.evaluate_button.setEnabled(bool(self.runs) and data and not busy)
        self.evaluate_button.setToolTip(
            "Run the chosen run's model over the chosen split"
            if data or self.project is None
            else "Choose a dataset or a file in the Data tab first: this project names no data"
        )
        self.refresh_button.setEnabled(self.project_path() is not None and not busy)

    def chosen_run(self) -> str | None:
        data = self.run_combo.currentData()
        return str(data) if data is not None else None

    def choose_run(self, run_id: str) -> bool:
        index = self.run_combo.findData(run_id)
        if index >= 0:
            self.run_combo.setCurrentIndex(index)
        return index >= 0

    # ------------------------------------------------------------- evaluating
    @property
    def busy(self) -> bool:
        """An evaluation is under way."""
        return self._task is not None

    @property
    def fetching_cell(self) -> bool:
        """A cell's samples are being fetched."""
        return self._cell_task is not None

    def evaluate(self) -> Task | None:
        """Evaluate the chosen run on the chosen split, in a worker."""
        path, run_id = self.project_path(), self.chosen_run()
        if path is None or run_id is None or self.project is None:
            return None
        if not self.project.data.names_data:
            self._show_message(NO_DATA)
            return None
        self.cancel()
        split = str(self.split_combo.currentData())
        # Taken on the Qt thread: a run that names no data is evaluated on the window's.
        data = (self.project.data.model_copy(deep=True), str(self.project.training.task))
        self.evaluation = None
        self.error = None
        self.cell = None
        self._show_message(f"Evaluating run {run_id} on the {split} split…")
        self.status_label.setText("Evaluating…")

        def arrived(item: object) -> None:
            assert isinstance(item, EvaluationShown)
            self._task = None  # its one result is here; `finished` only follows
            self._update_controls()
            self._show(item)

        def failed(exc: BaseException, trace: str) -> None:
            self._task = None
            self._update_controls()
            if isinstance(exc, StudioError):
                message = str(exc)
            else:  # a bug of ours: say what happened, briefly
                message = f"Unexpected error: {type(exc).__name__}: {exc}"
            self.error = message
            self._show_message(f"Cannot evaluate run {run_id}.\n\n{message}", error=True)
            self.status_label.setText("")
            self.evaluation_failed.emit(message)

        def finished() -> None:
            if self._task is task:
                self._task = None
                self._update_controls()

        task = self.tasks.start(
            "evaluate",
            lambda cancelled: evaluate_work(path, run_id, split, cancelled, data),
            arrived,
            failed,
            finished,
        )
        self._task = task
        self._update_controls()
        return task

    def cancel(self) -> None:
        """Drop the evaluation and cell fetch under way (a new project, or the window closes)."""
        for task in (self._task, self._cell_task):
            if task is not None:
                task.cancel()
        self._task = None
        self._cell_task = None
        if hasattr(self, "evaluate_button"):
            self._update_controls()

    # ------------------------------------------------------------- showing
    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message_label.setObjectName("evaluation_error" if error else "evaluation_message")
        self.message_label.style().unpolish(self.message_label)
        self.message_label.style().polish(self.message_label)
        self.message_label.setText(text)
        self.pages.setCurrentWidget(self.message_label)

    def _set_metrics(self, evaluation: Evaluation) -> None:
        while (item := self.metrics_row.takeAt(0)) is not None:
            widget = item.widget()
            if widget is not None:
                widget.deleteLater()
        self.metric_labels = []
        items = [(k.removeprefix("val_"), v) for k, v in evaluation.metrics.items()]
        muted = theme.colour("text_muted").name()
        for key, value in [*items, ("samples", float(evaluation.samples))]:
            text = f"{value:,.0f}" if key == "samples" else number_text(value)
            if key == "accuracy":
                text = f"{value:.1%}"
            label = QLabel(
                f"<div style='font-size:17pt; font-weight:600'>{text}</div>"
                f"<div style='color:{muted}'>{METRIC_TITLES.get(key, key)}</div>"
            )
            label.setObjectName(f"metric_{key}")
            self.metrics_row.addWidget(label)
            self.metric_labels.append(label)
        self.metrics_row.addStretch(1)

    def _show(self, shown: EvaluationShown) -> None:
        evaluation = shown.evaluation
        self.evaluation = evaluation
        self._set_metrics(evaluation)
        checkpoint = Path(evaluation.checkpoint).name
        self.status_label.setText(
            f"Run {evaluation.run_id} · {checkpoint} (epoch {evaluation.epoch}) · "
            f"{evaluation.split} split, {evaluation.samples:,} samples"
        )
        if evaluation.classification is not None:
            result = evaluation.classification
            self.matrix.set_matrix(result.confusion.tolist(), result.class_names)
            if shown.per_class is not None:
                self.per_class_table.set_table(*shown.per_class)
            self._clear_gallery()
            self.views.setCurrentWidget(self.classification_view)
        elif evaluation.regression is not None:
            self._show_regression(evaluation)
            self.views.setCurrentWidget(self.regression_view)
        else:
            self._show_pictures(shown)
            self.views.setCurrentWidget(self.pictures_view)
        self.pages.setCurrentWidget(self.result_page)
        self.evaluation_shown.emit()

    def _show_regression(self, evaluation: Evaluation) -> None:
        import numpy as np
        import pyqtgraph as pg

        result = evaluation.regression
        assert result is not None
        stats = result.residual_stats()
        self.residuals_label.setText(
            "Residuals (predicted − actual): "
            + " · ".join(
                f"{name} {number_text(stats[key])}"
                for key, name in (
                    ("mean", "mean"),
                    ("std", "std"),
                    ("mae", "MAE"),
                    ("rmse", "RMSE"),
                    ("max_abs", "largest"),
                    ("r2", "R²"),
                )
                if key in stats
            )
        )
        if self._scatter is None:
            widget = pg.PlotWidget()
            widget.setMenuEnabled(False)
            widget.showGrid(x=True, y=True, alpha=0.15)
            widget.getPlotItem().setLabel("bottom", "actual")
            widget.getPlotItem().setLabel("left", "predicted")
            self.plot_holder.addWidget(widget)
            self._scatter = widget
        widget = self._scatter
        widget.setBackground(theme.colour("base"))
        for side in ("left", "bottom"):
            axis = widget.getPlotItem().getAxis(side)
            axis.setPen(pg.mkPen(theme.colour("separator")))
            axis.setTextPen(pg.mkPen(theme.colour("text_muted")))
        item = widget.getPlotItem()
        item.clear()
        actual = np.asarray(result.actual, dtype=np.float64).reshape(-1)
        predicted = np.asarray(result.predicted, dtype=np.float64).reshape(-1)
        if actual.size > MAX_POINTS:  # evenly spaced: the cloud's shape, drawn quickly
            every = np.linspace(0, actual.size - 1, MAX_POINTS).astype(np.int64)
            actual, predicted = actual[every], predicted[every]
        if actual.size:
            low = float(min(actual.min(), predicted.min()))
            high = float(max(actual.max(), predicted.max()))
            line = pg.PlotDataItem(
                [low, high],
                [low, high],
                pen=pg.mkPen(theme.colour("text_muted"), width=1.2, style=Qt.PenStyle.DashLine),
            )
            item.addItem(line)
        colour = QColor(theme.colour("accent"))
        colour.setAlpha(170)
        scatter = pg.ScatterPlotItem(
            x=actual, y=predicted, size=6, pen=None, brush=pg.mkBrush(colour)
        )
        item.addItem(scatter)
        self.scatter_item = scatter
        item.enableAutoRange()

    def _show_pictures(self, shown: EvaluationShown) -> None:
        evaluation = shown.evaluation
        self.pictures_table.hide()
        self.second_title.hide()
        self.second_grid.hide()
        self.pictures_grid.show()
        if evaluation.reconstruction is not None:
            errors = evaluation.reconstruction.errors
            self.pictures_title.setText("INPUTS BESIDE THEIR RECONSTRUCTIONS")
            mean = number_text(float(errors.mean())) if errors.size else "—"
            worst = number_text(float(errors.max())) if errors.size else "—"
            self.pictures_note.setText(
                f"Each input, then what the autoencoder made of it, with its mean squared "
                f"error. Over the split: mean error {mean}, largest {worst}."
            )
            self.pictures_grid.set_tiles(shown.reconstruction_tiles, round_length=2)
            if shown.reconstruction_table is not None:
                self.pictures_grid.hide()
                self.pictures_table.set_table(*shown.reconstruction_table)
                self.pictures_table.show()
        elif evaluation.generation is not None:
            generation = evaluation.generation
            if shown.grid_tiles:
                self.pictures_title.setText(
                    f"SAMPLES SAVED DURING TRAINING (EPOCH {generation.grid_epoch})"
                )
                self.pictures_grid.set_tiles(shown.grid_tiles, round_length=4)
                self.second_title.setText("DRAWN NOW FROM THE CHECKPOINT")
                self.second_title.show()
                self.second_grid.set_tiles(shown.generated_tiles, round_length=4)
                self.second_grid.show()
            else:
                self.pictures_title.setText("DRAWN NOW FROM THE CHECKPOINT")
                self.pictures_grid.set_tiles(shown.generated_tiles, round_length=4)
            self.pictures_note.setText(
                "What the generator makes from random noise; the grid saved each epoch uses "
                "the same noise, so it shows the generator improving."
            )
            if not shown.grid_tiles and not shown.generated_tiles:
                self.pictures_grid.hide()
                self.pictures_note.setText(
                    "The generator's samples are not images, so there is no picture of them."
                )

    # ------------------------------------------------------------- a cell's samples
    def cell_positions(self) -> list[int]:
        """The split positions of the chosen cell's samples (none when no cell is chosen)."""
        evaluation, cell = self.evaluation, self.cell
        if evaluation is None or cell is None or evaluation.classification is None:
            return []
        return [int(i) for i in evaluation.samples_in_cell(cell.actual, cell.predicted)]

    def request_explanation(self) -> None:
        evaluation = self.evaluation
        positions = self.cell_positions()[:16]
        if evaluation is not None and positions and evaluation.split == "test":
            self.explain_requested.emit(evaluation.run_id, positions)

    def _update_explain_button(self) -> None:
        evaluation = self.evaluation
        on_test = evaluation is not None and evaluation.split == "test"
        self.explain_button.setEnabled(on_test and bool(self.cell_positions()))
        self.explain_button.setToolTip(
            "Open the cell's samples (the first 16) in the Explain tab: why did the model "
            "predict this?"
            if on_test
            else "The Explain tab explains test samples: evaluate on the test split"
        )

    def _clear_gallery(self) -> None:
        self.cell = None
        self.explain_button.setEnabled(False)
        self.gallery_title.setText("")
        self.gallery_note.setText("")
        self.gallery_grid.set_tiles([])
        self.gallery_stack.setCurrentWidget(self.gallery_message)

    def show_cell(self, actual: int, predicted: int) -> Task | None:
        """Fetch the samples of one confusion-matrix cell in a worker, then show them."""
        evaluation = self.evaluation
        if evaluation is None or evaluation.classification is None:
            return None
        if self._cell_task is not None:
            self._cell_task.cancel()
        self.matrix.select(actual, predicted)
        names = evaluation.classification.class_names
        count = int(evaluation.classification.confusion[actual, predicted])
        verdict = "correct" if actual == predicted else "mistaken"
        self.gallery_title.setText(
            f"Actual {names[actual]} · predicted {names[predicted]} — "
            f"{count:,} {verdict} sample{'s' if count != 1 else ''}"
        )
        self.gallery_note.setText("Loading…" if count else "")
        if count == 0:
            self.gallery_message.setText("No sample of the split falls in this cell.")
            self.gallery_stack.setCurrentWidget(self.gallery_message)
            self.gallery_grid.set_tiles([])
            self.cell = CellSamples(actual, predicted, 0, "image")
            self._update_explain_button()
            self.cell_shown.emit(actual, predicted)
            return None

        def arrived(item: object) -> None:
            assert isinstance(item, CellSamples)
            self._cell_task = None
            self._show_cell(item)

        def failed(exc: BaseException, trace: str) -> None:
            self.gallery_note.setText(f"Cannot show the samples: {exc}")

        def finished() -> None:
            if self._cell_task is task:
                self._cell_task = None

        task = self.tasks.start(
            "evaluation samples",
            lambda cancelled: cell_work(evaluation, actual, predicted, cancelled),
            arrived,
            failed,
            finished,
        )
        self._cell_task = task
        return task

    def _show_cell(self, cell: CellSamples) -> None:
        self.cell = cell
        shown = cell.shown
        note = "Each sample: true label → predicted label · the model's confidence."
        if cell.kind == "table":
            note = "Each row as the file has it, with the prediction and its confidence."
        if shown < cell.total:
            note = f"Showing the first {shown:,} of {cell.total:,}. " + note
        self.gallery_note.setText(note)
        if cell.kind == "image":
            self.gallery_grid.set_tiles(cell.tiles)
            if cell.tiles and len(cell.tiles) <= FEW_SAMPLES:
                # A handful of mistakes: show them large (whole-pixel enlargement still).
                largest = max(max(t.image.width(), t.image.height()) for t in cell.tiles)
                if largest < 128:
                    self.gallery_grid.side = max(self.gallery_grid.side, largest * (128 // largest))
                    self.gallery_grid.updateGeometry()
            self.gallery_stack.setCurrentWidget(self.gallery_scroll)
        elif cell.kind == "table" and cell.table is not None:
            self.gallery_table.set_table(*cell.table)
            self.gallery_stack.setCurrentWidget(self.gallery_table)
        elif cell.kind == "text" and cell.preview is not None:
            self.gallery_texts.set_preview(cell.preview)  # type: ignore[arg-type]
            self.gallery_stack.setCurrentWidget(self.gallery_texts)
        elif cell.preview is not None:
            self.gallery_series.set_preview(cell.preview)  # type: ignore[arg-type]
            self.gallery_stack.setCurrentWidget(self.gallery_series)
        self._update_explain_button()
        self.cell_shown.emit(cell.actual, cell.predicted)

    def gallery_labels(self) -> list[str]:
        """What the gallery shows per sample (tile labels, or table rows joined), for tests."""
        cell = self.cell
        if cell is None:
            return []
        if cell.kind == "image":
            return [tile.label for tile in self.gallery_grid.tiles]
        if cell.kind == "table" and cell.table is not None:
            columns = len(cell.table[0])
            return [
                " | ".join(self.gallery_table.cell_text(r, c) for c in range(columns))
                for r in range(len(cell.table[1]))
            ]
        return list(getattr(cell.preview, "labels", []))
