"""The Explain tab: why did a trained run predict what it did, for chosen samples.

A person picks a run (newest first), samples (from the test split, or a dropped image file
or CSV row; for a project that names no data, such as an imported model, a .npy input file
or a random input of the model's shape), one or more attribution methods, the target class
and the baseline, and gets one panel per method side by side: a heatmap over an image (with
an opacity slider), signed bars per table feature, a series coloured by attribution, or
highlighted tokens. Beside each panel, the honesty checks of `studio.explain.sanity`: does
the map change when the weights are randomised, and do IG's attributions add up to the score
change.

Layer methods (Grad-CAM, LayerConductance) use the layer chosen in the layer box or by
clicking a node on the small map of the graph in this tab (the Graph tab's scene, seen
through a second, read-only view). LayerConductance also tints every Conv/Linear node of
that scene by how much attribution flows through it (`GraphScene.set_node_heat`); the tint
is cleared when this tab is left or the graph is edited.

All torch work (loading the run, explaining, global importance) runs in the window's
`TaskRunner`; the Qt thread only draws the numpy arrays that come back.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QHideEvent,
    QIcon,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.project import Project
from studio.data.tokens import token_texts
from studio.explain.input_kinds import InputKind
from studio.explain.methods import MethodSpec, default_methods, unsupported_reason
from studio.explain.render import attribution_map, heatmap_rgba, image_rgb, overlay
from studio.explain.sanity import DELTA_WARNING, SIMILARITY_WARNING
from studio.ui import theme
from studio.ui.canvas import GraphScene, NodeItem
from studio.ui.tasks import Task, TaskRunner

if TYPE_CHECKING:
    from torch import nn

    from studio.data.pipeline import LoadedData
    from studio.explain.engine import Attribution
    from studio.explain.importance import GlobalImportance
    from studio.explain.sanity import ConvergenceCheck, RandomisationCheck
    from studio.ui.runs_model import RunsModel, RunsSnapshot

# Test samples offered in the sample list (thumbnails for images, rows for tables).
PREVIEW_SAMPLES = 60
DEFAULT_METHODS = ("Saliency", "IntegratedGradients")
BASELINES = (("zeros", "Zeros"), ("blur", "Blurred input"), ("mean", "Data mean"))
# Layers whose conductance tints the canvas: the ones with weights.
HEAT_LAYER_TYPES = ("studio.Conv1d", "studio.Conv2d", "studio.Linear", "studio.ConvTranspose2d")
FILE_SAMPLE = -1
# The list row of an input given as a .npy file or drawn at random (a project without data).
GIVEN_INPUT = -2
NO_DATA_MEAN = (
    "The data mean needs a dataset, and this project names none: choose one in the Data tab "
    "(and train or import again with it) to use this baseline."
)
# A layer's units shown as bars: the strongest ones.
LAYER_BARS = 12


# ----------------------------------------------------------------- what the worker hands over
@dataclass
class LoadedRun:
    """A run ready to explain: its model, data and what the controls need to know.

    `data` is None when the run's project names none (an imported model): it is then
    explained on inputs the user gives (`given_input`), checked against `project`'s Input node.
    """

    run_id: str
    model: nn.Module
    data: LoadedData | None
    kinds: tuple[InputKind, ...]
    shapes: tuple[tuple[int, ...], ...]
    class_names: list[str]
    feature_names: list[str]
    vocabulary: list[str] | None
    layers: list[str]
    heat_layers: list[str]
    default_layer: str | None
    value_ranges: list[tuple[float, float]]
    previews: list[SamplePreview]
    mean: Any = None  # the data mean (per input), computed when the "mean" baseline is used
    project: Project | None = None  # the run's own copy: what a given input must fit
    # Captum hooks layers of the shared model while it works: one worker at a time uses it.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def kind(self) -> InputKind:
        return self.kinds[0]


@dataclass
class SamplePreview:
    """One test sample in the list: its index, a label, and a thumbnail or a line of text."""

    index: int
    label: str
    thumbnail: np.ndarray | None = None
    text: str = ""


@dataclass
class MethodResult:
    """One method's explanation of the chosen samples, with its honesty checks."""

    method: MethodSpec
    attribution: Attribution
    randomisation: RandomisationCheck | None
    convergence: ConvergenceCheck | None
    canvas_heat: dict[str, float] = field(default_factory=dict)
    predicted: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Progress:
    done: int
    total: int
    text: str


@dataclass
class ExplainRequest:
    """What the worker explains: a snapshot of the controls, taken on the Qt thread."""

    methods: list[MethodSpec]
    indices: list[int]
    file_sample: np.ndarray | None
    target: int | None
    baseline: str
    layer: str | None
    # The model's input as given (a batch of one, no normalising): a .npy file or random.
    given_input: np.ndarray | None = None


# ----------------------------------------------------------------- worker functions (no Qt)
def load_trained(project_path: Path, run_id: str) -> LoadedRun:
    """Read a run and prepare what the tab shows (runs in a worker: torch, data).

    A run whose project names no data (an imported model) loads without it; its inputs
    then come from the user (`without_data`).
    """
    import torch

    from studio.training.trained import load_run_weights, trained_model

    trained = load_run_weights(project_path, run_id)
    model = trained_model(trained)
    data = trained.data
    if data is None:
        return without_data(trained.run_id, trained.project, model)
    test = data.test
    count = min(len(test), PREVIEW_SAMPLES)
    kinds: list[InputKind] = []
    shapes = [tuple(spec.shape) for spec in data.inputs]
    for spec in data.inputs:
        if spec.dtype != "float":
            kinds.append("text")
        else:
            by_rank: dict[int, InputKind] = {1: "table", 2: "sequence", 3: "image"}
            kinds.append(by_rank.get(len(spec.shape), "table"))
    previews: list[SamplePreview] = []
    class_names = list(data.class_names)
    if count:
        inputs, target = test[torch.arange(count)]
        first = inputs[0] if isinstance(inputs, tuple) else inputs
        labels = [_label_text(target[i], class_names) for i in range(count)]
        raw = data.prepared.inputs[0][test.rows(torch.arange(count)).numpy()]
        for i in range(count):
            preview = SamplePreview(i, labels[i])
            if kinds[0] == "image" and first.shape[1] in (1, 3):
                preview.thumbnail = image_rgb(first[i].numpy())
            elif kinds[0] == "table":
                preview.text = ", ".join(f"{v:.3g}" for v in np.ravel(raw[i])[:8])
            elif kinds[0] == "text":
                preview.text = " ".join(token_texts(first[i].numpy(), data.vocabulary))[:80]
            else:
                preview.text = f"{tuple(first[i].shape)} series"
            previews.append(preview)
    feature_names = data.feature_names() if kinds[0] == "table" else []
    layers, heat_layers, default_layer = layer_choices(trained.project, model)
    value_ranges = []
    for array in data.prepared.inputs:
        sample = np.asarray(array[: min(len(array), 512)], dtype=np.float64)
        value_ranges.append((float(sample.min()), float(sample.max())) if sample.size else (0, 1))
    return LoadedRun(
        run_id=trained.run_id,
        model=model,
        data=data,
        kinds=tuple(kinds),
        shapes=tuple(shapes),
        class_names=class_names,
        feature_names=feature_names,
        vocabulary=data.vocabulary,
        layers=layers,
        heat_layers=heat_layers,
        default_layer=default_layer,
        value_ranges=value_ranges,
        previews=previews,
        project=trained.project,
    )


