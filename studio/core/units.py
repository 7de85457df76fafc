"""Counts and sizes in the short form the summary table and the window both print."""

from __future__ import annotations


def human_count(value: int) -> str:
    """``1234567`` → ``"1.23M"``."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.2f}{unit}"
    return str(value)


def human_bytes(value: int) -> str:
    """``3145728`` → ``"3.0 MiB"``."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"
