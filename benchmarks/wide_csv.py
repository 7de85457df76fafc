"""Reading wide CSV tables: the time must grow linearly with the number of columns.

A header of 100,000 columns took 11 minutes to validate (issue 15), because the header and
column checks tested membership in lists. Each table here has a header of N columns and two
rows; the time is `read_header` plus `read_csv_columns` (the columns asked for in reverse
order, so every by-name lookup counts), as `studio validate` reads a table. Prints seconds per
width and microseconds per column; the last line compares the widest table's per-column time
with the narrowest's (1.0 is linear; the target is at most 2).
Run: python benchmarks/wide_csv.py [--columns 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

# Per-column time of the widest table over the narrowest's: linear growth stays near 1.
TARGET_GROWTH = 2.0


def write_table(folder: Path, columns: int) -> Path:
    """N columns, one row of numbers and one of words in half the columns."""
    path = folder / f"wide-{columns}.csv"
    names = [f"c{i}" for i in range(columns)]
    words = ["x"] * (columns // 2) + ["2"] * (columns - columns // 2)
    path.write_text(",".join(names) + "\n" + ",".join("1" * columns) + "\n" + ",".join(words))
    return path


def read_seconds(path: Path) -> float:
    from studio.data.csv_reader import read_csv_columns, read_header

    start = time.perf_counter()
    names = read_header(path, path.name)
    read_csv_columns(path, path.name, usecols=names[::-1])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()
    per_column = {}
    with tempfile.TemporaryDirectory() as folder:
        read_seconds(write_table(Path(folder), 10))  # imports pandas: not reading
        for columns in args.columns:
            seconds = read_seconds(write_table(Path(folder), columns))
            per_column[columns] = seconds / columns
            micro = per_column[columns] * 1e6
            print(f"  {columns:>7,} columns  {seconds:8.3f} s  {micro:7.1f} µs/column")
    narrow, wide = min(per_column), max(per_column)
    growth = per_column[wide] / per_column[narrow]
    print(
        f"per-column time, {wide:,} over {narrow:,} columns = {growth:.2f} "
        f"(linear is 1; target of {TARGET_GROWTH})"
    )


if __name__ == "__main__":
    main()
