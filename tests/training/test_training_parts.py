"""The parts of the engine on their own: settings, devices, losses, metrics, callbacks."""

from __future__ import annotations

import io
import json

import pytest
import torch
from pydantic import ValidationError

from studio.core.errors import ProjectError
from studio.core.project import Project, TrainingSection
from studio.training.callbacks import Callback, CallbackList, EarlyStopping, improves
from studio.training.devices import autocast_dtype, choose_device
from studio.training.errors import TrainingError
from studio.training.events import EventStream, parse_events
from studio.training.losses import loss_name_for, make_loss, match_target
from studio.training.metrics import MetricAccumulator
from studio.training.runs import read_metrics
from studio.training.session import run_training


def test_old_training_sections_still_load_with_defaults():
    section = TrainingSection.model_validate({"epochs": 3})
    assert section.optimizer.name == "adam"
    assert section.scheduler.name == "none"
    assert (section.loss, section.device, section.precision) == ("auto", "auto", "fp32")


def test_bad_training_settings_name_the_field(example, registry):
    document = example("mlp_classifier").to_dict()
    document["training"]["optimizer"] = {"name": "lbfgs"}
    with pytest.raises(ProjectError, match=r"training\.optimizer\.name"):
        Project.from_dict(document, registry, source="t.strata")
    with pytest.raises(ValidationError):
        TrainingSection(grad_clip=-1)


def test_settings_round_trip_through_the_project_file(example, registry):
    project = example("mlp_classifier")
    project.training.optimizer.name = "sgd"
    project.training.optimizer.nesterov = True
    project.training.scheduler.name = "cosine"
    project.training.frozen = ["hidden1"]
    again = Project.from_json(project.to_json(), registry, source="t")
    assert again.training == project.training


def test_auto_device_says_why():
    choice = choose_device("auto")
    assert choice.reason
    if not torch.cuda.is_available():
        assert choice.device.type in ("cpu", "mps")
        assert "CUDA" in choice.reason
    assert choose_device("cpu").device.type == "cpu"
    assert autocast_dtype(torch.device("cpu"), "bf16") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_requesting_missing_cuda_is_a_clear_error():
    with pytest.raises(TrainingError, match="cannot be used"):
        choose_device("cuda")


def test_losses_follow_the_task():
    assert loss_name_for("classification") == "cross_entropy"
    assert loss_name_for("regression") == "mse"
    assert loss_name_for("regression", "huber") == "huber"
    output = torch.zeros(4, 1)
    target = match_target("bce", output, torch.tensor([0, 1, 1, 0]))
    assert target.shape == (4, 1) and target.dtype == torch.float32
    assert make_loss("bce")(output, target).item() == pytest.approx(0.6931, abs=1e-4)


def test_classification_metrics_are_exact_over_the_whole_split():
    metrics = MetricAccumulator(["accuracy", "f1", "mae"], "classification")
    logits = torch.eye(3)[[0, 1, 2, 2]]
    metrics.update(logits[:2], torch.tensor([0, 1]))
    metrics.update(logits[2:], torch.tensor([2, 1]))
    result = metrics.compute()
    assert set(result) == {"accuracy", "f1"}
    assert result["accuracy"] == pytest.approx(0.75)
    # per class F1: 1, 2/3, 2/3 → macro 7/9
    assert result["f1"] == pytest.approx(7 / 9, abs=1e-6)


def test_regression_metrics():
    metrics = MetricAccumulator(["mae", "r2", "accuracy"], "regression")
    target = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    metrics.update(target + 0.5, target)
    result = metrics.compute()
    assert result["mae"] == pytest.approx(0.5)
    assert result["r2"] == pytest.approx(1 - 1.0 / 5.0)


def test_dispatcher_calls_only_overridden_hooks_in_order():
    calls = []

    class First(Callback):
        def on_epoch_end(self, trainer):
            calls.append("first")

    class Second(Callback):
        def on_epoch_end(self, trainer):
            calls.append("second")

    dispatcher = CallbackList([First(), Second(), Callback()])
    assert dispatcher._bound["on_batch_end"] == []
    dispatcher.call("on_epoch_end", None)  # type: ignore[arg-type]
    assert calls == ["first", "second"]


def test_early_stopping_sets_should_stop_cooperatively():
    class FakeTrainer:
        def __init__(self):
            self.should_stop = False
            self.epoch_logs = {}
            self.messages = []

        def log(self, message):
            self.messages.append(message)

        def request_stop(self, reason):
            self.should_stop = True
            self.log(reason)

    trainer = FakeTrainer()
    stopper = EarlyStopping("accuracy", patience=2)
    for accuracy in (0.5, 0.6, 0.55, 0.58):
        trainer.epoch_logs = {"val_accuracy": accuracy}
        stopper.on_epoch_end(trainer)  # type: ignore[arg-type]
    assert trainer.should_stop and "early stopping" in trainer.messages[0]
    assert improves("val_loss", 0.1, 0.2) and not improves("val_loss", float("nan"), None)


def test_events_are_strict_json_even_for_nan():
    out = io.StringIO()
    EventStream(out).emit("epoch", epoch=1, val_loss=float("nan"))
    record = json.loads(out.getvalue())
    assert record["val_loss"] is None
    assert parse_events(out.getvalue() + "not json\n")[0]["event"] == "epoch"
    with pytest.raises(ValueError):
        EventStream(out).emit("bogus")


