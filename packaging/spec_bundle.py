"""Checks of a finished bundle: what it must contain, and its size by part against the budget
recorded in packaging/size_budget.json.

Loaded through spec_config.py, which puts packaging/ on sys.path (packaging/ is never imported
as a package: it would shadow the PyPI `packaging` library).
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Sequence

from app.base.build_info import FILE_NAME as BUILD_INFO_NAME
from app.base.model_files import MANIFEST_NAME, STAR_FILE
from app.selftest.run import MULTIMEDIA_EXPECTED
from spec_licences import LICENCE_MARKERS, LICENCES_DIR, LICENSE_NAME, NOTICES_NAME
from spec_models import WEIGHTS_DEST
from spec_toc import UNUSED_FILES

# --------------------------------------------------------------------------------------------
# What a finished bundle must contain (checked after the build, and again on CI)

ICON_PNG = "resources/FaceMirror.png"  # the window icon; app/gui/launch.py looks for it there
REQUIRED_PACKAGES = ("av", "matplotlib", "PIL", "cv2", "numpy", "onnxruntime", "PySide6")

# Qt Multimedia (the live exam's camera and microphone) inside PySide6's tree: the binding, Qt's
# library, the platform's plugins and Qt's own FFmpeg, from the table the self-test proves at run
# time (app/selftest/run.py MULTIMEDIA_EXPECTED, per platform).
QT_TREE = "PySide6/Qt"


def bundle_platform(bundle: Path) -> str:
    """The platform a bundle is for: a .app is macOS, a onedir folder is this machine's."""
    return "darwin" if Path(bundle).suffix == ".app" else sys.platform


def required_multimedia(platform: str) -> list[tuple[str, re.Pattern]]:
    """(what, pattern on the path inside the data roots) of every Qt Multimedia file a bundle for
    `platform` must carry; empty for a platform without an expected set."""
    expected = MULTIMEDIA_EXPECTED.get(platform)
    if expected is None:
        return []
    out = [("the PySide6 QtMultimedia binding", re.compile(r"^PySide6/QtMultimedia\.(abi3\.so|.*\.so|pyd)$")),
           # imported by the QtMultimedia binding itself (spec_modules.USED_QT_MODULES)
           ("the PySide6 QtNetwork binding", re.compile(r"^PySide6/QtNetwork\.(abi3\.so|.*\.so|pyd)$")),
           ("Qt's QtMultimedia library", re.compile(rf"^{QT_TREE}/lib/{expected.qt_library}"))]
    out += [(f"Qt multimedia plugin {p}", re.compile(rf"^{QT_TREE}/plugins/multimedia/{p}$")) for p in expected.plugins]
    out += [(f"Qt's FFmpeg library {p}", re.compile(rf"^{QT_TREE}/lib/{p}$")) for p in expected.libraries]
    return out


def bundle_data_roots(bundle: Path) -> list[Path]:
    """Folders that make up sys._MEIPASS: Contents/{Frameworks,Resources} of a .app, _internal of a onedir."""
    bundle = Path(bundle)
    if bundle.suffix == ".app":
        return [bundle / "Contents" / "Resources", bundle / "Contents" / "Frameworks"]
    internal = bundle / "_internal"
    return [internal if internal.is_dir() else bundle]


def _find(roots: Sequence[Path], rel: str) -> Path | None:
    for r in roots:
        if (r / rel).exists():
            return r / rel
    return None


