"""Checkpoint -> ONNX converters, their PyTorch networks (nets/) and the model download.

Only this package imports torch, and only inside functions: the app runs without it, and the
app bundle leaves the whole package out (packaging/spec_config.py).
"""
from __future__ import annotations

import importlib.util
from typing import Callable

EXTRAS_HINT = ("the converters need the optional extras: "
               ".venv/bin/pip install -e '.[convert]' (torch==2.13.0, onnx)")


def extras_available() -> bool:
    """True when torch and onnx can be imported (checked without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "onnx"))


def converter_for(key: str) -> Callable:
    """The converter function that makes the model of a key of weights/manifest.json (imports torch).

    Called as converter(checkpoint, out, **options). The live panes' model comes from the same
    STAR checkpoint, cut after model_files.STAR_LIVE_STACKS stacks.
    """
    import functools

    from app.base.model_files import RETINAFACE_KEY, STAR_KEY, STAR_LIVE_KEY, STAR_LIVE_STACKS

    if key == STAR_KEY:
        from app.convert.star import convert_star
        return convert_star
    if key == STAR_LIVE_KEY:
        from app.convert.star import convert_star
        return functools.partial(convert_star, stacks=STAR_LIVE_STACKS)
    if key == RETINAFACE_KEY:
        from app.convert.retinaface import convert_retinaface
        return convert_retinaface
    raise KeyError(key)
