"""Strata Studio: design, train, explain and export neural networks without code."""

__version__ = "0.1.0"
