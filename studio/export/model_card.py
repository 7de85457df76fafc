"""The model card: a Markdown page that travels with the exported files.

It answers what a person receiving the files asks first: what the model is, what data and
preprocessing it expects (predictions only match the app's when inputs are prepared the same
way), how it was trained, how good it is, and how to load each file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class CardFile:
    """One exported file as the card lists it."""

    format: str
    title: str
    filename: str
    snippet: str
    verified: str


def _settings_lines(settings: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in settings.items():
        if isinstance(value, Mapping):
            inner = ", ".join(f"{k}={json.dumps(v)}" for k, v in value.items() if v is not None)
            lines.append(f"- **{key}**: {inner or 'defaults'}")
        elif value is not None:
            lines.append(f"- **{key}**: {json.dumps(value)}")
    return lines or ["- (none)"]


def render_model_card(
    *,
    name: str,
    description: str,
    summary_table: str,
    data: Mapping[str, Any],
    training: Mapping[str, Any],
    files: Sequence[CardFile],
    metrics: Mapping[str, float] | None = None,
    quantization: str | None = None,
    created: datetime | None = None,
    preprocessing_file: str | None = None,
    metrics_source: str | None = None,
) -> str:
    """The card's Markdown text.

    Args:
        name: the project's name, the card's title.
        description: the project's description.
        summary_table: `ModelSummary.format_table()` of the exported graph.
        data: the project's data section (`model_dump(mode="json")`), preprocessing included.
        training: the project's training section, dumped the same way.
        files: every exported file, with how to load it.
        metrics: evaluation results by name, when known.
        quantization: a sentence on the quantisation applied and what it changed.
        created: the export time; now when not given.
        preprocessing_file: the exported preprocessing state's file name, when written.
        metrics_source: a sentence on where `metrics` come from (which epoch, which split).
    """
    created = created or datetime.now(UTC)
    data = dict(data)
    preprocessing = data.pop("preprocessing", None) or {}
    parts = [
        f"# Model card: {name}",
        "",
        f"Exported by Strata Studio on {created.strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
    ]
    if description:
        parts += [description.strip(), ""]
    parts += ["## Architecture", "", "```", summary_table, "```", ""]
    parts += ["## Data", "", *_settings_lines(data), ""]
    parts += [
        "## Preprocessing",
        "",
        "Inputs must be prepared exactly like this for predictions to match the app's.",
        "",
        *_settings_lines(preprocessing),
        "",
    ]
    if preprocessing_file:
        parts += [
            f"The fitted state (normalisation statistics, vocabulary, categories) is in "
            f"`{preprocessing_file}`; the Python export's `predict(raw)` applies it to raw "
            "samples (table rows, texts, images) before running the model.",
            "",
        ]
    parts += ["## Training", "", *_settings_lines(training), ""]
    parts += ["## Metrics", ""]
    if metrics:
        if metrics_source:
            parts += [metrics_source, ""]
        parts += ["| metric | value |", "| --- | --- |"]
        parts += [f"| {k} | {v:.6g} |" for k, v in metrics.items()]
    else:
        parts.append("Not evaluated yet.")
    parts.append("")
    if quantization:
        parts += ["## Quantisation", "", quantization, ""]
    parts += ["## Exported files", ""]
    parts += ["| format | file | verification |", "| --- | --- | --- |"]
    parts += [f"| {f.title} (`{f.format}`) | `{f.filename}` | {f.verified} |" for f in files]
    parts += ["", "## How to load each file", ""]
    for f in files:
        parts += [f"### {f.title} (`{f.format}`)", "", "```python", f.snippet, "```", ""]
    return "\n".join(parts)