def check_bundle(bundle: Path) -> list[str]:
    """Problems with a built app (empty list: fine): licence files, icon, models, packages."""
    import json

    roots = bundle_data_roots(bundle)
    problems = []
    for rel in (LICENSE_NAME, NOTICES_NAME, BUILD_INFO_NAME, ICON_PNG):
        if _find(roots, rel) is None:
            problems.append(f"{rel} is missing")
    info_path = _find(roots, BUILD_INFO_NAME)
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path else {}
    if not info.get("detector_only") and _find(roots, f"{WEIGHTS_DEST}/{STAR_FILE}") is None:
        problems.append(f"{WEIGHTS_DEST}/{STAR_FILE} is missing and the build is not marked detector-only")
    manifest_path = _find(roots, f"{WEIGHTS_DEST}/{MANIFEST_NAME}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path else {}
    for entry in manifest.get("models", {}).values():
        bundled = _find(roots, f"{WEIGHTS_DEST}/{entry.get('file', '')}") is not None
        if bundled and entry.get("licence_file") and _find(roots, f"{WEIGHTS_DEST}/{entry['licence_file']}") is None:
            problems.append(f"{WEIGHTS_DEST}/{entry['licence_file']} (licence of {entry['file']}) is missing")
    names = {p.name for r in roots if r.is_dir() for p in r.iterdir()}
    for pkg in REQUIRED_PACKAGES:
        if pkg not in names:
            problems.append(f"package {pkg} is missing")
    rels = [f.relative_to(r).as_posix() for r in roots if r.is_dir() for f in r.rglob("*")]
    for what, pattern in required_multimedia(bundle_platform(bundle)):
        if not any(pattern.search(rel) for rel in rels):
            problems.append(f"{what} is missing ({pattern.pattern}): the live exam would have no camera")
    for rel in rels:
        if UNUSED_FILES.search(rel) or rel.endswith(".qm") or "WebEngine" in rel:
            problems.append(f"{rel} is bundled but the spec leaves it out (UNUSED_FILES / Qt filters)")
    notices_path = _find(roots, NOTICES_NAME)
    # Whitespace-normalised: licence headers are centred with runs of spaces and line breaks.
    notices = " ".join(notices_path.read_text(encoding="utf-8").split()) if notices_path else ""
    files = [p.name for r in roots if r.is_dir() for p in r.rglob("*")]
    for pattern, texts in LICENCE_MARKERS:
        if not any(pattern.search(f) for f in files):
            continue
        for file_name, words in texts:
            if words not in notices:
                problems.append(f"{pattern.pattern} is bundled but {NOTICES_NAME} lacks '{words}'")
            if _find(roots, f"{LICENCES_DIR}/{file_name}") is None:
                problems.append(f"{pattern.pattern} is bundled but {LICENCES_DIR}/{file_name} is missing")
    return problems


# --------------------------------------------------------------------------------------------
# Bundle size: by part, against the budget recorded in packaging/size_budget.json

SIZE_BUDGET_FILE = "size_budget.json"  # in packaging/
SIZE_GROWTH_ALLOWED = 0.10  # a bundle more than 10 % over its recorded budget fails
# (part, pattern on the path inside the bundle's data roots), first match wins.
# Qt Multimedia comes before Qt: it lives inside PySide6/, which the Qt part would claim.
SIZE_PARTS = (
    ("models", re.compile(r"^weights/")),
    ("Qt Multimedia (+ its FFmpeg)", re.compile(r"Multimedia|FFmpegStub|^PySide6/Qt/lib/lib(av|sw)")),
    ("Qt (PySide6, shiboken6)", re.compile(r"^(PySide6|shiboken6)/|^libQt6|^Qt[A-Z]")),
    ("OpenCV (+ its FFmpeg)", re.compile(r"^(cv2|opencv_python[^/]*\.libs)/")),
    ("PyAV (+ its FFmpeg and codecs)", re.compile(r"^(av|av\.libs)/")),
    ("ONNX Runtime", re.compile(r"^onnxruntime")),
    ("NumPy", re.compile(r"^(numpy|numpy\.libs)/")),
    ("matplotlib + Pillow", re.compile(r"^(matplotlib|PIL|pillow\.libs|mpl_toolkits|fontTools|kiwisolver|contourpy)")),
    ("licences", re.compile(r"^(licenses/|THIRD_PARTY_NOTICES)")),
)


def size_platform() -> str:
    return "macos-arm64" if sys.platform == "darwin" else f"{sys.platform}-{os.uname().machine}"


def size_by_part(bundle: Path) -> dict[str, int]:
    """Bytes per part of a built bundle (symbolic links cost nothing and are not counted)."""
    out: dict[str, int] = {}
    for root in bundle_data_roots(bundle) + ([Path(bundle) / "Contents" / "MacOS"] if Path(bundle).suffix == ".app" else []):
        if not root.is_dir():
            continue
        for f in root.rglob("*"):
            if f.is_symlink() or not f.is_file():
                continue
            rel = f.relative_to(root).as_posix()
            part = next((name for name, pat in SIZE_PARTS if pat.search(rel)), "Python and the rest")
            out[part] = out.get(part, 0) + f.stat().st_size
    return out


def check_size(total_bytes: int, budget_mb: float | None) -> str | None:
    """A problem when the bundle is more than SIZE_GROWTH_ALLOWED over its budget, else None."""
    if budget_mb is None:
        return None
    limit = budget_mb * (1 + SIZE_GROWTH_ALLOWED)
    if total_bytes / 1e6 > limit:
        return (f"bundle is {total_bytes / 1e6:.0f} MB, more than {SIZE_GROWTH_ALLOWED:.0%} over its budget of "
                f"{budget_mb:.0f} MB (packaging/{SIZE_BUDGET_FILE}): find what grew (size_by_part) or record a new budget")
    return None


def budget_entry(budgets: dict, platform: str) -> tuple[float | None, bool]:
    """(MB, estimated) of a platform's budget. An entry is a measured figure (a number) or an
    estimate not yet measured: {"mb": N, "estimated": true, "basis": "..."}; no entry: (None, False)."""
    entry = budgets.get(platform)
    if isinstance(entry, dict):
        mb = entry.get("mb")
        return (float(mb) if mb is not None else None), bool(entry.get("estimated", False))
    return (float(entry) if entry is not None else None), False


def size_report(bundle: Path, budget_file: Path) -> tuple[str, str | None]:
    """(table of MB by part, problem or None) for a built bundle on this platform. Over an
    *estimated* budget is a warning line in the table, not a problem: record the measured figure."""
    import json

    parts = size_by_part(bundle)
    total = sum(parts.values())
    budgets = json.loads(Path(budget_file).read_text(encoding="utf-8"))
    budget, estimated = budget_entry(budgets, size_platform())
    lines = [f"  {name:34s} {size / 1e6:7.1f} MB" for name, size in sorted(parts.items(), key=lambda kv: -kv[1])]
    shown = "not recorded" if budget is None else f"{budget:.0f}{' estimated, not measured' if estimated else ''}"
    lines.append(f"  {'total':34s} {total / 1e6:7.1f} MB (budget {shown} MB for {size_platform()})")
    problem = check_size(total, budget)
    if problem and estimated:
        lines.append(f"  warning: {problem}; the budget is an estimate: record this build's figure as the budget")
        problem = None
    return "\n".join(lines), problem
