"""Where the bundled assets live, and the templates among them (read as JSON, no torch)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ASSETS_ENV = "STRATA_ASSETS"


def assets_dir() -> Path:
    """`$STRATA_ASSETS`, else the `assets/` folder beside the `studio` package."""
    override = os.environ.get(ASSETS_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "assets"


def examples_dir() -> Path:
    return assets_dir() / "examples"


@dataclass(frozen=True)
class Template:
    """A bundled example project offered by `studio new --template NAME`."""

    name: str
    title: str
    description: str
    path: Path


def list_templates() -> list[Template]:
    """Every `*.strata` in the examples folder, by file name; unreadable ones are skipped."""
    found: list[Template] = []
    folder = examples_dir()
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.strata")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            title = str(document.get("name", path.stem))
            description = str(document.get("description", "")).split("\n")[0]
        except (OSError, ValueError, AttributeError):
            continue
        found.append(Template(path.stem, title, description, path))
    return found


def find_template(name: str) -> Template | None:
    return next((t for t in list_templates() if t.name == name), None)
