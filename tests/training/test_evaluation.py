"""`evaluate_run` on real, briefly trained runs of the bundled examples."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.core.data_settings import ArraySource
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import examples_dir
from studio.data.previews import ImagePreview, TablePreview
from studio.training.errors import TrainingError
from studio.training.evaluation import EvaluationCancelled, evaluate_run
from studio.training.modes.base import as_args
from studio.training.runs import runs_folder
from studio.training.session import run_training
from studio.training.trained import RunError, load_run, runs_with_weights, trained_model


def _registry() -> LayerRegistry:
    from studio.layers import register

    registry = LayerRegistry()
    register(registry)
    return registry


def trained_example(folder: Path, name: str, epochs: int, **training: object) -> Path:
    """Copy a bundled example into `folder`, train it briefly, return the project file."""
    path = folder / f"{name}.strata"
    shutil.copy(examples_dir() / f"{name}.strata", path)
    project = Project.load(path, _registry())
    if training:
        project.training = project.training.model_copy(update=training)
    run_training(project, epochs=epochs, device="cpu", progress=io.StringIO())
    return path


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_example(tmp_path_factory.mktemp("iris"), "mlp_classifier", 3)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_example(tmp_path_factory.mktemp("digits"), "cnn_classifier", 1)


def model_predictions(path: Path, positions: np.ndarray) -> np.ndarray:
    """What the run's model predicts for these test samples, computed without the engine."""
    trained = load_run(path)
    inputs, _ = trained.data.test[torch.as_tensor(positions)]
    with torch.no_grad():
        return trained_model(trained)(*as_args(inputs)).argmax(dim=-1).numpy()


# ----------------------------------------------------------------- classification
def test_classification_counts_add_up(iris: Path) -> None:
    evaluation = evaluate_run(iris)
    result = evaluation.classification
    assert result is not None and evaluation.task == "classification"
    assert evaluation.split == "test" and evaluation.run_id == runs_with_weights(iris)[0].run_id
    assert result.class_names == ["setosa", "versicolor", "virginica"]
    n = evaluation.samples
    assert len(result.target) == len(result.predicted) == len(result.confidence) == n
    assert result.confusion.shape == (3, 3) and result.confusion.sum() == n
    # rows are the actual classes: their sums are each class's support
    assert result.confusion.sum(axis=1).tolist() == result.support.tolist()
    assert result.support.tolist() == np.bincount(result.target, minlength=3).tolist()
    assert (
        result.confusion.sum(axis=0).tolist() == np.bincount(result.predicted, minlength=3).tolist()
    )
    # accuracy is the diagonal's share, and the same as training's own validation metric
    assert result.accuracy == pytest.approx(np.trace(result.confusion) / n)
    assert evaluation.metrics["val_accuracy"] == pytest.approx(result.accuracy, abs=1e-6)
    assert evaluation.metrics["val_loss"] > 0
    # per-class figures from the matrix
    for k in range(3):
        hits = result.confusion[k, k]
        column = result.confusion[:, k].sum()
        assert result.recall[k] == pytest.approx(hits / result.support[k])
        assert result.precision[k] == pytest.approx(hits / column if column else 0.0)
    assert np.all(result.confidence >= 1 / 3 - 1e-6) and np.all(result.confidence <= 1 + 1e-6)
    # the predictions are the model's own
    positions = np.arange(n)
    assert model_predictions(iris, positions).tolist() == result.predicted.tolist()


def test_samples_in_cell_are_exactly_that_pair(iris: Path) -> None:
    evaluation = evaluate_run(iris)
    result = evaluation.classification
    assert result is not None
    seen: list[int] = []
    for actual in range(3):
        for predicted in range(3):
            cell = evaluation.samples_in_cell(actual, predicted)
            assert len(cell) == result.confusion[actual, predicted]
            assert np.all(result.target[cell] == actual)
            assert np.all(result.predicted[cell] == predicted)
            seen += cell.tolist()
    assert sorted(seen) == list(range(evaluation.samples))  # every sample in exactly one cell


