"""File ▸ Import…: a module class from a user's file, imported with its weights, in a worker."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from studio.training.runs import runs_folder
from studio.ui.import_dialog import (
    ImportDialog,
    find_module_classes,
    parse_args_text,
    parse_shapes_text,
)
from studio.ui.main_window import MainWindow

IMPORT_TIMEOUT_MS = 180_000
READ_TIMEOUT_MS = 30_000

LENET = textwrap.dedent(
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    open({marker!r}, "w").close()  # proves whether the file ran


    class Settings:
        channels = 6


    class ConvBlock(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 5)

        def forward(self, x):
            return F.max_pool2d(torch.relu(self.conv(x)), 2)


    class LeNet(nn.Module):
        example_input_shape = (2, 1, 32, 32)

        def __init__(self, num_classes: int = 10) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, Settings.channels, 5)
            self.conv2 = nn.Conv2d(Settings.channels, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 64)
            self.fc2 = nn.Linear(64, num_classes)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = torch.flatten(x, 1)
            return self.fc2(F.relu(self.fc1(x)))
    """
)
# Conv2d, ReLU, MaxPool2d (×2), Flatten, Linear, ReLU, Linear
LENET_LAYERS = 10

BRANCHY = textwrap.dedent(
    """
    from torch import nn


    class Branchy(nn.Module):
        input_shape = (2, 8)

        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            if x.sum() > 0:
                return self.fc(x)
            return -self.fc(x)
    """
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def open_dialog(window: MainWindow) -> ImportDialog:
    window.import_action.trigger()
    dialog = window.import_dialog
    assert isinstance(dialog, ImportDialog) and dialog.isVisible()
    return dialog


def read(qtbot, dialog: ImportDialog, path: Path) -> None:
    dialog.set_source(path)
    qtbot.waitUntil(lambda: dialog.read_task is None, timeout=READ_TIMEOUT_MS)


def test_import_sits_next_to_export_in_the_file_menu(main_window: MainWindow) -> None:
    menu = main_window._menu_holding(main_window.quit_action)
    assert menu is not None
    actions = menu.actions()
    position = actions.index(main_window.import_action)
    assert actions[position + 1] is main_window.export_action
    assert main_window.import_action.shortcut().toString() == "Ctrl+Shift+I"
    assert main_window.import_action.isEnabled()  # no project needed


def test_module_classes_are_found_without_running_the_file() -> None:
    text = textwrap.dedent(
        """
        import torch
        from torch.nn import Module

        class Base(torch.nn.Module):
            input_shape = [(1, 4), (1, 2)]

        class Child(Base):
            def __init__(self, width: int = 3, *, scale=0.5, name="x", act=None, f=len):
                super().__init__()

        class Plain:
            example_input_shape = (1, 2)

        class Seq(nn.Sequential):
            example_input_shape = (1, "a")

        class Bare(Module):
            def __init__(self, size):
                super().__init__()

        def helper():
            class Hidden(torch.nn.Module):
                pass
        """
    )
    found = {c.name: c for c in find_module_classes(text)}
    assert list(found) == ["Base", "Child", "Seq", "Bare"]
    assert found["Child"].input_shapes == ((1, 4), (1, 2))  # inherited from Base
    assert found["Seq"].input_shapes == ()  # not a literal shape
    assert (
        found["Child"].args_hint() == '{"width": 3, "scale": 0.5, "name": "x", "act": null, "f": …}'
    )
    assert found["Bare"].args_hint() == '{"size": …}'
    with pytest.raises(SyntaxError):
        find_module_classes("class Broken(nn.Module)\n")


def test_fields_are_parsed_with_readable_refusals() -> None:
    assert parse_args_text("") == ({}, "")
    assert parse_args_text('{"num_classes": 3}') == ({"num_classes": 3}, "")
    assert parse_args_text('{"num_classes": 3')[1].startswith("Not valid JSON")
    assert "JSON object" in parse_args_text("[3]")[1]
    assert parse_shapes_text("1,3,32,32; 1x10") == (((1, 3, 32, 32), (1, 10)), "")
    assert parse_shapes_text("  ") == ((), "")
    shapes, problem = parse_shapes_text("1,3; 1,zero")
    assert shapes is None and problem.startswith("Input 2 (1,zero)")
    assert parse_shapes_text("0,3")[0] is None


def test_a_module_is_imported_in_a_worker_and_opened(
    qtbot, main_window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran.txt"
    source = write(tmp_path, "lenet.py", LENET.format(marker=str(marker)))
    dialog = open_dialog(main_window)
    read(qtbot, dialog, source)
    assert not marker.exists(), "listing the classes ran the user's file"
    assert dialog.class_names() == ["ConvBlock", "LeNet"]  # Settings is no module
    chosen = dialog.chosen_class()
    assert chosen is not None and chosen.name == "LeNet"
    assert dialog.trust_label.isVisible()
    assert dialog.shapes_edit.text() == "2,1,32,32"  # from example_input_shape
    assert dialog.out_edit.text() == str(tmp_path / "lenet.strata")
    dialog.args_edit.setText('{"num_classes": 3}')
    qtbot.waitUntil(lambda: dialog.dataset_combo.findData("shapes") >= 0, timeout=READ_TIMEOUT_MS)
    dialog.choose_dataset("shapes")

    task = dialog.start_import()
    assert task is not None
    assert dialog.busy and not dialog.import_button.isEnabled()  # returned at once
    assert dialog.progress_bar.isVisible()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=IMPORT_TIMEOUT_MS)

    assert dialog.failure is None, dialog.message_label.text()
    result = dialog.imported
    assert result is not None and dialog.result_box.isVisible()
    assert result.layers == LENET_LAYERS
    assert result.max_abs_diff <= 1e-4
    assert marker.exists()  # the import itself runs the file, as the dialog says
    (run,) = runs_folder(result.out).iterdir()
    assert run == result.run_path and run.name.endswith("-imported")
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    assert str(run) in dialog.result_labels["weights"].text()
    assert f"{LENET_LAYERS} layers" in dialog.result_labels["layers"].text()

    # With unsaved changes in the window, opening asks first; Cancel keeps both as they are.
    with qtbot.waitSignal(main_window.project_opened, timeout=READ_TIMEOUT_MS):
        main_window.open_project(result.out)
    main_window.set_modified(True)
    asked: list[str] = []

    def answer(button: QMessageBox.StandardButton) -> object:
        def ask(_parent: object, title: str, *_args: object) -> QMessageBox.StandardButton:
            asked.append(title)
            return button

        return ask

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    assert dialog.open_button.isEnabled()
    assert not dialog.open_imported()
    assert asked == ["Unsaved changes"] and dialog.isVisible() and main_window.modified
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Discard))
    with qtbot.waitSignal(main_window.project_opened, timeout=READ_TIMEOUT_MS):
        assert dialog.open_imported()
    assert len(asked) == 2 and not main_window.modified
    assert not dialog.isVisible()
    project = main_window.project
    assert project is not None and project.path == result.out
    assert project.data.dataset == "shapes"
    assert project.training.task == "classification"
    page = main_window.current
    assert page is not None
    layers = [n for n in page.graph.nodes if n.type_id not in ("studio.Input", "studio.Output")]
    assert len(layers) == LENET_LAYERS
    qtbot.waitUntil(lambda: len(page.scene.nodes) == LENET_LAYERS + 2, timeout=READ_TIMEOUT_MS)


