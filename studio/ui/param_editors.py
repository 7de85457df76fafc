"""One editor widget per layer parameter, made from its `ParamSpec`.

An editor shows a value and reports what the person types or picks; it never touches the
graph. `edited` carries a value that the spec accepts (the graph may still refuse it, e.g.
fewer inputs than are connected), `rejected` carries the spec's sentence for text that is not
a valid value, and `finished` says the person left the field, which ends one burst of typing
(its keystrokes are one undo step). `set_value` shows the model's value without emitting
anything, and leaves the field alone when it already shows that value, so a field being typed
in is not rewritten by the echo of its own edit.
"""

from __future__ import annotations

import math
import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.specs import ParamError, ParamSpec, ParamValue
from studio.ui import theme

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
NONE_TEXT = "—"
# What a number may look like while it is being typed ("", "-", "1e", "1.5e-").
_PARTIAL_FLOAT = re.compile(r"^[+-]?(\d[\d_]*)?\.?\d*([eE][+-]?\d*)?$")
# Commas or spaces; an "x" only between digits ("3x32x32"), so "3, x" stays a mistake.
_TUPLE_SEPARATORS = re.compile(r"[\s,;×*]+|(?<=\d)[xX](?=\d)")


# ----------------------------------------------------------------- text ⇄ value
def number_text(value: float) -> str:
    """A number as a person writes it: ``1e-05``, ``0.1``, ``1.0``, ``1,000`` for big ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    # Fifteen significant digits hide the float noise that stepping adds (0.1 + 0.2).
    return repr(float(f"{value:.15g}"))


def format_value(spec: ParamSpec, value: ParamValue) -> str:
    """The text an editor shows for `value`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def parse_value(spec: ParamSpec, text: str) -> ParamValue:
    """The value `text` means for this param, validated; raises `ParamError` with a sentence."""
    stripped = text.strip()
    if not stripped and spec.nullable:
        return None
    if spec.kind == "int":
        try:
            value: object = int(stripped.replace(",", "").replace("_", ""))
        except ValueError:
            raise ParamError(f"{spec.name}: must be a whole number, e.g. 64") from None
    elif spec.kind == "float":
        try:
            value = float(stripped.replace("_", ""))
        except ValueError:
            raise ParamError(f"{spec.name}: must be a number, e.g. 0.1 or 1e-5") from None
    elif spec.kind == "int_tuple":
        value = parse_int_tuple(spec, stripped)
    elif spec.kind == "bool":
        lowered = stripped.lower()
        if lowered not in ("true", "false"):
            raise ParamError(f"{spec.name}: must be true or false")
        value = lowered == "true"
    else:
        value = text
    return spec.validate(value)


def parse_int_tuple(spec: ParamSpec, text: str) -> tuple[int, ...]:
    """``"3, 32, 32"`` (or ``3 32 32``, ``[3, 32, 32]``, ``3x32x32``) → ``(3, 32, 32)``."""
    inner = text.strip().strip("()[]").strip()
    parts = [p for p in _TUPLE_SEPARATORS.split(inner) if p]
    example = ", ".join(str(v) for v in spec.default) if isinstance(spec.default, tuple) else ""
    if not parts:
        raise ParamError(f"{spec.name}: write whole numbers separated by commas, e.g. {example}")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ParamError(
            f"{spec.name}: write whole numbers separated by commas, e.g. {example}"
        ) from None


def range_text(spec: ParamSpec) -> str:
    """The allowed values in a few words: ``1 – 1,000,000``, ``2 integers, each 1 – 4,096``."""
    low, high = spec.minimum, spec.maximum
    if spec.kind == "int" or spec.kind == "int_tuple":
        low_text = None if low is None else number_text(int(low))
        high_text = None if high is None else number_text(int(high))
    else:
        low_text = None if low is None else number_text(float(low))
        high_text = None if high is None else number_text(float(high))
    if low_text is not None and high_text is not None:
        bounds = f"{low_text} – {high_text}"
    elif low_text is not None:
        bounds = f"≥ {low_text}"
    elif high_text is not None:
        bounds = f"≤ {high_text}"
    else:
        bounds = ""
    if spec.kind == "int_tuple":
        if spec.length is not None:
            count = f"{spec.length} integers"
        elif spec.min_length == spec.max_length:
            count = f"{spec.min_length} integers"
        else:
            count = f"{spec.min_length} to {spec.max_length} integers"
        text = f"{count}, each {bounds}" if bounds else count
    elif spec.kind in ("int", "float"):
        text = bounds
    else:
        text = ""
    if spec.nullable and spec.kind in ("int", "float", "int_tuple", "str"):
        text = f"{text}; empty for none" if text else "empty for none"
    return text


