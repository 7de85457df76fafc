"""The data tab's settings form: one row per setting of the project's data section.

`FieldSpec`s say where each setting lives (``splits.seed``, ``source.target``), how it is
edited and when it applies (stratifying only for classification, augmentation only for
images); numeric ranges come from the settings models themselves, so the form never offers
what the project file could not hold. An editor shows a value and reports edits; it never
touches the project (the tab turns an edit into a new data section and an undo step).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ValidationError
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QFont, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from studio.core.data_settings import (
    AugmentationSettings,
    PreprocessingSettings,
    SplitSettings,
)
from studio.core.project import DataSection

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int


# ----------------------------------------------------------------- form fields
Editor = Literal[
    "choice", "int", "float", "percent", "bool", "column", "columns", "size", "text", "path"
]


@dataclass(frozen=True)
class FormContext:
    """What decides which fields apply: the data's kind and task, as far as they are known."""

    section: DataSection
    kind: str | None
    task: str | None


@dataclass(frozen=True)
class FieldSpec:
    """One row of the settings form: where its value lives and how it is edited."""

    group: str  # "source", "splits", "preprocessing" or "augmentation"
    name: str
    label: str
    editor: Editor
    help: str
    choices: tuple[tuple[Any, str], ...] = ()
    # An optional value: what None means, as the field shows it.
    none_text: str | None = None
    step: float = 1.0
    decimals: int = 0
    suffix: str = ""
    shown: Callable[[FormContext], bool] | None = None
    enabled: Callable[[DataSection], bool] | None = None

    @property
    def key(self) -> str:
        return f"{self.group}.{self.name}"


def _source_value(section: DataSection, name: str) -> Any:
    return getattr(section.source, name, None)


def _is_classification(context: FormContext) -> bool:
    return context.task == "classification"


DELIMITERS = ((",", "comma ,"), (";", "semicolon ;"), ("\t", "tab"), ("|", "bar |"))
TASKS = (("auto", "Automatic"), ("classification", "Classification"), ("regression", "Regression"))

_DELIMITED = (
    FieldSpec(
        "source", "delimiter", "Delimiter", "choice", "What separates the columns.", DELIMITERS
    ),
    FieldSpec(
        "source",
        "encoding",
        "Encoding",
        "text",
        "The file's text encoding, e.g. utf-8 or latin-1.",
    ),
)

