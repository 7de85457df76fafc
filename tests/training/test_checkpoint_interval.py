"""Short epochs keep their checkpoints in memory and write them every couple of seconds.

A small model's epoch is shorter than one fsync; writing `last.pt` (and `status.json`) after
each of them made `studio train` on iris ten times slower than its own loop. What is written
must still be what an every-epoch writer would leave at the end, and at any kill point a
checkpoint no older than the interval.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from studio.training.callbacks import CHECKPOINT_INTERVAL_S, Callback, Checkpoints
from studio.training.checkpoints import load_checkpoint
from studio.training.events import parse_events
from studio.training.runs import read_metrics
from studio.training.session import run_training


def test_short_epochs_write_fewer_checkpoints_and_the_end_matches(example, monkeypatch):
    project = example("mlp_classifier", epochs=40)
    # A long interval, so that the test does not depend on how fast this machine is.
    monkeypatch.setattr(Checkpoints.__init__, "__defaults__", (None, 3600.0))
    events = io.StringIO()
    result = run_training(project, events=events)
    parsed = parse_events(events.getvalue())
    written = [e for e in parsed if e["event"] == "checkpoint" and e["kind"] == "last"]
    # The first epoch (a run has a checkpoint at once) and the last one.
    assert len(written) == 2
    last = load_checkpoint(result.run.last)
    assert last["epoch"] == 40
    records = read_metrics(result.run.metrics)
    losses = [r["val_loss"] for r in records]
    best = load_checkpoint(result.run.best)
    assert best["best"] == min(losses)
    # best.pt holds the weights of the best epoch, not the last one.
    assert best["epoch"] == 1 + losses.index(min(losses))
    status = json.loads((result.run.path / "status.json").read_text())
    assert (status["status"], status["epoch"]) == ("completed", 40)
    assert parsed[-1]["event"] == "done"


def test_a_deferred_checkpoint_is_written_when_the_run_fails(example, monkeypatch):
    """Epoch 1 is written at once, epoch 2 is kept in memory, epoch 3 fails half-way:
    `last.pt` gets epoch 2's state, as it would have without the interval, not the
    half-trained weights of epoch 3."""

    class FailsInEpochThree(Callback):
        def on_batch_end(self, trainer):
            if trainer.epoch == 3 and trainer.batch == 3:
                raise RuntimeError("the disk went away")

    project = example("mlp_classifier", epochs=4)
    monkeypatch.setattr(Checkpoints.__init__, "__defaults__", (None, 3600.0))
    events = io.StringIO()
    with pytest.raises(RuntimeError, match="disk went away"):
        run_training(project, events=events, extra_callbacks=(FailsInEpochThree(),))
    parsed = parse_events(events.getvalue())
    run_dir = Path(parsed[0]["run_dir"])
    names = [e["event"] for e in parsed]
    after_error = parsed[names.index("error") + 1 :]
    assert [e["event"] for e in after_error][-1] == "done"
    assert "last" in [e.get("kind") for e in after_error if e["event"] == "checkpoint"]
    last = load_checkpoint(run_dir / "last.pt")
    assert (last["epoch"], last["step"]) == (2, 2 * parsed[0]["steps_per_epoch"])
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "disk went away" in status["message"]


def test_the_interval_is_a_couple_of_seconds():
    assert 0.5 <= CHECKPOINT_INTERVAL_S <= 10
