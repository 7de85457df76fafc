"""Evaluate a trained run on a split: metrics, and what is needed to look at the results.

`evaluate_run` loads a run on the CPU, runs the split through the model in batches (one
pass: the metrics are `mode.validate`'s own, while a forward hook keeps what the views need,
batch by batch, so memory stays bounded by the split's size in predictions, not in
activations), and returns an `Evaluation` of plain numpy arrays:

* classification: predictions, confidences, the confusion matrix, per-class precision,
  recall, F1 and support, and `samples_in_cell(actual, predicted)`;
* regression: predicted against actual values (in the data's units) and residual statistics;
* autoencoder: a few inputs beside their reconstructions, and every sample's error;
* GAN: the run's latest saved sample grid, and a batch freshly drawn from the generator.

No Qt here: the window's Evaluation tab and `studio evaluate` both call this.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.errors import StudioError
from studio.core.safe_files import read_bytes_bounded
from studio.data.pipeline import LoadedData
from studio.data.previews import Preview, TablePreview
from studio.training.errors import TrainingError
from studio.training.modes.base import Batch
from studio.training.runs import SAMPLE_GRID_LIMIT
from studio.training.trained import RunError, TrainedRun, load_run, load_weights

SPLITS = ("train", "validation", "test")
# Reconstructions kept for the autoencoder view, and samples drawn from a GAN's generator.
SHOWN_RECONSTRUCTIONS = 8
GENERATED_SAMPLES = 16


class EvaluationCancelled(TrainingError):
    """The caller asked the evaluation to stop (the window closed or changed project)."""


@dataclass
class ClassificationResult:
    """Per sample of the split: target, prediction and its probability; and the totals."""

    class_names: list[str]
    target: np.ndarray  # (n,) int64
    predicted: np.ndarray  # (n,) int64
    confidence: np.ndarray  # (n,) float32: the probability the model gave its prediction
    confusion: np.ndarray  # (k, k) int64, rows: actual class, columns: predicted class
    precision: np.ndarray  # (k,) float64
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray  # (k,) int64: samples of each actual class

    @property
    def accuracy(self) -> float:
        total = int(self.confusion.sum())
        return float(np.trace(self.confusion) / total) if total else math.nan

    def samples_in_cell(self, actual: int, predicted: int) -> np.ndarray:
        """Positions in the split of the samples of class `actual` predicted as `predicted`."""
        return np.flatnonzero((self.target == actual) & (self.predicted == predicted))

    def per_class(self) -> list[dict[str, Any]]:
        return [
            {
                "class": name,
                "precision": float(self.precision[i]),
                "recall": float(self.recall[i]),
                "f1": float(self.f1[i]),
                "support": int(self.support[i]),
            }
            for i, name in enumerate(self.class_names)
        ]


@dataclass
class RegressionResult:
    """Predicted against actual values, both in the data's own units, shape (n, k)."""

    predicted: np.ndarray
    actual: np.ndarray
    names: list[str]

    @property
    def residuals(self) -> np.ndarray:
        return self.predicted - self.actual

    def residual_stats(self) -> dict[str, float]:
        residuals = self.residuals
        if residuals.size == 0:
            return {}
        actual = self.actual
        total = float(((actual - actual.mean(axis=0)) ** 2).sum())
        r2 = 1.0 - float((residuals**2).sum()) / total if total > 0 else math.nan
        return {
            "mean": float(residuals.mean()),
            "std": float(residuals.std()),
            "mae": float(np.abs(residuals).mean()),
            "rmse": float(np.sqrt((residuals**2).mean())),
            "max_abs": float(np.abs(residuals).max()),
            "r2": r2,
        }


@dataclass
class ReconstructionResult:
    """A few inputs beside the autoencoder's reconstructions, and every sample's error."""

    positions: np.ndarray  # (m,) positions in the split of the samples shown
    inputs: np.ndarray  # (m, *shape) float32, normalised as the model sees them
    reconstructions: np.ndarray  # (m, *shape)
    errors: np.ndarray  # (n,) mean squared error per sample of the split

    def worst(self, count: int = SHOWN_RECONSTRUCTIONS) -> np.ndarray:
        """Positions of the samples reconstructed worst (anomaly candidates)."""
        return np.argsort(-self.errors, kind="stable")[:count]


@dataclass
class GenerationResult:
    """What the generator makes: the run's last saved grid and a fresh batch."""

    grid: np.ndarray | None  # (16, C, H, W) from samples/epoch-NNNN.npy; None if none saved
    grid_epoch: int | None
    generated: np.ndarray  # (GENERATED_SAMPLES, *shape) drawn now from the checkpoint


@dataclass
class SampleGallery:
    """Samples ready to show (a `studio.data.previews` preview) with their split positions."""

    preview: Preview
    positions: np.ndarray
    total: int  # how many samples matched; the preview may hold fewer


