"""Facts the build recorded about itself (build_info.json inside a frozen app).

The spec writes the file; running from source there is none and every fact has its source
default. Qt-free: the window's status bar, the diagnostic info and the self-test read the same function.
"""
from __future__ import annotations

import json
from functools import lru_cache

from app.base import paths

FILE_NAME = "build_info.json"
DETECTOR_ONLY_TEXT = "detector-only build"


@lru_cache(maxsize=1)
def build_info() -> dict:
    base = paths.bundle_dir()
    if base is None:
        return {}
    try:
        with open(base / FILE_NAME, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def detector_only() -> bool:
    """True for an app built, by explicit choice, without the STAR landmark model."""
    return bool(build_info().get("detector_only", False))


def build_note() -> str:
    """'' or a short note for the status bar, the diagnostic info (and an About box)."""
    return DETECTOR_ONLY_TEXT if detector_only() else ""