def tooltip_for(spec: ParamSpec) -> str:
    allowed = range_text(spec)
    if spec.kind == "choice":
        allowed = "one of " + ", ".join(spec.choices)
    return f"{spec.help}\nAllowed: {allowed}" if allowed else spec.help


def _report_typed(editor: ParamEditor, number: float) -> None:
    """Say why a typed number is refused; typing the shown value again clears the message.

    A number the spec accepts and that differs from the value shown arrives through the spin
    box's `valueChanged` instead.
    """
    try:
        editor.spec.validate(number)
    except ParamError as exc:
        editor.rejected.emit(str(exc))
        return
    if number == editor.value():
        editor.edited.emit(editor.value())


# ----------------------------------------------------------------- spin boxes
class IntSpinBox(QSpinBox):
    def wheelEvent(self, event: QWheelEvent) -> None:
        # Scrolling the inspector must not change the value under the pointer by accident.
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class FloatSpinBox(QDoubleSpinBox):
    """A spin box that shows any float exactly as Python writes it (``1e-05``, ``0.1``).

    A range over several orders of magnitude (an epsilon from 1e-12 to 1) steps by factors of
    ten; a narrow one steps linearly by a tenth of its span's order of magnitude.
    """

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(323)  # no rounding: the value is what was typed
        low = -1e300 if spec.minimum is None else float(spec.minimum)
        high = 1e300 if spec.maximum is None else float(spec.maximum)
        self.setRange(low, high)
        self.logarithmic = low > 0 and high / low >= 1e3
        if not self.logarithmic:
            span = high - low if spec.minimum is not None and spec.maximum is not None else 1.0
            self.setSingleStep(10 ** math.floor(math.log10(span)) / 10)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()

    def textFromValue(self, value: float) -> str:
        return number_text(value)

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        stripped = text.strip()
        try:
            number = float(stripped.replace("_", ""))
        except ValueError:
            state = (
                QValidator.State.Intermediate
                if _PARTIAL_FLOAT.match(stripped)
                else QValidator.State.Invalid
            )
            return state, text, pos
        if not math.isfinite(number) or not _PARTIAL_FLOAT.match(stripped):
            return QValidator.State.Invalid, text, pos  # "nan", "inf"
        if self.minimum() <= number <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def fixup(self, text: str) -> str:
        return number_text(self.value())

    def stepBy(self, steps: int) -> None:
        if not self.logarithmic:
            super().stepBy(steps)
            value = float(f"{self.value():.12g}")
            if value != self.value():
                self.setValue(value)
            return
        value = float(f"{self.value() * 10.0**steps:.12g}")
        self.setValue(min(self.maximum(), max(self.minimum(), value)))
        self.selectAll()


# ----------------------------------------------------------------- editors
class ParamEditor(QWidget):
    """Base of the editors: one `ParamSpec`, one input widget, the signals described above."""

    edited = Signal(object)  # a value the spec accepts
    rejected = Signal(str)  # the spec's sentence for what was typed
    finished = Signal()  # the person left the field: one burst of typing is over

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._value: ParamValue = spec.default
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    @property
    def input(self) -> QWidget:
        """The widget that takes focus and keystrokes (tests drive it)."""
        raise NotImplementedError

    def _place(self, widget: QWidget) -> None:
        widget.setToolTip(tooltip_for(self.spec))
        self._layout.addWidget(widget)
        self.setFocusProxy(widget)

    def value(self) -> ParamValue:
        """The model value the field last showed or produced."""
        return self._value

    def set_value(self, value: ParamValue) -> None:
        """Show the model's value; emits nothing, and does nothing if already shown."""
        if value == self._value and type(value) is type(self._value):
            return
        self._value = value
        self._show(value)

    def text(self) -> str:
        """The field's text as shown (``true``/``false`` for a check box)."""
        raise NotImplementedError

    def set_read_only(self, read_only: bool) -> None:
        self.input.setEnabled(not read_only)

    def shows_value(self) -> bool:
        """Whether the field shows `value()` (a spin box puts it back when it loses focus)."""
        return True

    def _show(self, value: ParamValue) -> None:
        raise NotImplementedError

    def _emit(self, value: ParamValue) -> None:
        self._value = value
        self.edited.emit(value)


