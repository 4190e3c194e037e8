"""Benchmarks and machine facts: run from a source checkout, never shipped in the app bundle."""
import app as _app  # noqa: F401  first: its privacy settings must precede any onnxruntime import
