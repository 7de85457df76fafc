"""The device doctor: this CPU machine's real report, and every CUDA branch from plain facts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from studio.training.doctor import DeviceFacts, GpuFacts, diagnose, doctor_report, gather_facts

CPU_ONLY = torch.version.cuda is None


def facts(**changes) -> DeviceFacts:
    base = {
        "torch_version": "2.13.0+cu128",
        "cuda_build": "12.8",
        "cudnn_version": 91000,
        "cuda_available": False,
        "cpu_threads": 8,
        "cpu_count": 8,
    }
    return DeviceFacts(**{**base, **changes})


H100 = GpuFacts(index=0, name="NVIDIA H100 80GB HBM3", capability="9.0", memory_mb=81_559)


def test_report_fields_on_this_machine():
    report = doctor_report()
    found = report.facts
    assert found.torch_version == torch.__version__
    assert found.cuda_build == torch.version.cuda
    assert found.cuda_available == torch.cuda.is_available()
    assert found.cpu_threads == torch.get_num_threads() >= 1
    assert found.tf32_matmul == torch.backends.cuda.matmul.allow_tf32
    text = report.format_text()
    for label in ("torch", "CUDA build", "cuDNN", "MPS", "TF32", "CPU threads"):
        assert label in text
    assert report.diagnosis.device in ("cpu", "cuda", "mps")


@pytest.mark.skipif(not CPU_ONLY, reason="this torch has CUDA")
def test_cpu_only_build_says_so():
    report = doctor_report()
    assert report.diagnosis.device == "cpu"
    assert any("CPU-only build" in r for r in report.diagnosis.reasons)
    assert "none (CPU-only build)" in report.format_text()


def test_doctor_command_json():
    result = subprocess.run(
        [sys.executable, "-m", "studio", "doctor", "--json"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["facts"]["torch_version"] == torch.__version__
    assert document["facts"]["cpu_threads"] >= 1
    assert document["diagnosis"]["device"] == diagnose(gather_facts()).device


def test_cpu_only_build_message_from_facts():
    diagnosis = diagnose(facts(torch_version="2.13.0+cpu", cuda_build=None, cudnn_version=None))
    assert diagnosis.device == "cpu"
    assert "CPU-only build" in diagnosis.reasons[0] and "2.13.0+cpu" in diagnosis.reasons[0]


def test_hidden_devices():
    for value in ("", "-1"):
        diagnosis = diagnose(facts(cuda_visible_devices=value))
        assert "CUDA_VISIBLE_DEVICES" in diagnosis.reasons[0] and "hides" in diagnosis.reasons[0]


def test_driver_too_old_quotes_torch():
    said = (
        "CUDA initialization: The NVIDIA driver on your system is too old (found version "
        "11040). Please update your GPU driver."
    )
    diagnosis = diagnose(facts(cuda_messages=(said,)))
    assert diagnosis.device == "cpu"
    assert "driver is too old" in diagnosis.reasons[0] and "12.8" in diagnosis.reasons[0]
    assert "found version 11040" in diagnosis.reasons[0]


def test_no_driver_and_no_device():
    no_driver = diagnose(facts(cuda_messages=("Found no NVIDIA driver on your system.",)))
    assert "no NVIDIA driver" in no_driver.reasons[0]
    nothing = diagnose(facts())
    assert "no GPU is visible" in nothing.reasons[0]
    other = diagnose(facts(cuda_messages=("CUDA error: unknown error",)))
    assert other.reasons[0].startswith("CUDA could not start: CUDA error")


def test_gpus_available():
    two = (H100, GpuFacts(1, H100.name, "9.0", 81_559))
    diagnosis = diagnose(facts(cuda_available=True, gpus=two, tf32_matmul=False))
    assert diagnosis.device == "cuda" and not diagnosis.reasons
    assert "H100" in diagnosis.summary and "81,559 MiB" in diagnosis.summary
    assert any("--nproc-per-node 2" in n for n in diagnosis.notes)
    assert any("TF32" in n for n in diagnosis.notes)
    quiet = diagnose(facts(cuda_available=True, gpus=(H100,), tf32_matmul=True))
    assert quiet.notes == ()


def test_mps_and_threads():
    apple = diagnose(facts(cuda_build=None, mps_built=True, mps_available=True))
    assert apple.device == "mps" and "CPU-only" in apple.reasons[0]
    limited = diagnose(facts(cuda_build=None, cpu_threads=1, cpu_count=8))
    assert any("1 of 8 CPUs" in n for n in limited.notes)