def test_a_table_cell_gallery_shows_the_rows_with_their_predictions(iris: Path) -> None:
    evaluation = evaluate_run(iris)
    result = evaluation.classification
    assert result is not None
    actual, predicted = np.unravel_index(np.argmax(result.confusion), result.confusion.shape)
    gallery = evaluation.cell_gallery(int(actual), int(predicted))
    preview = gallery.preview
    assert isinstance(preview, TablePreview)
    count = int(result.confusion[actual, predicted])
    assert gallery.total == len(preview.rows) == len(gallery.positions) == count
    assert preview.columns[-2:] == ["predicted", "confidence"]
    names = result.class_names
    for row in preview.rows:
        assert row[-2] == names[predicted]
        assert names[actual] in row[:-2]  # the file's own label column


def test_an_image_cell_gallery_holds_exactly_the_cell(digits: Path) -> None:
    evaluation = evaluate_run(digits)
    result = evaluation.classification
    assert result is not None and result.confusion.shape == (10, 10)
    assert result.confusion.sum(axis=1).tolist() == result.support.tolist()
    mistakes = result.confusion.copy()
    np.fill_diagonal(mistakes, 0)
    actual, predicted = (int(v) for v in np.unravel_index(np.argmax(mistakes), mistakes.shape))
    assert mistakes[actual, predicted] > 0  # one epoch leaves some confusion
    gallery = evaluation.cell_gallery(actual, predicted)
    preview = gallery.preview
    assert isinstance(preview, ImagePreview)
    assert len(preview.images) == gallery.total == result.confusion[actual, predicted]
    assert preview.images[0].shape == (8, 8) and preview.images[0].dtype == np.uint8
    for label, position in zip(preview.labels, gallery.positions, strict=True):
        assert label.startswith(f"{actual} → {predicted} · ")
        assert label.endswith(f"{result.confidence[position]:.0%}")
    assert model_predictions(digits, gallery.positions).tolist() == [predicted] * gallery.total
    limited = evaluation.cell_gallery(actual, actual, limit=3)
    assert len(limited.preview.images) == 3 and limited.total == result.confusion[actual, actual]


def test_other_splits_and_the_summary(iris: Path) -> None:
    evaluation = evaluate_run(iris, split="validation")
    assert evaluation.split == "validation"
    assert evaluation.samples == len(load_run(iris).data.validation)
    summary = json.loads(json.dumps(evaluation.summary()))  # plain JSON values
    assert summary["split"] == "validation" and summary["task"] == "classification"
    assert np.array(summary["confusion_matrix"]).sum() == evaluation.samples
    assert [row["class"] for row in summary["per_class"]] == ["setosa", "versicolor", "virginica"]
    with pytest.raises(TrainingError, match="no split named 'dev'"):
        evaluate_run(iris, split="dev")


