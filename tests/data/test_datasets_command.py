"""`studio datasets` lists what ships: name, kind, task, size and licence."""

from __future__ import annotations

import subprocess
import sys

from studio.cli import main


def test_datasets_lists_every_bundled_dataset(capsys) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == [
        "iris",
        "digits",
        "diabetes",
        "shapes",
        "sine",
        "text",
    ]
    digits = out[1]
    assert "image" in digits and "classification" in digits and "1,797 images" in digits
    assert digits.rstrip().endswith("CC BY 4.0")
    assert "CC0 1.0" in out[5]


def test_help_lists_the_datasets_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "studio", "--help"], capture_output=True, text=True, check=True
    )
    assert "datasets" in result.stdout