class IntEditor(ParamEditor):
    """A spin box with the spec's range; every keystroke that makes a number is an edit."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.spin = IntSpinBox()
        low = -INT_LIMIT if spec.minimum is None else max(-INT_LIMIT, int(spec.minimum))
        high = INT_LIMIT if spec.maximum is None else min(INT_LIMIT, int(spec.maximum))
        self.spin.setRange(low, high)
        self.spin.setKeyboardTracking(True)
        self.spin.setAccelerated(True)
        self.spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        if high - low >= 10_000:
            self.spin.setGroupSeparatorShown(True)
        self._place(self.spin)
        self._show(self._value)
        self.spin.valueChanged.connect(self._emit)
        self.spin.lineEdit().textEdited.connect(self._on_text_edited)
        self.spin.editingFinished.connect(self.finished)

    @property
    def input(self) -> QSpinBox:
        return self.spin

    def text(self) -> str:
        return self.spin.text()

    def _show(self, value: ParamValue) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(int(value) if isinstance(value, (int, float)) else 0)
        self.spin.blockSignals(False)

    def _on_text_edited(self, text: str) -> None:
        # Out of range, the spin box shows what was typed and says nothing: say why.
        try:
            number = int(text.replace(",", "").replace("_", "").strip())
        except ValueError:
            return
        _report_typed(self, number)


class FloatEditor(ParamEditor):
    """A `FloatSpinBox`: ``1e-05`` stays ``1e-05`` and can be typed as such."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.spin = FloatSpinBox(spec)
        self.spin.setKeyboardTracking(True)
        self.spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._place(self.spin)
        self._show(self._value)
        self.spin.valueChanged.connect(self._emit)
        self.spin.lineEdit().textEdited.connect(self._on_text_edited)
        self.spin.editingFinished.connect(self.finished)

    @property
    def input(self) -> FloatSpinBox:
        return self.spin

    def text(self) -> str:
        return self.spin.text()

    def _show(self, value: ParamValue) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(float(value) if isinstance(value, (int, float)) else 0.0)
        self.spin.blockSignals(False)

    def _emit(self, value: ParamValue) -> None:
        super()._emit(float(value) if isinstance(value, (int, float)) else value)

    def _on_text_edited(self, text: str) -> None:
        try:
            number = float(text.replace("_", "").strip())
        except ValueError:
            return
        _report_typed(self, number)


class BoolEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.check = QCheckBox()
        self._place(self.check)
        self._show(self._value)
        self.check.toggled.connect(self._on_toggled)

    @property
    def input(self) -> QCheckBox:
        return self.check

    def text(self) -> str:
        return "true" if self.check.isChecked() else "false"

    def _show(self, value: ParamValue) -> None:
        self.check.blockSignals(True)
        self.check.setChecked(bool(value))
        self.check.blockSignals(False)

    def _on_toggled(self, checked: bool) -> None:
        self._emit(checked)
        self.finished.emit()  # each click is a step of its own


