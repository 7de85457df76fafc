"""Turn what each benchmark prints into figures with their targets, and write RESULTS.md.

Every benchmark prints its figures in lines like ``compile  400.2 ms  ratio to target 0.80
(target 500 ms)``; the parsers below read those lines (and the final JSON line some scripts
print), so the scripts stay runnable and readable on their own.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Figure:
    """One measured value, and the target it is held to (None: shown for information)."""

    benchmark: str
    name: str
    value: float | str
    unit: str = ""
    target: float | None = None
    # "<=": lower is better; ">=": higher is better; "==": must equal (e.g. "yes").
    better: str = "<="

    @property
    def met(self) -> bool | None:
        if self.better == "==":
            return self.value == "yes"
        if self.target is None:
            return None
        if isinstance(self.value, str) or self.value < 0:
            return None  # a negative time or ratio is a measuring error, not a result
        return self.value <= self.target if self.better == "<=" else self.value >= self.target


NUMBER = r"([-\d.]+)"
# `studio train` vs a hand-written loop (issue 5).
TARGET_PARITY = 1.03


def _ms_lines(benchmark: str, text: str) -> list[Figure]:
    """``  name   12.3 ms  ratio to target 0.4 (target 30 ms)``, the target part optional."""
    figures = []
    pattern = rf"^\s+(.+?)\s+{NUMBER} ms(?:\s+ratio to target {NUMBER} \(target {NUMBER} ms\))?\s*$"
    for match in re.finditer(pattern, text, re.M):
        target = float(match[4]) if match[4] else None
        figures.append(Figure(benchmark, match[1].strip(), float(match[2]), "ms", target))
    return figures


def graph_scale(text: str) -> list[Figure]:
    return _ms_lines("graph_scale", text)


def ui_editor(text: str) -> list[Figure]:
    return _ms_lines("ui_editor", text)


def step_parity(text: str) -> list[Figure]:
    figures = []
    pattern = (
        rf"^\s+(\w+)\s+compiled\s+{NUMBER} ms\s+hand-written\s+{NUMBER} ms\s+"
        rf"ratio {NUMBER} \(target <= {NUMBER}\)\s+(.*)$"
    )
    for match in re.finditer(pattern, text, re.M):
        model = match[1]
        figures.append(
            Figure(
                "step_parity",
                f"{model} step time compiled / hand-written",
                float(match[4]),
                "×",
                float(match[5]),
            )
        )
        figures.append(
            Figure(
                "step_parity",
                f"{model} losses agree to 5 decimals",
                "yes" if match[6].strip() == "same losses" else "NO",
                better="==",
            )
        )
    return figures


def data_load(text: str) -> list[Figure]:
    figures = []
    for match in re.finditer(
        rf"^(\S.+?)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s*$", text, re.M
    ):
        figures.append(Figure("data_load", f"{match[1].strip()}: median", float(match[2]), "s"))
        figures.append(
            Figure("data_load", f"{match[1].strip()}: peak memory", float(match[4]), "MiB")
        )
    found = re.search(rf"^(.+?) = {NUMBER} \(.*target of {NUMBER}\)", text, re.M)
    if found:
        figures.append(Figure("data_load", found[1].strip(), float(found[2]), "×", float(found[3])))
    return figures


def train_parity(text: str) -> list[Figure]:
    figures = []
    same = re.search(r"losses identical to 5 decimals: (\w+)", text)
    if same:
        figures.append(
            Figure("train_parity", "losses identical to 5 decimals", same[1], better="==")
        )
    for match in re.finditer(
        rf"^(.+?): median epoch .* ratio {NUMBER} \(target ≤ {NUMBER}\)", text, re.M
    ):
        figures.append(
            Figure(
                "train_parity",
                f"median epoch time, {match[1]} / hand-written",
                float(match[2]),
                "×",
                float(match[3]),
            )
        )
    for match in re.finditer(rf"^(.+?): fastest tenth of epochs .* ratio {NUMBER}", text, re.M):
        figures.append(
            Figure(
                "train_parity",
                f"fastest tenth of epochs, {match[1]} / hand-written",
                float(match[2]),
                "×",
                TARGET_PARITY,
            )
        )
    return figures


def explain_latency(text: str) -> list[Figure]:
    figures = []
    ig = re.search(
        rf"IntegratedGradients, 50 steps, 64×64 image: median {NUMBER} ms, "
        rf"best {NUMBER} ms.*target ≤ {NUMBER} ms",
        text,
    )
    single = re.search(
        rf"IntegratedGradients, 50 steps, 64×64 image, (\d+) threads? \(as in the table\): "
        rf"median {NUMBER} ms",
        text,
    )
    if single:
        figures.append(
            Figure(
                "explain_latency",
                f"IntegratedGradients 50 steps, 64×64 image, {single[1]} thread(s) (median)",
                float(single[2]),
                "ms",
            )
        )
    if ig:
        figures.append(
            Figure(
                "explain_latency",
                "IntegratedGradients 50 steps, 64×64 image, torch's default threads (median)",
                float(ig[1]),
                "ms",
                float(ig[3]),
            )
        )
        figures.append(
            Figure(
                "explain_latency",
                "IntegratedGradients 50 steps, 64×64 image, torch's default threads (best)",
                float(ig[2]),
                "ms",
                float(ig[3]),
            )
        )
    for match in re.finditer(
        rf"^(\w+)\s+{NUMBER} s for 1000 rows \(target ≤ {NUMBER} s\)", text, re.M
    ):
        figures.append(
            Figure(
                "explain_latency",
                f"global importance, 1,000 rows, {match[1]}",
                float(match[2]),
                "s",
                float(match[3]),
            )
        )
    pointing = text.split("Pointing game", 1)
    if len(pointing) == 2:
        for match in re.finditer(rf"^(\w+)\s+{NUMBER}\s*$", pointing[1], re.M):
            # Issue 6: at least 80 % for Grad-CAM and IntegratedGradients; the rest reported.
            target = 0.8 if match[1] in ("LayerGradCam", "IntegratedGradients") else None
            figures.append(
                Figure(
                    "explain_latency",
                    f"pointing game, {match[1]}",
                    float(match[2]),
                    "share",
                    target,
                    better=">=",
                )
            )
    return figures


def ui_training(text: str) -> list[Figure]:
    figures = []
    for match in re.finditer(rf"^\s+(.+?)\s+{NUMBER} (\S+)\s+\(target ≤ {NUMBER}", text, re.M):
        figures.append(
            Figure("ui_training", match[1].strip(), float(match[2]), match[3], float(match[4]))
        )
    return figures


def memory_forecast(text: str) -> list[Figure]:
    figures = []
    for match in re.finditer(
        rf"^\s+(.+?)\s+forecast .* (ratio|error) {NUMBER} \((?:target ≤ {NUMBER}|information)",
        text,
        re.M,
    ):
        if match[2] == "error":
            name = f"forecast error, {match[1]} (GPU)"
            figures.append(Figure("memory_forecast", name, float(match[3]), "", float(match[4])))
        else:
            name = f"forecast / measured, {match[1]} (CPU)"
            figures.append(Figure("memory_forecast", name, float(match[3]), "×"))
    return figures


def onnx_chain(text: str) -> list[Figure]:
    figures = []
    for match in re.finditer(rf"^\s+import of a (\d+)-node chain\s+{NUMBER} s", text, re.M):
        name = f"ONNX import, {int(match[1]):,}-node chain"
        figures.append(Figure("onnx_chain", name, float(match[2]), "s"))
    growth = re.search(rf"^\s+(per-node time, .+?)\s+{NUMBER} ×\s+\(target ≤ {NUMBER}", text, re.M)
    if growth:
        figures.append(Figure("onnx_chain", growth[1], float(growth[2]), "×", float(growth[3])))
    return figures


def wide_csv(text: str) -> list[Figure]:
    figures = []
    for match in re.finditer(rf"^\s+([\d,]+) columns\s+{NUMBER} s", text, re.M):
        name = f"CSV header and columns read, {match[1]} columns"
        figures.append(Figure("wide_csv", name, float(match[2]), "s"))
    growth = re.search(
        rf"^(per-column time, .+?) = {NUMBER} \(linear is 1; target of {NUMBER}", text, re.M
    )
    if growth:
        figures.append(Figure("wide_csv", growth[1], float(growth[2]), "×", float(growth[3])))
    return figures


PARSERS: dict[str, Callable[[str], list[Figure]]] = {
    "graph_scale": graph_scale,
    "step_parity": step_parity,
    "ui_editor": ui_editor,
    "data_load": data_load,
    "train_parity": train_parity,
    "explain_latency": explain_latency,
    "ui_training": ui_training,
    "memory_forecast": memory_forecast,
    "onnx_chain": onnx_chain,
    "wide_csv": wide_csv,
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "n/a"
    import os

    return (
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores ({cpu}), load average {load} when the report was written"
    )


def _cell(value: float | str, unit: str) -> str:
    if isinstance(value, str):
        return value
    return f"{value:g} {unit}".strip()


def render(
    date: str,
    runs: dict[str, dict[str, object]],
    figures: list[Figure],
    reliability: dict[str, dict[str, int]],
    mode: str,
) -> str:
    """The Markdown report: machine, date, each benchmark's figures and targets, reliability."""
    met = [f for f in figures if f.met is True]
    missed = [f for f in figures if f.met is False]
    lines = [
        "# Benchmark and reliability results",
        "",
        "Generated by `python -m benchmarks"
        + (" --quick" if mode == "quick" else "")
        + "`; do not edit by hand.",
        "",
        f"- Date: {date}",
        f"- Machine: {machine()}",
        f"- Mode: {mode} ("
        + (
            "smaller sizes and fewer rounds than the benchmarks' defaults; figures are indicative"
            if mode == "quick"
            else "each benchmark with its default sizes"
        )
        + ")",
        f"- Targets met: {len(met)} of {len(met) + len(missed)}",
        "",
        "Timings on a shared machine only ever get worse with interference; a missed target "
        "here is worth re-measuring on an idle machine before concluding.",
        "",
        "## Benchmarks",
        "",
    ]
    for name, run in runs.items():
        lines += [
            f"### {name}",
            "",
            f"`{run['command']}` — exit {run['rc']}, {run['seconds']:.0f} s"
            + (f", measured {run['date']}" if run.get("date") else ""),
            "",
        ]
        mine = [f for f in figures if f.benchmark == name]
        if not mine:
            lines += ["No figures could be read from its output.", ""]
            continue
        lines += ["| figure | value | target | met |", "| --- | --- | --- | --- |"]
        for f in mine:
            sign = "≥" if f.better == ">=" else "≤"
            target = "" if f.target is None else f"{sign} {_cell(f.target, f.unit)}"
            if f.better == "==":
                target = "yes"
            verdict = {True: "yes", False: "**no**", None: ""}[f.met]
            lines.append(f"| {f.name} | {_cell(f.value, f.unit)} | {target} | {verdict} |")
        lines.append("")
    lines += [
        "## Reliability",
        "",
        "Counts written by `tests/reliability` (see its `conftest.py`). Every fuzz case must end "
        "in a load or in the expected error (`ProjectError`, `DataError`, `CheckpointError`) "
        "with a message, leaving the input file unchanged; any other exception, a hang (each "
        "case is stopped after 10 s, each test after a bound that grows with its case count) "
        "or a changed file fails the run. Killed saves must leave "
        "the old or the new file; a killed training run must resume (`epochs redone` are the "
        "epochs since the last checkpoint, which trails by design by at most a few seconds).",
        "",
    ]
    if not reliability:
        lines += [
            "No reliability figures (run `python -m benchmarks` without `--no-reliability`).",
            "",
        ]
    for label, counts in reliability.items():
        lines += [f"### {label}", "", "| figure | count |", "| --- | --- |"]
        lines += [f"| {key} | {value:,} |" for key, value in counts.items()]
        lines.append("")
    lines += [
        "Commands:",
        "",
        "```",
        "python -m benchmarks [--quick] [--only NAME ...] [--no-reliability]",
        "pytest tests/reliability  # the default suite",
        "# >= 10,000 cases per fuzz test:",
        "STRATA_FUZZ_EXAMPLES=10000 pytest -m fuzz tests/reliability",
        "# 20 training kills, 40 + 40 killed saves, a 100,000-step soak:",
        "pytest -m slow tests/reliability",
        "```",
        "",
    ]
    return "\n".join(lines)


def read_reliability(path: Path) -> dict[str, dict[str, int]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}
