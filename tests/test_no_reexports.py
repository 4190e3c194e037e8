"""One home per name (issue 34): every `from app.X import name` (and `from bench.X import name`) in
app/, bench/, tests/ and main.py takes `name` from the module that defines it (def, class or
assignment) or names a submodule; never a name that module itself imported. A package's __init__
keeps only what it defines, so a reader who meets a name finds its one home in the import line.
"""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.conftest import REPO

OWN = ("app", "bench")


def _sources() -> list[Path]:
    files = [p for d in ("app", "bench", "tests") for p in (REPO / d).rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files + [REPO / "main.py"])


def _file_of(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _top_level(body: list[ast.stmt]):
    """Statements run at import time, through if/try/with blocks (not into functions or classes)."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from _top_level(inner)
        for handler in getattr(node, "handlers", []):
            yield from _top_level(handler.body)


def _targets(target: ast.expr):
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _targets(elt)


@cache
def _defined(module: str) -> frozenset[str]:
    """The names a module defines itself at its top level."""
    path = _file_of(module)
    names: set[str] = set()
    for node in _top_level(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                names.update(_targets(t))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            names.update(_targets(node.target))
    return frozenset(names)


def _imports_from_own_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] in OWN:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def offenders() -> list[str]:
    found = []
    for path in _sources():
        for line, module, name in _imports_from_own_modules(path):
            if _file_of(module) is None or _file_of(f"{module}.{name}") is not None or name == "*":
                continue             # not ours on disk (a test's stand-in), or a submodule
            if name not in _defined(module):
                found.append(f"{path.relative_to(REPO).as_posix()}:{line}: {name} from {module}")
    return found


def test_every_name_is_imported_from_the_module_that_defines_it():
    assert offenders() == []


def test_the_check_sees_a_re_export(tmp_path):
    """The rule is not vacuous: a package __init__ that imports a name is not that name's home."""
    assert "cancel_signals" not in _defined("app.batch.process")      # imported there under that alias
    assert "Path" not in _defined("app.cli.main")
    assert "main" in _defined("app.cli.main")
