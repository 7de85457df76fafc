"""Benchmarks: each script runs alone (`python benchmarks/NAME.py`); `python -m benchmarks`
runs them all and writes `benchmarks/RESULTS.md`."""
