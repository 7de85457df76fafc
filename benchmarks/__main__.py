"""`python -m benchmarks`: run every benchmark and the reliability suite, write RESULTS.md.

    python -m benchmarks [--quick] [--only graph_scale ui_training] [--no-reliability]
    python -m benchmarks --report-only    # RESULTS.md again from the saved figures


Each benchmark runs as its own process (`python benchmarks/NAME.py`), so one never warms
caches or holds memory for another; its output is echoed and the figures it prints are
read back (see `benchmarks/report.py`). The reliability suite runs
under pytest and leaves its counts in `benchmarks/reliability.json`; the benchmarks' figures
are kept in `benchmarks/figures.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import PARSERS, Figure, read_reliability, render

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RELIABILITY_JSON = HERE / "reliability.json"
FIGURES_JSON = HERE / "figures.json"

# Smaller sizes for --quick: the same figures, in a few minutes instead of a quarter hour.
QUICK_ARGS = {
    "graph_scale": ["--repeat", "2"],
    "step_parity": ["--steps", "50", "--rounds", "3"],
    "ui_editor": ["--repeat", "2"],
    "data_load": ["--rows", "200000", "--rounds", "1"],
    "train_parity": ["--epochs", "2", "--rounds", "2"],
    "explain_latency": ["--repeats", "3", "--epochs", "1"],
    "ui_training": ["--seconds", "10"],
    "memory_forecast": ["--batch", "32"],
    "onnx_chain": ["--nodes", "5000", "20000"],
    "wide_csv": ["--columns", "1000", "20000"],
}


def run_benchmark(name: str, quick: bool) -> tuple[dict[str, object], list[Figure]]:
    command = [sys.executable, str(HERE / f"{name}.py"), *(QUICK_ARGS[name] if quick else [])]
    shown = " ".join(["python", f"benchmarks/{name}.py", *command[2:]])
    print(f"### {shown}", flush=True)
    start = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
        output, rc = result.stdout + result.stderr, result.returncode
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        output, rc = f"{partial}\n(timed out after an hour)", -1
    seconds = time.perf_counter() - start
    print(output, flush=True)
    measured = time.strftime("%Y-%m-%d %H:%M %Z")
    return {"command": shown, "rc": rc, "seconds": seconds, "date": measured}, PARSERS[name](output)


def run_reliability(quick: bool) -> None:
    env = dict(os.environ, STRATA_RELIABILITY_JSON=str(RELIABILITY_JSON))
    command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider"]
    if quick:
        env["STRATA_RELIABILITY_LABEL"] = "default suite (pytest tests/reliability)"
    else:
        # The slow tests too (20 training kills, 100,000-step soak), and more fuzz cases.
        env.setdefault("STRATA_FUZZ_EXAMPLES", "1000")
        env["STRATA_RELIABILITY_LABEL"] = (
            f"full run: {env['STRATA_FUZZ_EXAMPLES']} cases per fuzz test, slow tests included"
        )
        command += ["-m", "slow or not slow"]
    print(f"### {' '.join(command[2:])}", flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    parser.add_argument("--only", nargs="+", choices=sorted(PARSERS), help="these benchmarks only")
    parser.add_argument("--no-reliability", action="store_true", help="reuse reliability.json")
    parser.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md only")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads(FIGURES_JSON.read_text(encoding="utf-8"))
        kept = [Figure(**f) for f in saved["figures"]]
        reliability = read_reliability(RELIABILITY_JSON)
        text = render(saved["date"], saved["runs"], kept, reliability, saved["mode"])
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
        return 0
    date = time.strftime("%Y-%m-%d %H:%M %Z")
    runs: dict[str, dict[str, object]] = {}
    figures: list[Figure] = []
    if args.only and FIGURES_JSON.is_file():
        # Re-measure some benchmarks: the others keep the figures of the last full report.
        saved_before = json.loads(FIGURES_JSON.read_text(encoding="utf-8"))
        runs = {k: v for k, v in saved_before["runs"].items() if k not in args.only}
        figures = [Figure(**f) for f in saved_before["figures"] if f["benchmark"] not in args.only]
    for name in args.only or list(PARSERS):
        runs[name], found = run_benchmark(name, args.quick)
        figures += found
    runs = {name: runs[name] for name in PARSERS if name in runs}
    figures.sort(key=lambda f: list(PARSERS).index(f.benchmark))
    mode = "quick" if args.quick else "full"
    saved = {"date": date, "mode": mode, "runs": runs}
    saved["figures"] = [dataclasses.asdict(f) for f in figures]
    FIGURES_JSON.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    if not args.no_reliability:
        run_reliability(args.quick)
    text = render(date, runs, figures, read_reliability(RELIABILITY_JSON), mode)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
