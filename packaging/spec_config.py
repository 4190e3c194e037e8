"""The pure parts of FaceMirror.spec: names, Info.plist, module lists, file filters, checks.

FaceMirror.spec loads this file by path (packaging/ must stay a plain folder without __init__.py:
a package named `packaging` would shadow the PyPI library pip, pytest and PyInstaller import).
Nothing here imports PyInstaller, Qt or the app, so tests can check the release configuration on
any machine without building.
"""
from __future__ import annotations

import ast
import fnmatch
import os
import re
import struct
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

APP_NAME = "FaceMirror"
BUNDLE_IDENTIFIER = "org.facemirror.FaceMirror"
TARGET_ARCH = "arm64"  # Apple Silicon only: the CoreML execution provider is the point of the Mac build

# Oldest macOS the bundle declares (LSMinimumSystemVersion). Not lower: Qt 6.12 supports macOS
# 14.4 and later (doc.qt.io/qt-6.12/macos.html) and its frameworks in the PySide6-Essentials wheel
# declare 14.4 as their minimum; the onnxruntime 1.32 and numpy 2.4 wheels are built for macOS 14.
# Declaring e.g. 12.0 would let older Macs start the app and crash while loading Qt, instead of
# Finder saying a newer macOS is needed. The spec re-reads every collected binary's minimum macOS
# (check_min_macos) so a dependency upgrade cannot silently raise the floor above this value.
MIN_MACOS = "14.4"

# Reviewed binaries that declare a newer minimum macOS than MIN_MACOS: (destination glob, minos).
# The PySide6/shiboken6 6.12.0 wheels (tagged macosx_14_0) build their Python bindings with
# minos 26.0 while the Qt frameworks they load say 14.4. We expect dyld to load them on 14.4 (it
# resolves symbols; the minos of a library is not a load condition), but that is unproven: the
# macOS CI job runs the frozen app on a macOS 14 runner, and a release must pass that job. Any
# other binary above MIN_MACOS, or these at another version, fails the build.
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
ENV_CODESIGN_IDENTITY = "FACEMIRROR_CODESIGN_IDENTITY"
ENV_ENTITLEMENTS = "FACEMIRROR_ENTITLEMENTS"

WEIGHTS_DEST = "weights"  # folder inside the bundle; app/paths.py looks in sys._MEIPASS/weights
MANIFEST_NAME = "manifest.json"

# Qt modules the app imports. Everything else of PySide6 is excluded.
USED_QT_MODULES = ("QtCore", "QtGui", "QtWidgets")

# Fallback list of PySide6 modules to exclude when the installed PySide6 cannot be listed.
KNOWN_UNUSED_QT_MODULES = (
    "Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender", "QtAxContainer",
    "QtBluetooth", "QtCharts", "QtConcurrent", "QtDBus", "QtDataVisualization", "QtDesigner", "QtGraphs",
    "QtGraphsWidgets", "QtHelp", "QtHttpServer", "QtLocation", "QtMultimedia", "QtMultimediaWidgets",
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
    "pytest", "pytestqt", "_pytest", "PyInstaller",
    "PyQt5", "PyQt6", "PySide2",
)

# The app's own modules that need torch or the network: the converters, their PyTorch networks
# and the model download (app/convert). Benchmarks live outside app/ (bench/) and are never seen.
EXCLUDED_APP_PACKAGES = ("app.convert",)
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

# Qt plugin folders that no part of the app needs (SVG icons, vector images, QML debugging,
# SQL, TLS/network status, Designer, printing, TUIO touch over the network, embedded-Linux EGL).
UNUSED_QT_PLUGIN_TYPES = (
    "iconengines", "vectorimageformats", "qmltooling", "sqldrivers", "tls", "networkinformation",
    "designer", "printsupport", "generic", "egldeviceintegrations", "position", "sensors",
    "multimedia", "webview", "texttospeech", "scenegraph", "qmllint",
)
# Single plugins we drop inside otherwise kept folders (matched against the file name): SVG/PDF
# image formats, the virtual keyboard (QtQuick), Linux framebuffer/EGL/VNC platforms, and the
# Wayland "adwaita" title-bar decoration (it needs QtSvg; the plain "bradient" one stays).
UNUSED_QT_PLUGIN_NAMES = re.compile(
    r"(qsvg|qpdf|virtualkeyboard|qeglfs|qlinuxfb|qvnc|qvkkhrdisplay|qminimalegl|adwaita)", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Version and Info.plist

def read_version(init_py: Path) -> str:
    """`__version__` from app/__init__.py, parsed (importing the app would import its deps)."""
    tree = ast.parse(Path(init_py).read_text(encoding="utf-8"), filename=str(init_py))
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets):
                if isinstance(node.value.value, str):
                    return node.value.value
    raise ValueError(f"no __version__ = '...' string in {init_py}")


