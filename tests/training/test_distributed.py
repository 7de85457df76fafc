"""Training on two CPU processes (gloo) under torchrun, against one process with the same batch.

The comparison is exact up to float rounding: shuffling is off and the loader drops the last
partial batch, so with a per-process batch of 8 on 2 ranks, rank 0 sees samples 0, 2, 4, ...
and rank 1 samples 1, 3, 5, ... of each global batch of 16, which is exactly the batch a single
process with batch_size 16 sees. DDP averages the two ranks' mean-loss gradients, which is the
mean-loss gradient of the whole batch (equal shard sizes). The iris MLP's Dropout is set to 0
(the ranks would draw different masks). What remains is the order of float additions in the
all-reduce, so weights and losses agree to about 1e-6; the tolerance is 1e-4.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.training.checkpoints import load_main_weights
from studio.training.distributed import (
    Launch,
    ProcessGroup,
    group_from_env,
    slurm_script,
    torchrun_command,
)
from studio.training.errors import TrainingError
from studio.training.runs import read_metrics, runs_folder
from studio.training.session import run_training

EPOCHS = 2


def deterministic_iris(folder: Path, batch_size: int) -> Path:
    """The iris MLP with no dropout, no shuffling and no partial last batch."""
    document = json.loads((examples_dir() / "mlp_classifier.strata").read_text())
    for graph in document["graphs"]:
        for node in graph["nodes"]:
            if node["type"] == "studio.Dropout":
                node["params"]["p"] = 0.0
    document["data"]["loader"].update({"shuffle": False, "drop_last": True})
    document["training"].update({"batch_size": batch_size, "epochs": EPOCHS})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "iris.strata"
    path.write_text(json.dumps(document))
    return path


def test_two_processes_match_one_with_the_same_global_batch(tmp_path, registry):
    distributed = deterministic_iris(tmp_path / "ddp", batch_size=8)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "train",
            str(distributed),
            "--device",
            "cpu",
            "--events",
            "--nproc-per-node",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # Only rank 0 writes events: one "started", one "done", one "epoch" per epoch.
    kinds = [e["event"] for e in events]
    assert kinds.count("started") == 1 and kinds.count("done") == 1
    assert kinds.count("epoch") == EPOCHS
    assert "process 0 of 2" in events[0]["device_reason"]
    runs = list(runs_folder(distributed).iterdir())
    assert len(runs) == 1
    metrics = read_metrics(runs[0] / "metrics.jsonl")
    assert [m["epoch"] for m in metrics] == list(range(1, EPOCHS + 1))
    assert metrics[-1]["val_loss"] < 0.9 * metrics[0]["val_loss"]  # it learns
    # Rank 0's run folder holds one run's files; rank 1 wrote nothing anywhere.
    assert sorted(p.name for p in runs[0].iterdir()) == sorted(
        [
            "best.pt",
            "config.json",
            "last.pt",
            "metrics.jsonl",
            "preprocessing.json",
            "status.json",
            "train.lock",  # rank 0's training lock
        ]
    )
    assert sorted(p.name for p in distributed.parent.iterdir()) == sorted(
        [distributed.name, runs_folder(distributed).name]
    )
    # 105 training samples, 2 ranks, 8 each: 52 per rank, 6 whole batches.
    assert events[0]["steps_per_epoch"] == 6

    single = deterministic_iris(tmp_path / "single", batch_size=16)
    project = Project.load(single, registry)
    alone = run_training(project, device="cpu", progress=io.StringIO())
    expected = read_metrics(alone.run.metrics)
    for got, want in zip(metrics, expected, strict=True):
        assert got["val_loss"] == pytest.approx(want["val_loss"], abs=1e-4)
        assert got["train_loss"] == pytest.approx(want["train_loss"], abs=1e-4)
    ddp_weights = load_main_weights(runs[0] / "last.pt")
    one_weights = load_main_weights(alone.run.last)
    assert ddp_weights.keys() == one_weights.keys()  # no "module." prefix from DDP
    for name, tensor in one_weights.items():
        torch.testing.assert_close(ddp_weights[name], tensor, atol=1e-4, rtol=0)

    # A resume on two processes: only rank 0 takes the run's lock, so the other is not refused.
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "train",
            str(distributed),
            "--device",
            "cpu",
            "--resume",
            runs[0].name,
            "--epochs",
            str(EPOCHS + 1),
            "--nproc-per-node",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    epochs = [m["epoch"] for m in read_metrics(runs[0] / "metrics.jsonl")]
    assert epochs == list(range(1, EPOCHS + 2))


def test_shards_cover_the_split_and_reshuffle_each_epoch():
    from studio.core.project import DataSection
    from studio.data.loaders import make_loader
    from studio.data.pipeline import load_data
    from studio.training.trainer import reseed_order

    data = load_data(DataSection(dataset="iris"))
    size = len(data.train)

    def order(rank: int, epoch: int) -> list[int]:
        loader = make_loader(data.train, batch_size=8, seed=3, shard=(rank, 2))
        reseed_order(loader, 3, epoch)
        return [i for batch in loader.sampler for i in batch]  # type: ignore[attr-defined]

    assert size % 2 == 0  # no sample repeated to even the shards
    assert sorted(order(0, 1) + order(1, 1)) == list(range(size))
    assert order(0, 1) == order(0, 1)
    assert order(0, 2) != order(0, 1)


def test_group_from_env_reads_torchrun_variables():
    assert group_from_env({}) == ProcessGroup()
    group = group_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert group == ProcessGroup(rank=3, local_rank=1, world_size=4)
    assert group.distributed and not group.is_main
    with pytest.raises(TrainingError):
        group_from_env({"WORLD_SIZE": "two"})


def test_torchrun_command_single_and_multi_node():
    one = torchrun_command(Launch(2), ["p.strata", "--epochs", "3"])
    assert one[1:3] == ["-m", "torch.distributed.run"]
    assert "--standalone" in one and "--nproc-per-node=2" in one
    assert one[-6:] == ["-m", "studio", "train", "p.strata", "--epochs", "3"]
    many = torchrun_command(Launch(4, nnodes=2, node_rank=1, master_addr="n0"), ["p.strata"])
    assert "--standalone" not in many
    assert {"--node-rank=1", "--master-addr=n0", "--master-port=29500", "--nnodes=2"} <= set(many)
    with pytest.raises(TrainingError):
        torchrun_command(Launch(4, nnodes=2), ["p.strata"])
    with pytest.raises(TrainingError):
        torchrun_command(Launch(2, nnodes=2, node_rank=2, master_addr="n0"), ["p.strata"])


def test_print_slurm_script(tmp_path):
    project = tmp_path / "mlp.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", project)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "train",
            str(project),
            "--epochs",
            "5",
            "--nnodes",
            "3",
            "--nproc-per-node",
            "4",
            "--print-slurm",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    script = result.stdout
    assert script.startswith("#!/bin/bash") and "#SBATCH --nodes=3" in script
    assert "--nproc-per-node=4" in script and "--rdzv-backend=c10d" in script
    assert f"-m studio train {project} --epochs 5" in script
    srun = script[script.index("srun") :]
    assert "--print-slurm" not in srun and "--nnodes 3" not in srun
    assert script == slurm_script([str(project), "--epochs", "5"], nodes=3, gpus_per_node=4)


@pytest.mark.slow  # 14 s; two ranks training together stay in the default suite
def test_a_stop_on_rank_0_stops_every_rank(tmp_path):
    """The window's stdin closes at once: rank 0 stops, and rank 1 (which reads no stdin)
    stops at the same step instead of waiting forever in the next all-reduce."""
    project = deterministic_iris(tmp_path, batch_size=8)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "train",
            str(project),
            "--device",
            "cpu",
            "--events",
            "--stop-on-eof",
            "--nproc-per-node",
            "2",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert events[-1]["event"] == "done" and events[-1]["status"] == "stopped"
    (run,) = runs_folder(project).iterdir()
    assert json.loads((run / "status.json").read_text())["status"] == "stopped"
