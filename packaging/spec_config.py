"""The pure parts of FaceMirror.spec: names, Info.plist, module lists, file filters, checks.

FaceMirror.spec loads this file by path (packaging/ must stay a plain folder without __init__.py:
a package named `packaging` would shadow the PyPI library pip, pytest and PyInstaller import).
Nothing here imports PyInstaller or Qt, so tests can check the release configuration on any
machine without building. Names the app also uses (manifest and build-info file names, model
metadata keys, the app's name) are imported from the app's light, dependency-free modules: one
home per fact.
"""
from __future__ import annotations

import fnmatch
import os
import re
import struct
import sys
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

# The repository root on the path, so the app's constants can be imported (this file is loaded
# by path from FaceMirror.spec and the tests; packaging/ itself is never a package).
_REPO = str(Path(__file__).resolve().parent.parent)
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from app import APP_NAME  # noqa: E402
from app import __version__ as APP_VERSION  # noqa: E402, F401 - the spec reads it here
from app.build_info import FILE_NAME as BUILD_INFO_NAME  # noqa: E402
from app.engine.runtime import META_SOURCE_SHA, META_UNTRAINED  # noqa: E402
from app.model_files import MANIFEST_NAME, STAR_FILE, sha256_file  # noqa: E402, F401 - STAR_FILE: the spec reads it here

BUNDLE_IDENTIFIER = "org.facemirror.FaceMirror"
TARGET_ARCH = "arm64"  # Apple Silicon only: the CoreML execution provider is the point of the Mac build

# Oldest macOS the bundle declares (LSMinimumSystemVersion), and the one the macOS CI job runs the
# frozen app on (macos-15, Apple Silicon): a minimum nobody tests is a promise nobody keeps, and
# GitHub retired its macOS 14 runners on 2026-11-02. The pinned wheels need at least 14.4 (Qt 6.12
# supports macOS 14.4 and later, its frameworks declare 14.4; onnxruntime 1.32 and numpy 2.4 are
# built for macOS 14), so 15.0 costs Macs that cannot be tested any more. The CI job fails if its
# runner stops matching this value. The spec re-reads every collected binary's minimum macOS
# (check_min_macos) so a dependency upgrade cannot silently raise the floor above it.
MIN_MACOS = "15.0"

# Reviewed binaries that declare a newer minimum macOS than MIN_MACOS: (destination glob, minos).
# The PySide6/shiboken6 6.12.0 wheels (tagged macosx_14_0) build their Python bindings with
# minos 26.0 while the Qt frameworks they load say 14.4. dyld loads them on older systems (the
# minos of a library is not a load condition; it resolves symbols): the macOS CI job runs the
# frozen app, window included, on macOS 15, and a release must pass that job. Any other binary
# above MIN_MACOS, or these at another version, fails the build.
MINOS_EXCEPTIONS = (
    ("PySide6/*.abi3.so", "26.0"),
    ("PySide6/libpyside6.abi3.*.dylib", "26.0"),
    ("shiboken6/*.abi3.so", "26.0"),
    ("shiboken6/libshiboken6.abi3.*.dylib", "26.0"),
)

# Environment variables the spec reads.
ENV_WEIGHTS_DIR = "FACEMIRROR_SPEC_WEIGHTS_DIR"        # take models from this folder instead of weights/
ENV_REQUIRE_MODELS = "FACEMIRROR_SPEC_REQUIRE_MODELS"  # 1: fail unless every required model is bundled
ENV_ALLOW_UNTRAINED = "FACEMIRROR_SPEC_ALLOW_UNTRAINED"  # 1: allow random-weight dev models in a release
ENV_DETECTOR_ONLY = "FACEMIRROR_SPEC_DETECTOR_ONLY"    # 1: build without STAR on purpose (said in the app)
ENV_CHECKPOINT_SHA_PREFIX = "FACEMIRROR_SPEC_CHECKPOINT_SHA256_"  # + STAR / RETINAFACE: pinned checkpoint
ENV_CODESIGN_IDENTITY = "FACEMIRROR_CODESIGN_IDENTITY"
ENV_BUILD_NUMBER = "FACEMIRROR_BUILD_NUMBER"  # CFBundleVersion: a number that only goes up (CI: run number)
ENV_ENTITLEMENTS = "FACEMIRROR_ENTITLEMENTS"

WEIGHTS_DEST = "weights"  # folder inside the bundle; app/paths.py looks in sys._MEIPASS/weights

# Qt modules the app imports. Everything else of PySide6 is excluded.
# QtMultimedia: the live camera mode (QCamera, QMediaCaptureSession, QVideoSink, QMediaDevices).
USED_QT_MODULES = ("QtCore", "QtGui", "QtWidgets", "QtMultimedia")