SOURCE_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "table": (
        FieldSpec("source", "path", "File", "path", "The CSV file, one row per sample."),
        FieldSpec(
            "source",
            "target",
            "Target",
            "column",
            "The column the model learns to predict.",
            none_text="the last column",
        ),
        FieldSpec(
            "source",
            "features",
            "Features",
            "columns",
            "The columns the model sees.",
            none_text="all but the target",
        ),
        FieldSpec(
            "source",
            "categorical",
            "Categorical",
            "columns",
            "Columns holding categories rather than quantities.",
            none_text="automatic (non-numeric)",
        ),
        FieldSpec(
            "source",
            "categorical_encoding",
            "Categories as",
            "choice",
            "One-hot: one 0/1 feature per category. Index: one integer per column, for an "
            "Embedding.",
            (("onehot", "One-hot"), ("index", "Index (for Embedding)")),
        ),
        FieldSpec(
            "source",
            "task",
            "Task",
            "choice",
            "Classification predicts a category; regression predicts a number. Automatic "
            "decides from the target's values.",
            TASKS,
        ),
        FieldSpec(
            "source",
            "missing",
            "Missing values",
            "choice",
            "What to do with empty cells (the statistics count them).",
            (
                ("drop", "Drop the row"),
                ("mean", "Fill with the mean"),
                ("median", "Fill with the median"),
                ("mode", "Fill with the most frequent"),
                ("constant", "Fill with a constant"),
            ),
        ),
        FieldSpec(
            "source",
            "fill_value",
            "Fill value",
            "float",
            "The constant that fills empty cells.",
            step=1.0,
            decimals=3,
            enabled=lambda s: _source_value(s, "missing") == "constant",
        ),
        *_DELIMITED,
    ),
    "image_folder": (
        FieldSpec("source", "path", "Folder", "path", "One subfolder of images per class."),
        FieldSpec("source", "size", "Image size", "size", "Every image is resized to this."),
        FieldSpec(
            "source",
            "color",
            "Colour",
            "choice",
            "Grayscale gives 1 channel, RGB gives 3.",
            (("grayscale", "Grayscale (1 channel)"), ("rgb", "RGB (3 channels)")),
        ),
        FieldSpec(
            "source",
            "bad_images",
            "Unreadable images",
            "choice",
            "Stop at the first unreadable image, or skip them and count them.",
            (("fail", "Stop with an error"), ("skip", "Skip and count them")),
        ),
    ),
    "idx": (
        FieldSpec("source", "images", "Images", "path", "The IDX images file."),
        FieldSpec("source", "labels", "Labels", "path", "The IDX labels file."),
        FieldSpec(
            "source",
            "test_images",
            "Test images",
            "path",
            "The published test images, used as the test split.",
            none_text="none",
        ),
        FieldSpec(
            "source",
            "test_labels",
            "Test labels",
            "path",
            "The published test labels.",
            none_text="none",
        ),
    ),
    "arrays": (
        FieldSpec("source", "path", "File", "path", "A .npz archive or a .npy file."),
        FieldSpec(
            "source",
            "inputs_key",
            "Inputs array",
            "text",
            "The name of the inputs in the .npz archive.",
            none_text="x, inputs or images",
        ),
        FieldSpec(
            "source",
            "targets_key",
            "Targets array",
            "text",
            "The name of the targets in the .npz archive.",
            none_text="y, labels or targets",
        ),
        FieldSpec(
            "source",
            "layout",
            "Layout",
            "choice",
            "How to read each sample's array.",
            (
                ("auto", "Automatic"),
                ("table", "Table (features)"),
                ("image", "Image (C, H, W)"),
                ("sequence", "Sequence (steps, channels)"),
                ("tokens", "Token ids"),
            ),
        ),
        FieldSpec("source", "task", "Task", "choice", "What the targets are.", TASKS),
    ),
    "text": (
        FieldSpec("source", "path", "File", "path", "A CSV with a text and a label column."),
        FieldSpec("source", "text_column", "Text column", "column", "The texts."),
        FieldSpec("source", "label_column", "Label column", "column", "The class of each text."),
        FieldSpec(
            "source",
            "tokens",
            "Tokens",
            "choice",
            "Split texts into words (and punctuation) or single characters.",
            (("word", "Words"), ("char", "Characters")),
        ),
        FieldSpec(
            "source",
            "max_length",
            "Max length",
            "int",
            "Longer texts are cut, shorter ones padded, to this many tokens.",
            step=8,
        ),
        FieldSpec(
            "source",
            "max_vocabulary",
            "Max vocabulary",
            "int",
            "The most frequent tokens of the training split are kept; others become <unk>.",
            step=1000,
        ),
        FieldSpec(
            "source",
            "min_frequency",
            "Min frequency",
            "int",
            "Tokens seen fewer times in the training split become <unk>.",
        ),
        FieldSpec("source", "lowercase", "Lowercase the texts", "bool", "Ignore capitals."),
        *_DELIMITED,
    ),
    "series": (
        FieldSpec("source", "path", "File", "path", "One row per time step."),
        FieldSpec(
            "source",
            "columns",
            "Series",
            "columns",
            "The columns fed to the model (its channels).",
            none_text="every numeric column",
        ),
        FieldSpec(
            "source",
            "time_column",
            "Time column",
            "column",
            "Rows are sorted by it; it is not fed to the model.",
            none_text="none (file order)",
        ),
        FieldSpec(
            "source",
            "series_id_column",
            "Series id",
            "column",
            "Rows with different ids are separate series; windows never cross them.",
            none_text="none (one series)",
        ),
        FieldSpec(
            "source",
            "task",
            "Task",
            "choice",
            "Forecast the next values, or classify each window by the label of its last row.",
            (("forecast", "Forecast"), ("classification", "Classification")),
        ),
        FieldSpec(
            "source",
            "targets",
            "Forecast",
            "columns",
            "The series to predict.",
            none_text="all the series",
            shown=lambda c: _source_value(c.section, "task") == "forecast",
        ),
        FieldSpec(
            "source",
            "label_column",
            "Label column",
            "column",
            "Each window takes the label of its last row.",
            none_text="none",
        ),
        FieldSpec(
            "source", "window", "Window", "int", "Time steps the model sees at once.", step=8
        ),
        FieldSpec("source", "horizon", "Horizon", "int", "How far ahead to forecast."),
        FieldSpec("source", "stride", "Stride", "int", "Steps between one window and the next."),
        *_DELIMITED,
    ),
}