def info_plist(version: str) -> dict:
    """Info.plist entries merged over PyInstaller's defaults (executable, icon, package type)."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_IDENTIFIER,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundleDevelopmentRegion": "en",
        "LSMinimumSystemVersion": MIN_MACOS,
        "LSApplicationCategoryType": "public.app-category.medical",
        # Retina rendering; Qt draws at the screen's scale.
        "NSHighResolutionCapable": True,
        # Follow the system's light/dark appearance (Qt supports both).
        "NSRequiresAquaSystemAppearance": False,
        # Videos can be dropped on the app icon / opened with FaceMirror, which reads them only
        # (Viewer) and never claims to be the default player (Alternate). Qt delivers such files
        # as QFileOpenEvent (argv emulation is off).
        "CFBundleDocumentTypes": [
            {
                "CFBundleTypeName": "Movie",
                "LSItemContentTypes": ["public.movie"],
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
            }
        ],
    }


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
    """(source, 'weights') pairs: every *.onnx of weights_dir and the manifest.

    The manifest comes from weights_dir when it has one, else from the repository's weights/
    (a folder of development models usually has none).
    """
    weights_dir, repo_weights_dir = Path(weights_dir), Path(repo_weights_dir)
    datas = [(str(p), WEIGHTS_DEST) for p in sorted(weights_dir.glob("*.onnx")) if p.is_file()]
    manifest = weights_dir / MANIFEST_NAME
    if not manifest.is_file():
        manifest = repo_weights_dir / MANIFEST_NAME
    if manifest.is_file():
        datas.append((str(manifest), WEIGHTS_DEST))
    return datas


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
    return str(meta.get("facemirror.untrained", "")).lower() == "true"


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
    mod = qt_module_of(dest)
    return mod is not None and mod.startswith(UNUSED_QT_LIB_PREFIXES)


def should_drop(dest: str) -> bool:
    return is_cv2_qt(dest) or is_unused_qt(dest)


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
# Mach-O: the oldest macOS each binary runs on (LC_BUILD_VERSION / LC_VERSION_MIN_MACOSX)

_CPU_NAMES = {0x0100000C: "arm64", 0x01000007: "x86_64", 0x0000000C: "arm", 0x00000007: "i386"}
LC_VERSION_MIN_MACOSX = 0x24
LC_BUILD_VERSION = 0x32
PLATFORM_MACOS = 1


def _decode_version(v: int) -> str:
    major, minor, patch = v >> 16, (v >> 8) & 0xFF, v & 0xFF
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def _slice_min_os(data: bytes, off: int) -> tuple[str | None, str | None]:
    magic = data[off:off + 4]
    if magic == b"\xcf\xfa\xed\xfe":
        endian, header = "<", 32
    elif magic == b"\xce\xfa\xed\xfe":
        endian, header = "<", 28
    elif magic == b"\xfe\xed\xfa\xcf":
        endian, header = ">", 32
    elif magic == b"\xfe\xed\xfa\xce":
        endian, header = ">", 28
    else:
        return None, None
    cputype, _sub, _ftype, ncmds, _sizeofcmds = struct.unpack_from(endian + "iIIII", data, off + 4)
    arch = _CPU_NAMES.get(cputype & 0xFFFFFFFF, hex(cputype & 0xFFFFFFFF))
    pos = off + header
    for _ in range(ncmds):
        cmd, cmdsize = struct.unpack_from(endian + "II", data, pos)
        if cmd == LC_BUILD_VERSION:
            platform, minos = struct.unpack_from(endian + "II", data, pos + 8)
            if platform == PLATFORM_MACOS:
                return arch, _decode_version(minos)
        elif cmd == LC_VERSION_MIN_MACOSX:
            (version,) = struct.unpack_from(endian + "I", data, pos + 8)
            return arch, _decode_version(version)
        if cmdsize < 8:
            break
        pos += cmdsize
    return arch, None


def macho_min_os(path: Path) -> dict[str, str | None]:
    """{arch: minimum macOS} for a Mach-O file (thin or fat); {} when it is not Mach-O."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return {}
        fh.seek(0)
        if head[:4] in (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"):
            (nfat,) = struct.unpack(">I", head[4:8])
            if not 0 < nfat < 20:  # Java class files share the 0xcafebabe magic
                return {}
            data = fh.read()
            out = {}
            is64 = head[:4] == b"\xca\xfe\xba\xbf"
            for i in range(nfat):
                if is64:
                    _cpu, _sub, offset, _size, _align, _res = struct.unpack_from(">iiQQII", data, 8 + i * 32)
                else:
                    _cpu, _sub, offset, _size, _align = struct.unpack_from(">iiIII", data, 8 + i * 20)
                arch, minos = _slice_min_os(data, offset)
                if arch:
                    out[arch] = minos
            return out
        if head[:4] not in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce"):
            return {}
        data = fh.read()
    arch, minos = _slice_min_os(data, 0)
    return {arch: minos} if arch else {}


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
