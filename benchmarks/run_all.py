"""Every benchmark in this folder, one after the other; each prints its own ratios."""

from __future__ import annotations

import runpy
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    for script in (
        "graph_scale.py",
        "step_parity.py",
        "ui_editor.py",
        "data_load.py",
        "train_parity.py",
        "explain_latency.py",
        "ui_training.py",
        "memory_forecast.py",
        "wide_csv.py",
        "onnx_chain.py",
    ):
        print(f"\n### {script}")
        runpy.run_path(str(HERE / script), run_name="__main__")