# Fallback list of PySide6 modules to exclude when the installed PySide6 cannot be listed.
KNOWN_UNUSED_QT_MODULES = (
    "Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender", "QtAxContainer",
    "QtBluetooth", "QtCharts", "QtConcurrent", "QtDBus", "QtDataVisualization", "QtDesigner", "QtGraphs",
    "QtGraphsWidgets", "QtHelp", "QtHttpServer", "QtLocation", "QtMultimediaWidgets",
    "QtNetwork", "QtNetworkAuth", "QtNfc", "QtOpenGL", "QtOpenGLWidgets", "QtPdf", "QtPdfWidgets",
    "QtPositioning", "QtPrintSupport", "QtQml", "QtQuick", "QtQuick3D", "QtQuickControls2",
    "QtQuickTest", "QtQuickWidgets", "QtRemoteObjects", "QtScxml", "QtSensors", "QtSerialBus",
    "QtSerialPort", "QtSpatialAudio", "QtSql", "QtStateMachine", "QtSvg", "QtSvgWidgets", "QtTest",
    "QtTextToSpeech", "QtUiTools", "QtWebChannel", "QtWebEngineCore", "QtWebEngineQuick",
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

# Third-party packages the app imports lazily at run time (video I/O, plots); listed so the bundle
# has them even where PyInstaller's scan of the app's lazy imports could miss one. matplotlib
# needs Pillow (PIL), which therefore stays in the bundle too.
RUNTIME_THIRD_PARTY = ("av", "PySide6.QtMultimedia", "matplotlib", "matplotlib.backends.backend_agg", "matplotlib.backends.backend_svg", "PIL")

# Distributions whose metadata the app reads at run time (app/diagnostics.py PACKAGES).
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

# Qt shared libraries (by module name) that the app does not use. They are only pulled in by
# plugins we drop (SVG/PDF image formats, virtual keyboard, network plugins) or by modules we
# exclude; the spec verifies that no kept binary links to a dropped one (find_broken_links).
UNUSED_QT_LIB_PREFIXES = (
    "Qml", "Quick", "Network", "WebEngine", "WebChannel", "WebSockets", "WebView", "Svg", "Pdf",
    "VirtualKeyboard", "Multimedia", "Sql", "Test", "Designer", "Help", "UiTools", "3D", "Charts",
    "DataVisualization", "Graphs", "Bluetooth", "Nfc", "Positioning", "Location", "Sensors",
    "SerialPort", "SerialBus", "RemoteObjects", "Scxml", "StateMachine", "TextToSpeech",
    "SpatialAudio", "HttpServer", "Lottie", "Labs", "ShaderTools", "Concurrent", "Xml",
    "PrintSupport",
)

# Qt libraries kept although a prefix above matches them (exact module names): QtMultimedia (the
# live camera) and what it and its FFmpeg backend plugin link to (QtNetwork, QtConcurrent; on
# Linux the plugin also links QtQml/QtQuick/QtOpenGL). QtMultimediaQuick/Widgets stay out.
KEPT_QT_LIBS = frozenset({"Multimedia", "Network", "Concurrent", "Qml", "QmlModels", "QmlMeta",
                          "QmlWorkerScript", "Quick", "OpenGL"})

# Qt plugin folders that no part of the app needs (SVG icons, vector images, QML debugging,
# SQL, TLS/network status, Designer, printing, TUIO touch over the network, embedded-Linux EGL).
UNUSED_QT_PLUGIN_TYPES = (
    "iconengines", "vectorimageformats", "qmltooling", "sqldrivers", "tls", "networkinformation",
    "designer", "printsupport", "generic", "egldeviceintegrations", "position", "sensors",
    "webview", "texttospeech", "scenegraph", "qmllint",
)
# Single plugins we drop inside otherwise kept folders (matched against the file name): SVG/PDF
# image formats, the virtual keyboard (QtQuick), Linux framebuffer/EGL/VNC platforms, and the
# Wayland "adwaita" title-bar decoration (it needs QtSvg; the plain "bradient" one stays).
UNUSED_QT_PLUGIN_NAMES = re.compile(
    r"(qsvg|qpdf|virtualkeyboard|qeglfs|qlinuxfb|qvnc|qvkkhrdisplay|qminimalegl|adwaita)", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Version and Info.plist

CAMERA_USAGE = ("FaceMirror shows the camera's picture mirrored left and right during a live "
                "assessment and records it only when you press Record. Nothing leaves this Mac.")
MICROPHONE_USAGE = ("FaceMirror records sound with a live assessment only when you press Record, "
                    "into the file you choose. Nothing leaves this Mac.")


def bundle_version(version: str, build_number: str | None) -> str:
    """CFBundleVersion: the CI build number (macOS compares it to decide what is newer, so it
    must only go up), else the marketing version for a local build."""
    build = (build_number or "").strip()
    if not build:
        return version
    if not build.isdigit():
        raise ValueError(f"{ENV_BUILD_NUMBER} must be a whole number, not {build!r}")
    return str(int(build))


def info_plist(version: str, build_number: str | None = None) -> dict:
    """Info.plist entries merged over PyInstaller's defaults (executable, icon, package type)."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_IDENTIFIER,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": bundle_version(version, build_number),
        "CFBundleDevelopmentRegion": "en",
        "LSMinimumSystemVersion": MIN_MACOS,
        "LSApplicationCategoryType": "public.app-category.medical",
        # Retina rendering; Qt draws at the screen's scale.
        "NSHighResolutionCapable": True,
        # Follow the system's light/dark appearance (Qt supports both).
        "NSRequiresAquaSystemAppearance": False,
        # Videos and folders of videos can be dropped on the app icon / opened with FaceMirror,
        # which reads them only (Viewer) and never claims to be the default player (Alternate).
        # Qt delivers them as QFileOpenEvent (argv emulation is off).
        "CFBundleDocumentTypes": document_types(),
        "UTImportedTypeDeclarations": imported_types(),
        # The live mode (QCamera): macOS asks the user with these words and kills an app that
        # opens the camera or microphone without them.
        "NSCameraUsageDescription": CAMERA_USAGE,
        "NSMicrophoneUsageDescription": MICROPHONE_USAGE,
    }


# Container formats the app accepts (app/outputs.py VIDEO_EXTENSIONS) as uniform type
# identifiers. macOS declares most of them; Matroska and WebM are imported below so Finder knows
# them even where no other app declared them.
CONTAINER_TYPES = {
    ".mp4": "public.mpeg-4", ".m4v": "com.apple.m4v-video", ".mov": "com.apple.quicktime-movie",
    ".avi": "public.avi", ".mpg": "public.mpeg", ".mpeg": "public.mpeg", ".3gp": "public.3gpp",
    ".mts": "public.avchd-mpeg-2-transport-stream", ".m2ts": "public.avchd-mpeg-2-transport-stream",
    ".wmv": "com.microsoft.windows-media-wmv", ".mkv": "org.matroska.mkv", ".webm": "org.webmproject.webm",
}
IMPORTED_TYPES = {"org.matroska.mkv": ("Matroska video", ("mkv",), "video/x-matroska"),
                  "org.webmproject.webm": ("WebM video", ("webm",), "video/webm")}


def document_types() -> list[dict]:
    viewer = {"CFBundleTypeRole": "Viewer", "LSHandlerRank": "Alternate"}
    movies = sorted(set(CONTAINER_TYPES.values())) + ["public.movie"]
    return [
        {"CFBundleTypeName": "Video", "LSItemContentTypes": movies, **viewer},
        # A folder dropped on the Dock icon: every video inside it is queued.
        {"CFBundleTypeName": "Folder", "LSItemContentTypes": ["public.folder"], **viewer},
    ]


def imported_types() -> list[dict]:
    return [{"UTTypeIdentifier": uti, "UTTypeDescription": desc, "UTTypeConformsTo": ["public.movie"],
             "UTTypeTagSpecification": {"public.filename-extension": list(exts), "public.mime-type": mime}}
            for uti, (desc, exts, mime) in IMPORTED_TYPES.items()]


# --------------------------------------------------------------------------------------------
# Modules

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


# --------------------------------------------------------------------------------------------
# Model files

def env_flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def weights_source_dir(repo: Path, env: Mapping[str, str]) -> Path:
    override = env.get(ENV_WEIGHTS_DIR, "").strip()
    return Path(override).expanduser().resolve() if override else Path(repo) / "weights"


def load_manifest(path: Path) -> dict:
    import json

    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def weights_datas(weights_dir: Path, repo_weights_dir: Path) -> list[tuple[str, str]]:
    """(source, 'weights') pairs: every *.onnx of weights_dir and the models' licence texts.

    The manifest is not among them: the spec writes the merged one (bundle_manifest) itself.
    """
    weights_dir, repo_weights_dir = Path(weights_dir), Path(repo_weights_dir)
    datas = [(str(p), WEIGHTS_DEST) for p in sorted(weights_dir.glob("*.onnx")) if p.is_file()]
    # The models' licence texts (e.g. weights/LICENSE-retinaface.txt) travel with the models.
    licences = {p.name: p for d in (repo_weights_dir, weights_dir) for p in sorted(d.glob("LICENSE*")) if p.is_file()}
    datas += [(str(p), WEIGHTS_DEST) for _, p in sorted(licences.items())]
    return datas


def merge_manifests(repo: Mapping, converted: Mapping | None) -> dict:
    """The one manifest a bundle carries: the repository's, with a model folder's entries over it.

    `convert star --out DIR/...` writes DIR/manifest.json listing only what it converted; bundling
    that file alone made the frozen app fail with "no model 'retinaface'". Every model and
    checkpoint of the repository's manifest stays; an entry of the converted folder's manifest
    replaces the repository's fields it sets (its `converted` records are merged, not replaced).
    """
    import copy

    merged = copy.deepcopy(dict(repo))
    if not converted:
        return merged
    models = merged.setdefault("models", {})
    for key, entry in converted.get("models", {}).items():
        base = models.get(key, {})
        new = {**base, **copy.deepcopy(entry)}
        new["converted"] = {**base.get("converted", {}), **entry.get("converted", {})}
        models[key] = new
    checkpoints = merged.setdefault("checkpoints", {})
    for key, ck in converted.get("checkpoints", {}).items():
        checkpoints[key] = {**checkpoints.get(key, {}), **ck}
    return merged


def bundle_manifest(weights_dir: Path, repo_weights_dir: Path) -> dict:
    """merge_manifests of the repository's weights/manifest.json and weights_dir's (if any)."""
    repo_file = Path(repo_weights_dir) / MANIFEST_NAME
    repo = load_manifest(repo_file) if repo_file.is_file() else {"models": {}, "checkpoints": {}}
    other = Path(weights_dir) / MANIFEST_NAME
    if other.is_file() and other.resolve() != repo_file.resolve():
        return merge_manifests(repo, load_manifest(other))
    return merge_manifests(repo, None)


def missing_required_models(datas: Sequence[tuple[str, str]], manifest: dict) -> list[tuple[str, str]]:
    """(file name, create command) of required manifest models that datas does not carry."""
    bundled = {Path(src).name for src, _ in datas}
    out = []
    for entry in manifest.get("models", {}).values():
        if entry.get("required", True) and entry["file"] not in bundled:
            out.append((entry["file"], entry.get("create", "")))
    return out


def model_is_untrained(path: Path) -> bool:
    """True for development models (metadata facemirror.untrained=true), read with ONNX Runtime."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    return str(meta.get(META_UNTRAINED, "")).lower() == "true"


# --------------------------------------------------------------------------------------------
# Filtering the analysis (TOC entries are (dest_name, src_name, typecode))

def _norm(dest: str) -> str:
    return str(dest).replace("\\", "/")


def is_cv2_qt(dest: str) -> bool:
    """Files of opencv-python's bundled Qt (cv2/qt/plugins, cv2/qt/fonts).

    opencv-python-headless has none, but if the full wheel ever gets installed its Qt plugins
    would load into our PySide6 process and break it (opencv-python issues 386, 467, 736).
    """
    d = "/" + _norm(dest).strip("/") + "/"
    return "/cv2/qt/" in d


def qt_module_of(dest: str) -> str | None:
    """Qt module of a Qt shared library path ('Svg' for libQt6Svg.so.6 or QtSvg.framework/...)."""
    d = _norm(dest)
    m = re.search(r"(?:^|/)Qt([A-Za-z0-9]+)\.framework(?:/|$)", d)
    if m:
        return m.group(1)
    base = d.rsplit("/", 1)[-1]
    m = re.match(r"^(?:lib)?Qt6([A-Za-z0-9]+?)(?:\.so(?:\.\d+)*|\.dylib|\.dll)$", base)
    if m:
        return m.group(1)
    return None


def qt_plugin_of(dest: str) -> tuple[str, str] | None:
    """(plugin type, file name) of a Qt plugin path, e.g. ('imageformats', 'libqsvg.dylib')."""
    parts = _norm(dest).split("/")
    for i in range(len(parts) - 2):
        if parts[i] == "plugins" and i > 0 and parts[i - 1] == "Qt":
            return parts[i + 1], parts[-1]
    return None


def is_unused_qt(dest: str) -> bool:
    if "PySide6" not in _norm(dest):
        return False
    plugin = qt_plugin_of(dest)
    if plugin is not None:
        ptype, fname = plugin
        return ptype in UNUSED_QT_PLUGIN_TYPES or bool(UNUSED_QT_PLUGIN_NAMES.search(fname))
    if _norm(dest).split("/")[-1].endswith(".qm"):
        return True  # Qt's translations: the app's text is English only and loads no QTranslator
    mod = qt_module_of(dest)
    return mod is not None and mod not in KEPT_QT_LIBS and mod.startswith(UNUSED_QT_LIB_PREFIXES)


# Files hooks collect that the frozen app never loads (matched against the bundle path):
# onnxruntime's C library for other languages (the Python binding links its own
# onnxruntime_pybind11_state; 35 MB on macOS), and torch's metadata without torch (it made the
# frozen `doctor` say torch is installed).
UNUSED_FILES = re.compile(r"(^|/)onnxruntime/capi/libonnxruntime[^/]*\.dylib$|(^|/)torch-[^/]*\.dist-info(/|$)")


def should_drop(dest: str) -> bool:
    return is_cv2_qt(dest) or is_unused_qt(dest) or bool(UNUSED_FILES.search(_norm(dest)))


def symlink_target(entry: tuple) -> str:
    """Bundle path a SYMLINK entry points to (its src is relative to the link's folder)."""
    dest, src = _norm(entry[0]), _norm(entry[1])
    return os.path.normpath(os.path.join(os.path.dirname(dest), src)).replace("\\", "/")


def filter_toc(toc: Iterable[tuple], drop: Callable[[str], bool] = should_drop) -> tuple[list, list]:
    """Split TOC entries into (kept, dropped) by their destination path.

    SYMLINK entries whose target is dropped go too (PyInstaller links libraries collected inside
    packages into the top-level folder, e.g. libQt6Svg.so.6 -> PySide6/Qt/lib/libQt6Svg.so.6).
    """
    toc = list(toc)
    dropped_dests = {_norm(e[0]) for e in toc if drop(e[0])}
    kept, dropped = [], []
    for entry in toc:
        gone = _norm(entry[0]) in dropped_dests
        if not gone and len(entry) > 2 and entry[2] == "SYMLINK":
            target = symlink_target(entry)
            gone = target in dropped_dests or drop(target)
        (dropped if gone else kept).append(entry)
    return kept, dropped


def find_broken_links(kept: Iterable[tuple], dropped: Iterable[tuple],
                      get_imports: Callable[[str], Iterable[tuple[str, str | None]]]) -> list[tuple[str, str]]:
    """(kept dest, dropped dest) pairs where a kept binary links to a dropped one.

    get_imports(src) yields (name, resolved path or None), like PyInstaller's
    bindepend.get_imports.
    """
    dropped_by_src = {}
    for entry in dropped:
        if len(entry) > 2 and entry[2] in ("BINARY", "EXTENSION"):
            dropped_by_src[os.path.realpath(entry[1])] = entry[0]
    broken = []
    if not dropped_by_src:
        return broken
    for entry in kept:
        if len(entry) > 2 and entry[2] not in ("BINARY", "EXTENSION"):
            continue
        for _name, resolved in get_imports(entry[1]) or ():
            if resolved and os.path.realpath(resolved) in dropped_by_src:
                broken.append((entry[0], dropped_by_src[os.path.realpath(resolved)]))
    return broken


# --------------------------------------------------------------------------------------------
# Mach-O: the oldest macOS each binary runs on (LC_BUILD_VERSION / LC_VERSION_MIN_MACOSX), read
# with macholib (PyInstaller's own Mach-O library on macOS; a dev dependency elsewhere)

FAT_MAGICS = (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf")
PLATFORM_MACOS = 1


def _decode_version(v: int) -> str:
    major, minor, patch = v >> 16, (v >> 8) & 0xFF, v & 0xFF
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def macho_min_os(path: Path) -> dict[str, str | None]:
    """{arch: minimum macOS} for a Mach-O file (thin or fat); {} when it is not Mach-O."""
    from macholib import mach_o
    from macholib.MachO import MachO

    with open(path, "rb") as fh:
        head = fh.read(8)
    if len(head) < 8:
        return {}
    if head[:4] in FAT_MAGICS and not 0 < int.from_bytes(head[4:8], "big") < 20:
        return {}                       # a Java class file shares the 0xcafebabe magic
    try:
        headers = MachO(str(path), allow_unknown_load_commands=True).headers
    except (ValueError, struct.error):   # not Mach-O (macholib: "Unknown Mach-O header")
        return {}
    out: dict[str, str | None] = {}
    for h in headers:
        cpu = int(h.header.cputype) & 0xFFFFFFFF
        arch = mach_o.CPU_TYPE_NAMES.get(cpu, hex(cpu)).lower()
        minos = None
        for lc, cmd, _data in h.commands:
            if lc.cmd == mach_o.LC_BUILD_VERSION and cmd.platform == PLATFORM_MACOS:
                minos = _decode_version(int(cmd.minos))
                break
            if lc.cmd == mach_o.LC_VERSION_MIN_MACOSX:
                minos = _decode_version(int(cmd.version))
                break
        out[arch] = minos
    return out


def check_min_macos(entries: Iterable[tuple], declared: str = MIN_MACOS, arch: str = TARGET_ARCH,
                    exceptions: Sequence[tuple[str, str]] = MINOS_EXCEPTIONS
                    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Binaries whose `arch` slice declares a newer minimum macOS than `declared`.

    entries are TOC entries (dest, src, ...). Returns (too_new, excused): (dest, minos) pairs;
    excused ones match a reviewed MINOS_EXCEPTIONS pattern with exactly that minos.
    """
    too_new, excused = [], []
    for entry in entries:
        dest, src = _norm(entry[0]), entry[1]
        try:
            info = macho_min_os(Path(src))
        except (OSError, struct.error):
            continue
        minos = info.get(arch)
        if minos and version_tuple(minos) > version_tuple(declared):
            if any(fnmatch.fnmatch(dest, pat) and minos == v for pat, v in exceptions):
                excused.append((dest, minos))
            else:
                too_new.append((dest, minos))
    return too_new, excused


# --------------------------------------------------------------------------------------------
# STAR or an explicit detector-only build; pinned release inputs


def star_rule(datas: Sequence[tuple[str, str]], env: Mapping[str, str]) -> tuple[bool, str | None]:
    """(detector_only, error). A build carries STAR unless the builder asked for detector-only."""
    has_star = any(Path(src).name == STAR_FILE for src, _ in datas)
    wants_detector_only = env_flag(env, ENV_DETECTOR_ONLY)
    if has_star:
        return False, None  # STAR present: a full build, whatever the flag says
    if wants_detector_only:
        return True, None
    return False, (f"{STAR_FILE} is not in the models folder, so the app would only have the face detector "
                   "(coarse 5-point midline). Put the STAR model in weights/ (`python main.py models fetch`), "
                   f"or set {ENV_DETECTOR_ONLY}=1 to build a detector-only app on purpose (it says so in "
                   "its status bar, diagnostic info and self-test).")


def model_key_by_file(manifest: Mapping) -> dict[str, str]:
    return {entry["file"]: key for key, entry in manifest.get("models", {}).items()}


def pinned_checkpoint_sha(key: str, manifest: Mapping, env: Mapping[str, str]) -> str | None:
    """The checkpoint sha256 a release must have been converted from: env first, then manifest."""
    value = env.get(ENV_CHECKPOINT_SHA_PREFIX + key.upper(), "").strip().lower()
    if value:
        return value
    ck = manifest.get("checkpoints", {}).get(key, {}) or {}
    return (ck.get("sha256") or "").strip().lower() or None


def check_pinned_models(model_paths: Sequence[Path], manifest: Mapping, env: Mapping[str, str],
                        read_meta: Callable[[Path], Mapping[str, str]],
                        sha_of: Callable[[Path], str]) -> tuple[list[str], list[str]]:
    """(errors, notes) for a release: every bundled model verified against a pinned sha256.

    A model whose manifest entry has a `sha256` (a committed ONNX file) must be exactly that file.
    Any other model must say (metadata facemirror.source_sha256) that it was converted from the
    checkpoint whose sha256 is pinned (FACEMIRROR_SPEC_CHECKPOINT_SHA256_<KEY> or the manifest).
    Untrained development models are only accepted with FACEMIRROR_SPEC_ALLOW_UNTRAINED (test builds).
    """
    keys = model_key_by_file(manifest)
    errors, notes = [], []
    for path in model_paths:
        path = Path(path)
        key = keys.get(path.name)
        if key is None:
            errors.append(f"{path.name}: not listed in weights/manifest.json")
            continue
        meta = read_meta(path)
        if str(meta.get(META_UNTRAINED, "")).lower() == "true":
            if env_flag(env, ENV_ALLOW_UNTRAINED):
                notes.append(f"{path.name}: untrained development model accepted ({ENV_ALLOW_UNTRAINED}=1)")
            else:
                errors.append(f"{path.name}: untrained development model (random weights); set "
                              f"{ENV_ALLOW_UNTRAINED}=1 for a test build")
            continue
        file_sha = (manifest["models"][key].get("sha256") or "").lower()
        if file_sha:
            actual = sha_of(path)
            if actual != file_sha:
                errors.append(f"{path.name}: sha256 {actual} is not the manifest's {file_sha}")
            else:
                notes.append(f"{path.name}: sha256 matches the manifest")
            continue
        pinned = pinned_checkpoint_sha(key, manifest, env)
        source = str(meta.get(META_SOURCE_SHA, "")).lower()
        if not pinned:
            errors.append(f"{path.name}: no pinned checkpoint sha256; a release must name the checkpoint it ships "
                          f"(set {ENV_CHECKPOINT_SHA_PREFIX}{key.upper()} or checkpoints.{key}.sha256 in the manifest)")
        elif source != pinned:
            errors.append(f"{path.name}: converted from a checkpoint with sha256 {source or 'unknown'}, "
                          f"not the pinned {pinned}")
        else:
            notes.append(f"{path.name}: converted from the pinned checkpoint {pinned[:12]}...")
    return errors, notes


def model_metadata(path: Path) -> dict[str, str]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(sess.get_modelmeta().custom_metadata_map)


def file_sha256(path: Path) -> str:
    return sha256_file(path)


def build_info(version: str, detector_only: bool, model_files: Sequence[str]) -> dict:
    """What the app learns about its build (read by app/build_info.py)."""
    return {"version": version, "detector_only": detector_only, "models": sorted(model_files)}


# --------------------------------------------------------------------------------------------
# Third-party notices, generated at build time from the installed distributions

NOTICES_NAME = "THIRD_PARTY_NOTICES.txt"
LICENSE_NAME = "LICENSE"
LICENCE_FILE_RE = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|COPYRIGHT|AUTHORS|THIRDPARTYNOTICES|"
                             r"THIRD[-_]PARTY)", re.IGNORECASE)
# Licence texts the wheels do not carry themselves (packaging/licenses/, verbatim FSF texts), by
# normalised distribution name (what they contain: packaging/README "Bundled codecs and licences"):
# Qt/PySide6 ship none; PyAV's FFmpeg is built as LGPL-3.0 (version3) and linked with x264/x265
# (GPL-2.0-or-later), lame and gnutls are LGPL-2.x; OpenCV's macOS FFmpeg is a GPL-3.0 build
# although its LICENSE-3RD-PARTY.txt only carries LGPL-2.1.
EXTRA_LICENCE_TEXTS = {
    "pyside6-essentials": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "shiboken6": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "av": ("LGPL-3.0.txt", "GPL-3.0.txt", "GPL-2.0.txt", "LGPL-2.1.txt"),
    "opencv-python-headless": ("GPL-3.0.txt", "LGPL-2.1.txt"),
}
# Distributions in every build that no import names: PyInstaller's bootloader runs the app.
ALWAYS_BUNDLED = ("pyinstaller",)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def top_level_names(pure: Iterable[tuple], binaries: Iterable[tuple]) -> set[str]:
    """Top-level import names of everything bundled: modules, and folders binaries sit in."""
    names = {str(e[0]).split(".")[0] for e in pure}
    for e in binaries:
        parts = _norm(e[0]).split("/")
        if len(parts) > 1:
            names.add(parts[0])
        else:
            names.add(parts[0].split(".")[0])
    return names


def bundled_distributions(top_names: Iterable[str], own: str = "facemirror") -> list:
    """importlib.metadata distributions that provide any of top_names (not our own), by name."""
    from importlib import metadata

    mapping = metadata.packages_distributions()
    wanted = {normalise(d) for n in top_names for d in mapping.get(n, [])} | set(ALWAYS_BUNDLED)
    wanted.discard(own)
    dists = {}
    for dist in metadata.distributions():
        name = normalise(dist.metadata["Name"] or "")
        if name in wanted and name not in dists:
            dists[name] = dist
    return [dists[k] for k in sorted(dists)]


def licence_texts(dist) -> list[tuple[str, str]]:
    """(relative path, text) of the licence/notice files a distribution installed."""
    out = []
    for f in dist.files or []:
        if len(f.parts) > 3 or f.suffix in (".py", ".pyc", ".pyi") or "__pycache__" in f.parts:
            continue
        in_licence_dir = len(f.parts) > 1 and f.parts[-2] in ("licenses", "license_files")
        if not (LICENCE_FILE_RE.match(f.name) or in_licence_dir):
            continue
        try:
            out.append((str(f), Path(dist.locate_file(f)).read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return out


def dist_licence_summary(dist) -> str:
    md = dist.metadata
    expr = md.get("License-Expression") or ""
    lic = (md.get("License") or "").strip()
    if not expr and lic and len(lic) < 200:
        expr = lic
    classifiers = [c.split("::")[-1].strip() for c in md.get_all("Classifier") or [] if c.startswith("License ::")]
    return expr or ", ".join(classifiers) or "see the licence text below"


def python_licence_text() -> str | None:
    import sysconfig

    for base in (sysconfig.get_paths()["stdlib"],):
        p = Path(base) / "LICENSE.txt"
        if p.is_file():
            return p.read_text(encoding="utf-8", errors="replace")
    return None


def third_party_notices(dists: Sequence, licences_dir: Path, app_name: str = APP_NAME) -> str:
    """The notices file: one section per bundled distribution with its licence texts, then the
    texts from packaging/licenses that wheels do not carry, then CPython's licence."""
    rule = "=" * 78
    parts = [f"{app_name} bundles the following third-party software. Generated at build time from the",
             "installed distributions' metadata and licence files.", ""]
    parts += [f"  {dist.metadata['Name']} {dist.version}: {dist_licence_summary(dist)}" for dist in dists]
    parts.append(f"  Python {sys.version.split()[0]}: PSF-2.0")
    extra_needed: list[str] = []
    for dist in dists:
        parts += ["", rule, f"{dist.metadata['Name']} {dist.version}",
                  f"Licence: {dist_licence_summary(dist)}", rule]
        texts = licence_texts(dist)
        seen: set[str] = set()
        for rel, text in texts:
            if text.strip() in seen:  # e.g. opencv installs the same texts in cv2/ and its dist-info
                continue
            seen.add(text.strip())
            parts += ["", f"--- {rel} ---", text.rstrip()]
        for extra in EXTRA_LICENCE_TEXTS.get(normalise(dist.metadata["Name"]), ()):
            parts.append(f"(full text of {extra[:-4]}: see the end of this file)")
            if extra not in extra_needed:
                extra_needed.append(extra)
        if not texts and normalise(dist.metadata["Name"]) not in EXTRA_LICENCE_TEXTS:
            parts.append("(this distribution installed no licence file)")
    for extra in extra_needed:
        parts += ["", rule, f"Licence text: {extra[:-4]}", rule, "",
                  (Path(licences_dir) / extra).read_text(encoding="utf-8").rstrip()]
    py = python_licence_text()
    parts += ["", rule, f"Python {sys.version.split()[0]}", rule, "",
              py.rstrip() if py else "PSF License Agreement: https://docs.python.org/3/license.html"]
    return "\n".join(parts) + "\n"


def write_licence_folder(dists: Sequence, licences_dir: Path, dest: Path) -> list[Path]:
    """The licence files as separate files: dest/<dist>-<version>/<file> and the FSF texts."""
    written = []
    for dist in dists:
        folder = Path(dest) / f"{normalise(dist.metadata['Name'])}-{dist.version}"
        for rel, text in licence_texts(dist):
            target = folder / rel.replace("/", "__")  # flat and unique: cv2__LICENSE.txt, ...
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    for text_file in sorted(Path(licences_dir).glob("*.txt")):
        target = Path(dest) / text_file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text_file.read_text(encoding="utf-8"), encoding="utf-8")
        written.append(target)
    return written


# --------------------------------------------------------------------------------------------
# What a finished bundle must contain (checked after the build, and again on CI)

ICON_PNG = "resources/FaceMirror.png"
# (marker file in the bundle, words the notices must contain): a bundled copy of a library needs
# its licence text.
LICENCES_DIR = "licenses"  # the same texts as separate files: licenses/<dist>-<version>/..., licenses/GPL-3.0.txt
GPL2 = ("GPL-2.0.txt", "GNU GENERAL PUBLIC LICENSE Version 2, June 1991")
GPL3 = ("GPL-3.0.txt", "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007")
LGPL21 = ("LGPL-2.1.txt", "GNU LESSER GENERAL PUBLIC LICENSE Version 2.1, February 1999")
LGPL3 = ("LGPL-3.0.txt", "GNU LESSER GENERAL PUBLIC LICENSE Version 3, 29 June 2007")
# (file name pattern of a bundled library, licence texts it needs): both in the notices and as a file.
LICENCE_MARKERS = (
    (re.compile(r"libx26[45]"), (GPL2,)),
    (re.compile(r"libavcodec"), (LGPL3, GPL3, LGPL21)),
    (re.compile(r"(libQt6Core|QtCore\.framework)"), (LGPL3, GPL3)),
)
REQUIRED_PACKAGES = ("av", "matplotlib", "PIL", "cv2", "numpy", "onnxruntime", "PySide6")


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
    for r in roots:
        if not r.is_dir():
            continue
        for f in r.rglob("*"):
            rel = f.relative_to(r).as_posix()
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


if __name__ == "__main__":  # python packaging/spec_config.py check BUNDLE
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        found = check_bundle(Path(sys.argv[2]))
        for problem in found:
            print(f"bundle check: {problem}", file=sys.stderr)
        print(f"bundle check: {'FAILED' if found else 'ok'}: {sys.argv[2]}")
        sys.exit(1 if found else 0)
    if len(sys.argv) == 3 and sys.argv[1] == "size":
        table, problem = size_report(Path(sys.argv[2]), Path(__file__).with_name(SIZE_BUDGET_FILE))
        print(table)
        if problem:
            print(f"size check: {problem}", file=sys.stderr)
        sys.exit(1 if problem else 0)
    print("usage: python packaging/spec_config.py check|size PATH/TO/FaceMirror.app", file=sys.stderr)
    sys.exit(2)
