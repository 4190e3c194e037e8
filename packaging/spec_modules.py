"""What goes into the analysis: the Qt modules used and excluded, third-party packages kept out
or added, the app's own modules (hidden imports, the excluded converters and Ray runner).

Loaded through spec_config.py, which puts packaging/ on sys.path (packaging/ is never imported
as a package: it would shadow the PyPI `packaging` library).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

# Qt modules the app imports, and the bindings those import themselves. Everything else of
# PySide6 is excluded.
# QtMultimedia: the live camera mode (QCamera, QMediaCaptureSession, QVideoSink, QMediaDevices).
# QtNetwork: the QtMultimedia binding imports it when it is imported (PySide6 6.11.3); without it
# the frozen app's live exam failed with "libshiboken: could not import module 'PySide6.QtNetwork'"
# (found by the self-test's Qt Multimedia check, issue 35).
USED_QT_MODULES = ("QtCore", "QtGui", "QtWidgets", "QtMultimedia", "QtNetwork",
                   "QtTextToSpeech")   # the guided exam's spoken prompts (optional, off by default)

# Fallback list of PySide6 modules to exclude when the installed PySide6 cannot be listed.
KNOWN_UNUSED_QT_MODULES = (
    "Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender", "QtAxContainer",
    "QtBluetooth", "QtCharts", "QtConcurrent", "QtDBus", "QtDataVisualization", "QtDesigner", "QtGraphs",
    "QtGraphsWidgets", "QtHelp", "QtHttpServer", "QtLocation", "QtMultimediaWidgets",
    "QtNetworkAuth", "QtNfc", "QtOpenGL", "QtOpenGLWidgets", "QtPdf", "QtPdfWidgets",
    "QtPositioning", "QtPrintSupport", "QtQml", "QtQuick", "QtQuick3D", "QtQuickControls2",
    "QtQuickTest", "QtQuickWidgets", "QtRemoteObjects", "QtScxml", "QtSensors", "QtSerialBus",
    "QtSerialPort", "QtSpatialAudio", "QtSql", "QtStateMachine", "QtSvg", "QtSvgWidgets", "QtTest",
    "QtUiTools", "QtWebChannel", "QtWebEngineCore", "QtWebEngineQuick",
    "QtWebEngineWidgets", "QtWebSockets", "QtXml",
)

# Never in the app: the converters' stack (torch and the ONNX toolchain, with torch's own heavy
# dependencies), GUI toolkits we do not use, test and build tools. ONNX Runtime's Python-side tool
# packages import onnx/torch and are only for model authors.
EXCLUDED_THIRD_PARTY = (
    "torch", "torchvision", "torchaudio", "functorch", "triton",
    "onnx", "onnxscript", "onnx_ir", "onnxconverter_common",
    "onnxruntime.tools", "onnxruntime.transformers", "onnxruntime.quantization", "onnxruntime.training",
    "sympy", "networkx", "mpmath",
    "tkinter", "_tkinter", "IPython",   # matplotlib (and its Pillow) stay: app/measures draws the summary
    # matplotlib's Sphinx extension and test suite (the only users of jinja2 in the bundle)
    "matplotlib.sphinxext", "matplotlib.testing", "matplotlib.tests", "jinja2", "markupsafe",
    "pytest", "pytestqt", "_pytest", "PyInstaller",
    "PyQt5", "PyQt6", "PySide2",
    # optional extras of the CLI (studies on a cluster, agreement statistics) and dev tools: never
    # in the app bundle, though hooks find them when they are installed beside it
    "ray", "pingouin", "pandas", "pandas_flavor", "scipy", "statsmodels", "sklearn", "seaborn",
    "hypothesis", "importlinter", "grimp",
)

# Third-party packages the app imports lazily at run time (video I/O, plots, the live camera and the
# binding it imports itself); listed so the bundle has them even where PyInstaller's scan of the
# app's lazy imports (or of a binding's own imports, made in C) could miss one. matplotlib
# needs Pillow (PIL), which therefore stays in the bundle too.
RUNTIME_THIRD_PARTY = ("av", "PySide6.QtMultimedia", "PySide6.QtNetwork", "PySide6.QtTextToSpeech",
                       "matplotlib", "matplotlib.backends.backend_agg",
                       "matplotlib.backends.backend_svg", "matplotlib.backends.backend_pdf", "PIL")

# Distributions whose metadata the app reads at run time (app/base/diagnostics.py PACKAGES).
METADATA_DISTRIBUTIONS = ("onnxruntime", "numpy", "opencv-python-headless", "PySide6-Essentials", "av", "matplotlib")

# PyInstaller's matplotlib run-time hook points MPLCONFIGDIR at a new temporary folder at every
# start (so the font cache is rebuilt every launch). The spec drops it and runs ours instead,
# which keeps matplotlib's config and font cache in the user's cache folder.
PYINSTALLER_MPL_RTHOOK = "pyi_rth_mplconfig"
MPL_RTHOOK = "rthooks/facemirror_mplconfig.py"  # relative to packaging/

# The app's own modules that need torch or the network: the converters, their PyTorch networks
# and the model download (app/convert); and the Ray runner (app/cluster), useless without Ray, which
# the bundle leaves out (the frozen CLI says `--ray` needs a Python install). Benchmarks live
# outside app/ (bench/) and are never seen.
EXCLUDED_APP_PACKAGES = ("app.convert", "app.cluster")
EXCLUDED_APP_MODULE_GLOBS: tuple[str, ...] = ()


def _module_name(app_dir: Path, py: Path) -> str:
    rel = py.relative_to(app_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def excluded_app_modules(app_dir: Path) -> list[str]:
    """app.convert (converters, their torch networks, the download) and any EXCLUDED_APP_MODULE_GLOBS."""
    app_dir = Path(app_dir)
    names = list(EXCLUDED_APP_PACKAGES)
    for pattern in EXCLUDED_APP_MODULE_GLOBS:
        names += [_module_name(app_dir, p) for p in sorted(app_dir.glob(pattern))]
    return names


def is_excluded(module: str, excludes: Iterable[str]) -> bool:
    return any(module == e or module.startswith(e + ".") for e in excludes)


def app_hiddenimports(app_dir: Path) -> list[str]:
    """Every module of the app package except the excluded ones.

    The CLI imports subcommands lazily; listing the modules makes the bundle complete even for
    imports PyInstaller's bytecode scan cannot see.
    """
    app_dir = Path(app_dir)
    excludes = excluded_app_modules(app_dir)
    mods = []
    for py in sorted(app_dir.rglob("*.py")):
        if "__pycache__" in py.parts:
            continue
        name = _module_name(app_dir, py)
        if not is_excluded(name, excludes):
            mods.append(name)
    return mods


def pyside6_modules_on_disk(pyside_dir: Path | None) -> list[str]:
    """Names of the Qt* extension modules of an installed PySide6 (e.g. 'QtNetwork')."""
    if pyside_dir is None or not Path(pyside_dir).is_dir():
        return []
    names = set()
    for f in Path(pyside_dir).iterdir():
        m = re.match(r"^(Qt\w+?)\.(abi3\.so|pyd|cpython-.*\.so|so)$", f.name)
        if m:
            names.add(m.group(1))
    return sorted(names)


def unused_pyside6_modules(available: Sequence[str] = ()) -> list[str]:
    names = set(available) | set(KNOWN_UNUSED_QT_MODULES)
    return [f"PySide6.{n}" for n in sorted(names) if n not in USED_QT_MODULES]


def excluded_modules(app_dir: Path, pyside6_available: Sequence[str] = ()) -> list[str]:
    return list(EXCLUDED_THIRD_PARTY) + excluded_app_modules(app_dir) + unused_pyside6_modules(pyside6_available)