def test_unmapped_constructs_are_listed_and_nothing_is_written(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    source = write(tmp_path, "branchy.py", BRANCHY)
    dialog = open_dialog(main_window)
    read(qtbot, dialog, source)
    assert dialog.class_names() == ["Branchy"]
    assert dialog.shapes_edit.text() == "2,8"  # from input_shape
    out = tmp_path / "branchy.strata"

    assert dialog.start_import() is not None
    qtbot.waitUntil(lambda: not dialog.busy, timeout=IMPORT_TIMEOUT_MS)

    assert dialog.imported is None and not dialog.open_button.isEnabled()
    assert dialog.constructs_box.isVisible()
    ((name, kind, where, why),) = dialog.unmapped()
    assert kind == "data-dependent control flow"
    assert "branchy.py:" in where
    assert "if x.sum() > 0:" in why
    assert "nothing was written" in dialog.constructs_label.text()
    assert name
    assert not out.exists() and not runs_folder(out).exists()
    dialog.close()


NOISY = textwrap.dedent(
    """
    import torch
    from torch import nn


    class Noisy(nn.Module):
        input_shape = (2, 8)

        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            return torch.relu(self.fc(x) + torch.rand_like(self.fc(x)))
    """
)


def test_what_mapped_of_a_refused_model_opens_unsaved(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    source = write(tmp_path, "noisy.py", NOISY)
    dialog = open_dialog(main_window)
    read(qtbot, dialog, source)
    out = tmp_path / "noisy.strata"
    assert dialog.start_import() is not None
    qtbot.waitUntil(lambda: not dialog.busy, timeout=IMPORT_TIMEOUT_MS)
    assert dialog.constructs_box.isVisible() and dialog.partial_button.isVisible()
    assert "open what did map" in dialog.constructs_label.text()
    qtbot.mouseClick(dialog.partial_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    project = main_window.project
    assert project is not None and project.path is None and main_window.modified
    names = {node.name: node.type_id for node in project.main_graph.nodes}
    assert names["rand_like_stand_in"] == "studio.Input"
    assert "studio.Linear" in names.values() and "studio.ReLU" in names.values()
    assert not out.exists() and not runs_folder(out).exists()


def test_bad_inputs_are_refused_inline(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    dialog = open_dialog(main_window)
    assert dialog.start_import() is None
    assert dialog.source_error.isVisible()

    dialog.set_source(tmp_path / "missing.py")
    assert "no such file" in dialog.source_error.text()
    assert dialog.start_import() is None

    if hasattr(os, "mkfifo"):  # a FIFO would block the reading worker forever
        os.mkfifo(tmp_path / "pipe.py")
        dialog.set_source(tmp_path / "pipe.py")
        assert "not a regular file" in dialog.source_error.text()
        assert dialog.start_import() is None

    broken = write(tmp_path, "broken.py", "from torch import nn\nclass Net(nn.Module)\n    pass\n")
    read(qtbot, dialog, broken)
    assert (
        "not valid Python" in dialog.source_error.text() and "line 2" in dialog.source_error.text()
    )
    assert dialog.class_names() == [] and dialog.start_import() is None

    source = write(tmp_path, "branchy.py", BRANCHY)
    read(qtbot, dialog, source)
    assert not dialog.source_error.isVisible()

    dialog.args_edit.setText('{"width": 3,')
    assert dialog.args_error.isVisible() and "Not valid JSON" in dialog.args_error.text()
    assert dialog.start_import() is None and not dialog.busy
    dialog.args_edit.setText("{}")
    assert not dialog.args_error.isVisible()

    dialog.shapes_edit.setText("2,eight")
    assert "positive whole sizes" in dialog.shapes_error.text()
    assert dialog.start_import() is None
    dialog.shapes_edit.setText("2,8")

    existing = write(tmp_path, "taken.strata", "{}")
    dialog.set_output(existing)
    assert dialog.overwrite_box.isVisible()
    assert "already exists" in dialog.out_error.text()
    assert dialog.start_import() is None
    dialog.overwrite_box.setChecked(True)
    assert not dialog.out_error.isVisible()
    dialog.set_output(tmp_path / "no-such-folder" / "x.strata")
    assert "does not exist" in dialog.out_error.text()
    assert dialog.start_import() is None

    assert existing.read_text() == "{}" and not dialog.busy
    dialog.close()


def test_closing_during_an_import_writes_nothing(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    source = write(tmp_path, "lenet.py", LENET.format(marker=str(tmp_path / "ran.txt")))
    dialog = open_dialog(main_window)
    read(qtbot, dialog, source)
    assert dialog.start_import() is not None
    dialog.close()  # the worker stops before it writes; its late results are dropped
    qtbot.waitUntil(lambda: main_window.tasks.pending == 0, timeout=IMPORT_TIMEOUT_MS)
    out = tmp_path / "lenet.strata"
    assert not out.exists() and not runs_folder(out).exists()


def test_an_onnx_source_has_no_class_and_a_broken_one_is_reported(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    source = write(tmp_path, "model.onnx", "not a protobuf")
    dialog = open_dialog(main_window)
    dialog.set_source(source)
    assert not dialog.source_error.isVisible()
    assert not dialog.trust_label.isVisible()
    assert not dialog.class_combo.isEnabled() and not dialog.args_edit.isEnabled()
    assert dialog.out_edit.text() == str(tmp_path / "model.strata")

    assert dialog.start_import() is not None
    qtbot.waitUntil(lambda: not dialog.busy, timeout=IMPORT_TIMEOUT_MS)
    assert dialog.imported is None and dialog.message_label.isVisible()
    assert "not a valid ONNX model" in dialog.message_label.text()
    assert "Nothing was written" in dialog.message_label.text()
    assert not (tmp_path / "model.strata").exists()
    assert not dialog.class_combo.isEnabled()  # still an ONNX source after the import
    dialog.close()


def test_an_onnx_transformer_is_imported_as_its_blocks_and_opened(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    """The dialog's worker runs the same importer as `studio import`: attention spelled out
    in ONNX operators comes back as encoder blocks, and the project opens on the canvas."""
    import torch

    from tests.importers.onnx_models import export_onnx
    from tests.importers.source_models import TransformerClassifier

    torch.manual_seed(0)
    source = export_onnx(TransformerClassifier(), tmp_path / "transformer.onnx")
    dialog = open_dialog(main_window)
    dialog.set_source(source)
    assert dialog.start_import() is not None
    qtbot.waitUntil(lambda: not dialog.busy, timeout=IMPORT_TIMEOUT_MS)
    assert dialog.failure is None, dialog.message_label.text()
    result = dialog.imported
    assert result is not None and result.layers == 7 and result.max_abs_diff <= 1e-5
    with qtbot.waitSignal(main_window.project_opened, timeout=READ_TIMEOUT_MS):
        assert dialog.open_imported()
    page = main_window.current
    assert page is not None
    blocks = [n.name for n in page.graph.nodes if n.type_id == "studio.TransformerEncoderLayer"]
    assert blocks == ["layers_0", "layers_1", "block"]
    qtbot.waitUntil(lambda: len(page.scene.nodes) == 9, timeout=READ_TIMEOUT_MS)
