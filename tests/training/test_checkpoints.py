"""Checkpoints: atomic, plain data only, and clear messages when one is bad."""

from __future__ import annotations

import io
import pickle

import pytest
import torch

from studio.training.checkpoints import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from studio.training.errors import CheckpointError, TrainingError
from studio.training.runs import RunFolder, check_run_id, read_metrics
from studio.training.session import run_training


class CreatesAFile:
    """Unpickling this calls `open(marker, "w")`: a stand-in for any code a pickle could run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_round_trip_keeps_tensors_and_rng(tmp_path):
    path = tmp_path / "last.pt"
    state = {"model": {"w": torch.arange(3.0)}, "epoch": 2, "rng": capture_rng_state()}
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], torch.arange(3.0))
    restore_rng_state(loaded["rng"])
    first = torch.rand(3)
    restore_rng_state(loaded["rng"])
    assert torch.equal(torch.rand(3), first)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "last.pt"
    torch.save({"model": {}, "payload": CreatesAFile(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()
    # And a raw pickle (not torch's zip format) with the same payload.
    path.write_bytes(pickle.dumps({"model": CreatesAFile(str(marker))}))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupted_checkpoint_gives_a_clear_message(tmp_path, damage):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(100)}})
    data = path.read_bytes()
    path.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"\x00not a checkpoint" * 10, "empty": b""}[
            damage
        ]
    )
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(path)


def test_resume_from_corrupted_checkpoint_fails_clearly(example):
    project = example("mlp_classifier", epochs=1)
    result = run_training(project, progress=io.StringIO())
    result.run.last.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(CheckpointError, match=r"last\.pt: the checkpoint is damaged"):
        run_training(project, progress=io.StringIO(), resume=result.run.run_id)


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", "a\\b", "", ".hidden", "x" * 100])
def test_run_ids_cannot_escape_the_runs_folder(bad):
    with pytest.raises(TrainingError):
        check_run_id(bad)


def test_metrics_reader_skips_a_torn_last_line(tmp_path):
    run = RunFolder(tmp_path)
    run.append_metrics({"epoch": 1, "val_loss": 0.5})
    run.append_metrics({"epoch": 2, "val_loss": 0.4})
    with run.metrics.open("a") as handle:
        handle.write('{"epoch": 3, "val_')
    assert [r["epoch"] for r in read_metrics(run.metrics)] == [1, 2]