SPLIT_FIELDS = (
    FieldSpec(
        "splits",
        "validation",
        "Validation",
        "percent",
        "Held out to watch for overfitting while training.",
        step=5,
        suffix=" %",
    ),
    FieldSpec(
        "splits",
        "test",
        "Test",
        "percent",
        "Held out until the end, to measure the trained model.",
        step=5,
        suffix=" %",
    ),
    FieldSpec("splits", "seed", "Seed", "int", "The same seed gives the same split."),
    FieldSpec(
        "splits",
        "stratify",
        "Keep class proportions in each split",
        "bool",
        "Each split gets the same share of every class.",
        shown=_is_classification,
    ),
)

PREPROCESSING_FIELDS = (
    FieldSpec(
        "preprocessing",
        "normalize",
        "Normalise",
        "choice",
        "Fitted on the training split only, and saved with each run. Automatic standardises "
        "tables and series, scales images to [0, 1] and leaves token ids alone.",
        (
            ("auto", "Automatic"),
            ("standardize", "Standardise (mean 0, std 1)"),
            ("minmax", "Min–max to [0, 1]"),
            ("none", "None"),
        ),
    ),
    FieldSpec(
        "preprocessing",
        "normalize_target",
        "Standardise the targets",
        "bool",
        "Regression targets are standardised for training; results are reported in the "
        "original units.",
        shown=lambda c: c.task == "regression",
    ),
)

AUGMENTATION_FIELDS = (
    FieldSpec("augmentation", "flip_horizontal", "Flip left–right", "bool", "Mirror at random."),
    FieldSpec("augmentation", "flip_vertical", "Flip upside down", "bool", "Flip at random."),
    FieldSpec(
        "augmentation",
        "rotation",
        "Rotation",
        "float",
        "Largest random rotation, either way.",
        step=5,
        decimals=0,
        suffix="°",
    ),
    FieldSpec(
        "augmentation",
        "crop",
        "Crop",
        "percent",
        "Largest share of the side cut away by a random crop.",
        step=5,
        suffix=" %",
    ),
    FieldSpec(
        "augmentation",
        "brightness",
        "Brightness",
        "percent",
        "Brightness changes by up to this much.",
        step=5,
        suffix=" %",
    ),
    FieldSpec(
        "augmentation",
        "noise",
        "Noise",
        "percent",
        "Gaussian noise, as a share of the pixels' standard deviation.",
        step=5,
        suffix=" %",
    ),
)

GROUP_MODELS: dict[str, type[BaseModel]] = {
    "splits": SplitSettings,
    "preprocessing": PreprocessingSettings,
    "augmentation": AugmentationSettings,
}


