"""Training-step time of compiled graphs vs the same networks written by hand.

For the MLP, CNN and LSTM templates: the compiled `GraphModule` and a hand-written
`nn.Module` with the same weights train on the same batches; losses must agree to 5
decimals and the step-time ratio (compiled / hand-written) should be <= 1.02.
Run: python benchmarks/step_parity.py [--steps 200] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from studio.compile.compiler import compile_graph
from studio.core.project import Project
from studio.plugins import default_registry

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"


class HandMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden1 = nn.Linear(4, 32)
        self.hidden2 = nn.Linear(32, 32)
        self.classifier = nn.Linear(32, 3)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(torch.relu(self.hidden1(x)))
        return self.classifier(torch.relu(self.hidden2(x)))


class HandCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(0.25)
        self.classifier = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(torch.relu(self.bn2(self.conv2(x))))
        return self.classifier(self.dropout(x.flatten(1)))


class HandLSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, 32, num_layers=2, dropout=0.1, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


CASES = {
    "MLP": ("mlp_classifier", HandMLP, (256, 4), "class", 3),
    "CNN": ("cnn_classifier", HandCNN, (128, 1, 8, 8), "class", 10),
    "LSTM": ("lstm_sequence", HandLSTM, (64, 32, 1), "regress", 1),
}


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """Copy parameters and buffers in registration order (names may differ)."""
    pairs = list(zip(src.state_dict().values(), dst.state_dict().values(), strict=True))
    with torch.no_grad():
        for a, b in pairs:
            b.copy_(a)


def make_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, kind: str):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss() if kind == "class" else nn.MSELoss()

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def run_case(name: str, steps: int, rounds: int) -> tuple[float, float, float]:
    template, hand_cls, shape, kind, classes = CASES[name]
    project = Project.load(EXAMPLES / f"{template}.strata", default_registry())
    torch.manual_seed(0)
    compiled = compile_graph(project.main_graph)
    hand = hand_cls()
    copy_weights(compiled, hand)
    x = torch.randn(shape)
    y = torch.randint(0, classes, (shape[0],)) if kind == "class" else torch.randn(shape[0], 1)
    losses = {}
    for label, model in (("compiled", compiled), ("hand", hand)):
        torch.manual_seed(1)
        step = make_step(model, x, y, kind)
        losses[label] = [step() for _ in range(5)]
    drift = max(abs(a - b) for a, b in zip(losses["compiled"], losses["hand"], strict=True))
    steppers = {"compiled": make_step(compiled, x, y, kind), "hand": make_step(hand, x, y, kind)}
    for step in steppers.values():
        for _ in range(10):
            step()
    per_step: dict[str, list[float]] = {"compiled": [], "hand": []}
    for _ in range(rounds):
        for label, step in steppers.items():
            start = time.perf_counter()
            for _ in range(steps):
                step()
            per_step[label].append((time.perf_counter() - start) / steps * 1e3)
    compiled_ms = statistics.median(per_step["compiled"])
    hand_ms = statistics.median(per_step["hand"])
    return compiled_ms, hand_ms, drift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"training step, median of {args.rounds} rounds x {args.steps} steps (CPU)")
    for name in CASES:
        compiled_ms, hand_ms, drift = run_case(name, args.steps, args.rounds)
        verdict = "same losses" if drift < 1e-5 else f"LOSSES DIFFER by {drift:.2e}"
        print(
            f"  {name:5s} compiled {compiled_ms:7.3f} ms  hand-written {hand_ms:7.3f} ms  "
            f"ratio {compiled_ms / hand_ms:.3f} (target <= 1.02)  {verdict}"
        )


if __name__ == "__main__":
    main()