class ChoiceEditor(ParamEditor):
    """A combo box of the spec's choices (``—`` first when the param may be unset)."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = QComboBox()
        self.combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._values: list[ParamValue] = []
        if spec.nullable:
            self._values.append(None)
            self.combo.addItem(NONE_TEXT)
        choices: tuple[ParamValue, ...] = (True, False) if spec.kind == "bool" else spec.choices
        for choice in choices:
            self._values.append(choice)
            self.combo.addItem(format_value(spec, choice))
        self._place(self.combo)
        self._show(self._value)
        self.combo.activated.connect(self._on_activated)

    @property
    def input(self) -> QComboBox:
        return self.combo

    def text(self) -> str:
        return self.combo.currentText()

    def _show(self, value: ParamValue) -> None:
        index = self._values.index(value) if value in self._values else -1
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)

    def _on_activated(self, index: int) -> None:
        if 0 <= index < len(self._values) and self._values[index] != self._value:
            self._emit(self._values[index])
        self.finished.emit()


class TextEditor(ParamEditor):
    """A line edit for tuples, text and unset-able numbers, checked as the person types.

    A tuple is written ``3, 32, 32``; any length the spec allows is fine, so adding or
    removing a number is adding or removing it in the text. Text params are committed when
    the field is left (each keystroke would be a different name); the others as you type.
    """

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.line = QLineEdit()
        if spec.nullable:
            self.line.setPlaceholderText("none")
        elif spec.kind == "int_tuple" and isinstance(spec.default, tuple):
            self.line.setPlaceholderText(format_value(spec, spec.default))
        self.live = spec.kind != "str"
        self._place(self.line)
        self._show(self._value)
        self.line.textEdited.connect(self._on_text_edited)
        self.line.editingFinished.connect(self._on_editing_finished)

    @property
    def input(self) -> QLineEdit:
        return self.line

    def text(self) -> str:
        return self.line.text()

    def _show(self, value: ParamValue) -> None:
        self.line.blockSignals(True)
        self.line.setText(format_value(self.spec, value))
        self.line.blockSignals(False)

    def _parse(self) -> ParamValue:
        return parse_value(self.spec, self.line.text())

    def shows_value(self) -> bool:
        try:
            return self._parse() == self._value
        except ParamError:
            return False

    def _on_text_edited(self, text: str) -> None:
        try:
            value = self._parse()
        except ParamError as exc:
            self.rejected.emit(str(exc))
            return
        if self.live and value != self._value:
            self._emit(value)
        elif self.live:
            self.edited.emit(value)  # back to the model's value: clears a message

    def _on_editing_finished(self) -> None:
        if not self.live:
            try:
                value = self._parse()
            except ParamError as exc:
                self.rejected.emit(str(exc))
                return
            if value != self._value:
                self._emit(value)
        self.finished.emit()


def make_editor(spec: ParamSpec, parent: QWidget | None = None) -> ParamEditor:
    """The editor that suits the param's kind."""
    if spec.kind == "bool" and not spec.nullable:
        return BoolEditor(spec, parent)
    if spec.kind in ("bool", "choice"):
        return ChoiceEditor(spec, parent)
    if spec.nullable or spec.kind in ("int_tuple", "str"):
        return TextEditor(spec, parent)
    if spec.kind == "int":
        return IntEditor(spec, parent)
    return FloatEditor(spec, parent)


# ----------------------------------------------------------------- a row of the form
class ParamField(QWidget):
    """An editor with the allowed range under it and, in red, why the last edit was refused."""

    def __init__(self, editor: ParamEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(editor)
        self.hint = QLabel(range_text(editor.spec))
        self.hint.setObjectName("hint")  # styled by the panel that holds the form
        self.hint.setVisible(bool(self.hint.text()))
        column.addWidget(self.hint)
        self.error = QLabel()
        self.error.setObjectName("error")  # styled by the panel that holds the form
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.hide()
        column.addWidget(self.error)
        self.setFocusProxy(editor)

    def show_error(self, message: str | None) -> None:
        """Show a refusal under the field, or clear it."""
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
        field = self.editor.input
        field.setProperty("invalid", bool(message))
        colour = theme.ERROR.name()
        if isinstance(field, QAbstractSpinBox):
            # A border in a spin box's style sheet would drop its arrows: colour the text.
            field.setStyleSheet(f"color: {colour};" if message else "")
        else:
            field.setStyleSheet(f"border: 1px solid {colour};" if message else "")

    @property
    def error_text(self) -> str | None:
        return self.error.text() if self.error.isVisibleTo(self) else None