OPTIMIZERS = ["sgd", "adam", "adamw", "rmsprop"]
SCHEDULERS = ["none", "step", "cosine", "onecycle", "plateau"]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_and_scheduler_trains_and_resumes(example, optimizer, scheduler):
    project = example("mlp_classifier", epochs=2)
    project.training.optimizer.name = optimizer
    project.training.scheduler.name = scheduler
    project.training.scheduler.step_size = 1
    result = run_training(project, progress=io.StringIO())
    assert result.status == "completed"
    resumed = run_training(project, progress=io.StringIO(), resume=result.run.run_id, epochs=3)
    assert [r["epoch"] for r in read_metrics(resumed.run.metrics)] == [1, 2, 3]


def test_resumed_run_matches_an_uninterrupted_one(example):
    whole = run_training(example("mlp_classifier", epochs=3), progress=io.StringIO())
    project = example("mlp_classifier", epochs=3)
    first = run_training(project, progress=io.StringIO(), epochs=2)
    run_training(project, progress=io.StringIO(), resume=first.run.run_id, epochs=3)
    expected = [round(r["val_loss"], 5) for r in read_metrics(whole.run.metrics)]
    assert [round(r["val_loss"], 5) for r in read_metrics(first.run.metrics)] == expected


def test_frozen_layers_keep_their_weights(example):
    from studio.compile.compiler import compile_graph
    from studio.training.checkpoints import load_main_weights
    from studio.training.session import seed_everything

    project = example("mlp_classifier", epochs=1)
    project.training.frozen = ["hidden1"]
    seed_everything(project.training.seed)
    initial = compile_graph(project.main_graph).state_dict()
    result = run_training(project, progress=io.StringIO())
    trained = load_main_weights(result.run.last)
    assert torch.equal(trained["hidden1.weight"], initial["hidden1.weight"])
    assert not torch.equal(trained["hidden2.weight"], initial["hidden2.weight"])


def test_unknown_frozen_layer_is_named(example):
    project = example("mlp_classifier", epochs=1)
    project.training.frozen = ["nope"]
    with pytest.raises(TrainingError, match="'nope'"):
        run_training(project, progress=io.StringIO())


def test_initial_weights_come_from_an_earlier_run(example):
    from studio.training.checkpoints import load_main_weights

    project = example("mlp_classifier", epochs=3)
    donor = run_training(project, progress=io.StringIO())
    project.training.initial_weights = donor.run.run_id
    project.training.frozen = ["hidden1"]
    project.training.epochs = 1
    result = run_training(project, progress=io.StringIO())
    donor_weights = load_main_weights(donor.run.best)["hidden1.weight"]
    assert torch.equal(load_main_weights(result.run.last)["hidden1.weight"], donor_weights)


@pytest.mark.parametrize("name", ["accuracy", "f1", "precision", "recall"])
def test_multiclass_metrics_equal_torchmetrics(name):
    """Ours come from one confusion matrix; torchmetrics is the reference they must equal,
    including classes missing from the targets or the predictions."""
    from torchmetrics import functional as tmf

    from studio.training.metrics import _classification

    generator = torch.Generator().manual_seed(0)
    for trial in range(200):
        count = int(torch.randint(1, 60, (1,), generator=generator))
        classes = int(torch.randint(2, 8, (1,), generator=generator))
        output = torch.randn(count, classes, generator=generator)
        seen = classes if trial % 3 else max(1, classes - 2)
        target = torch.randint(0, seen, (count,), generator=generator)
        predicted = output.argmax(-1)
        if name == "accuracy":
            expected = tmf.accuracy(
                predicted, target, task="multiclass", num_classes=classes, average="micro"
            )
        else:
            function = {"f1": tmf.f1_score, "precision": tmf.precision, "recall": tmf.recall}
            expected = function[name](
                predicted, target, task="multiclass", num_classes=classes, average="macro"
            )
        assert _classification(name, output, target) == pytest.approx(float(expected), abs=1e-6)


def test_gpu_speedups_stay_off_on_the_cpu():
    """TF32 and channels-last are GPU layouts; on the CPU they would only cost time."""
    from torch import nn

    from studio.training.devices import (
        enable_cuda_speedups,
        gpu_utilization,
        wants_channels_last,
    )

    cpu = torch.device("cpu")
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    assert not wants_channels_last(conv, cpu)
    assert enable_cuda_speedups(cpu) == []
    assert not torch.backends.cuda.matmul.allow_tf32
    assert gpu_utilization(cpu) is None


def test_compile_wraps_the_forward_and_leaves_the_weights_their_names(example):
    from studio.training.session import build_mode

    project = example("mlp_classifier", compile=True)
    assert project.training.compile
    mode = build_mode(project, project.training, torch.device("cpu"), steps_per_epoch=1)
    assert type(mode.forward_model).__name__ == "OptimizedModule"
    assert mode.forward_model._orig_mod is mode.model
    names = list(mode.main_model.state_dict())
    assert names and not any(name.startswith("_orig_mod") for name in names)
    plain = build_mode(
        example("mlp_classifier"),
        project.training.model_copy(update={"compile": False}),
        torch.device("cpu"),
        steps_per_epoch=1,
    )
    assert plain.forward_model is plain.model


@pytest.mark.slow
def test_a_compiled_model_trains_like_the_plain_one(example):
    """torch.compile on the CPU needs a C++ compiler and half a minute: behind `-m slow`."""
    import io

    from studio.training.session import run_training

    plain = run_training(example("mlp_classifier", epochs=2), progress=io.StringIO())
    compiled = run_training(
        example("mlp_classifier", epochs=2, compile=True), progress=io.StringIO()
    )
    assert compiled.last_logs["val_loss"] == pytest.approx(plain.last_logs["val_loss"], rel=1e-4)
