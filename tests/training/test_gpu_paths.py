"""The CUDA paths' decisions, checked on the CPU: which precision, which speed-ups, which layout.

No GPU is needed: the choices are plain functions of the device and what the GPU reports,
and the mixed-precision code of both modes runs under CPU autocast (bfloat16), which takes
the same code path as CUDA autocast.
"""

from __future__ import annotations

import io
import json

import pytest
import torch
from torch import nn

from studio.core.project import TrainingSection
from studio.training.devices import choose_precision, enable_cuda_speedups, wants_channels_last
from studio.training.modes.gan import GanMode
from studio.training.modes.supervised import SupervisedMode
from studio.training.session import run_training

CUDA = torch.device("cuda")
CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("device", "asked", "bf16_supported", "dtype", "scaler", "note"),
    [
        (CPU, "fp32", None, None, False, None),
        (CPU, "mixed", None, None, False, "CUDA GPUs only"),
        (CPU, "fp16", None, None, False, "CUDA GPUs only"),
        (CUDA, "fp32", True, None, False, None),
        (CUDA, "mixed", True, torch.bfloat16, False, None),
        (CUDA, "mixed", False, torch.float16, True, None),
        (CUDA, "bf16", True, torch.bfloat16, False, None),
        (CUDA, "bf16", False, torch.float16, True, "no bfloat16"),
        (CUDA, "fp16", True, torch.float16, True, None),
    ],
)
def test_precision_follows_the_device_and_what_it_supports(
    device, asked, bf16_supported, dtype, scaler, note
):
    choice = choose_precision(device, asked, bf16_supported=bf16_supported)
    assert choice.dtype == dtype
    assert choice.needs_grad_scaler is scaler
    if note is None:
        assert choice.note is None
    else:
        assert note in choice.note


@pytest.fixture
def tf32_flags():
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize(("capability", "turned_on"), [((7, 5), False), ((8, 0), True)])
def test_tf32_only_on_ampere_and_newer(monkeypatch, tf32_flags, capability, turned_on):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert bool(enable_cuda_speedups(CUDA)) is turned_on
    assert torch.backends.cuda.matmul.allow_tf32 is turned_on
    assert torch.backends.cudnn.allow_tf32 is turned_on
    assert enable_cuda_speedups(CPU) == []


def test_channels_last_for_convolutions_on_cuda_only():
    convolutional = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    dense = nn.Sequential(nn.Linear(4, 4))
    assert wants_channels_last(convolutional, CUDA)
    assert not wants_channels_last(dense, CUDA)
    assert not wants_channels_last(convolutional, CPU)


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def test_supervised_steps_run_under_autocast():
    torch.manual_seed(0)
    mode = SupervisedMode(
        _mlp(),
        TrainingSection(),
        loss="cross_entropy",
        metrics=["accuracy"],
        steps_per_epoch=1,
        device=CPU,
        autocast=torch.bfloat16,
    )
    inputs, labels = torch.randn(8, 4), torch.randint(0, 3, (8,))
    _, output, _ = mode._loss((inputs, labels))
    assert output.dtype == torch.bfloat16  # the forward pass ran in the autocast dtype
    before = [p.detach().clone() for p in mode.model.parameters()]
    losses = [mode.training_step((inputs, labels))["loss"] for _ in range(20)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    # The weights stay fp32 (autocast casts per operation) and they were updated.
    for old, new in zip(before, mode.model.parameters(), strict=True):
        assert new.dtype == torch.float32 and not torch.equal(old, new)
    assert mode.scaler is None  # a scaler is for fp16 on CUDA only


def test_gan_steps_run_under_autocast():
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8))
    discriminator = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    mode = GanMode(
        generator,
        discriminator,
        TrainingSection(mode="gan"),
        noise_shape=[4],
        device=CPU,
        autocast=torch.bfloat16,
    )
    real = torch.randn(16, 8) + 2.0
    d_loss, fake, _ = mode._losses(real)
    assert fake.dtype == torch.bfloat16 and d_loss.dtype == torch.float32
    before = [p.detach().clone() for p in generator.parameters()]
    logs = mode.training_step((real, torch.zeros(16)))
    assert all(torch.isfinite(torch.tensor(list(logs.values()))))
    assert any(not torch.equal(a, b) for a, b in zip(before, generator.parameters(), strict=True))
    assert "scaler" not in mode.state_dict()


def test_mixed_precision_asked_on_the_cpu_trains_in_fp32_and_says_so(example):
    project = example("mlp_classifier", epochs=1, precision="mixed")
    events = io.StringIO()
    result = run_training(project, device="cpu", events=events)
    assert result.status == "completed"
    logs = [
        json.loads(line)["message"]
        for line in events.getvalue().splitlines()
        if json.loads(line)["event"] == "log"
    ]
    assert any("applies on CUDA GPUs only" in message for message in logs)
    assert not any(message.startswith("on: mixed precision") for message in logs)