def field_bounds(model: type[BaseModel], name: str) -> tuple[float | None, float | None, bool]:
    """(lowest, highest, highest is excluded) from a pydantic field's constraints."""
    low: float | None = None
    high: float | None = None
    open_high = False
    for item in model.model_fields[name].metadata:
        if isinstance(item, annotated_types.Ge):
            low = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            low = float(item.gt)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            high = float(item.le)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Lt):
            high, open_high = float(item.lt), True  # type: ignore[arg-type]
    return low, high, open_high


def friendly_error(exc: ValidationError) -> str:
    """The first problem pydantic found, as a sentence."""
    first = exc.errors()[0]
    message = str(first.get("msg", exc))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


# ----------------------------------------------------------------- editors
class FieldEditor(QWidget):
    """Shows one setting; `edited` carries a new value, `finished` ends a burst of edits."""

    edited = Signal(object)
    finished = Signal()

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(4)
        self.setToolTip(spec.help)

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def value(self) -> Any:
        raise NotImplementedError

    def set_columns(self, columns: Sequence[str], implied: Sequence[str] = ()) -> None:
        """The file's columns (and those a None value stands for), for column fields."""


class _NoWheelMixin:
    def wheelEvent(self, event: QWheelEvent) -> None:
        # Scrolling the form must not change the field under the pointer by accident.
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()


class NoWheelCombo(_NoWheelMixin, QComboBox):
    pass


class _Spin(_NoWheelMixin, QSpinBox):
    pass


class _DoubleSpin(_NoWheelMixin, QDoubleSpinBox):
    pass


class ChoiceEditor(FieldEditor):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = NoWheelCombo()
        self.combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        for value, text in spec.choices:
            self.combo.addItem(text, value)
        self.combo.currentIndexChanged.connect(self._changed)
        self.layout_.addWidget(self.combo)

    def _changed(self, index: int) -> None:
        if index >= 0:
            self.edited.emit(self.combo.itemData(index))
            self.finished.emit()

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(value)
        if index < 0:
            self.combo.addItem(str(value), value)
            index = self.combo.count() - 1
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(index)

    def value(self) -> Any:
        return self.combo.currentData()


