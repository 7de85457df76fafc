"""The training settings form in a real window: edits are undoable, saved, and always valid."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt

from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import examples_dir
from studio.ui.main_window import MainWindow
from studio.ui.training_form import TASK_LOSSES, RateSpinBox, TrainingForm


def open_iris(qtbot, window: MainWindow, folder: Path) -> Project:
    """A saved copy of the iris MLP (lr 0.01, Adam, 60 epochs), opened in the window."""
    path = folder / "iris.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", path)
    with qtbot.waitSignal(window.project_opened, timeout=30_000) as blocker:
        window.open_project(path)
    project = blocker.args[0]
    assert isinstance(project, Project)
    return project


def choose(combo, value: object) -> None:
    index = combo.findData(value)
    assert index >= 0, value
    combo.setCurrentIndex(index)


def test_lr_and_optimizer_edits_undo_and_round_trip(
    qtbot, main_window: MainWindow, tmp_path: Path, registry: LayerRegistry
) -> None:
    project = open_iris(qtbot, main_window, tmp_path)
    form = main_window.training_form
    assert isinstance(form, TrainingForm)
    assert form.lr_spin.value() == 0.01 and form.epochs_spin.value() == 60
    assert form.optimizer_combo.currentData() == "adam"
    assert not main_window.modified

    form.lr_spin.setValue(0.003)
    assert project.training.learning_rate == 0.003
    assert main_window.modified
    form.optimizer_combo.setCurrentIndex(form.optimizer_combo.findData("sgd"))
    assert project.training.optimizer.name == "sgd"
    assert main_window.undo_stack.undoText() == "Set optimizer"

    main_window.undo_stack.undo()
    assert project.training.optimizer.name == "adam"
    assert form.optimizer_combo.currentData() == "adam"  # the form shows what undo restored
    main_window.undo_stack.undo()
    assert project.training.learning_rate == 0.01
    assert form.lr_spin.value() == 0.01
    assert not main_window.modified  # back where the file was
    main_window.undo_stack.redo()
    main_window.undo_stack.redo()
    assert project.training.optimizer.name == "sgd"
    assert form.optimizer_combo.currentData() == "sgd"

    assert main_window.save_project()
    reloaded = Project.load(project.path, registry)  # type: ignore[arg-type]
    assert reloaded.training == project.training
    assert reloaded.training.learning_rate == 0.003
    assert reloaded.training.optimizer.name == "sgd"


def test_compile_is_a_setting_with_undo(qtbot, main_window: MainWindow, tmp_path: Path):
    project = open_iris(qtbot, main_window, tmp_path)
    form = main_window.training_form
    assert not form.compile_check.isChecked() and not project.training.compile
    form.compile_check.setChecked(True)
    assert project.training.compile
    assert main_window.undo_stack.undoText() == "Compile the model"
    main_window.undo_stack.undo()
    assert not project.training.compile and not form.compile_check.isChecked()


def test_steps_in_one_field_are_one_undo_step(qtbot, main_window: MainWindow, tmp_path: Path):
    project = open_iris(qtbot, main_window, tmp_path)
    form = main_window.training_form
    stack = main_window.undo_stack
    for _ in range(3):
        form.lr_spin.stepBy(1)  # 0.01 → 0.02 → 0.05 → 0.1
    assert project.training.learning_rate == 0.1
    assert stack.count() == 1
    form.lr_spin.editingFinished.emit()  # the field is left: the next step is a new one
    form.lr_spin.stepBy(-1)
    assert project.training.learning_rate == 0.05
    assert stack.count() == 2
    form.epochs_spin.setValue(5)
    form.epochs_spin.setValue(7)
    assert stack.count() == 3  # another field, another step
    stack.undo()
    assert project.training.epochs == 60
    stack.undo()
    stack.undo()
    assert project.training.learning_rate == 0.01


def test_invalid_values_cannot_be_entered(qtbot, main_window: MainWindow, tmp_path: Path):
    project = open_iris(qtbot, main_window, tmp_path)
    form = main_window.training_form
    form.lr_spin.setValue(0.0)  # the spin box's floor, not zero: the model needs lr > 0
    assert project.training.learning_rate == form.lr_spin.minimum() > 0
    form.lr_spin.setValue(1000.0)
    assert project.training.learning_rate == 10.0
    spin = RateSpinBox(1e-7, 10.0)
    assert spin.validate("abc", 0)[0].name == "Invalid"
    assert spin.validate("1e-", 3)[0].name == "Intermediate"
    assert spin.validate("0.001", 5)[0].name == "Acceptable"
    spin.deleteLater()
    # Only the losses that suit the task are offered, and they follow the task.
    losses = [form.loss_combo.itemData(i) for i in range(form.loss_combo.count())]
    assert losses == list(TASK_LOSSES["classification"])
    choose(form.task_combo, "regression")
    assert project.training.task == "regression"
    losses = [form.loss_combo.itemData(i) for i in range(form.loss_combo.count())]
    assert "huber" in losses and "cross_entropy" not in losses
    assert not form.metric_checks["accuracy"].isVisibleTo(form)
    assert form.metric_checks["mae"].isVisibleTo(form)
    main_window.undo_stack.undo()
    assert project.training.task == "classification"
    # Unchecking every metric would leave the run reporting none: refused, shown inline.
    checked = [n for n, c in form.metric_checks.items() if c.isChecked()]
    assert checked == ["accuracy", "f1"]  # the task's defaults, as the file names none
    form.metric_checks["precision"].setChecked(True)
    assert project.training.metrics == ["accuracy", "f1", "precision"]
    for name in ("accuracy", "f1", "precision"):
        form.metric_checks[name].setChecked(False)
    assert project.training.metrics == ["precision"]
    assert form.error is not None and "at least one metric" in form.error
    assert form.metric_checks["precision"].isChecked()


def test_frozen_layers_sgd_fields_and_stopping_metric(
    qtbot, main_window: MainWindow, tmp_path: Path
):
    project = open_iris(qtbot, main_window, tmp_path)
    form = main_window.training_form
    names = [form.frozen_list.item(i).text() for i in range(form.frozen_list.count())]
    assert names == ["hidden1", "relu1", "dropout", "hidden2", "relu2", "classifier"]
    form.frozen_list.item(0).setCheckState(Qt.CheckState.Checked)
    assert project.training.frozen == ["hidden1"]
    assert not form.optimization_form.isRowVisible(form.momentum_spin)
    choose(form.optimizer_combo, "sgd")
    assert form.optimization_form.isRowVisible(form.momentum_spin)
    form.momentum_spin.setValue(0.5)
    form.nesterov_check.setChecked(True)
    assert project.training.optimizer.momentum == 0.5 and project.training.optimizer.nesterov
    stop = [form.stop_metric_combo.itemData(i) for i in range(form.stop_metric_combo.count())]
    assert stop == ["auto", "accuracy", "f1"]
    choose(form.stop_metric_combo, "accuracy")
    form.stop_patience_spin.setValue(4)
    assert project.training.early_stopping.metric == "accuracy"
    assert project.training.early_stopping.patience == 4
    choose(form.scheduler_combo, "step")
    assert form.schedule_form.isRowVisible(form.step_size_spin)
    assert not form.schedule_form.isRowVisible(form.scheduler_patience_spin)
    choose(form.device_combo, "cpu")
    choose(form.precision_combo, "bf16")
    assert (project.training.device, project.training.precision) == ("cpu", "bf16")
    # A node added to the graph can be frozen too.
    graph = project.main_graph
    graph.add_node("studio.ReLU", name="extra_relu")
    qtbot.waitUntil(lambda: form.frozen_list.count() == 7)
    assert form.frozen_list.item(6).text() == "extra_relu"


def test_the_memory_forecast_follows_the_settings(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    """Before a run: the forecast peak memory at the batch size, and the largest batch that
    fits the device, computed in a worker as settings change."""
    project = open_iris(qtbot, main_window, tmp_path)
    main_window.show_training_tab()
    form = main_window.training_form
    # The first forecast asks the window for the devices' memory (the doctor, in a worker).
    qtbot.waitUntil(lambda: "largest batch that fits the CPU" in form.forecast_text, timeout=60_000)
    assert form.forecast_text.startswith("About ")
    assert f"at batch {project.training.batch_size}" in form.forecast_text
    assert form.memory_label.text() == form.forecast_text
    form.batch_spin.setValue(256)
    qtbot.waitUntil(lambda: "at batch 256" in form.forecast_text, timeout=60_000)


def test_all_gpus_is_offered_only_with_gpus_and_runs_one_process_each(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    open_iris(qtbot, main_window, tmp_path)
    main_window.show_training_tab()
    form = main_window.training_form
    dashboard = main_window.training_tab.dashboard
    form.set_devices({"cpu": 16 * 2**30}, 0)
    assert not form.all_gpus_check.isEnabled()
    assert form.processes_per_node is None and dashboard.processes_per_node() is None
    # What the device doctor reports on a machine with two 24 GiB GPUs.
    form.set_devices({"cuda": 24 * 2**30, "cpu": 64 * 2**30}, 2)
    assert form.all_gpus_check.isEnabled()
    assert "2 GPUs" in form.all_gpus_check.toolTip()
    form.all_gpus_check.setChecked(True)
    assert form.processes_per_node == 2
    assert dashboard.processes_per_node() == 2  # `studio train ... --nproc-per-node 2`
    # The GPUs gone (another machine): the choice cannot stay on.
    form.set_devices({"cpu": 16 * 2**30}, 0)
    assert not form.all_gpus_check.isChecked() and dashboard.processes_per_node() is None


def test_help_device_shows_the_doctors_report(qtbot, main_window: MainWindow) -> None:
    from PySide6.QtWidgets import QPlainTextEdit

    dialog = main_window.show_device_dialog()
    text = dialog.findChild(QPlainTextEdit, "device_report")
    assert text is not None
    qtbot.waitUntil(lambda: text.toPlainText().startswith("Training device:"), timeout=60_000)
    report = text.toPlainText()
    assert "torch" in report and "CUDA build" in report and "CPU threads" in report
    if main_window.device_report is not None and not main_window.device_report.facts.gpus:
        assert "why:" in report  # no GPU here: the report says why in words
    dialog.close()


def test_trainable_in_the_inspector_freezes_a_layer_with_undo(
    qtbot, main_window: MainWindow, tmp_path: Path, wait_for_analysis
) -> None:
    """Transfer learning from the canvas: untick "Trainable" on a layer with weights."""
    project = open_iris(qtbot, main_window, tmp_path)
    wait_for_analysis(main_window)
    page = main_window.current
    inspector = main_window.inspector
    check = inspector.trainable_check
    relu = project.main_graph.node_by_name("relu1")
    page.scene.select_node(relu.id)
    assert not check.isVisibleTo(inspector)  # no weights to freeze
    hidden = project.main_graph.node_by_name("hidden1")
    page.scene.select_node(hidden.id)
    assert check.isVisibleTo(inspector) and check.isChecked()

    check.setChecked(False)
    assert project.training.frozen == ["hidden1"]
    assert main_window.undo_stack.undoText() == "Freeze hidden1"
    frozen_items = main_window.training_form.frozen_list
    ticked = [
        frozen_items.item(i).text()
        for i in range(frozen_items.count())
        if frozen_items.item(i).checkState() == Qt.CheckState.Checked
    ]
    assert ticked == ["hidden1"]  # the Training tab's list agrees
    main_window.undo_stack.undo()
    assert project.training.frozen == [] and check.isChecked()
    main_window.undo_stack.redo()
    assert project.training.frozen == ["hidden1"] and not check.isChecked()
