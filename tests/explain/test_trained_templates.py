"""Every method on the bundled templates, trained on their bundled data through `studio train`.

The fixtures of `conftest.py` are small hand-written models; these are the projects a user
starts from (iris MLP, sine LSTM, review GRU over token ids, shapes CNN), trained by the
product's own trainer, so what the Explain tab shows on them is what is tested here. The
pointing game on the shapes CNN is the issue's acceptance figure.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.explain import METHODS, explain, get_method
from studio.explain.pointing import correctly_classified, pointing_share
from studio.plugins import default_registry
from studio.training.session import run_training
from studio.training.trained import load_run, trained_model

# Template, epochs, the layer the layer methods explain, its input kind.
TEMPLATES = {
    "mlp_classifier": (8, "hidden2", "table"),
    "lstm_sequence": (2, "head", "sequence"),
    "gru_text_classifier": (3, "classifier", "text"),
    "shapes_cnn": (6, "conv3", "image"),
}
POINTING_TARGETS = {"IntegratedGradients": 0.8, "LayerGradCam": 0.8}


@dataclass
class TrainedTemplate:
    name: str
    model: nn.Module
    inputs: torch.Tensor
    labels: torch.Tensor
    layer: str
    kind: str
    masks: np.ndarray | None


@pytest.fixture(scope="module")
def trained_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainedTemplate]:
    registry = default_registry()
    trained: dict[str, TrainedTemplate] = {}
    for name, (epochs, layer, kind) in TEMPLATES.items():
        folder = tmp_path_factory.mktemp(name)
        path = folder / f"{name}.strata"
        shutil.copy(examples_dir() / f"{name}.strata", path)
        run_training(
            Project.load(path, registry), epochs=epochs, device="cpu", progress=io.StringIO()
        )
        run = load_run(path, registry=registry)
        test = run.data.test
        indices = torch.arange(len(test))
        inputs, labels = test[indices]
        masks = test.aux_of(indices).get("mask")
        trained[name] = TrainedTemplate(
            name,
            trained_model(run),
            inputs,
            labels,
            layer,
            kind,
            None if masks is None else masks.numpy().reshape(len(masks), *masks.shape[-2:]),
        )
    return trained


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_method_explains_every_trained_template(
    trained_templates: dict[str, TrainedTemplate], template: str, method: str
) -> None:
    case = trained_templates[template]
    spec = get_method(method)
    if case.kind not in spec.kinds:
        # Grad-CAM explains an image-shaped layer: only the CNN has one.
        assert method == "LayerGradCam" and case.kind != "image"
        return
    inputs = case.inputs[:4]
    result = explain(
        case.model,
        inputs,
        method=method,
        layer=case.layer if spec.needs_layer else None,
        n_steps=16,
        samples=4,
    )
    assert result.kind == case.kind
    if spec.space == "input":
        # One value per input value; for text, one per token.
        assert result.values.shape == tuple(inputs.shape)
    else:
        assert result.values.shape[0] == len(inputs)
    assert np.isfinite(result.values).all()
    assert np.abs(result.values).sum() > 0  # a trained model's map is not all zeros


# The acceptance figure, 57 s; `benchmarks/explain_latency.py` reports it too.
@pytest.mark.slow
def test_pointing_game_on_the_shapes_template(
    trained_templates: dict[str, TrainedTemplate],
) -> None:
    case = trained_templates["shapes_cnn"]
    assert case.masks is not None
    correct = correctly_classified(case.model, case.inputs, case.labels)
    assert correct.float().mean() >= 0.9, "the template did not learn the shapes"
    images, masks = case.inputs[correct], case.masks[correct.numpy()]
    for method, target in POINTING_TARGETS.items():
        share = pointing_share(case.model, images, masks, method, layer=case.layer)
        assert share >= target, (method, share)


@pytest.mark.parametrize("template", TEMPLATES)
def test_integrated_gradients_is_complete_on_every_trained_template(
    trained_templates: dict[str, TrainedTemplate], template: str
) -> None:
    """Σ attributions = score(input) − score(zero baseline), with both scores taken here from
    the model's own output, not from what the engine reports (for text the baseline is the
    padding token everywhere)."""
    case = trained_templates[template]
    inputs = case.inputs[:4]
    result = explain(case.model, inputs, method="IntegratedGradients", n_steps=64)
    case.model.eval()
    with torch.no_grad():
        scores = case.model(inputs).reshape(len(inputs), -1)
        reference = case.model(torch.zeros_like(inputs)).reshape(len(inputs), -1)
    column = (
        torch.zeros(len(inputs), dtype=torch.long)
        if result.target is None
        else torch.as_tensor(result.target).reshape(-1)
    ).view(-1, 1)
    expected = (scores.gather(1, column) - reference.gather(1, column)).squeeze(1).numpy()
    totals = result.values.reshape(len(inputs), -1).sum(axis=1)
    np.testing.assert_allclose(totals, expected, rtol=0.05, atol=5e-3)
