"""Benchmarks and machine facts: run from a source checkout, never shipped in the app bundle."""
