"""One home per name (issue 21): verdict levels, stage names, model file names and the midline
default are written once, and everything else uses the constant.

Source checks read string constants with ast (docstrings and comments are prose and do not count).
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from app.base import model_files

from app.results import verdict
from app.engine import midline
from app.gui import jobs
from app.pipeline.stages.channel import STAGE_THREAD, WAIT_STAGES
from bench import benchmark

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "app").rglob("*.py"), *(ROOT / "bench").rglob("*.py"), *(ROOT / "packaging").rglob("*.py"),
                  ROOT / "main.py", ROOT / "FaceMirror.spec"])

def _string_constants(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string constant that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def _where(predicate, skip: set[str]) -> list[str]:
    found = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        if rel in skip:
            continue
        found += [f"{rel}:{line}: {text!r}" for line, text in _string_constants(path) if predicate(text)]
    return found


def test_verdict_levels_are_written_only_in_verdict_py():
    levels = set(verdict.LEVELS)
    assert _where(lambda s: s in levels, {"app/results/verdict.py"}) == []


def test_the_midline_default_is_written_only_in_midline_py():
    assert midline.DEFAULT_METHOD in midline.MIDLINE_METHODS
    assert _where(lambda s: s == midline.DEFAULT_METHOD, {"app/engine/midline.py"}) == []


@pytest.mark.parametrize("name", [model_files.STAR_FILE, model_files.RETINAFACE_FILE, model_files.STAR_LIVE_FILE])
def test_model_file_names_are_written_only_in_model_files_py(name):
    assert _where(lambda s: name in s, {"app/base/model_files.py"}) == []


def test_the_manifest_says_what_model_files_says():
    manifest = json.loads((ROOT / "weights" / "manifest.json").read_text(encoding="utf-8"))["models"]
    assert manifest[model_files.STAR_KEY]["file"] == model_files.STAR_FILE
    assert manifest[model_files.RETINAFACE_KEY]["file"] == model_files.RETINAFACE_FILE
    assert manifest[model_files.STAR_KEY]["create"] == model_files.STAR_CREATE_COMMAND
    assert manifest[model_files.RETINAFACE_KEY]["create"] == model_files.RETINAFACE_CREATE_COMMAND
    live = manifest[model_files.STAR_LIVE_KEY]
    assert live["file"] == model_files.STAR_LIVE_FILE
    assert live["create"] == model_files.STAR_LIVE_CREATE_COMMAND
    assert live["required"] is False        # the live panes fall back to full STAR
    assert live["source_checkpoint"] == model_files.STAR_KEY
    assert live["licence"] == manifest[model_files.STAR_KEY]["licence"]
    assert set(model_files.ABSENT_OPTIONAL) == {k for k, e in manifest.items() if not e.get("required", True)}


def test_every_timed_stage_is_named_in_stage_thread():
    used = set()
    for path in [*(ROOT / "app" / "pipeline" / "stages").glob("*.py"), ROOT / "app" / "pipeline" / "run.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("stage", "add", "seconds") and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                used.add(node.args[0].value)
    assert used == set(STAGE_THREAD)        # every timer call names a known stage, and every stage is timed
    assert set(WAIT_STAGES) <= set(STAGE_THREAD)


def test_front_ends_name_only_known_stages():
    assert set(benchmark._STAGE_NAMES) == set(STAGE_THREAD)
    assert set(jobs.STAGE_ORDER) | set(jobs.WAIT_STAGES) | set(jobs.STAGE_LABEL) <= set(STAGE_THREAD)
    assert set(jobs.WAIT_STAGES) <= set(WAIT_STAGES) and not set(jobs.STAGE_ORDER) & set(WAIT_STAGES)
