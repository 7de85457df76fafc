"""Headless pictures (Pillow) and attribution files (.npy / .csv)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.explain import ExplainError, explain
from studio.explain.render import (
    explanation_panels,
    heatmap_rgba,
    save_attributions,
    save_explanation_png,
)
from tests.explain.conftest import ModelCase


def test_heatmap_is_rgba_with_alpha_following_magnitude() -> None:
    values = np.array([[0.0, 1.0], [-1.0, 0.5]])
    heat = heatmap_rgba(values, opacity=1.0)
    assert heat.shape == (2, 2, 4) and heat.dtype == np.uint8
    assert heat[0, 0, 3] == 0 and heat[0, 1, 3] == 255
    assert heat[0, 1, 0] > heat[0, 1, 2]  # positive → red
    assert heat[1, 0, 2] > heat[1, 0, 0]  # negative → blue


def test_png_shows_input_heatmap_and_overlay(image_case: ModelCase, tmp_path) -> None:
    result = explain(image_case.model, image_case.inputs[:1], method="Saliency")
    panels = explanation_panels(result.inputs[0], result.values[0])
    assert panels.shape == (32, 3 * 32 + 4, 3)
    path = save_explanation_png(tmp_path / "saliency.png", result.inputs[0], result.values[0])
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        assert picture.height >= 192 and picture.width == picture.height // 32 * (3 * 32 + 4)


def test_attributions_round_trip_through_npy_and_csv(table_case: ModelCase, tmp_path) -> None:
    result = explain(table_case.model, table_case.inputs, method="IntegratedGradients")
    np.testing.assert_array_equal(
        np.load(save_attributions(tmp_path / "a.npy", result.values)), result.values
    )
    rows = np.loadtxt(
        save_attributions(tmp_path / "a.csv", result.values), delimiter=",", skiprows=1
    )
    np.testing.assert_allclose(rows, result.values, rtol=1e-6)


def test_unknown_file_type_is_refused(tmp_path) -> None:
    with pytest.raises(ExplainError, match=r"\.npy or \.csv"):
        save_attributions(tmp_path / "a.json", np.zeros((2, 2)))


def _colours(picture: Image.Image) -> set[tuple[int, ...]]:
    pixels = np.asarray(picture.convert("RGB")).reshape(-1, 3)
    return {tuple(int(v) for v in p) for p in np.unique(pixels, axis=0)}


RED, BLUE = (178, 24, 43), (33, 102, 172)


@pytest.mark.parametrize("kind", ["table", "sequence", "text"])
def test_each_kind_has_its_view_with_title_and_checks(kind: str) -> None:
    from studio.explain.report_picture import PictureText, explanation_picture

    values = {
        "table": np.array([0.8, -0.3, 0.0, 0.1]),
        "sequence": np.linspace(-1.0, 1.0, 24)[:, None],
        "text": np.array([0.0, 2.0, -2.0, 0.1]),
    }[kind]
    inputs = {
        "table": np.array([5.1, 3.5, 1.4, 0.2]),
        "sequence": np.sin(np.linspace(0, 6, 24))[:, None],
        "text": np.array([4, 9, 2, 7]),
    }[kind]
    plain = explanation_picture(kind, inputs, values, PictureText("Saliency"))
    checked = explanation_picture(
        kind,
        inputs,
        values,
        PictureText("Saliency", [("Randomisation check: fine", False), ("a warning", True)]),
        feature_names=["sepal length", "sepal width", "petal length", "petal width"],
        tokens=["a", "great", "awful", "film"],
    )
    assert checked.height == plain.height + 8 + 2 * 18  # a gap, then a line per check
    colours = _colours(checked)
    # The strongest positive attribution is drawn in full red, the strongest negative in blue.
    assert RED in colours and BLUE in colours


def test_an_image_view_is_the_three_panels_enlarged(image_case: ModelCase) -> None:
    from studio.explain.report_picture import PictureText, explanation_picture

    result = explain(image_case.model, image_case.inputs[:1], method="Saliency")
    picture = explanation_picture(
        "image", result.inputs[0], result.values[0], PictureText("Saliency")
    )
    assert picture.width >= 3 * 32 + 4 and picture.height > 32 * 2
