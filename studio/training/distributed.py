"""Training on several processes (GPUs, machines) with torchrun and DistributedDataParallel.

`studio train PROJECT --nproc-per-node N` starts `python -m torch.distributed.run` with the
same `studio train` arguments; each process it starts sees WORLD_SIZE, RANK and LOCAL_RANK in
its environment, and `run_training` then joins the process group, shards the training split
with a `DistributedSampler`, wraps the model in DDP and lets only rank 0 write the run.

The project's `batch_size` is per process, as torchrun users expect: the global batch (the
samples one optimizer step sees) is `batch_size × world size`. Validation runs on the whole
split in every process, so its metrics are exact and the same on every rank (an F1 is not
the mean of per-shard F1s); the epoch's training loss is averaged across ranks.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from studio.training.callbacks import Callback
from studio.training.errors import TrainingError

if TYPE_CHECKING:
    from studio.training.modes.base import TrainingMode
    from studio.training.trainer import Trainer

DEFAULT_MASTER_PORT = 29500


@dataclass(frozen=True)
class ProcessGroup:
    """Where this process stands: rank 0 of 1 when training runs in one process."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the run (events, checkpoints, metrics, status); the others do not."""
        return self.rank == 0


def group_from_env(environ: dict[str, str] | None = None) -> ProcessGroup:
    """The rank, local rank and world size torchrun put in the environment (1 process if none)."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise TrainingError(f"torchrun's environment is not understood: {exc}") from None
    return ProcessGroup(rank=rank, local_rank=local, world_size=max(world, 1))


def init_process_group(group: ProcessGroup, device: torch.device) -> None:
    """Join the process group: nccl between CUDA devices, gloo on the CPU."""
    import torch.distributed as dist

    if not group.distributed or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=group.rank, world_size=group.world_size)


def destroy_process_group() -> None:
    """Leave the group together: a barrier first, so no rank tears down gloo's connections
    (rank 0 also hosts the rendezvous store) while another still uses them."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # Another rank that already failed makes the barrier raise: leave anyway.
        with contextlib.suppress(RuntimeError):
            dist.barrier()
        dist.destroy_process_group()


def exit_worker(status: int) -> None:
    """End a torchrun worker without the interpreter's shutdown.

    Gloo's C++ threads can outlive `destroy_process_group` by a moment; when the interpreter
    is torn down under them, the process now and then dies with "terminate called without
    an active exception" (SIGABRT) after a run that finished well, and torchrun then reports
    the whole run as failed. Everything the run wrote is flushed and fsynced already.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def cuda_device_for(group: ProcessGroup, device: torch.device) -> torch.device:
    """One GPU per process: LOCAL_RANK picks it, so `cuda` means `cuda:LOCAL_RANK`."""
    if device.type != "cuda" or not group.distributed:
        return device
    if group.local_rank >= torch.cuda.device_count():
        raise TrainingError(
            f"process {group.rank} wants GPU {group.local_rank}, but this machine has "
            f"{torch.cuda.device_count()}: lower --nproc-per-node"
        )
    torch.cuda.set_device(group.local_rank)
    return torch.device("cuda", group.local_rank)


def broadcast_object(group: ProcessGroup, value: Any) -> Any:
    """Rank 0's `value` on every rank (e.g. the run id only rank 0 chose)."""
    if not group.distributed:
        return value
    import torch.distributed as dist

    box = [value if group.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class _DistributedModel(nn.parallel.DistributedDataParallel):
    """DDP whose state dict is the wrapped model's, so checkpoints match one-process runs."""

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)


def wrap_mode(mode: TrainingMode, group: ProcessGroup) -> None:
    """Wrap the mode's model in DDP: gradients are averaged across ranks in `backward`."""
    from studio.training.modes.supervised import SupervisedMode

    if not group.distributed:
        return
    if not isinstance(mode, SupervisedMode):
        raise TrainingError(
            "training on several processes supports supervised and autoencoder projects; "
            "train this one with a single process"
        )
    device_ids = [mode.device.index] if mode.device.type == "cuda" else None
    mode.use_model(_DistributedModel(mode.model, device_ids=device_ids))


