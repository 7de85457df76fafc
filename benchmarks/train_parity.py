"""`studio train`'s trainer vs a minimal hand-written PyTorch loop: same losses, epoch time.

Both train the same compiled model (same initial weights) on the same batches in the same
order with the same seed (dropout included), each epoch a training pass and a validation
pass. The trainer runs twice: with the event writer alone (writing to /dev/null), as
Lightning's parity benchmark runs without checkpoint files, and with everything `studio train
--events` does (events, `metrics.jsonl`, `last.pt`/`best.pt` and `status.json` in a run folder
on the temp disk): the second is the headline figure. Both compute the validation loss and
accuracy (the hand loop by counting argmax hits, the trainer through
`studio.training.metrics`, whose cost is the product's and is counted). Prints whether every
step's loss agrees to 5 decimals and the median epoch-time ratio trainer / hand-written
(target: at most 1.03 on CPU), and the ratio of the fastest tenth of epochs: interference
from other processes only ever adds time, so on a shared machine that one is the steadier
figure.

    python benchmarks/train_parity.py [--template cnn_classifier] [--epochs 8] [--rounds 6]
                                      [--threads N] [--device cuda] [--precision mixed]

On a GPU (`--device cuda`), run it with `--precision fp32` and with `--precision mixed`: the
ratio of the two epoch times is the mixed-precision speed-up.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from studio.compile.compiler import compile_graph
from studio.core.project import Project
from studio.data.pipeline import load_project_data
from studio.plugins import default_registry
from studio.training.callbacks import (
    Callback,
    Checkpoints,
    EventWriter,
    MetricsLog,
    RunStatus,
    monitored_key,
)
from studio.training.devices import choose_precision, enable_cuda_speedups, wants_channels_last
from studio.training.events import EventStream
from studio.training.modes.supervised import SupervisedMode
from studio.training.runs import RunFolder
from studio.training.trainer import Trainer

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
TARGET_RATIO = 1.03
# Where both loops train (`--device`) and the mixed-precision dtype (`--precision`).
DEVICE = torch.device("cpu")
AUTOCAST: torch.dtype | None = None


def synchronize() -> None:
    """Wait for the GPU, so that an epoch's time is its work, not its queueing."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


class Recorder(Callback):
    """Keeps each step's loss and each epoch's wall time (training and validation)."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.epoch_times: list[float] = []
        self.started = 0.0

    def on_epoch_start(self, trainer: Trainer) -> None:
        self.started = time.perf_counter()

    def on_batch_end(self, trainer: Trainer) -> None:
        self.losses.append(trainer.loss_value)

    def on_validation_end(self, trainer: Trainer) -> None:
        synchronize()
        self.epoch_times.append(time.perf_counter() - self.started)


def with_trainer(
    project: Project,
    model: nn.Module,
    loaders: Any,
    epochs: int,
    seed: int,
    run_folder: Path | None = None,
) -> tuple[list[float], list[float]]:
    """The product's trainer; with `run_folder`, also every file `studio train` writes."""
    torch.manual_seed(seed)
    settings = project.training
    mode = SupervisedMode(
        model,
        settings,
        loss="cross_entropy",
        metrics=["accuracy"],
        steps_per_epoch=len(loaders.train),
        device=DEVICE,
        autocast=AUTOCAST,
    )
    recorder = Recorder()
    callbacks: list[Callback] = [recorder]
    if run_folder is not None:
        run = RunFolder.create(run_folder / "parity.strata")
        monitor = monitored_key(settings.early_stopping.metric)
        callbacks += [MetricsLog(run), Checkpoints(run, monitor, None), RunStatus(run)]
    with open(os.devnull, "w") as devnull:
        callbacks.append(EventWriter(EventStream(devnull)))
        trainer = Trainer(
            mode,
            loaders.train,
            loaders.validation,
            epochs=epochs,
            callbacks=callbacks,
            seed=seed,
            monitor=monitored_key(settings.early_stopping.metric),
        )
        trainer.fit()
    return recorder.losses, recorder.epoch_times


