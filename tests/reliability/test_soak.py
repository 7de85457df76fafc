"""Soak: the window's training dashboard fed 100,000 step events (10,000 in the default
suite) through `TrainingProcess.feed`, as a child's stdout would be; memory stays bounded and
closing the window leaves no window, thread or child process behind."""

from __future__ import annotations

import gc
import json
import os
import threading
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QApplication

from studio.ui.main_window import MainWindow
from studio.ui.training_process import TrainingProcess
from tests.leaks import children_left, live_children, threads_left
from tests.ui import conftest as ui_fixtures

from .conftest import Figures

# The window fixtures of tests/ui: `main_window` fails a test that leaks windows or threads.
main_window = ui_fixtures.main_window
settings_dir = ui_fixtures.settings_dir

SAMPLE_EVERY = 10_000
LINES_PER_TURN = 2_000
GROWTH_LIMIT_MB = 50.0


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def step_lines(first: int, count: int) -> bytes:
    lines = []
    for step in range(first, first + count):
        loss = 1.0 / (1.0 + step / 10_000) + (step % 7) * 1e-3
        lines.append(
            json.dumps(
                {
                    "event": "step",
                    "time": step * 1e-3,
                    "epoch": (step - 1) // 100 + 1,
                    "step": step,
                    "batch": (step - 1) % 100 + 1,
                    "batches": 100,
                    "loss": loss,
                    "lr": 1e-3,
                    "samples_per_s": 5000.0,
                }
            )
        )
        if step % 100 == 0:
            lines.append(
                json.dumps(
                    {
                        "event": "epoch",
                        "epoch": step // 100,
                        "step": step,
                        "train_loss": loss,
                        "val_loss": loss * 1.1,
                        "val_accuracy": 0.9,
                        "lr": 1e-3,
                        "epoch_time": 1.0,
                    }
                )
            )
    return ("\n".join(lines) + "\n").encode()


def soak(qtbot, window: MainWindow, steps: int, figures: Figures) -> None:
    threads_before = set(threading.enumerate())
    children_before = live_children()
    window.show_training_tab()
    dashboard = window.training_tab.dashboard
    process = TrainingProcess(dashboard)
    process.events_received.connect(dashboard.handle_events)
    started = {
        "event": "started",
        "run": "soak",
        "epochs": steps // 100,
        "start_epoch": 0,
        "steps_per_epoch": 100,
        "device": "cpu",
        "device_reason": "synthetic events",
    }
    process.feed(json.dumps(started).encode() + b"\n")
    qtbot.waitUntil(lambda: dashboard.events_seen >= 1, timeout=30_000)
    seen = dashboard.events_seen
    samples: list[float] = []
    step = 1
    while step <= steps:
        if (step - 1) % SAMPLE_EVERY == 0:
            gc.collect()
            samples.append(rss_mb())
        count = min(LINES_PER_TURN, steps - step + 1)
        seen += count + count // 100
        process.feed(step_lines(step, count))
        step += count
        qtbot.waitUntil(lambda seen=seen: dashboard.events_seen >= seen, timeout=60_000)
    qtbot.waitUntil(
        lambda: not any(p.dirty for p in dashboard.plots if p.isVisible()), timeout=60_000
    )
    gc.collect()
    samples.append(rss_mb())
    growth = max(samples) - samples[0]
    figures.add(f"soak: steps fed ({steps:,} run)", steps)
    figures.add(f"soak: RSS growth MB ({steps:,} steps)", round(growth))
    assert growth <= GROWTH_LIMIT_MB, f"RSS grew {growth:.1f} MB: {[round(s) for s in samples]}"
    process.events_received.disconnect(dashboard.handle_events)
    process.deleteLater()
    window.set_modified(False)
    window.close()
    QApplication.processEvents()
    assert not children_left(children_before), "child processes outlived the window"
    left = threads_left(threads_before)
    assert not left, f"threads outlived the window: {left}"


def test_soak_short(qtbot, main_window: MainWindow, figures: Figures) -> None:
    soak(qtbot, main_window, 10_000, figures)


@pytest.mark.slow
def test_soak_100k_steps(qtbot, main_window: MainWindow, figures: Figures) -> None:
    soak(qtbot, main_window, 100_000, figures)