class AverageAcrossRanks(Callback):
    """Averages the epoch's training loss over the ranks, before anything records it.

    Each rank trained on its own shard, so its loss is its shard's; the validation figures
    are already the same everywhere (each rank validates on the whole split).
    """

    def __init__(self, group: ProcessGroup, device: torch.device) -> None:
        self.group = group
        self.device = device

    def on_validation_end(self, trainer: Trainer) -> None:
        import torch.distributed as dist

        value = torch.tensor([trainer.train_loss], dtype=torch.float64, device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        trainer.train_loss = float(value.item()) / self.group.world_size


class StopTogether(Callback):
    """A stop asked of one rank (the window's "stop", Ctrl+C) stops every rank at one step.

    Without it the other ranks would wait forever in the next gradient all-reduce. It is the
    last callback, so it sees any stop the others requested for this step; its flag costs one
    tiny all-reduce per step, beside DDP's own gradient all-reduce.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def on_batch_end(self, trainer: Trainer) -> None:
        import torch.distributed as dist

        flag = torch.tensor([1 if trainer.should_stop else 0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() and not trainer.should_stop:
            trainer.request_stop("stopped (another process was asked to stop)")


# ---- launching


@dataclass(frozen=True)
class Launch:
    """What `--nproc-per-node` and friends asked for."""

    nproc_per_node: int
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None


def torchrun_command(launch: Launch, train_args: Sequence[str]) -> list[str]:
    """`python -m torch.distributed.run ... -m studio train ...` for one node."""
    if launch.nproc_per_node < 1 or launch.nnodes < 1:
        raise TrainingError("--nproc-per-node and --nnodes must be positive")
    if not 0 <= launch.node_rank < launch.nnodes:
        raise TrainingError(f"--node-rank must be in 0..{launch.nnodes - 1}")
    command = [sys.executable, "-m", "torch.distributed.run"]
    command += [f"--nproc-per-node={launch.nproc_per_node}", f"--nnodes={launch.nnodes}"]
    if launch.nnodes == 1 and launch.master_addr is None:
        # One machine: torchrun picks a free port itself, so two runs never collide.
        command.append("--standalone")
    else:
        if launch.master_addr is None:
            raise TrainingError("--nnodes above 1 needs --master-addr (the rank-0 machine)")
        port = launch.master_port or DEFAULT_MASTER_PORT
        command += [
            f"--node-rank={launch.node_rank}",
            f"--master-addr={launch.master_addr}",
            f"--master-port={port}",
        ]
    return [*command, "-m", "studio", "train", *train_args]


def slurm_script(
    train_args: Sequence[str], *, nodes: int, gpus_per_node: int, job_name: str = "strata"
) -> str:
    """A SLURM batch script: one task per node, each running torchrun for its GPUs.

    The rendezvous (c10d) is the first node of the allocation; torchrun gives every process
    its rank from there.
    """
    studio = " ".join(shlex.quote(a) for a in ["-m", "studio", "train", *train_args])
    return f"""#!/bin/bash
#SBATCH --job-name={job_name}
#SBATCH --nodes={nodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node={gpus_per_node}
#SBATCH --cpus-per-task={max(4 * gpus_per_node, 4)}
#SBATCH --output=%x-%j.out
# Written by `studio train --print-slurm`. Activate the environment that has studio, then
# submit with `sbatch`. The project file and its runs folder must be on a filesystem every
# node sees; only rank 0 (on the first node) writes the run.

set -euo pipefail
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_ADDR=$head_node
export MASTER_PORT=${{MASTER_PORT:-{DEFAULT_MASTER_PORT}}}

srun python -m torch.distributed.run \\
    --nnodes="$SLURM_JOB_NUM_NODES" \\
    --nproc-per-node={gpus_per_node} \\
    --rdzv-id="$SLURM_JOB_ID" \\
    --rdzv-backend=c10d \\
    --rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT" \\
    {studio}
"""
