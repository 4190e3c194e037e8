"""Filtering the analysis' table of contents (TOC entries are (dest_name, src_name, typecode)):
unused Qt libraries and plugins, opencv's own Qt, and files hooks collect that the app never loads.

Loaded through spec_config.py, which puts packaging/ on sys.path (packaging/ is never imported
as a package: it would shadow the PyPI `packaging` library).
"""
from __future__ import annotations

import os
import re
from typing import Callable, Iterable

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

# Qt libraries kept although a prefix above matches them (exact module names): QtTextToSpeech (the
# guided exam's spoken prompts, through the platform's engine: AVSpeechSynthesizer on macOS), QtMultimedia (the
# live camera) and what it and its FFmpeg backend plugin link to (QtNetwork, QtConcurrent; on
# Linux the plugin also links QtQml/QtQuick/QtOpenGL). QtMultimediaQuick/Widgets stay out.
KEPT_QT_LIBS = frozenset({"Multimedia", "Network", "Concurrent", "Qml", "QmlModels", "QmlMeta",
                          "QmlWorkerScript", "Quick", "OpenGL", "TextToSpeech"})

# Qt plugin folders that no part of the app needs (SVG icons, vector images, QML debugging,
# SQL, TLS/network status, Designer, printing, TUIO touch over the network, embedded-Linux EGL).
UNUSED_QT_PLUGIN_TYPES = (
    "iconengines", "vectorimageformats", "qmltooling", "sqldrivers", "tls", "networkinformation",
    "designer", "printsupport", "generic", "egldeviceintegrations", "position", "sensors",
    "webview", "scenegraph", "qmllint",
)
# Single plugins we drop inside otherwise kept folders (matched against the file name): SVG/PDF
# image formats, the virtual keyboard (QtQuick), Linux framebuffer/EGL/VNC platforms, and the
# Wayland "adwaita" title-bar decoration (it needs QtSvg; the plain "bradient" one stays), and Qt's
# "mock" speech engine (a test engine that says nothing: the app must see no engine rather than it).
UNUSED_QT_PLUGIN_NAMES = re.compile(
    r"(qsvg|qpdf|virtualkeyboard|qeglfs|qlinuxfb|qvnc|qvkkhrdisplay|qminimalegl|adwaita|texttospeech_mock)",
    re.IGNORECASE)


def norm_dest(dest: str) -> str:
    return str(dest).replace("\\", "/")


def is_cv2_qt(dest: str) -> bool:
    """Files of opencv-python's bundled Qt (cv2/qt/plugins, cv2/qt/fonts).

    opencv-python-headless has none, but if the full wheel ever gets installed its Qt plugins
    would load into our PySide6 process and break it (opencv-python issues 386, 467, 736).
    """
    d = "/" + norm_dest(dest).strip("/") + "/"
    return "/cv2/qt/" in d


def qt_module_of(dest: str) -> str | None:
    """Qt module of a Qt shared library path ('Svg' for libQt6Svg.so.6 or QtSvg.framework/...)."""
    d = norm_dest(dest)
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
    parts = norm_dest(dest).split("/")
    for i in range(len(parts) - 2):
        if parts[i] == "plugins" and i > 0 and parts[i - 1] == "Qt":
            return parts[i + 1], parts[-1]
    return None


def is_unused_qt(dest: str) -> bool:
    if "PySide6" not in norm_dest(dest):
        return False
    plugin = qt_plugin_of(dest)
    if plugin is not None:
        ptype, fname = plugin
        return ptype in UNUSED_QT_PLUGIN_TYPES or bool(UNUSED_QT_PLUGIN_NAMES.search(fname))
    if norm_dest(dest).split("/")[-1].endswith(".qm"):
        return True  # Qt's translations: the app's text is English only and loads no QTranslator
    mod = qt_module_of(dest)
    return mod is not None and mod not in KEPT_QT_LIBS and mod.startswith(UNUSED_QT_LIB_PREFIXES)


# Files hooks collect that the frozen app never loads (matched against the bundle path):
# onnxruntime's C library for other languages (the Python binding links its own
# onnxruntime_pybind11_state; 35 MB on macOS), and torch's metadata without torch (it made the
# frozen `doctor` say torch is installed).
UNUSED_FILES = re.compile(r"(^|/)onnxruntime/capi/libonnxruntime[^/]*\.dylib$|(^|/)torch-[^/]*\.dist-info(/|$)")


def should_drop(dest: str) -> bool:
    return is_cv2_qt(dest) or is_unused_qt(dest) or bool(UNUSED_FILES.search(norm_dest(dest)))


def symlink_target(entry: tuple) -> str:
    """Bundle path a SYMLINK entry points to (its src is relative to the link's folder)."""
    dest, src = norm_dest(entry[0]), norm_dest(entry[1])
    return os.path.normpath(os.path.join(os.path.dirname(dest), src)).replace("\\", "/")


def filter_toc(toc: Iterable[tuple], drop: Callable[[str], bool] = should_drop) -> tuple[list, list]:
    """Split TOC entries into (kept, dropped) by their destination path.

    SYMLINK entries whose target is dropped go too (PyInstaller links libraries collected inside
    packages into the top-level folder, e.g. libQt6Svg.so.6 -> PySide6/Qt/lib/libQt6Svg.so.6).
    """
    toc = list(toc)
    dropped_dests = {norm_dest(e[0]) for e in toc if drop(e[0])}
    kept, dropped = [], []
    for entry in toc:
        gone = norm_dest(entry[0]) in dropped_dests
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
