"""The layering rules of docs/ARCHITECTURE.md, checked on the source (every import statement,
function-level ones included)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

APP = REPO / "app"
QT_FREE = ("app.base", "app.engine", "app.video", "app.results", "app.measures", "app.pipeline", "app.batch",
           "app.followup", "app.cluster", "app.live", "app.convert", "app.cli", "app.gui.presenters")


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_statements(path: Path):
    """(module, names) of every import statement of a file, relative ones made absolute; a plain
    `import a.b` gives ("a.b", [])."""
    me = _module_name(path)
    pkg = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + ([base] if base else []))
            yield base, [a.name for a in node.names]


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for base, names in _import_statements(path):
        out.add(base)
        out.update(f"{base}.{n}" for n in names)
    return out


def _app_modules() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in APP.rglob("*.py") if "__pycache__" not in p.parts}


MODULES = _app_modules()


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _under(m, QT_FREE)))
def test_core_layers_never_import_qt(module):
    qt = sorted(i for i in MODULES[module] if i.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "shiboken6"))
    assert not qt, f"{module} imports {qt}"


def test_only_the_converters_import_torch():
    offenders = sorted(m for m, imps in MODULES.items()
                       if not _under(m, ("app.convert",)) and any(i.split(".")[0] == "torch" for i in imps))
    assert not offenders


def test_gui_is_imported_by_nothing_below_it():
    offenders = sorted(m for m, imps in MODULES.items()
                       if not _under(m, ("app.gui", "app.selftest", "app.cli"))
                       and any(_under(i, ("app.gui",)) for i in imps))
    assert not offenders


def _edges(path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that a file imports. `from pkg import sub` is an edge to pkg.sub
    alone when sub is a module (importing a submodule runs pkg/__init__.py first, as any import
    does, without a name of pkg being used); `from pkg import name` is an edge to pkg."""
    me = _module_name(path)
    out: set[str] = set()
    for base, names in _import_statements(path):
        subs = {f"{base}.{n}" for n in names}
        out.update(subs & known)
        if not names or subs - known:
            out.add(base)
    return {m for m in out if m in known and m != me}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        seen[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if seen.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in seen:
                cycle = visit(n)
                if cycle:
                    return cycle
        seen[m] = 2
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in seen:
            cycle = visit(m)
            if cycle:
                return cycle
    return None


def test_no_import_cycles_in_app_and_bench():
    """Every import statement (function-level ones too) of app/ and bench/, a package's __init__
    included: a module that needs a name of its package's __init__ while that __init__ imports it
    is a cycle too."""
    files = [p for root in (APP, REPO / "bench") for p in root.rglob("*.py") if "__pycache__" not in p.parts]
    known = {_module_name(p) for p in files}
    graph = {_module_name(p): _edges(p, known) for p in files}
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_import_linter_contracts_are_kept():
    """Every rule of the import table (pyproject.toml [tool.importlinter]): layers, Qt, torch, gui."""
    import shutil
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("lint-imports")
    exe_path = str(exe) if exe.exists() else shutil.which("lint-imports")
    if exe_path is None:
        pytest.skip("import-linter is not installed (make test installs it)")
    proc = subprocess.run([exe_path, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


# ---- the import table of docs/ARCHITECTURE.md says what each package really imports ------------

# Modules every layer may use without the table naming them (the text under the table), and the
# app's own __init__ (its name, version and privacy settings).
LEAVES = {"app", "app.base"}


def _unit(module: str) -> str:
    """The table's unit of a module: app.engine.tracking -> app.engine, app.results.report -> app.results.report."""
    return ".".join(module.split(".")[:2])


def _table_rows() -> list[tuple[list[str], str]]:
    """(units named in the first column, the "may import" column) of each row about the app."""
    import re

    text = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if not line.startswith("| `app/"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        units = ["app." + Path(p).with_suffix("").as_posix().split("/", 1)[1].strip("/")
                 for p in re.findall(r"`(app/[\w/.]+)`", cells[0])]
        rows.append((units, cells[-1]))
    return rows


def test_the_import_table_names_exactly_what_each_package_imports():
    import re

    units = {_unit(m) for m in MODULES} - {"app"}
    checked = 0
    for row_units, may in _table_rows():
        if "everything above" in may:
            continue                          # gui, selftest: anything below them (the layers contract)
        # A row of several units names them in its column only to say which one imports what.
        named = {u for u in units if re.search(rf"\b{u.split('.', 1)[1]}\b", may)} - set(row_units) - LEAVES
        used = {_unit(i) for m, imps in MODULES.items() if _unit(m) in row_units
                for i in imps if i.startswith("app.") and _unit(i) in MODULES}
        used = used - LEAVES - set(row_units)
        assert used <= named, f"{row_units}: imports {sorted(used - named)} the table does not name"
        assert named <= used, f"{row_units}: the table names {sorted(named - used)}, which they do not import"
        checked += 1
    assert checked >= 10
