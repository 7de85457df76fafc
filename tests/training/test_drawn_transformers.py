"""The two transformer templates drawn from the palette alone (a ViT and a GPT block) train on
bundled data with the real trainer: the loss falls and held-out accuracy beats chance well."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from studio.compile.compiler import compile_graph
from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.plugins import default_registry
from studio.training.runs import read_metrics
from studio.training.session import run_training
from studio.training.trained import TrainedRun, load_run


def _train(stem: str, folder: Path, epochs: int) -> TrainedRun:
    path = folder / f"{stem}.strata"
    shutil.copy(examples_dir() / f"{stem}.strata", path)
    project = Project.load(path, default_registry())
    project.training = project.training.model_copy(update={"device": "cpu"})
    project.save(path)
    with open(folder / "progress.txt", "w") as progress:
        run_training(project, epochs=epochs, progress=progress)
    return load_run(path)


def _test_accuracy(trained: TrainedRun) -> float:
    model = compile_graph(trained.project.main_graph).eval()
    model.load_state_dict(trained.weights)
    test = trained.data.test
    inputs, targets = test[torch.arange(len(test))]
    with torch.no_grad():
        predicted = model(*(inputs if isinstance(inputs, tuple) else (inputs,))).argmax(1)
    return float((predicted == targets).float().mean())


def _train_losses(folder: Path, stem: str) -> list[float]:
    (run,) = [p for p in (folder / f"{stem}.runs").iterdir() if p.is_dir()]
    return [r["train_loss"] for r in read_metrics(run / "metrics.jsonl") if "train_loss" in r]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("stem", "epochs", "chance", "at_least"),
    [("vision_transformer", 5, 0.1, 0.5), ("gpt_block", 12, 0.5, 0.58)],
)
def test_drawn_transformer_trains(
    stem: str, epochs: int, chance: float, at_least: float, tmp_path: Path
) -> None:
    trained = _train(stem, tmp_path, epochs)
    losses = _train_losses(tmp_path, stem)
    assert len(losses) == epochs
    assert losses[-1] < 0.9 * losses[0]
    accuracy = _test_accuracy(trained)
    assert accuracy >= at_least > chance, f"{stem}: test accuracy {accuracy:.3f}"