@dataclass
class Evaluation:
    """The result of `evaluate_run`: plain values and numpy arrays."""

    project_path: Path
    run_id: str
    split: str
    mode: str  # "supervised", "autoencoder" or "gan"
    task: str  # "classification", "regression", "reconstruction" or "generation"
    checkpoint: Path
    epoch: int
    samples: int
    metrics: dict[str, float]
    classification: ClassificationResult | None = None
    regression: RegressionResult | None = None
    reconstruction: ReconstructionResult | None = None
    generation: GenerationResult | None = None
    data: LoadedData | None = field(default=None, repr=False)

    def samples_in_cell(self, actual: int, predicted: int) -> np.ndarray:
        if self.classification is None:
            raise TrainingError("only a classifier's evaluation has a confusion matrix")
        return self.classification.samples_in_cell(actual, predicted)

    def cell_gallery(self, actual: int, predicted: int, limit: int = 200) -> SampleGallery:
        """The samples of one confusion-matrix cell, labelled with truth, guess and confidence."""
        result = self.classification
        if result is None or self.data is None:
            raise TrainingError("only a classifier's evaluation has a confusion matrix")
        positions = result.samples_in_cell(actual, predicted)
        shown = positions[:limit]
        names = result.class_names
        truths = [names[int(result.target[p])] for p in shown]
        guesses = [names[int(result.predicted[p])] for p in shown]
        confidences = [float(result.confidence[p]) for p in shown]
        labels = [
            f"{t} → {g} · {c:.0%}" for t, g, c in zip(truths, guesses, confidences, strict=True)
        ]
        preview = self._preview(shown, labels)
        if isinstance(preview, TablePreview):
            # Table rows show the file's own columns (the true label among them): add the guess.
            preview = TablePreview(
                [*preview.columns, "predicted", "confidence"],
                [
                    [*row, g, f"{c:.1%}"]
                    for row, g, c in zip(preview.rows, guesses, confidences, strict=True)
                ],
            )
        return SampleGallery(preview, shown, len(positions))

    def _preview(self, positions: np.ndarray, labels: list[str]) -> Preview:
        assert self.data is not None
        dataset = self.data.dataset(self.split)
        rows = dataset.rows(torch.as_tensor(positions, dtype=torch.int64)).numpy()
        return self.data.prepared.raw.encoder.preview(rows, labels)

    def summary(self) -> dict[str, Any]:
        """Everything but the per-sample arrays, as JSON-ready values (`--json FILE`)."""
        out: dict[str, Any] = {
            "project": str(self.project_path),
            "run": self.run_id,
            "split": self.split,
            "mode": self.mode,
            "task": self.task,
            "checkpoint": str(self.checkpoint),
            "epoch": self.epoch,
            "samples": self.samples,
            "metrics": {k.removeprefix("val_"): _finite(v) for k, v in self.metrics.items()},
        }
        if self.classification is not None:
            c = self.classification
            out["class_names"] = c.class_names
            out["accuracy"] = _finite(c.accuracy)
            out["confusion_matrix"] = c.confusion.tolist()
            out["per_class"] = [
                {k: _finite(v) if isinstance(v, float) else v for k, v in row.items()}
                for row in c.per_class()
            ]
        if self.regression is not None:
            out["outputs"] = self.regression.names
            out["residuals"] = {k: _finite(v) for k, v in self.regression.residual_stats().items()}
        if self.reconstruction is not None:
            errors = self.reconstruction.errors
            out["reconstruction_error"] = {
                "mean": _finite(float(errors.mean())) if errors.size else None,
                "max": _finite(float(errors.max())) if errors.size else None,
                "worst_samples": self.reconstruction.worst().tolist(),
            }
        if self.generation is not None:
            out["sample_grid_epoch"] = self.generation.grid_epoch
            out["generated_shape"] = list(self.generation.generated.shape)
        return out


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def evaluate_run(
    project_path: Path,
    run_id: str | None = None,
    split: str = "test",
    *,
    trained: TrainedRun | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Evaluation:
    """Evaluate run `run_id` (default: the latest) of a project on one of its splits.

    Args:
        project_path: the project file; its runs are in `NAME.runs/` beside it.
        run_id: the run; None for the newest run with weights.
        split: "test" (default), "validation" or "train".
        trained: a run already loaded with `load_run` (skips loading it again).
        cancelled: polled between batches; when it returns True, `EvaluationCancelled`.

    Raises:
        RunError: no such run, a damaged checkpoint, weights that do not fit, an empty split.
        EvaluationCancelled: `cancelled()` became true.
    """
    if split not in SPLITS:
        raise TrainingError(f"no split named {split!r}; choose one of {', '.join(SPLITS)}")
    project_path = Path(project_path)
    if trained is None:
        trained = load_run(project_path, run_id, allow_gan=True)
    stop = cancelled or (lambda: False)
    dataset = trained.data.dataset(split)
    if len(dataset) == 0:
        raise RunError(
            f"the {split} split of {project_path} is empty; give it a share in the project's "
            "data splits",
            project_path,
        )
    from studio.training.session import build_mode

    project = trained.project
    settings = project.training
    device = torch.device("cpu")
    mode = build_mode(project, settings, device, steps_per_epoch=1)
    for role, model in mode.models.items():
        weights = trained.models.get(role)  # the checkpoint's one copy (see load_run)
        if weights is None:
            raise RunError(
                f"{trained.checkpoint_path}: the checkpoint holds no weights for the {role}",
                trained.checkpoint_path,
            )
        load_weights(model, weights, trained)
    mode.train(False)
    loader = getattr(
        trained.data.loaders(batch_size=settings.batch_size, device=device, workers=0), split
    )
    task: str = settings.task if settings.mode == "supervised" else settings.mode
    task = {"autoencoder": "reconstruction", "gan": "generation"}.get(task, task)
    evaluation = Evaluation(
        project_path,
        trained.run_id,
        split,
        settings.mode,
        task,
        trained.checkpoint_path,
        trained.epoch,
        len(dataset),
        {},
        data=trained.data,
    )
    targets: list[torch.Tensor] = []
    collector = _Collector(task, mode.main_model)

    def tapped(batches: Iterable[Batch]) -> Iterator[Batch]:
        for batch in batches:
            if stop():
                raise EvaluationCancelled("evaluation cancelled")
            targets.append(batch[1].detach().cpu())
            yield batch

    with torch.no_grad():
        try:
            evaluation.metrics = mode.validate(tapped(loader))
        finally:
            collector.remove()
    if stop():
        raise EvaluationCancelled("evaluation cancelled")
    if task == "classification":
        names = trained.data.class_names or [str(i) for i in range(trained.data.num_classes or 0)]
        evaluation.classification = classify(collector.outputs, torch.cat(targets), names)
    elif task == "regression":
        evaluation.regression = regress(collector.outputs, torch.cat(targets), dataset)
    elif task == "reconstruction":
        evaluation.reconstruction = collector.reconstruction()
    elif task == "generation":
        evaluation.generation = generate(mode, trained.path, settings.seed)
    return evaluation


class _Collector:
    """A forward hook on the model that keeps, per batch, only what the views need."""

    def __init__(self, task: str, model: torch.nn.Module) -> None:
        self.task = task
        self.outputs: list[torch.Tensor] = []
        self.errors: list[torch.Tensor] = []
        self.inputs: list[torch.Tensor] = []
        self.reconstructions: list[torch.Tensor] = []
        self.kept = 0
        self.handle = model.register_forward_hook(self._hook) if task != "generation" else None

    def _hook(self, module: torch.nn.Module, args: tuple[Any, ...], output: Any) -> None:
        output = output.detach().float().cpu()
        if self.task in ("classification", "regression"):
            self.outputs.append(output)
            return
        inputs = args[0].detach().float().cpu()
        flat_error = (output.reshape(len(output), -1) - inputs.reshape(len(inputs), -1)) ** 2
        self.errors.append(flat_error.mean(dim=1))
        if self.kept < SHOWN_RECONSTRUCTIONS:
            take = SHOWN_RECONSTRUCTIONS - self.kept
            self.inputs.append(inputs[:take])
            self.reconstructions.append(output[:take].reshape(inputs[:take].shape))
            self.kept += len(self.inputs[-1])

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()

    def reconstruction(self) -> ReconstructionResult:
        return ReconstructionResult(
            np.arange(self.kept),
            torch.cat(self.inputs).numpy() if self.inputs else np.zeros((0,), np.float32),
            torch.cat(self.reconstructions).numpy()
            if self.reconstructions
            else np.zeros((0,), np.float32),
            torch.cat(self.errors).numpy() if self.errors else np.zeros((0,), np.float32),
        )


def classify(
    outputs: list[torch.Tensor], target: torch.Tensor, names: list[str]
) -> ClassificationResult:
    """Predictions, confidences and the confusion matrix from a classifier's logits."""
    logits = torch.cat(outputs) if outputs else torch.zeros((0, max(len(names), 1)))
    target = target.reshape(-1).to(torch.int64)
    if logits.ndim == 1 or logits.shape[-1] == 1:
        # One logit per sample: a binary classifier trained with BCE.
        probability = torch.sigmoid(logits.reshape(-1))
        predicted = (probability > 0.5).to(torch.int64)
        confidence = torch.where(predicted == 1, probability, 1 - probability)
    else:
        if logits.ndim > 2:
            raise TrainingError(
                f"the model's output has shape {tuple(logits.shape)}; the evaluation shows "
                "classifiers with one prediction per sample, (N, classes)"
            )
        probability = torch.softmax(logits, dim=-1)
        confidence, predicted = probability.max(dim=-1)
    size = max(
        len(names),
        int(predicted.max()) + 1 if len(predicted) else 0,
        int(target.max()) + 1 if len(target) else 0,
        2 if logits.ndim == 1 or logits.shape[-1] == 1 else 0,
    )
    names = list(names) + [str(i) for i in range(len(names), size)]
    actual_np = target.numpy()
    predicted_np = predicted.numpy().astype(np.int64)
    confusion = np.zeros((size, size), dtype=np.int64)
    np.add.at(confusion, (actual_np, predicted_np), 1)
    support = confusion.sum(axis=1)
    predicted_counts = confusion.sum(axis=0)
    hits = np.diag(confusion).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted_counts > 0, hits / predicted_counts, 0.0)
        recall = np.where(support > 0, hits / support, 0.0)
        denominator = precision + recall
        f1 = np.where(denominator > 0, 2 * precision * recall / denominator, 0.0)
    return ClassificationResult(
        names,
        actual_np,
        predicted_np,
        confidence.numpy().astype(np.float32),
        confusion,
        precision,
        recall,
        f1,
        support,
    )