def without_data(run_id: str, project: Project, model: nn.Module) -> LoadedRun:
    """A run whose project names no data: the Input node says the kind and shape."""
    from studio.explain.inputs import model_input

    _, shape, dtype = model_input(project)
    by_rank: dict[int, InputKind] = {1: "table", 2: "sequence", 3: "image"}
    kind: InputKind = "text" if dtype == "long" else by_rank.get(len(shape), "table")
    layers, heat_layers, default_layer = layer_choices(project, model)
    return LoadedRun(
        run_id=run_id,
        model=model,
        data=None,
        kinds=(kind,),
        shapes=(shape,),
        class_names=[],
        feature_names=[],
        vocabulary=None,
        layers=layers,
        heat_layers=heat_layers,
        default_layer=default_layer,
        value_ranges=[],
        previews=[],
        project=project,
    )


def layer_choices(project: Project, model: nn.Module) -> tuple[list[str], list[str], str | None]:
    """The model's layers in graph order, those whose conductance tints the canvas, and the
    layer chosen at first (the last convolution, else the first Linear)."""
    graph = project.main_graph
    modules = dict(model.named_modules())
    ordered = [graph.node(node_id) for node_id in graph.topological_order()]
    layers = [
        node.name
        for node in ordered
        if node.name in modules and node.type_id not in ("studio.Input", "studio.Output")
    ]
    by_name = {node.name: node for node in graph.nodes}
    heat_layers = [name for name in layers if by_name[name].type_id in HEAT_LAYER_TYPES]
    convs = [name for name in layers if by_name[name].type_id.startswith("studio.Conv")]
    linears = [name for name in layers if by_name[name].type_id == "studio.Linear"]
    default_layer = convs[-1] if convs else (linears[0] if linears else None)
    return layers, heat_layers, default_layer


def _label_text(target: Any, class_names: Sequence[str]) -> str:
    values = np.ravel(np.asarray(target))
    if values.size == 1 and class_names and values.dtype.kind in "iu":
        index = int(values[0])
        return class_names[index] if 0 <= index < len(class_names) else str(index)
    if values.size <= 3:
        return ", ".join(f"{v:.3g}" for v in values)
    return ""


def model_inputs(loaded: LoadedRun, request: ExplainRequest) -> Any:
    """The batch to explain: test samples by index, the file's sample normalised, or the
    input given as it is (already the model's input)."""
    import torch

    from studio.explain.errors import ExplainError

    if request.given_input is not None:
        return torch.from_numpy(np.ascontiguousarray(request.given_input))
    if loaded.data is None:
        raise ExplainError("This project names no data: open a .npy input or draw a random one.")
    if request.file_sample is not None:
        sample = torch.from_numpy(np.asarray(request.file_sample, dtype=np.float32))[None]
        normalizer = loaded.data.test.normalizers[0]
        return normalizer(sample) if normalizer is not None else sample
    inputs, _ = loaded.data.test[torch.tensor(request.indices, dtype=torch.int64)]
    return inputs


def explain_request(
    loaded: LoadedRun, request: ExplainRequest, cancelled: Callable[[], bool]
) -> Iterator[Progress | MethodResult]:
    """Explain the request's samples with each method in turn, checks included."""
    import torch

    from studio.explain.errors import ExplainError
    from studio.explain.importance import data_mean

    if request.baseline == "mean" and loaded.data is None:
        raise ExplainError(NO_DATA_MEAN)
    inputs = model_inputs(loaded, request)
    steps = len(request.methods) + (1 if request.baseline == "mean" else 0)
    done = 0
    options: dict[str, Any] = {"baseline": request.baseline}
    if request.baseline == "mean":
        yield Progress(done, steps, "Averaging the training data for the mean baseline…")
        if loaded.mean is None and loaded.data is not None:
            loaded.mean = data_mean(loaded.data.train, limit=2000)
        done += 1
    options["data_mean"] = loaded.mean
    batch = inputs if isinstance(inputs, tuple) else (inputs,)
    with loaded.lock, torch.no_grad():
        scores = loaded.model(*batch)
    predicted = []
    if scores.dim() == 2 and scores.shape[1] > 1:
        predicted = [_label_text(i, loaded.class_names) for i in scores.argmax(1).tolist()]
    for spec in request.methods:
        if cancelled():
            return
        yield Progress(done, steps, f"{spec.title}…")
        layer = request.layer if spec.needs_layer else None
        with loaded.lock:
            result = _explain_one(loaded, inputs, spec, request, layer, options, cancelled)
        if isinstance(result, str):
            yield Progress(done, steps, f"{spec.title} failed")
            yield _failed(spec, result)
        else:
            result.predicted = predicted
            yield result
        done += 1
    yield Progress(done, steps, "Done")


def _explain_one(
    loaded: LoadedRun,
    inputs: Any,
    spec: MethodSpec,
    request: ExplainRequest,
    layer: str | None,
    options: dict[str, Any],
    cancelled: Callable[[], bool],
) -> MethodResult | str:
    """One method with its checks, or the sentence saying why it failed."""
    from studio.explain.engine import explain
    from studio.explain.sanity import convergence_check, randomisation_check

    try:
        attribution = explain(
            loaded.model,
            inputs,
            method=spec.name,
            target=request.target,
            layer=layer,
            **options,
        )
        randomisation = randomisation_check(
            loaded.model,
            inputs,
            method=spec.name,
            target=attribution.target,
            layer=layer,
            trained=attribution,
            **options,
        )
        convergence = convergence_check(attribution) if "delta" in attribution.extras else None
        heat: dict[str, float] = {}
        if spec.name == "LayerConductance":
            heat = layer_heat(loaded, inputs, attribution, options, cancelled)
    except StudioError as error:
        return str(error)
    return MethodResult(spec, attribution, randomisation, convergence, heat)


def _failed(spec: MethodSpec, message: str) -> MethodResult:
    empty = np.zeros(0, dtype=np.float32)
    from studio.explain.engine import Attribution

    nothing = Attribution(empty, empty, None, spec.name, "table", spec.space)
    return MethodResult(spec, nothing, None, None, error=message)


def layer_heat(
    loaded: LoadedRun,
    inputs: Any,
    chosen: Attribution,
    options: dict[str, Any],
    cancelled: Callable[[], bool],
) -> dict[str, float]:
    """Mean over samples of Σ|conductance| per weighted layer: where the attribution flows."""
    from studio.explain.engine import explain

    heat: dict[str, float] = {}
    for name in loaded.heat_layers:
        if cancelled():
            break
        if name == chosen.layer:
            values = chosen.values
        else:
            values = explain(
                loaded.model,
                inputs,
                method="LayerConductance",
                target=chosen.target,
                layer=name,
                n_steps=16,
                **options,
            ).values
        heat[name] = float(np.abs(values).reshape(len(values), -1).sum(axis=1).mean())
    return heat


# ----------------------------------------------------------------- views (Qt thread only)
def _qimage(rgb: np.ndarray) -> QImage:
    array = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = array.shape[:2]
    return QImage(array.data, width, height, width * 3, QImage.Format.Format_RGB888).copy()


def _diverging(value: float) -> QColor:
    """-1 → blue, 0 → light grey, +1 → red (the heatmaps' palette)."""
    value = max(-1.0, min(1.0, value))
    low, middle, high = (33, 102, 172), (235, 235, 235), (178, 24, 43)
    end = high if value >= 0 else low
    t = abs(value)
    return QColor(*(round(m + (e - m) * t) for m, e in zip(middle, end, strict=True)))


class HeatmapView(QWidget):
    """The input image with the attribution heatmap over it at an adjustable opacity."""

    def __init__(self, image: np.ndarray, values: np.ndarray, parent: QWidget | None = None):
        super().__init__(parent)
        self.picture = image_rgb(image)
        self.heat = heatmap_rgba(attribution_map(values), opacity=1.0)
        self.opacity = 0.6
        self.rendered = self._compose()
        self._image = _qimage(self.rendered)
        self.setMinimumSize(140, 140)
        self.setMaximumSize(300, 300)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def _compose(self) -> np.ndarray:
        heat = self.heat.copy()
        heat[..., 3] = (heat[..., 3].astype(np.float64) * self.opacity).round().astype(np.uint8)
        return overlay(self.picture, heat)

    def set_opacity(self, opacity: float) -> None:
        self.opacity = max(0.0, min(1.0, opacity))
        self.rendered = self._compose()
        self._image = _qimage(self.rendered)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, 260)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        side = min(self.width(), self.height())
        target = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(target, self._image)
        painter.end()


