"""The Explain tab in a real window: explain a trained run's samples, see the bars or the
heatmap with their sanity checks, global importance with cancel, and conductance on the canvas."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from studio.core.commands import SetParamCommand
from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.explain import explain
from studio.explain.methods import get_method
from studio.plugins import default_registry
from studio.training.session import run_training
from studio.ui.explain_tab import ExplainTab, LoadedRun, MethodResult, ResultPanel
from studio.ui.main_window import MainWindow

TIMEOUT_MS = 120_000


def _trained(folder: Path, name: str, epochs: int) -> Path:
    path = folder / f"{name}.strata"
    shutil.copy(examples_dir() / f"{name}.strata", path)
    project = Project.load(path, default_registry())
    run_training(project, epochs=epochs, device="cpu", progress=io.StringIO())
    return path


@pytest.fixture(scope="module")
def iris_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _trained(tmp_path_factory.mktemp("iris"), "mlp_classifier", epochs=3)


@pytest.fixture(scope="module")
def digits_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _trained(tmp_path_factory.mktemp("digits"), "cnn_classifier", epochs=1)


def open_explain(qtbot, window: MainWindow, path: Path) -> ExplainTab:
    with qtbot.waitSignal(window.project_opened, timeout=TIMEOUT_MS):
        window.open_project(path)
    window.show_explain_tab()
    tab = window.explain_tab
    assert tab.isVisible()
    qtbot.waitUntil(lambda: tab.loaded is not None or tab.error is not None, timeout=TIMEOUT_MS)
    assert tab.error is None, tab.error
    return tab


def run_explain(qtbot, tab: ExplainTab, methods: list[str]) -> None:
    tab.set_methods(methods)
    qtbot.mouseClick(tab.explain_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy and len(tab.results) == len(methods), timeout=TIMEOUT_MS)


def test_a_table_row_gets_signed_bars_and_sanity_figures(
    qtbot, main_window: MainWindow, iris_project: Path
) -> None:
    tabs = main_window.central_tabs
    assert "Explain" in [tabs.tabText(i) for i in range(tabs.count())]
    tab = open_explain(qtbot, main_window, iris_project)
    assert tab.run_combo.count() == 1
    assert tab.sample_list.count() > 0 and tab.selected_indices() == [0]
    # Tables have no neighbourhood to blur, and Grad-CAM needs an image.
    methods = {
        tab.method_list.item(r).data(Qt.ItemDataRole.UserRole): tab.method_list.item(r)
        for r in range(tab.method_list.count())
    }
    assert not methods["LayerGradCam"].flags() & Qt.ItemFlag.ItemIsEnabled
    run_explain(qtbot, tab, ["Saliency", "IntegratedGradients"])
    assert tab.error is None
    saliency, ig = tab.results
    assert [p.result.method.name for p in tab.results] == ["Saliency", "IntegratedGradients"]
    for panel in (saliency, ig):
        assert len(panel.bars) == 1 and panel.bars[0].bar_count == 4  # one bar per feature
        assert "Randomised weights: ρ" in panel.checks.text()
    assert (saliency.bars[0].values >= 0).all()  # saliency is a magnitude
    assert (ig.bars[0].values < 0).any() or (ig.bars[0].values > 0).any()
    assert "Convergence δ" in ig.checks.text()
    assert "Convergence" not in saliency.checks.text()
    assert saliency.bars[0].names == tab.loaded.feature_names
    # Save values…: one file per method, the arrays exactly as explained.
    assert tab.save_button.isEnabled()
    written = tab.save_values(iris_project.parent / "attr.csv")
    assert [p.name for p in written] == ["attr-Saliency.csv", "attr-IntegratedGradients.csv"]
    rows = np.loadtxt(written[1], delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_allclose(rows, ig.result.attribution.values.reshape(len(rows), -1), rtol=1e-6)
    # The Evaluation tab's entry point: these test samples of that run, explained at once.
    tab.set_methods(["Saliency"])
    tab.explain_samples(tab.loaded.run_id, [5, 7])
    qtbot.waitUntil(lambda: not tab.busy and len(tab.results) == 1, timeout=TIMEOUT_MS)
    assert tab.selected_indices() == [5, 7]
    assert len(tab.results[0].bars) == 2


def test_global_importance_runs_and_can_be_cancelled(
    qtbot, main_window: MainWindow, iris_project: Path
) -> None:
    tab = open_explain(qtbot, main_window, iris_project)
    assert tab.global_button.isVisible() and tab.global_button.isEnabled()
    tab.set_methods(["Saliency"])
    with qtbot.waitSignal(tab.importance_changed, timeout=TIMEOUT_MS):
        qtbot.mouseClick(tab.global_button, Qt.MouseButton.LeftButton)
    assert tab.importance is not None and not tab.importance.cancelled
    assert tab.importance.samples == len(tab.loaded.data.validation)
    assert tab.global_bars is not None and tab.global_bars.bar_count == 4
    assert (tab.global_bars.values >= 0).all()
    # Started and cancelled at once: nothing more arrives, the bars are gone, it can restart.
    tab.compute_global_importance()
    assert tab.importance_running and tab.global_cancel.isEnabled()
    qtbot.mouseClick(tab.global_cancel, Qt.MouseButton.LeftButton)
    assert not tab.importance_running and tab.importance is None
    assert "cancelled" in tab.global_label.text()
    qtbot.waitUntil(lambda: main_window.tasks.pending == 0, timeout=TIMEOUT_MS)
    assert tab.global_button.isEnabled()


def test_a_bad_csv_row_is_refused_in_words(
    qtbot, main_window: MainWindow, iris_project: Path, tmp_path: Path
) -> None:
    tab = open_explain(qtbot, main_window, iris_project)
    bad = tmp_path / "row.csv"
    bad.write_text("5.1,3.5,oops,0.2\n", encoding="utf-8")
    tab.load_file(bad)
    qtbot.waitUntil(lambda: tab.file_error.isVisible(), timeout=TIMEOUT_MS)
    assert "'oops'" in tab.file_error.text() and "not a number" in tab.file_error.text()
    good = tmp_path / "good.csv"
    good.write_text("5.1,3.5,1.4,0.2\n", encoding="utf-8")
    tab.load_file(good)
    qtbot.waitUntil(lambda: tab.selected_indices() == [-1], timeout=TIMEOUT_MS)
    assert not tab.file_error.isVisible()
    run_explain(qtbot, tab, ["Saliency"])
    assert tab.results[0].bars[0].bar_count == 4


def test_an_image_gets_a_heatmap_and_conductance_tints_the_canvas(
    qtbot, main_window: MainWindow, digits_project: Path
) -> None:
    tab = open_explain(qtbot, main_window, digits_project)
    assert tab.layer == "conv2"  # Grad-CAM's default: the last convolution
    run_explain(qtbot, tab, ["Saliency", "LayerGradCam"])
    assert tab.error is None
    heatmap = tab.results[0].heatmaps[0]
    before = heatmap.rendered.copy()
    tab.opacity_slider.setValue(10)
    assert heatmap.opacity == pytest.approx(0.1)
    assert not np.array_equal(before, heatmap.rendered)
    assert tab.results[1].heatmaps and "Randomised weights" in tab.results[1].checks.text()

    # Choose a layer by clicking its node on the graph map, then explain its conductance.
    scene = main_window.current.scene
    conv1 = scene.graph.node_by_name("conv1")
    item = scene.nodes[conv1.id]
    tab.map_view.fit()
    point = tab.map_view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseClick(tab.map_view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(point))
    assert tab.layer == "conv1"
    assert "conv1" in tab.layer_label.text()
    run_explain(qtbot, tab, ["LayerConductance"])
    heat = scene.node_heat()
    names = {scene.graph.node(node_id).name for node_id in heat}
    assert names == {"conv1", "conv2", "classifier"}
    assert all(value > 0 for value in heat.values())
    assert "conductance" in item.toolTip()
    # Editing the graph clears the tint, and so does leaving the tab.
    run_explain(qtbot, tab, ["LayerConductance"])
    assert scene.node_heat()
    main_window.push(SetParamCommand(scene.graph, conv1.id, "out_channels", 8))
    assert scene.node_heat() == {}
    run_explain(qtbot, tab, ["LayerConductance"])
    assert scene.node_heat()
    main_window.show_graph_tab()
    assert scene.node_heat() == {}


def _panel(qtbot, model: Any, inputs: Any, kinds: tuple[str, ...], **fields: Any) -> ResultPanel:
    """A result panel for `model` explained by IG, drawn once (as the tab would show it)."""
    attribution = explain(model, inputs, method="IntegratedGradients", n_steps=16)
    loaded = LoadedRun(
        run_id="run",
        model=model,
        data=None,  # type: ignore[arg-type]  # a panel draws arrays; it reads no data
        kinds=kinds,  # type: ignore[arg-type]
        shapes=(),
        class_names=["a", "b", "c"],
        feature_names=[],
        vocabulary=fields.get("vocabulary"),
        layers=[],
        heat_layers=[],
        default_layer=None,
        value_ranges=[],
        previews=[],
    )
    result = MethodResult(get_method("IntegratedGradients"), attribution, None, None)
    panel = ResultPanel(result, loaded, ["test #0"])
    qtbot.addWidget(panel)
    panel.resize(400, 600)
    assert not panel.grab().isNull()
    return panel


def test_a_model_with_two_inputs_gets_one_view_per_input(qtbot) -> None:
    from studio.compile.compiler import compile_graph
    from tests.explain.test_several_inputs import _two_input_graph

    torch.manual_seed(0)
    model = compile_graph(_two_input_graph(default_registry())).eval()
    inputs = (torch.randn(1, 1, 8, 8), torch.randn(1, 3))
    panel = _panel(qtbot, model, inputs, ("image", "table"))
    assert len(panel.heatmaps) == 1 and len(panel.bars) == 1
    assert panel.bars[0].bar_count == 3


def test_series_are_coloured_and_tokens_highlighted(qtbot) -> None:
    torch.manual_seed(0)
    series_model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(24, 3)).eval()
    panel = _panel(qtbot, series_model, torch.randn(1, 12, 2), ("sequence",))
    assert len(panel.series) == 1 and panel.series[0].values.shape == (12, 2)
    text_model = torch.nn.Sequential(
        torch.nn.Embedding(5, 4), torch.nn.Flatten(), torch.nn.Linear(12, 3)
    ).eval()
    words = ["<pad>", "good", "bad", "film", "plot"]
    panel = _panel(qtbot, text_model, torch.tensor([[1, 3, 2]]), ("text",), vocabulary=words)
    (label,) = panel.tokens
    assert all(f"&nbsp;{word}&nbsp;" in label.text() for word in ("good", "film", "bad"))
    assert label.text().count("background-color") == 3
