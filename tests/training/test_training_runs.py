"""Real, short training runs on the bundled data, through `run_training`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.data.pipeline import load_project_data
from studio.training.checkpoints import load_main_weights
from studio.training.events import parse_events
from studio.training.runs import read_metrics
from studio.training.session import build_mode, run_training


def quiet(project, **kwargs):
    return run_training(project, progress=io.StringIO(), **kwargs)


def test_iris_mlp_reaches_93_percent(example):
    result = quiet(example("mlp_classifier", epochs=40))
    records = read_metrics(result.run.metrics)
    assert len(records) == 40
    assert max(r["val_accuracy"] for r in records) >= 0.93
    assert result.status == "completed"


def test_run_folder_holds_config_metrics_preprocessing_and_checkpoints(example):
    project = example("mlp_classifier", epochs=2)
    result = quiet(project)
    folder = result.run.path
    assert folder.parent.name == "mlp_classifier.runs"
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "metrics.jsonl", "preprocessing.json", "last.pt", "best.pt"} <= names
    config = json.loads((folder / "config.json").read_text())
    assert config["project"]["graphs"][0]["nodes"]
    assert config["project"]["data"]["dataset"] == "iris"
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("loss", ["mse", "l1", "huber"])
def test_a_regression_learns_with_each_loss(example, loss):
    """The diabetes MLP with each regression loss: the training loss falls by a quarter and
    the validation R² reaches 0.3 (about 0.4 is what a small MLP gets on this data)."""
    result = quiet(example("mlp_regressor", epochs=15, loss=loss))
    records = read_metrics(result.run.metrics)
    assert result.status == "completed"
    assert records[-1]["train_loss"] < 0.75 * records[0]["train_loss"]
    assert max(r["val_r2"] for r in records) > 0.3
    config = json.loads((result.run.path / "config.json").read_text())
    assert config["project"]["training"]["loss"] == loss


def test_digits_cnn_learns_quickly(example):
    result = quiet(example("cnn_classifier", epochs=2))
    assert result.last_logs["val_accuracy"] >= 0.85


def test_digits_cnn_reaches_95_percent(example):
    result = quiet(example("cnn_classifier", epochs=8))
    assert max(r["val_accuracy"] for r in read_metrics(result.run.metrics)) >= 0.95


@pytest.mark.slow  # 12 s; the digits CNN reaching 95 % stays in the default suite
def test_shapes_cnn_reaches_95_percent_on_the_test_split(example):
    # As shipped: 8 epochs of one-cycle, about 7 s on two cores.
    project = example("shapes_cnn")
    result = quiet(project)
    settings = project.training
    mode = build_mode(project, settings, torch.device("cpu"), steps_per_epoch=1)
    mode.main_model.load_state_dict(load_main_weights(result.run.best))
    mode.train(False)
    test = load_project_data(project).loaders(batch_size=settings.batch_size).test
    assert mode.validate(test)["val_accuracy"] >= 0.95


def test_sine_lstm_validation_mse_below_001(example):
    project = example("lstm_sequence", epochs=12)
    result = quiet(project)
    # The loss is computed on the standardised target; in the data's own units it is
    # val_loss × scale² (the series' noise alone costs 0.05² = 0.0025).
    scale = np.asarray(load_project_data(project).preprocessing.target.scale)
    best = min(r["val_loss"] for r in read_metrics(result.run.metrics))
    assert best * float((scale**2).mean()) < 0.01


def test_autoencoder_loss_falls_by_half(example):
    project = example("conv_autoencoder", epochs=2)
    events = io.StringIO()
    run_training(project, events=events)
    parsed = parse_events(events.getvalue())
    first = next(e["loss"] for e in parsed if e["event"] == "step")
    final = [e for e in parsed if e["event"] == "epoch"][-1]["val_loss"]
    assert final <= 0.5 * first
    # Each epoch saves fixed validation images over their reconstructions, for the dashboard.
    saved = [e for e in parsed if e["event"] == "checkpoint" and e["kind"] == "reconstructions"]
    assert [Path(e["path"]).name for e in saved] == ["epoch-0001.npy", "epoch-0002.npy"]
    pair = np.load(saved[-1]["path"])
    assert pair.shape[:2] == (2, 8) and pair.shape[2] in (1, 3)
    assert np.isfinite(pair).all()
    # The second row is the model's: close to the first, not a copy of it.
    error = float(((pair[0] - pair[1]) ** 2).mean())
    assert 0 < error <= final * 3


def test_gan_two_epochs_finite_losses_and_samples(example):
    result = quiet(example("gan", epochs=2))
    records = read_metrics(result.run.metrics)
    assert len(records) == 2
    for record in records:
        for key in ("train_loss", "val_g_loss", "val_d_loss"):
            assert np.isfinite(record[key])
    samples = result.run.path / "samples"
    grid = np.load(samples / "epoch-0002.npy")
    assert grid.shape == (16, 1, 8, 8)
    assert (samples / "epoch-0002.png").is_file()


def test_same_seed_same_losses(example):
    losses = []
    for _ in range(2):
        events = io.StringIO()
        run_training(example("mlp_classifier", epochs=3, seed=7), events=events)
        parsed = parse_events(events.getvalue())
        losses.append([round(e["val_loss"], 5) for e in parsed if e["event"] == "epoch"])
    assert losses[0] == losses[1]
    other = io.StringIO()
    run_training(example("mlp_classifier", epochs=3, seed=8), events=other)
    assert [
        round(e["val_loss"], 5) for e in parse_events(other.getvalue()) if e["event"] == "epoch"
    ] != losses[0]


def test_nan_loss_stops_with_a_message_naming_the_step(example):
    from studio.training.errors import NonFiniteLossError

    project = example("mlp_regressor", epochs=2)
    # Above the settings' limit on purpose: validation would refuse it in a project file.
    project.training = project.training.model_copy(update={"learning_rate": 1e6})
    events = io.StringIO()
    with pytest.raises(NonFiniteLossError, match=r"at step \d+.*learning rate.*gradient clipping"):
        run_training(project, events=events)
    parsed = parse_events(events.getvalue())
    assert [e["event"] for e in parsed][-2:] == ["error", "done"]
    assert "lower the learning rate" in parsed[-2]["message"]
    assert parsed[-1]["status"] == "failed"


def test_early_stopping_stops_the_run(example):
    project = example("mlp_classifier", epochs=50)
    project.training.early_stopping.patience = 1
    project.training.early_stopping.metric = "train_loss"
    project.training = project.training.model_copy(update={"learning_rate": 5.0})
    result = quiet(project)
    assert result.status == "stopped"
    assert result.epoch < 50
