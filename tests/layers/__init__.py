"""Tests of the built-in layer catalog (studio.layers)."""