class ColumnEditor(ChoiceEditor):
    """One column of the file (or None, when the field is optional)."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self._value: Any = None
        self._columns: list[str] | None = None
        self.set_columns([])

    def set_columns(self, columns: Sequence[str], implied: Sequence[str] = ()) -> None:
        if list(columns) == self._columns:
            return
        self._columns = list(columns)
        with QSignalBlocker(self.combo):
            self.combo.clear()
            if self.spec.none_text is not None:
                self.combo.addItem(self.spec.none_text, None)
                italic = QFont(self.combo.font())
                italic.setItalic(True)
                self.combo.setItemData(0, italic, Qt.ItemDataRole.FontRole)
            for column in columns:
                self.combo.addItem(column, column)
        self.set_value(self._value)

    def set_value(self, value: Any) -> None:
        self._value = value
        super().set_value(value)


class IntEditor(FieldEditor):
    def __init__(self, spec: FieldSpec, low: float | None, high: float | None) -> None:
        super().__init__(spec)
        self.spin = _Spin()
        self.spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.spin.setKeyboardTracking(False)
        self.spin.setRange(int(low or 0), int(min(high or INT_LIMIT, INT_LIMIT)))
        self.spin.setSingleStep(int(spec.step))
        self.spin.setGroupSeparatorShown(True)
        self.spin.setSuffix(spec.suffix)
        self.spin.valueChanged.connect(self.edited.emit)
        self.spin.editingFinished.connect(self.finished.emit)
        self.layout_.addWidget(self.spin)

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self.spin):
            self.spin.setValue(int(value))

    def value(self) -> int:
        return self.spin.value()


class FloatEditor(FieldEditor):
    """A float; a percent field shows a fraction ×100 (15 % for 0.15)."""

    def __init__(
        self, spec: FieldSpec, low: float | None, high: float | None, open_high: bool
    ) -> None:
        super().__init__(spec)
        self.scale = 100.0 if spec.editor == "percent" else 1.0
        self.spin = _DoubleSpin()
        self.spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.spin.setKeyboardTracking(False)
        self.spin.setDecimals(spec.decimals)
        top = (high if high is not None else 1e9) * self.scale
        if open_high:
            top -= 10.0**-spec.decimals
        self.spin.setRange((low if low is not None else -1e9) * self.scale, top)
        self.spin.setSingleStep(spec.step)
        self.spin.setSuffix(spec.suffix)
        self.spin.valueChanged.connect(lambda v: self.edited.emit(round(v / self.scale, 6)))
        self.spin.editingFinished.connect(self.finished.emit)
        self.layout_.addWidget(self.spin)

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self.spin):
            self.spin.setValue(float(value) * self.scale)

    def value(self) -> float:
        return round(self.spin.value() / self.scale, 6)


class BoolEditor(FieldEditor):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.check = QCheckBox(spec.label)
        self.check.toggled.connect(self._toggled)
        self.layout_.addWidget(self.check)

    def _toggled(self, checked: bool) -> None:
        self.edited.emit(checked)
        self.finished.emit()

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self.check):
            self.check.setChecked(bool(value))

    def value(self) -> bool:
        return self.check.isChecked()


class TextEditor(FieldEditor):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.line = QLineEdit()
        if spec.none_text is not None:
            self.line.setPlaceholderText(spec.none_text)
        self.line.editingFinished.connect(self._finished)
        self.layout_.addWidget(self.line)
        self._value: Any = None

    def _finished(self) -> None:
        text = self.line.text().strip()
        value = None if not text and self.spec.none_text is not None else text
        if value != self._value:
            self.edited.emit(value)
        self.finished.emit()

    def set_value(self, value: Any) -> None:
        self._value = value
        if self.line.text() != (value or ""):
            self.line.setText("" if value is None else str(value))

    def value(self) -> Any:
        return self._value


class PathEditor(FieldEditor):
    """A path, shown, not edited (choose another with From file…)."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.label = QLabel()
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.layout_.addWidget(self.label)
        self._value: Any = None

    def set_value(self, value: Any) -> None:
        self._value = value
        text = self.spec.none_text or "" if value is None else str(value)
        self.label.setText(Path(text).name if value is not None else text)
        self.label.setToolTip(text)

    def value(self) -> Any:
        return self._value


class SizeEditor(FieldEditor):
    """(height, width) as two spin boxes."""

    def __init__(self, spec: FieldSpec, low: float | None, high: float | None) -> None:
        super().__init__(spec)
        self.height_spin, self.width_spin = _Spin(), _Spin()
        for spin, name in ((self.height_spin, "height"), (self.width_spin, "width")):
            spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            spin.setKeyboardTracking(False)
            spin.setRange(int(low or 1), int(high or 4096))
            spin.setToolTip(f"{spec.help} ({name})")
            spin.valueChanged.connect(lambda _: self.edited.emit(self.value()))
            spin.editingFinished.connect(self.finished.emit)
        times = QLabel("×")
        self.layout_.addWidget(self.height_spin, 1)
        self.layout_.addWidget(times)
        self.layout_.addWidget(self.width_spin, 1)

    def set_value(self, value: Any) -> None:
        height, width = value
        with QSignalBlocker(self.height_spin), QSignalBlocker(self.width_spin):
            self.height_spin.setValue(int(height))
            self.width_spin.setValue(int(width))

    def value(self) -> tuple[int, int]:
        return (self.height_spin.value(), self.width_spin.value())


class StayOpenMenu(QMenu):
    """A menu of check boxes that stays open while they are toggled."""

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        action = self.activeAction()
        if action is not None and action.isEnabled() and action.isCheckable():
            action.trigger()
            return
        super().mouseReleaseEvent(event)


