"""CSV loading: our table source vs `pandas.read_csv` on a 1,000,000 × 20 numeric file.

Writes the file to a temporary folder, then times each loader in a fresh subprocess (so one
loader's memory and caches never flatter another), several rounds, and prints the median time,
its ratio to `pandas.read_csv` (target: at most 1.5 for our source into tensors) and the peak
memory (the process's maximum resident set, and how much it grew during the load).

    python benchmarks/data_load.py [--rows 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = 20
TARGET_RATIO = 1.5

# Each loader runs in its own interpreter: imports first (not timed), then the load.
LOADER = """
import json, resource, sys, time
path, warmup, which = sys.argv[1], sys.argv[2], sys.argv[3]

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

import numpy as np
import pandas as pd
import torch
from studio.core.project import DataSection
from studio.data.pipeline import load_data
from studio.data.sources import read_data

def load(path):
    section = DataSection.model_validate(
        {"source": {"kind": "table", "path": path, "target": "c19"}}
    )
    if which == "pandas.read_csv":
        return len(pd.read_csv(path))
    if which == "pandas.read_csv + to tensor":
        return len(torch.from_numpy(pd.read_csv(path).to_numpy(np.float32)))
    if which == "studio table source -> tensors":
        raw = read_data(section)
        features = [torch.from_numpy(a) for a in raw.encoder.encode()]
        return len(torch.from_numpy(raw.target))
    data = load_data(section)
    return sum(data.split_sizes().values())

load(warmup)  # the first call of each loader imports what it needs; that is not parsing
before = rss_mib()
start = time.perf_counter()
rows = load(path)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "rows": rows, "peak_mib": peak, "before_mib": before}))
"""

LOADERS = (
    "pandas.read_csv",
    "pandas.read_csv + to tensor",
    "studio table source -> tensors",
    "studio load_data (+ split, normalisation)",
)


def write_csv(path: Path, rows: int) -> float:
    """A numeric CSV with a header c0..c19 and `rows` rows of 6-digit values."""
    import numpy as np

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    with path.open("w", encoding="ascii") as handle:
        handle.write(",".join(f"c{i}" for i in range(COLUMNS)) + "\n")
        for first in range(0, rows, 100_000):
            block = rng.standard_normal((min(100_000, rows - first), COLUMNS))
            np.savetxt(handle, block, fmt="%.6g", delimiter=",")
    return time.perf_counter() - start


def run_loader(path: Path, warmup: Path, which: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", LOADER, str(path), str(warmup), which],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{which} failed:\n{result.stderr}")
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "numbers.csv"
        warmup = Path(folder) / "warmup.csv"
        seconds = write_csv(path, args.rows)
        write_csv(warmup, 100)
        size = path.stat().st_size / 2**20
        print(
            f"{args.rows:,} rows × {COLUMNS} columns, {size:.0f} MiB (written in {seconds:.1f} s)"
        )
        results: dict[str, list[dict[str, float]]] = {name: [] for name in LOADERS}
        for _ in range(args.rounds):
            # Interleaved rounds: a busy moment on the machine hurts every loader alike.
            for name in LOADERS:
                results[name].append(run_loader(path, warmup, name))
    baseline = statistics.median(r["seconds"] for r in results["pandas.read_csv"])
    print(f"\n{'loader':44} {'median s':>9} {'ratio':>6} {'peak MiB':>9} {'grew MiB':>9}")
    for name in LOADERS:
        runs = results[name]
        assert all(r["rows"] == args.rows for r in runs), f"{name} lost rows"
        median = statistics.median(r["seconds"] for r in runs)
        peak = max(r["peak_mib"] for r in runs)
        grew = max(r["peak_mib"] - r["before_mib"] for r in runs)
        print(f"{name:44} {median:9.2f} {median / baseline:6.2f} {peak:9.0f} {grew:9.0f}")
    ours = statistics.median(r["seconds"] for r in results["studio table source -> tensors"])
    verdict = "meets" if ours / baseline <= TARGET_RATIO else "MISSES"
    print(
        f"\nstudio table source -> tensors / pandas.read_csv = {ours / baseline:.2f} "
        f"({verdict} the target of {TARGET_RATIO})"
    )


if __name__ == "__main__":
    main()
