"""The packaging scripts loaded by path, for the tests: packaging/ is not a Python package (it
would shadow the PyPI `packaging`)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