def regress(outputs: list[torch.Tensor], target: torch.Tensor, dataset: Any) -> RegressionResult:
    """Predicted and actual values, back in the data's units (the targets were normalised)."""
    predicted = torch.cat(outputs) if outputs else torch.zeros((0, 1))
    predicted = predicted.reshape(len(predicted), -1)
    actual = target.float().reshape(len(target), -1)
    normalizer = getattr(dataset, "target_normalizer", None)
    if normalizer is not None:
        shift = normalizer.shift.reshape(1, -1)
        scale = normalizer.scale.reshape(1, -1)
        if shift.shape[1] in (1, actual.shape[1]) and actual.shape == predicted.shape:
            predicted = predicted * scale + shift
            actual = actual * scale + shift
    count = predicted.shape[1]
    names = ["value"] if count == 1 else [f"value {i}" for i in range(count)]
    return RegressionResult(predicted.numpy(), actual.numpy(), names)


def generate(mode: Any, run_path: Path, seed: int = 0) -> GenerationResult:
    """The latest `samples/epoch-NNNN.npy` of the run, and a fresh batch from the generator."""
    grid: np.ndarray | None = None
    epoch: int | None = None
    folder = run_path / "samples"
    saved = sorted(folder.glob("epoch-*.npy")) if folder.is_dir() else []
    for path in reversed(saved):
        try:
            # Through safe_files: a FIFO or a link to /dev/zero in the run is skipped, not read.
            data = read_bytes_bounded(path, SAMPLE_GRID_LIMIT, within=run_path, what="sample grid")
            grid = np.load(io.BytesIO(data), allow_pickle=False)
        except (StudioError, OSError, ValueError, EOFError):
            continue  # a torn file from a killed run: the one before it will do
        try:
            epoch = int(path.stem.removeprefix("epoch-"))
        except ValueError:
            epoch = None
        break
    # Not the training grid's noise (seeded with `seed`): these are new samples.
    fixed = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        generated = mode.generator(mode.noise(GENERATED_SAMPLES, fixed)).float().cpu().numpy()
    return GenerationResult(grid, epoch, generated)


def confusion_table(matrix: np.ndarray | list[list[int]], names: list[str]) -> str:
    """The confusion matrix as aligned text (rows: actual, columns: predicted)."""
    matrix = np.asarray(matrix, dtype=np.int64)
    names = list(names) + [str(i) for i in range(len(names), len(matrix))]
    largest = int(matrix.max()) if matrix.size else 0
    width = max(max((len(n) for n in names), default=1), len(str(largest)))
    lines = ["confusion matrix (rows: actual, columns: predicted)"]
    lines.append(" " * width + "  " + "  ".join(n.rjust(width) for n in names))
    for name, row in zip(names, matrix.tolist(), strict=True):
        lines.append(name.rjust(width) + "  " + "  ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def per_class_table(result: ClassificationResult) -> str:
    """Precision, recall, F1 and support of each class as aligned text."""
    width = max(5, *(len(n) for n in result.class_names))
    lines = [f"{'class'.ljust(width)}  precision  recall     f1  support"]
    for row in result.per_class():
        lines.append(
            f"{row['class'].ljust(width)}  {row['precision']:9.3f}  {row['recall']:6.3f}  "
            f"{row['f1']:5.3f}  {row['support']:7d}"
        )
    return "\n".join(lines)