def by_hand(
    project: Project, model: nn.Module, loaders: Any, epochs: int, seed: int
) -> tuple[list[float], list[float]]:
    """The loop one writes by hand: nothing but PyTorch."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=project.training.learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    losses: list[float] = []
    times: list[float] = []
    # What a careful hand-written GPU loop does too: channels-last for convolutions, autocast,
    # a gradient scaler for fp16.
    layout = torch.channels_last if wants_channels_last(model, DEVICE) else None
    model.to(DEVICE, memory_format=layout or torch.preserve_format)
    scaler = torch.amp.GradScaler("cuda") if AUTOCAST is torch.float16 else None

    def moved(x: torch.Tensor) -> torch.Tensor:
        if DEVICE.type == "cpu":
            return x
        if layout is not None and x.dim() == 4:
            return x.to(DEVICE, non_blocking=True, memory_format=layout)
        return x.to(DEVICE, non_blocking=True)

    def autocast() -> Any:
        if AUTOCAST is None:
            return contextlib.nullcontext()
        return torch.autocast(DEVICE.type, dtype=AUTOCAST)

    for epoch in range(1, epochs + 1):
        loaders.train.sampler.sampler.generator.manual_seed(seed * 100_003 + epoch)
        started = time.perf_counter()
        model.train()
        for x, y in loaders.train:
            x, y = moved(x), moved(y)
            with autocast():
                loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            losses.append(loss.item())
        model.eval()
        correct = total = 0
        val_loss = 0.0
        with torch.no_grad():
            for x, y in loaders.validation:
                x, y = moved(x), moved(y)
                with autocast():
                    out = model(x)
                    val_loss += loss_fn(out, y).item() * len(y)
                correct += int((out.argmax(1) == y).sum())
                total += len(y)
        synchronize()
        times.append(time.perf_counter() - started)
    return losses, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="cnn_classifier")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: torch's default); 1 is steadier"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "mixed", "bf16", "fp16"),
        help="mixed precision on CUDA (run once with fp32 and once with mixed: the speed-up)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    global DEVICE, AUTOCAST
    DEVICE = torch.device(args.device)
    AUTOCAST = choose_precision(DEVICE, args.precision).dtype
    if DEVICE.type == "cuda":
        enable_cuda_speedups(DEVICE)

    project = Project.load(EXAMPLES / f"{args.template}.strata", default_registry())
    data = load_project_data(project)
    torch.manual_seed(args.seed)
    initial = compile_graph(project.main_graph).state_dict()
    times: dict[str, list[float]] = {"trainer": [], "studio train": [], "hand": []}
    same = True
    with tempfile.TemporaryDirectory(prefix="strata-parity-") as folder:

        def full(*arguments: Any) -> tuple[list[float], list[float]]:
            return with_trainer(*arguments, run_folder=Path(folder))

        runners = [("trainer", with_trainer), ("studio train", full), ("hand", by_hand)]
        for round_index in range(args.rounds):
            results = {}
            # Rotate which goes first, so none always gets the warmer (or cooler) machine.
            shift = round_index % len(runners)
            for name, run in runners[shift:] + runners[:shift]:
                model = compile_graph(project.main_graph)
                model.load_state_dict(initial)
                loaders = data.loaders(
                    batch_size=project.training.batch_size, seed=args.seed, device=DEVICE
                )
                results[name] = run(project, model, loaders, args.epochs, args.seed)
            theirs = [round(v, 5) for v in results["hand"][0]]
            for name in ("trainer", "studio train"):
                same = same and [round(v, 5) for v in results[name][0]] == theirs
            # The first epoch warms caches and allocators; compare the steady state.
            for name, (_losses, epoch_times) in results.items():
                times[name] += epoch_times[1:]
    where = (
        f"CPU, {torch.get_num_threads()} torch threads"
        if DEVICE.type == "cpu"
        else f"{torch.cuda.get_device_name(DEVICE)}, {args.precision}"
    )
    print(f"template {args.template}: {args.epochs} epochs × {args.rounds} rounds, {where}")
    print(f"losses identical to 5 decimals: {'yes' if same else 'NO'}")
    hand_s = statistics.median(times["hand"])
    for name, label in (("studio train", "studio train"), ("trainer", "trainer, events only")):
        ours_s = statistics.median(times[name])
        ratio = ours_s / hand_s
        verdict = "OK" if ratio <= TARGET_RATIO else "above target"
        print(
            f"{label}: median epoch {ours_s * 1000:.1f} ms, hand-written {hand_s * 1000:.1f} ms, "
            f"ratio {ratio:.3f} (target ≤ {TARGET_RATIO}): {verdict}; "
            f"difference {(ours_s - hand_s) * 1000:+.1f} ms per epoch"
        )
        ours_fast, hand_fast = fastest_tenth(times[name]), fastest_tenth(times["hand"])
        print(
            f"{label}: fastest tenth of epochs {ours_fast * 1000:.2f} ms, hand-written "
            f"{hand_fast * 1000:.2f} ms, ratio {ours_fast / hand_fast:.3f}"
        )


def fastest_tenth(times: list[float]) -> float:
    """The 10th percentile: what an epoch costs when nothing else got in its way."""
    return statistics.quantiles(times, n=10)[0] if len(times) >= 2 else times[0]


if __name__ == "__main__":
    main()