class FeatureBars(QWidget):
    """Signed horizontal bars, one per feature: red pushes towards the target, blue away."""

    ROW = 22

    def __init__(
        self,
        names: Sequence[str],
        values: np.ndarray,
        *,
        inputs: np.ndarray | None = None,
        signed: bool = True,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.names = list(names)
        self.values = np.asarray(values, dtype=np.float64).ravel()
        self.inputs = None if inputs is None else np.asarray(inputs, dtype=np.float64).ravel()
        self.signed = signed
        if len(self.names) != len(self.values):
            self.names = [f"x{i}" for i in range(len(self.values))]
        self.setMinimumHeight(self.ROW * len(self.values) + 8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    @property
    def bar_count(self) -> int:
        return len(self.values)

    def sizeHint(self) -> QSize:
        return QSize(280, self.ROW * len(self.values) + 8)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        widest = max((metrics.horizontalAdvance(n) for n in self.names), default=0)
        label_width = min(190, widest + 6)
        value_width = metrics.horizontalAdvance("-0.000e+00")
        left = label_width + 8
        right = self.width() - value_width - 8
        span = max(1.0, right - left)
        scale = float(np.abs(self.values).max()) if self.values.size else 0.0
        scale = scale or 1.0
        # Room left of zero only when some value is negative.
        two_sided = self.signed and bool((self.values < 0).any())
        zero = left + span / 2 if two_sided else left
        half = span / 2 if two_sided else span
        text = theme.colour("text")
        for row, (name, value) in enumerate(zip(self.names, self.values, strict=True)):
            top = 4 + row * self.ROW
            painter.setPen(text)
            elided = metrics.elidedText(name, Qt.TextElideMode.ElideRight, label_width)
            painter.drawText(
                QRectF(0, top, label_width, self.ROW),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                elided,
            )
            length = half * abs(value) / scale
            x = zero - length if value < 0 else zero
            colour = _diverging(value / scale if self.signed else 0.85)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(colour))
            painter.drawRect(QRectF(x, top + 4, max(1.0, length), self.ROW - 8))
            painter.setPen(text)
            painter.drawText(
                QRectF(right + 6, top, value_width + 4, self.ROW),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"{value:+.3g}" if self.signed else f"{value:.3g}",
            )
        painter.setPen(QPen(theme.colour("text_muted"), 1))
        painter.drawLine(QPointF(zero, 2), QPointF(zero, self.height() - 2))
        painter.end()


class SeriesView(QWidget):
    """A series (T, C) drawn as lines whose segments take the colour of their attribution."""

    def __init__(self, series: np.ndarray, values: np.ndarray, parent: QWidget | None = None):
        super().__init__(parent)
        self.series = np.asarray(series, dtype=np.float64).reshape(len(series), -1)
        self.values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        self.setMinimumHeight(140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(320, 180)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        steps = len(self.series)
        if steps < 2:
            painter.end()
            return
        low, high = float(self.series.min()), float(self.series.max())
        high = high if high > low else low + 1.0
        scale = float(np.abs(self.values).max()) or 1.0
        width, height = self.width() - 8, self.height() - 8

        def point(step: int, value: float) -> QPointF:
            return QPointF(
                4 + width * step / (steps - 1), 4 + height * (high - value) / (high - low)
            )

        for channel in range(self.series.shape[1]):
            for step in range(steps - 1):
                strength = (self.values[step, channel] + self.values[step + 1, channel]) / 2
                painter.setPen(QPen(_diverging(strength / scale), 3))
                painter.drawLine(
                    point(step, self.series[step, channel]),
                    point(step + 1, self.series[step + 1, channel]),
                )
        painter.end()


def token_html(words: Sequence[str], values: np.ndarray) -> str:
    """Tokens as HTML spans whose background says how much each one counted, and which way."""
    scores = np.asarray(values, dtype=np.float64).ravel()
    scale = float(np.abs(scores).max()) or 1.0
    spans = []
    for word, score in zip(words, scores, strict=False):
        colour = _diverging(score / scale)
        spans.append(
            f'<span style="background-color:{colour.name()}; color:#111;" '
            f'title="{score:+.3g}">&nbsp;{html.escape(word)}&nbsp;</span>'
        )
    return " ".join(spans)


class ModelMapView(QGraphicsView):
    """A read-only second view of the Graph tab's scene: a click picks a layer, nothing moves."""

    node_clicked = Signal(str)  # node id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMinimumHeight(150)

    def fit(self) -> None:
        scene = self.scene()
        if scene is not None:
            self.fitInView(scene.itemsBoundingRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.fit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        for item in self.items(event.position().toPoint()):
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if isinstance(item, NodeItem):
                self.node_clicked.emit(item.node_id)
                break
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        event.accept()


class ResultPanel(QFrame):
    """One method's explanation of the samples: its views stacked, its checks below."""

    def __init__(self, result: MethodResult, loaded: LoadedRun, sample_names: list[str]):
        super().__init__()
        self.result = result
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("explain_result")
        self.heatmaps: list[HeatmapView] = []
        self.bars: list[FeatureBars] = []
        self.series: list[SeriesView] = []
        self.tokens: list[QLabel] = []
        layout = QVBoxLayout(self)
        title = QLabel(f"<b>{html.escape(result.method.title)}</b>")
        title.setToolTip(result.method.summary)
        layout.addWidget(title)
        self.checks = QLabel()
        self.checks.setWordWrap(True)
        self.checks.setTextFormat(Qt.TextFormat.RichText)
        if result.error is not None:
            error = QLabel(html.escape(result.error))
            error.setWordWrap(True)
            error.setStyleSheet(f"color: {theme.colour('error').name()};")
            layout.addWidget(error)
            layout.addStretch(1)
            return
        attribution = result.attribution
        target = attribution.target
        for sample, name in enumerate(sample_names):
            caption = name
            if target is not None and loaded.class_names:
                index = int(target[sample])
                if 0 <= index < len(loaded.class_names):
                    caption += f" · explains “{loaded.class_names[index]}”"
            if len(sample_names) > 1 or caption != name:
                label = QLabel(html.escape(caption))
                label.setObjectName("muted")
                layout.addWidget(label)
            self._add_views(layout, result, loaded, sample)
        layout.addWidget(self.checks)
        self.checks.setText(check_text(result))
        layout.addStretch(1)

    def _add_views(
        self, layout: QVBoxLayout, result: MethodResult, loaded: LoadedRun, sample: int
    ) -> None:
        attribution = result.attribution
        if attribution.space == "layer":
            values = attribution.values[sample]
            unit = "channel" if values.ndim > 1 else "unit"
            per_unit = values.reshape(len(values), -1).sum(axis=1) if values.ndim > 1 else values
            strongest = np.argsort(-np.abs(per_unit), kind="stable")[:LAYER_BARS]
            shown = f"the {len(strongest)} strongest of " if len(strongest) < len(per_unit) else ""
            note = QLabel(
                f"Conductance of {shown}{len(per_unit)} {unit}s of "
                f"<b>{html.escape(attribution.layer or '')}</b>; the graph map below shows "
                "every layer."
            )
            note.setWordWrap(True)
            layout.addWidget(note)
            bars = FeatureBars([f"{unit} {i}" for i in strongest], per_unit[strongest])
            self.bars.append(bars)
            layout.addWidget(bars)
            return
        parts = attribution.per_input or ()
        for position, part in enumerate(parts):
            if len(parts) > 1:
                layout.addWidget(QLabel(f"input {position + 1} ({part.kind})"))
            values, inputs = part.values[sample], part.inputs[sample]
            if part.kind == "image" and inputs.ndim == 3 and inputs.shape[0] in (1, 3):
                view = HeatmapView(inputs, values)
                self.heatmaps.append(view)
                layout.addWidget(view, 0, Qt.AlignmentFlag.AlignHCenter)
            elif part.kind == "table":
                names = loaded.feature_names if position == 0 else []
                bars = FeatureBars(names, values, inputs=inputs)
                self.bars.append(bars)
                layout.addWidget(bars)
            elif part.kind == "sequence":
                series = SeriesView(inputs, values)
                self.series.append(series)
                layout.addWidget(series, 1)
            elif part.kind == "text":
                words = token_texts(inputs, loaded.vocabulary)
                label = QLabel(token_html(words, values))
                label.setWordWrap(True)
                label.setTextFormat(Qt.TextFormat.RichText)
                self.tokens.append(label)
                layout.addWidget(label)
            else:
                flat = np.ravel(values)
                bars = FeatureBars([f"x{i}" for i in range(min(32, flat.size))], flat[:32])
                self.bars.append(bars)
                layout.addWidget(bars)


def check_text(result: MethodResult) -> str:
    """The honesty checks as short lines, a warning sign where a check failed."""
    warning, ok = theme.colour("warning").name(), theme.colour("ok").name()
    lines = []
    randomisation = result.randomisation
    if randomisation is not None:
        rho = randomisation.rank_correlation
        if randomisation.warning:
            lines.append(
                f'<span style="color:{warning}">⚠ Randomised weights: ρ = {rho:.2f} '
                f"(&gt; {SIMILARITY_WARNING}). The map barely changes when the weights are "
                "random; it may show the input more than the model.</span>"
            )
        else:
            lines.append(
                f'<span style="color:{ok}">✓</span> Randomised weights: ρ = {rho:.2f} '
                f"(≤ {SIMILARITY_WARNING}); the map depends on what the model learned."
            )
    convergence = result.convergence
    if convergence is not None:
        if convergence.warning:
            lines.append(
                f'<span style="color:{warning}">⚠ Convergence δ = {convergence.relative:.1%} '
                f"of the score change (&gt; {DELTA_WARNING:.0%}); use more steps.</span>"
            )
        else:
            lines.append(
                f'<span style="color:{ok}">✓</span> Convergence δ = {convergence.relative:.1%} '
                "of the score change."
            )
    return "<br>".join(lines)


# ----------------------------------------------------------------- the tab
SAMPLES_TITLE = "<b>Samples</b> (test split; select one or more)"
NO_DATA_SAMPLES_TITLE = (
    "<b>Input</b> (this project names no data: open a .npy file holding one input of the "
    "model's shape, or draw a random one)"
)


class ExplainTab(QWidget):
    """Explain a trained run's predictions; see the module docstring."""

    # Emitted whenever results arrive or are cleared (tests and the screenshot tool wait on it).
    results_changed = Signal()
    importance_changed = Signal()

    def __init__(
        self, tasks: TaskRunner, runs_model: RunsModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("explain_tab")
        self.setAcceptDrops(True)
        self.tasks = tasks
        self.runs_model = runs_model
        runs_model.runs_changed.connect(self._show_runs)
        self.project: Project | None = None
        self.loaded: LoadedRun | None = None
        self.results: list[ResultPanel] = []
        self.importance: GlobalImportance | None = None
        self.error: str | None = None
        self._scene: GraphScene | None = None
        self._graph_signals: list[Any] = []
        self._load_task: Task | None = None
        self._explain_task: Task | None = None
        self._importance_task: Task | None = None
        self._file_task: Task | None = None
        self._file_sample: np.ndarray | None = None
        self._file_name = ""
        self._input_task: Task | None = None
        self._given_input: np.ndarray | None = None
        self._given_name = ""
        self._random_draws = 0  # each draw a new seed, so "Random input" gives another one
        self._pending: tuple[list[int], bool] | None = None
        self._visible = False
        self._build()
        self._set_state("Open a project that has a trained run to explain it.")

    # ------------------------------------------------------------- building
    def _build(self) -> None:
        controls = QWidget()
        form = QVBoxLayout(controls)
        form.setContentsMargins(8, 8, 8, 8)

        run_row = QHBoxLayout()
        self.run_combo = QComboBox()
        self.run_combo.setToolTip("The project's trained runs, newest first")
        self.run_combo.activated.connect(self._on_run_chosen)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("List the runs again (after training)")
        self.refresh_button.clicked.connect(self.refresh_runs)
        run_row.addWidget(self.run_combo, 1)
        run_row.addWidget(self.refresh_button)
        form.addWidget(QLabel("<b>Run</b>"))
        form.addLayout(run_row)

        self.samples_label = QLabel(SAMPLES_TITLE)
        self.samples_label.setWordWrap(True)
        form.addWidget(self.samples_label)
        self.sample_list = QListWidget()
        self.sample_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.sample_list.setMinimumHeight(150)
        form.addWidget(self.sample_list, 1)
        file_row = QHBoxLayout()
        self.open_file_button = QPushButton("Open file…")
        self.open_file_button.setToolTip("An image, or a CSV row, to explain (or drop it here)")
        self.open_file_button.clicked.connect(self._ask_file)
        file_row.addWidget(self.open_file_button)
        # Without data (an imported model): the model's own input, from a file or at random.
        self.open_input_button = QPushButton("Open input…")
        self.open_input_button.setToolTip(
            "A NumPy .npy file holding one input of the model's shape (as `studio explain "
            "--input` takes)"
        )
        self.open_input_button.clicked.connect(self._ask_input)
        self.random_input_button = QPushButton("Random input")
        self.random_input_button.setToolTip(
            "A random input of the model's shape for a quick look (token ids below the vocabulary)"
        )
        self.random_input_button.clicked.connect(self.use_random_input)
        file_row.addWidget(self.open_input_button)
        file_row.addWidget(self.random_input_button)
        file_row.addStretch(1)
        form.addLayout(file_row)
        self.file_error = QLabel()
        self.file_error.setWordWrap(True)
        self.file_error.setStyleSheet(f"color: {theme.colour('error').name()};")
        self.file_error.hide()
        form.addWidget(self.file_error)

        form.addWidget(QLabel("<b>Methods</b>"))
        self.method_list = QListWidget()
        self.method_list.setMinimumHeight(120)
        for spec in default_methods():
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.name)
            item.setToolTip(spec.summary)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = spec.name in DEFAULT_METHODS
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.method_list.addItem(item)
        form.addWidget(self.method_list)

        options = QFormLayout()
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip(
            "The layer Grad-CAM and layer conductance explain; or click a node on the map"
        )
        options.addRow("Layer", self.layer_combo)
        self.target_combo = QComboBox()
        self.target_combo.setToolTip("The class whose score is explained")
        options.addRow("Target", self.target_combo)
        self.baseline_combo = QComboBox()
        for name, title in BASELINES:
            self.baseline_combo.addItem(title, name)
        self.baseline_combo.setToolTip("What 'absence' looks like for IG, DeepLIFT, occlusion…")
        options.addRow("Baseline", self.baseline_combo)
        form.addLayout(options)

        buttons = QHBoxLayout()
        self.explain_button = QPushButton("Explain")
        self.explain_button.setDefault(True)
        self.explain_button.clicked.connect(self.explain)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button = QPushButton("Save values…")
        self.save_button.setToolTip(
            "Each method's attributions for the chosen samples: .npy keeps their shape, .csv "
            "has a row per sample (flattened). With several methods, one file each."
        )
        self.save_button.clicked.connect(self._ask_where_to_save)
        buttons.addWidget(self.explain_button, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        form.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        form.addWidget(self.progress)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        form.addWidget(self.state_label)

        scroll_controls = QScrollArea()
        scroll_controls.setWidgetResizable(True)
        scroll_controls.setWidget(controls)
        scroll_controls.setMinimumWidth(300)

        # Right: opacity, the panels side by side, then the map and global importance.
        right = QWidget()
        self.right_layout = right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 8, 8, 8)
        header = QHBoxLayout()
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        header.addWidget(self.summary_label, 1)
        self.opacity_label = QLabel("Heatmap opacity")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(60)
        self.opacity_slider.setFixedWidth(160)
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        header.addWidget(self.opacity_label)
        header.addWidget(self.opacity_slider)
        right_layout.addLayout(header)

        self.panels = QWidget()
        self.panels_layout = QHBoxLayout(self.panels)
        self.panels_layout.setContentsMargins(0, 0, 0, 0)
        self.panels_scroll = QScrollArea()
        self.panels_scroll.setWidgetResizable(True)
        self.panels_scroll.setWidget(self.panels)
        right_layout.addWidget(self.panels_scroll, 3)

        bottom = QHBoxLayout()
        map_box = QVBoxLayout()
        self.layer_label = QLabel()
        self.layer_label.setWordWrap(True)
        map_box.addWidget(self.layer_label)
        self.map_view = ModelMapView()
        self.map_view.node_clicked.connect(self._on_node_clicked)
        map_box.addWidget(self.map_view, 1)
        bottom.addLayout(map_box, 1)

        self.importance_box = QWidget()
        importance = QVBoxLayout(self.importance_box)
        importance.setContentsMargins(0, 0, 0, 0)
        importance_row = QHBoxLayout()
        self.global_button = QPushButton("Global importance")
        self.global_button.setToolTip(
            "Mean |attribution| of each feature over the validation split"
        )
        self.global_button.clicked.connect(self.compute_global_importance)
        self.global_cancel = QPushButton("Cancel")
        self.global_cancel.clicked.connect(self.cancel_global_importance)
        importance_row.addWidget(self.global_button)
        importance_row.addWidget(self.global_cancel)
        importance.addLayout(importance_row)
        self.global_progress = QProgressBar()
        importance.addWidget(self.global_progress)
        self.global_label = QLabel()
        self.global_label.setWordWrap(True)
        importance.addWidget(self.global_label)
        self.global_bars_holder = QVBoxLayout()
        importance.addLayout(self.global_bars_holder)
        importance.addStretch(1)
        self.global_bars: FeatureBars | None = None
        bottom.addWidget(self.importance_box, 1)
        right_layout.addLayout(bottom, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll_controls)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._update_controls()

    # ------------------------------------------------------------- state
    @property
    def busy(self) -> bool:
        return any(
            task is not None and not task.done
            for task in (self._load_task, self._explain_task, self._file_task, self._input_task)
        )

    @property
    def importance_running(self) -> bool:
        return self._importance_task is not None and not self._importance_task.done

    def _set_state(self, text: str, *, error: bool = False) -> None:
        self.error = text if error else None
        colour = theme.colour("error").name() if error else theme.colour("text_muted").name()
        self.state_label.setStyleSheet(f"color: {colour};")
        self.state_label.setText(text)

    def _update_controls(self) -> None:
        loaded = self.loaded is not None
        working = self._explain_task is not None and not self._explain_task.done
        self.explain_button.setEnabled(loaded and not working)
        self.cancel_button.setEnabled(working)
        self.save_button.setEnabled(bool(self._saveable()))
        has_data = self.loaded is not None and self.loaded.data is not None
        given = self.loaded is not None and self.loaded.data is None
        self.open_file_button.setEnabled(has_data)
        self.open_file_button.setVisible(not given)
        reading = self._input_task is not None and not self._input_task.done
        for button in (self.open_input_button, self.random_input_button):
            button.setVisible(given)
            button.setEnabled(given and not reading)
        # Global importance averages over the validation split: only with data.
        table = has_data and self.loaded is not None and self.loaded.kind == "table"
        self.importance_box.setVisible(bool(table))
        self.global_button.setEnabled(bool(table) and not self.importance_running)
        self.global_cancel.setEnabled(self.importance_running)
        image = any(panel.heatmaps for panel in self.results)
        # Images need height for the maps; a table's bars leave it to global importance.
        self.right_layout.setStretch(1, 1 if table else 3)
        self.opacity_slider.setVisible(image)
        self.opacity_label.setVisible(image)

    # ------------------------------------------------------------- saving the values
    def _saveable(self) -> list[MethodResult]:
        return [panel.result for panel in self.results if panel.result.error is None]

    def _ask_where_to_save(self) -> None:
        folder = self.project.path.parent if self.project and self.project.path else Path.home()
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save attributions",
            str(folder / "attributions.npy"),
            "NumPy array (*.npy);;CSV table (*.csv)",
        )
        if path:
            self.save_values(Path(path))

    def save_values(self, path: Path) -> list[Path]:
        """Write each shown method's attributions to `path` (`NAME-METHOD.npy` for several
        methods); returns the files written. Small arrays: this takes milliseconds."""
        from studio.explain.render import save_attributions

        results = self._saveable()
        if path.suffix.lower() not in (".npy", ".csv"):
            path = path.with_suffix(".npy")
        written: list[Path] = []
        try:
            for result in results:
                target = (
                    path
                    if len(results) == 1
                    else path.with_name(f"{path.stem}-{result.method.name}{path.suffix}")
                )
                written.append(save_attributions(target, result.attribution.values))
        except (OSError, StudioError) as exc:
            self._set_state(f"Could not save the attributions: {exc}", error=True)
            return written
        self._set_state(f"Saved {', '.join(p.name for p in written)} in {path.parent}.")
        return written

    # ------------------------------------------------------------- project and runs
    def set_project(self, project: Project | None) -> None:
        """Show `project`'s runs; work for the previous project is cancelled."""
        self.cancel_all()
        self.project = project
        self.loaded = None
        self._file_sample = None
        self._given_input = None
        self._pending = None
        self.clear_results()
        self._clear_importance()
        self.sample_list.clear()
        self.layer_combo.clear()
        self.target_combo.clear()
        self._show_runs(self.runs_model.snapshot)

    def set_scene(self, scene: GraphScene | None) -> None:
        """The Graph tab's scene: shown as the map, and tinted by layer conductance."""
        self.clear_heat()
        for signal in self._graph_signals:
            signal.disconnect(self._on_graph_edited)
        self._graph_signals = []
        self._scene = scene
        self.map_view.setScene(scene)
        if scene is not None:
            graph = scene.graph
            self._graph_signals = [
                graph.node_added,
                graph.node_removed,
                graph.edge_added,
                graph.edge_removed,
                graph.param_changed,
                graph.node_renamed,
            ]
            for signal in self._graph_signals:
                signal.connect(self._on_graph_edited)
            self.map_view.fit()

    def refresh_runs(self) -> None:
        """Have the runs model read the project's runs again (in a worker)."""
        self.runs_model.refresh()

    def _show_runs(self, snapshot: RunsSnapshot) -> None:
        """List the runs the model last read for this project, keeping the choice.

        The combo's signals are held while it is refilled: a run passed on the way to the
        chosen one must not start loading.
        """
        current = self.run_combo.currentData()
        with QSignalBlocker(self.run_combo):
            self._fill_runs(snapshot, current)
        if self.run_combo.count() and (
            self.loaded is None or self.loaded.run_id != self.run_combo.currentData()
        ):
            self._set_state("Choose samples and methods, then Explain.")
            if self._visible:
                self.load_run(self.run_combo.currentData())
        self._update_controls()

    def _fill_runs(self, snapshot: RunsSnapshot, current: object) -> None:
        self.run_combo.clear()
        project = self.project
        if project is None:
            self._set_state("Open a project that has a trained run to explain it.")
            return
        if project.path is None:
            self._set_state("Save the project and train it; its runs can then be explained.")
            return
        if snapshot.project_path != Path(project.path) or not snapshot.complete:
            self._set_state("Reading the project's runs…")
            return
        runs = snapshot.with_weights
        for info in runs:
            self.run_combo.addItem(info.describe(), info.run_id)
        if not runs:
            self._set_state("This project has no trained run yet: train it, then explain it.")
            return
        index = self.run_combo.findData(current) if current else 0
        self.run_combo.setCurrentIndex(max(0, index))

    def _on_run_chosen(self, _index: int) -> None:
        run_id = self.run_combo.currentData()
        if run_id and (self.loaded is None or self.loaded.run_id != run_id):
            self.load_run(run_id)

    def load_run(self, run_id: str) -> Task | None:
        """Load a run in the background; the controls fill in when it arrives."""
        project = self.project
        if project is None or project.path is None:
            return None
        if self._load_task is not None:
            self._load_task.cancel()
        self.cancel()
        self.clear_results()
        self._clear_importance()
        self.loaded = None
        path = Path(project.path)
        self._set_state(f"Loading run {run_id}…")
        self.progress.setRange(0, 0)

        def work(cancelled: Callable[[], bool]) -> Iterator[object]:
            yield load_trained(path, run_id)

        self._load_task = self.tasks.start(
            "load run for explain", work, self._on_loaded, self._on_load_failed, self._load_done
        )
        self._update_controls()
        return self._load_task

    def _load_done(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._update_controls()

    def _on_load_failed(self, exc: BaseException, trace: str) -> None:
        self.progress.setRange(0, 1)
        message = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
        self._set_state(f"Cannot load the run: {message}", error=True)
        self._update_controls()

    def _on_loaded(self, item: object) -> None:
        assert isinstance(item, LoadedRun)
        self.loaded = item
        self._fill_samples(item)
        self._fill_methods(item)
        self.layer_combo.clear()
        for name in item.layers:
            self.layer_combo.addItem(name, name)
        if item.default_layer is not None:
            self.layer_combo.setCurrentIndex(self.layer_combo.findData(item.default_layer))
        self.target_combo.clear()
        self.target_combo.addItem("Predicted class", None)
        for index, name in enumerate(item.class_names):
            self.target_combo.addItem(name, index)
        blur = self.baseline_combo.model().item(1)  # type: ignore[attr-defined]
        blur.setEnabled(item.kind in ("image", "sequence"))
        if item.kind not in ("image", "sequence") and self.baseline_combo.currentIndex() == 1:
            self.baseline_combo.setCurrentIndex(0)
        mean = self.baseline_combo.model().item(2)  # type: ignore[attr-defined]
        mean.setEnabled(item.data is not None)
        mean.setToolTip("" if item.data is not None else NO_DATA_MEAN)
        if item.data is None and self.baseline_combo.currentIndex() == 2:
            self.baseline_combo.setCurrentIndex(0)
        self._show_layer()
        self._given_input = None
        if item.data is None and item.project is not None:
            from studio.explain.inputs import input_description

            self.samples_label.setText(NO_DATA_SAMPLES_TITLE)
            self.open_input_button.setToolTip(
                f"A NumPy .npy file holding {input_description(item.project)}, as `studio "
                "explain --input` takes"
            )
            self._set_state(
                f"Run {item.run_id}: this project names no data. Open a .npy input or draw a "
                "random one, choose methods, then Explain."
            )
        else:
            self.samples_label.setText(SAMPLES_TITLE)
            self._set_state(f"Run {item.run_id}: choose samples and methods, then Explain.")
        self._update_controls()
        if self._pending is not None:
            indices, run = self._pending
            self._pending = None
            self.select_samples(indices)
            if run:
                self.explain()

    def _fill_samples(self, loaded: LoadedRun) -> None:
        self.sample_list.clear()
        if loaded.kind == "image":
            self.sample_list.setViewMode(QListWidget.ViewMode.IconMode)
            self.sample_list.setIconSize(QSize(48, 48))
            self.sample_list.setGridSize(QSize(64, 74))
            self.sample_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        else:
            self.sample_list.setViewMode(QListWidget.ViewMode.ListMode)
            self.sample_list.setIconSize(QSize(0, 0))
            self.sample_list.setGridSize(QSize())
        for preview in loaded.previews:
            self.sample_list.addItem(self._sample_item(preview))
        if self.sample_list.count():
            self.sample_list.item(0).setSelected(True)

    def _sample_item(self, preview: SamplePreview) -> QListWidgetItem:
        if preview.thumbnail is not None:
            item = QListWidgetItem(QIcon(QPixmap.fromImage(_qimage(preview.thumbnail))), "")
            item.setText(f"#{preview.index}")
            item.setToolTip(f"test sample {preview.index}: {preview.label}")
        else:
            item = QListWidgetItem(f"#{preview.index}  {preview.text}  → {preview.label}")
            item.setToolTip(f"test sample {preview.index}: {preview.label}")
        item.setData(Qt.ItemDataRole.UserRole, preview.index)
        return item

    def _fill_methods(self, loaded: LoadedRun) -> None:
        for row in range(self.method_list.count()):
            item = self.method_list.item(row)
            spec = default_methods().get(item.data(Qt.ItemDataRole.UserRole))
            reasons = [unsupported_reason(spec, kind) for kind in loaded.kinds]
            reason = next((r for r in reasons if r), None)
            flags = item.flags()
            if reason:
                item.setFlags(flags & ~Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setToolTip(reason)
            else:
                item.setFlags(flags | Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip(spec.summary)

    # ------------------------------------------------------------- choices
    def checked_methods(self) -> list[MethodSpec]:
        specs = []
        for row in range(self.method_list.count()):
            item = self.method_list.item(row)
            if item.checkState() == Qt.CheckState.Checked and item.flags() & (
                Qt.ItemFlag.ItemIsEnabled
            ):
                specs.append(default_methods().get(item.data(Qt.ItemDataRole.UserRole)))
        return specs

    def set_methods(self, names: Sequence[str]) -> None:
        """Check exactly these methods (by id)."""
        wanted = set(names)
        for row in range(self.method_list.count()):
            item = self.method_list.item(row)
            on = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def selected_indices(self) -> list[int]:
        return [
            int(item.data(Qt.ItemDataRole.UserRole)) for item in self.sample_list.selectedItems()
        ]

    def select_samples(self, indices: Sequence[int]) -> None:
        """Select these test-split samples, adding list rows for any beyond the preview."""
        loaded = self.loaded
        if loaded is None or loaded.data is None:
            return
        wanted = [int(i) for i in indices if 0 <= int(i) < len(loaded.data.test)]
        present = {
            int(self.sample_list.item(row).data(Qt.ItemDataRole.UserRole)): row
            for row in range(self.sample_list.count())
        }
        for index in wanted:
            if index not in present:
                self.sample_list.addItem(self._sample_item(SamplePreview(index, "", text="")))
                present[index] = self.sample_list.count() - 1
        self.sample_list.clearSelection()
        for index in wanted:
            self.sample_list.item(present[index]).setSelected(True)
        if wanted:
            self.sample_list.scrollToItem(self.sample_list.item(present[wanted[0]]))

    def set_layer(self, name: str | None) -> None:
        """Choose the layer of layer methods by node name (ignored if the model has none)."""
        if name is None:
            return
        index = self.layer_combo.findData(name)
        if index >= 0:
            self.layer_combo.setCurrentIndex(index)
        self._show_layer()

    @property
    def layer(self) -> str | None:
        data = self.layer_combo.currentData()
        return str(data) if data else None

    def _show_layer(self) -> None:
        layer = self.layer
        if layer is None:
            self.layer_label.setText("No layer to choose: the model has no named layers.")
        else:
            self.layer_label.setText(
                f"Layer for Grad-CAM and conductance: <b>{html.escape(layer)}</b> "
                "(click a node below to choose another)"
            )

    def _on_node_clicked(self, node_id: str) -> None:
        scene = self._scene
        if scene is None or node_id not in scene.graph:
            return
        scene.select_node(node_id)
        name = scene.graph.node(node_id).name
        if self.layer_combo.findData(name) < 0:
            self.layer_label.setText(
                f"<b>{html.escape(name)}</b> is not a layer of the trained model; "
                f"still using <b>{html.escape(self.layer or '-')}</b>."
            )
            return
        self.set_layer(name)

    def on_canvas_selection(self, node_name: str | None) -> None:
        """The window calls this when one node is selected on the Graph tab's canvas."""
        if node_name is not None and self.layer_combo.findData(node_name) >= 0:
            self.set_layer(node_name)

    # ------------------------------------------------------------- files
    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Explain a sample from a file",
            "",
            "Images or CSV (*.png *.jpg *.jpeg *.bmp "
            "*.gif *.tif *.tiff *.webp *.csv *.tsv *.txt);;All files (*)",
        )
        if path:
            self.load_file(path)

    def _ask_input(self) -> None:
        folder = self.project.path.parent if self.project and self.project.path else Path.home()
        path, _ = QFileDialog.getOpenFileName(
            self, "Explain an input from a file", str(folder), "NumPy array (*.npy);;All files (*)"
        )
        if path:
            self.load_input(path)

    def load_input(self, path: str | Path) -> Task | None:
        """Read the model's input from a .npy file in the background, checked as `studio
        explain --input` checks it (shape, dtype, token ids); bad input is said in red."""
        loaded = self.loaded
        path = Path(path)
        if loaded is None or loaded.project is None:
            self._show_file_error("Choose a trained run first; then an input can be explained.")
            return None
        project = loaded.project

        def work(cancelled: Callable[[], bool]) -> Iterator[object]:
            from studio.explain.inputs import read_input_array

            yield read_input_array(path, project)

        def read(item: object) -> None:
            assert isinstance(item, np.ndarray)
            self.set_given_input(path.name, item)

        def failed(exc: BaseException, trace: str) -> None:
            message = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
            self._show_file_error(message)

        self._input_task = self.tasks.start(
            "read input file", work, read, failed, self._update_controls
        )
        self._update_controls()
        return self._input_task

    def use_random_input(self) -> None:
        """A random input of the model's shape (a few numbers drawn: no worker needed)."""
        from studio.explain.inputs import random_input

        loaded = self.loaded
        if loaded is None or loaded.project is None:
            return
        self._random_draws += 1
        try:
            array = random_input(loaded.project, seed=self._random_draws)
        except StudioError as exc:
            self._show_file_error(str(exc))
            return
        self.set_given_input(f"random input {self._random_draws}", array)

    def set_given_input(self, name: str, batch: np.ndarray) -> None:
        """Show `batch` (one input, batch of one) as the sample to explain, selected."""
        self._given_input = batch
        self._given_name = name
        self.file_error.hide()
        for row in range(self.sample_list.count()):
            if self.sample_list.item(row).data(Qt.ItemDataRole.UserRole) == GIVEN_INPUT:
                self.sample_list.takeItem(row)
                break
        sample = batch[0]
        if sample.ndim == 3 and sample.shape[0] in (1, 3):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(_qimage(image_rgb(sample)))), name)
        else:
            shown = ", ".join(f"{v:.3g}" for v in np.ravel(sample)[:8])
            item = QListWidgetItem(f"{name}  {shown}")
        item.setToolTip(f"{name}: shape {tuple(sample.shape)}, {sample.dtype}")
        item.setData(Qt.ItemDataRole.UserRole, GIVEN_INPUT)
        self.sample_list.insertItem(0, item)
        self.sample_list.clearSelection()
        item.setSelected(True)
        self._update_controls()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            if self.loaded is not None and self.loaded.data is None:
                self.load_input(files[0])
            else:
                self.load_file(files[0])

    def load_file(self, path: str | Path) -> Task | None:
        """Read an image or a CSV row in the background; bad input is said in red."""
        loaded = self.loaded
        path = Path(path)
        if loaded is None:
            self._show_file_error("Choose a trained run first; then a file can be explained.")
            return None
        if len(loaded.shapes) != 1:
            self._show_file_error("Models with several inputs are explained from the test split.")
            return None
        shape, names, value_range = loaded.shapes[0], loaded.feature_names, loaded.value_ranges[0]

        def work(cancelled: Callable[[], bool]) -> Iterator[object]:
            from studio.explain.samples import load_sample_file

            yield load_sample_file(path, shape, names=names, value_range=value_range)

        def read(item: object) -> None:
            assert isinstance(item, np.ndarray)
            self._file_sample = item
            self._file_name = path.name
            self.file_error.hide()
            self._add_file_item(path.name, item)

        def failed(exc: BaseException, trace: str) -> None:
            message = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
            self._show_file_error(message)

        self._file_task = self.tasks.start("read sample file", work, read, failed)
        return self._file_task

    def _show_file_error(self, message: str) -> None:
        self.file_error.setText(message)
        self.file_error.show()

    def _add_file_item(self, name: str, sample: np.ndarray) -> None:
        for row in range(self.sample_list.count()):
            if self.sample_list.item(row).data(Qt.ItemDataRole.UserRole) == FILE_SAMPLE:
                self.sample_list.takeItem(row)
                break
        if sample.ndim == 3 and sample.shape[0] in (1, 3):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(_qimage(image_rgb(sample)))), name)
        else:
            item = QListWidgetItem(f"{name}  {', '.join(f'{v:.3g}' for v in sample[:8])}")
        item.setToolTip(f"from the file {name}")
        item.setData(Qt.ItemDataRole.UserRole, FILE_SAMPLE)
        self.sample_list.insertItem(0, item)
        self.sample_list.clearSelection()
        item.setSelected(True)

    # ------------------------------------------------------------- explaining
    def explain_samples(self, run_id: str, indices: Sequence[int]) -> None:
        """Explain these test-split samples of `run_id` (the Evaluation tab's entry point)."""
        if self.run_combo.findData(run_id) < 0:
            self._show_runs(self.runs_model.snapshot)
        index = self.run_combo.findData(run_id)
        if index < 0:
            self._set_state(f"No run {run_id} with weights in this project.", error=True)
            return
        self.run_combo.setCurrentIndex(index)
        if self.loaded is not None and self.loaded.run_id == run_id:
            self.select_samples(indices)
            self.explain()
            return
        self._pending = (list(indices), True)
        self.load_run(run_id)

    def explain(self) -> Task | None:
        """Explain the selected samples with the checked methods, in the background."""
        loaded = self.loaded
        if loaded is None:
            self._set_state("Choose a trained run first.", error=True)
            return None
        methods = self.checked_methods()
        if not methods:
            self._set_state("Check at least one method.", error=True)
            return None
        indices = self.selected_indices()
        file_sample = None
        given = None
        if GIVEN_INPUT in indices:
            if self._given_input is None or len(indices) > 1:
                self._set_state("Explain the given input on its own.", error=True)
                return None
            given = self._given_input
        elif loaded.data is None:
            self._set_state("Open a .npy input or draw a random one first.", error=True)
            return None
        if FILE_SAMPLE in indices:
            if self._file_sample is None:
                self._set_state("The file's sample is still being read.", error=True)
                return None
            if len(indices) > 1:
                self._set_state("Explain the file's sample on its own.", error=True)
                return None
            file_sample = self._file_sample
        if not indices:
            self._set_state("Select at least one sample.", error=True)
            return None
        layer = self.layer
        if any(spec.needs_layer for spec in methods) and layer is None:
            self._set_state("Choose a layer for the layer methods.", error=True)
            return None
        request = ExplainRequest(
            methods=methods,
            indices=[] if file_sample is not None or given is not None else indices,
            file_sample=file_sample,
            target=self.target_combo.currentData(),
            baseline=str(self.baseline_combo.currentData()),
            layer=layer,
            given_input=given,
        )
        if given is not None:
            names = [self._given_name]
        elif file_sample is not None:
            names = [self._file_name]
        else:
            names = [f"test #{i}" for i in indices]
        self.cancel()
        self.clear_results()
        self.progress.setRange(0, len(methods))
        self.progress.setValue(0)
        self._set_state("Explaining…")
        self._request_names = names

        def work(cancelled: Callable[[], bool]) -> Iterator[object]:
            yield from explain_request(loaded, request, cancelled)

        self._explain_task = self.tasks.start(
            "explain", work, self._on_explained, self._on_explain_failed, self._explain_done
        )
        self._update_controls()
        return self._explain_task

    def _on_explained(self, item: object) -> None:
        if isinstance(item, Progress):
            self.progress.setRange(0, max(1, item.total))
            self.progress.setValue(item.done)
            self._set_state(item.text)
            return
        assert isinstance(item, MethodResult)
        loaded = self.loaded
        if loaded is None:
            return
        panel = ResultPanel(item, loaded, self._request_names)
        for view in panel.heatmaps:
            view.set_opacity(self.opacity_slider.value() / 100)
        panel.setMinimumWidth(260)
        self.results.append(panel)
        self.panels_layout.addWidget(panel, 1)
        if item.predicted:
            shown = ", ".join(item.predicted[:6])
            self.summary_label.setText(f"Predicted: <b>{html.escape(shown)}</b>")
        if item.canvas_heat:
            self.show_heat(item.canvas_heat)
        self._update_controls()
        self.results_changed.emit()

    def _on_explain_failed(self, exc: BaseException, trace: str) -> None:
        message = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
        self._set_state(f"Could not explain: {message}", error=True)
        self._update_controls()

    def _explain_done(self) -> None:
        if self.error is None:
            failed = [p for p in self.results if p.result.error]
            self._set_state(
                f"{len(self.results) - len(failed)} of {len(self.results)} methods explained."
                if failed
                else "Done."
            )
        self._update_controls()

    def cancel(self) -> None:
        """Stop the explanation in progress (what arrived stays)."""
        if self._explain_task is not None and not self._explain_task.done:
            self._explain_task.cancel()
            self._explain_task = None
            self._set_state("Cancelled.")
            self.progress.setValue(0)
        self._update_controls()

    def cancel_all(self) -> None:
        tasks = (
            self._load_task,
            self._explain_task,
            self._importance_task,
            self._file_task,
            self._input_task,
        )
        for task in tasks:
            if task is not None:
                task.cancel()
        self._load_task = self._explain_task = self._importance_task = self._file_task = None
        self._input_task = None
        self.progress.setRange(0, 1)
        self.progress.setValue(0)

    def clear_results(self) -> None:
        for panel in self.results:
            self.panels_layout.removeWidget(panel)
            panel.deleteLater()
        self.results = []
        self.summary_label.clear()
        self.clear_heat()
        self._update_controls()
        self.results_changed.emit()

    def _on_opacity(self, value: int) -> None:
        for panel in self.results:
            for view in panel.heatmaps:
                view.set_opacity(value / 100)

    # ------------------------------------------------------------- canvas heat
    def show_heat(self, by_name: dict[str, float]) -> None:
        scene = self._scene
        if scene is None:
            return
        by_id = {}
        for name, value in by_name.items():
            node = scene.graph.node_by_name(name)
            if node is not None:
                by_id[node.id] = value
        scene.set_node_heat(by_id, "conductance Σ|c|")
        self.map_view.fit()

    def clear_heat(self) -> None:
        scene = self._scene
        if scene is not None:
            try:
                scene.set_node_heat(None)
            except RuntimeError:  # the scene was deleted with its project
                self._scene = None

    def _on_graph_edited(self, *_: object) -> None:
        self.clear_heat()

    # ------------------------------------------------------------- global importance
    def compute_global_importance(self) -> Task | None:
        """Mean |attribution| per feature over the validation split, with progress."""
        loaded = self.loaded
        if loaded is None or loaded.data is None or self.importance_running:
            return None
        data = loaded.data
        methods = [spec for spec in self.checked_methods() if spec.space == "input"]
        names = [spec.name for spec in methods]
        method = "IntegratedGradients" if "IntegratedGradients" in names else None
        method = method or (names[0] if names else "Saliency")
        dataset = data.validation
        if len(dataset) == 0:
            dataset = data.test
        baseline = str(self.baseline_combo.currentData())
        target = self.target_combo.currentData()
        self._clear_importance()
        self.global_progress.setRange(0, max(1, min(len(dataset), 1000)))
        self.global_label.setText(f"{default_methods().get(method).title} over the validation…")

        def work(cancelled: Callable[[], bool]) -> Iterator[object]:
            from studio.explain.importance import data_mean, global_importance_steps

            options: dict[str, Any] = {"baseline": baseline, "target": target}
            if baseline == "mean":
                if loaded.mean is None:
                    loaded.mean = data_mean(data.train, limit=2000)
                options["data_mean"] = loaded.mean
            steps = global_importance_steps(
                loaded.model, dataset, method=method, should_stop=cancelled, **options
            )
            while True:
                with loaded.lock:  # one batch at a time, between other workers' calls
                    step = next(steps, None)
                if step is None:
                    return
                yield step

        def arrived(item: object) -> None:
            from studio.explain.importance import GlobalImportance

            if isinstance(item, GlobalImportance):
                self._show_importance(item, method)
            else:
                assert isinstance(item, tuple)
                done, total = item
                self.global_progress.setRange(0, total)
                self.global_progress.setValue(done)

        def failed(exc: BaseException, trace: str) -> None:
            self.global_label.setText(f"Global importance failed: {exc}")

        self._importance_task = self.tasks.start(
            "global importance", work, arrived, failed, self._update_controls
        )
        self._update_controls()
        return self._importance_task

    def cancel_global_importance(self) -> None:
        if self._importance_task is not None and not self._importance_task.done:
            self._importance_task.cancel()
            self._importance_task = None
            self.global_label.setText("Global importance cancelled.")
            self.global_progress.setValue(0)
            self.importance_changed.emit()
        self._update_controls()

    def _show_importance(self, importance: GlobalImportance, method: str) -> None:
        loaded = self.loaded
        self.importance = importance
        if self.global_bars is not None:
            self.global_bars.deleteLater()
            self.global_bars = None
        if loaded is not None and importance.samples:
            self.global_bars = FeatureBars(
                loaded.feature_names, np.ravel(importance.mean_abs), signed=False
            )
            self.global_bars_holder.addWidget(self.global_bars)
        title = default_methods().get(method).title
        self.global_label.setText(
            f"Mean |{title}| over {importance.samples} validation samples"
            + (" (cancelled)" if importance.cancelled else "")
        )
        self.importance_changed.emit()
        self._update_controls()

    def _clear_importance(self) -> None:
        self.importance = None
        if self.global_bars is not None:
            self.global_bars.deleteLater()
            self.global_bars = None
        self.global_label.clear()
        self.global_progress.setValue(0)

    # ------------------------------------------------------------- visibility
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._visible = True
        if self.project is not None and self.loaded is None and self._load_task is None:
            self.refresh_runs()
        self.map_view.fit()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._visible = False
        self.clear_heat()