class ColumnsEditor(FieldEditor):
    """Several columns (or None: the automatic choice, `implied` shows which it makes)."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.button = QPushButton()
        self.button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.button.setStyleSheet("QPushButton { text-align: left; padding: 3px 8px; }")
        self.menu = StayOpenMenu(self.button)
        # A file may have a thousand columns: the menu is filled when it opens, not per edit.
        self.menu.aboutToShow.connect(self._fill_menu)
        self.button.setMenu(self.menu)
        self.layout_.addWidget(self.button)
        self.columns: list[str] = []
        self.implied: list[str] = []
        self._value: list[str] | None = None
        self._show()

    def set_columns(self, columns: Sequence[str], implied: Sequence[str] = ()) -> None:
        self.columns = list(columns)
        self.implied = list(implied)
        self._show()

    def set_value(self, value: Any) -> None:
        self._value = None if value is None else list(value)
        self._show()

    def value(self) -> list[str] | None:
        return self._value

    def chosen(self) -> list[str]:
        """The columns the setting stands for (the automatic choice, when it is None)."""
        return list(self.implied if self._value is None else self._value)

    def _show(self) -> None:
        if self._value is None:
            text = self.spec.none_text or "automatic"
        elif len(self._value) <= 3:
            text = ", ".join(self._value) or "none"
        else:
            text = f"{len(self._value)} columns"
        self.button.setText(text)
        chosen = self.chosen()
        listed = ", ".join(chosen[:20]) + (
            f", … {len(chosen) - 20} more" if len(chosen) > 20 else ""
        )
        self.button.setToolTip(f"{self.spec.help}\n" + (listed or "No columns chosen"))
        if self.menu.isVisible():
            self._fill_menu()

    def _fill_menu(self) -> None:
        self.menu.clear()
        automatic = QAction(f"Automatic: {self.spec.none_text}", self.menu)
        automatic.setCheckable(True)
        automatic.setChecked(self._value is None)
        automatic.toggled.connect(self._automatic)
        self.menu.addAction(automatic)
        self.menu.addSeparator()
        chosen = set(self.chosen())
        names = list(self.columns) + [c for c in (self._value or []) if c not in self.columns]
        for name in names:
            action = QAction(name, self.menu)
            action.setCheckable(True)
            action.setChecked(name in chosen)
            action.toggled.connect(lambda checked, name=name: self._toggled(name, checked))
            self.menu.addAction(action)

    def _automatic(self, checked: bool) -> None:
        if checked and self._value is not None:
            self.edited.emit(None)
        elif not checked and self._value is None:
            self.edited.emit(list(self.implied))
        self.finished.emit()

    def _toggled(self, name: str, checked: bool) -> None:
        current = self.chosen()
        if checked and name not in current:
            order = {c: i for i, c in enumerate(self.columns)}
            current.append(name)
            current.sort(key=lambda c: order.get(c, len(order)))
        elif not checked and name in current:
            current.remove(name)
        self.edited.emit(current)
        self.finished.emit()


def make_field_editor(spec: FieldSpec, model: type[BaseModel]) -> FieldEditor:
    """The editor of one form row; numeric bounds come from the settings model itself."""
    if spec.editor in ("int", "float", "percent", "size"):
        low: float | None
        high: float | None
        if spec.editor == "size":
            low, high, open_high = 1.0, 4096.0, False
        else:
            low, high, open_high = field_bounds(model, spec.name)
        if spec.editor == "int":
            return IntEditor(spec, low, high)
        if spec.editor == "size":
            return SizeEditor(spec, low, high)
        return FloatEditor(spec, low, high, open_high)
    if spec.editor == "choice":
        return ChoiceEditor(spec)
    if spec.editor == "column":
        return ColumnEditor(spec)
    if spec.editor == "columns":
        return ColumnsEditor(spec)
    if spec.editor == "bool":
        return BoolEditor(spec)
    if spec.editor == "text":
        return TextEditor(spec)
    return PathEditor(spec)