def test_studio_evaluate_prints_per_class_figures_and_writes_json(
    iris: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "evaluation.json"
    assert main(["evaluate", str(iris), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "confusion matrix (rows: actual, columns: predicted)" in printed
    assert "precision  recall     f1  support" in printed
    summary = json.loads(out.read_text(encoding="utf-8"))
    support = [row["support"] for row in summary["per_class"]]
    assert [sum(row) for row in summary["confusion_matrix"]] == support
    assert f"({summary['samples']} samples)" in printed


# ----------------------------------------------------------------- regression
def test_regression_scatter_is_in_the_data_units(tmp_path: Path) -> None:
    path = trained_example(tmp_path, "mlp_regressor", 2)
    evaluation = evaluate_run(path)
    result = evaluation.regression
    assert result is not None and evaluation.task == "regression"
    n = evaluation.samples
    assert result.predicted.shape == result.actual.shape == (n, 1)
    # the actual values are the data's own (the model saw them normalised)
    data = load_run(path).data
    rows = data.test.rows(torch.arange(n)).numpy()
    assert data.prepared.target is not None
    np.testing.assert_allclose(result.actual, data.prepared.target[rows].reshape(n, -1), rtol=1e-5)
    stats = result.residual_stats()
    # R² does not change under the affine normalisation: it matches training's metric
    assert stats["r2"] == pytest.approx(evaluation.metrics["val_r2"], abs=1e-4)
    assert stats["mae"] == pytest.approx(np.abs(result.predicted - result.actual).mean())
    assert stats["rmse"] >= stats["mae"] > 0


# ----------------------------------------------------------------- autoencoder
def test_autoencoder_pairs_inputs_with_their_reconstructions(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = np.zeros((120, 1, 32, 32), np.float32)
    for image in images:
        x, y = rng.integers(2, 20, 2)
        image[0, y : y + 10, x : x + 10] = 1.0
    np.savez(tmp_path / "squares.npz", x=images)
    path = tmp_path / "conv_autoencoder.strata"
    shutil.copy(examples_dir() / "conv_autoencoder.strata", path)
    project = Project.load(path, _registry())
    project.data = project.data.model_copy(
        update={"dataset": None, "source": ArraySource(path="squares.npz", layout="image")}
    )
    project.save(path)
    run_training(project, epochs=1, device="cpu", progress=io.StringIO())

    evaluation = evaluate_run(path)
    result = evaluation.reconstruction
    assert result is not None and evaluation.task == "reconstruction"
    assert result.errors.shape == (evaluation.samples,)
    assert result.inputs.shape == result.reconstructions.shape == (8, 1, 32, 32)
    # the mean per-sample error is the validation loss (MSE over equal-sized samples)
    assert float(result.errors.mean()) == pytest.approx(evaluation.metrics["val_loss"], rel=1e-4)
    trained = load_run(path)
    inputs, _ = trained.data.test[torch.as_tensor(result.positions)]
    np.testing.assert_allclose(result.inputs, inputs.numpy(), atol=1e-6)
    with torch.no_grad():
        again = trained_model(trained)(inputs).numpy()
    np.testing.assert_allclose(result.reconstructions, again, atol=1e-5)
    per_sample = ((again - inputs.numpy()) ** 2).reshape(len(again), -1).mean(axis=1)
    np.testing.assert_allclose(result.errors[result.positions], per_sample, rtol=1e-4)
    worst = result.worst(3)
    assert result.errors[worst[0]] == result.errors.max()


# ----------------------------------------------------------------- GAN
def test_gan_shows_the_saved_grid_and_fresh_samples(tmp_path: Path) -> None:
    path = trained_example(tmp_path, "gan", 1)
    evaluation = evaluate_run(path)
    result = evaluation.generation
    assert result is not None and evaluation.task == "generation"
    run = runs_with_weights(path)[0]
    saved = np.load(run.path / "samples" / "epoch-0001.npy")
    assert result.grid_epoch == 1
    assert result.grid is not None
    np.testing.assert_array_equal(result.grid, saved)
    assert result.generated.shape == (16, *saved.shape[1:])
    assert np.isfinite(result.generated).all()
    assert {"val_g_loss", "val_d_loss"} <= set(evaluation.metrics)


# ----------------------------------------------------------------- failures
def test_a_project_without_runs_says_so(tmp_path: Path) -> None:
    path = tmp_path / "fresh.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", path)
    with pytest.raises(RunError, match="no trained run yet") as caught:
        evaluate_run(path)
    assert caught.value.path == runs_folder(path)
    with pytest.raises(RunError, match="no run 'nope'"):
        evaluate_run(path, "nope")


def test_a_damaged_checkpoint_names_its_file(iris: Path, tmp_path: Path) -> None:
    copy = tmp_path / "iris.strata"
    shutil.copy(iris, copy)
    shutil.copytree(runs_folder(iris), runs_folder(copy))
    run = runs_with_weights(copy)[0]
    checkpoint = run.path / "best.pt"
    checkpoint.write_bytes(b"not a checkpoint at all")
    with pytest.raises(RunError, match="damaged") as caught:
        evaluate_run(copy)
    assert caught.value.path == checkpoint
    assert str(checkpoint) in str(caught.value)


def test_weights_that_do_not_fit_name_the_checkpoint(iris: Path, tmp_path: Path) -> None:
    copy = tmp_path / "iris.strata"
    shutil.copy(iris, copy)
    shutil.copytree(runs_folder(iris), runs_folder(copy))
    run = runs_with_weights(copy)[0]
    config_path = run.path / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    linear = next(
        n for n in config["project"]["graphs"][0]["nodes"] if n["type"] == "studio.Linear"
    )
    linear["params"]["out_features"] = int(linear["params"]["out_features"]) + 7
    config_path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(RunError, match="do not fit") as caught:
        evaluate_run(copy)
    assert caught.value.path == run.path / "best.pt"


def test_a_cancelled_evaluation_stops(iris: Path) -> None:
    with pytest.raises(EvaluationCancelled):
        evaluate_run(iris, cancelled=lambda: True)
