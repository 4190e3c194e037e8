"""Start the desktop window (imports Qt only when the window is wanted).

Before Qt is imported, `display_problem` checks that a window can open at all: without a display
Qt aborts the process with a platform-plugin error, and on an X11 desktop Qt 6.5+ aborts when a
library its xcb plugin needs (libxcb-cursor0 above all) is not installed. Both are told in plain
words, naming the Debian/Ubuntu packages, with the headless alternative.
"""
from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path
from typing import Callable, Mapping

# Platforms that need no display server.
_HEADLESS_PLATFORMS = {"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"}

# System libraries Qt's xcb platform plugin (PySide6 6.11: libqxcb.so, libQt6XcbQpa.so.6) loads,
# as (name for ctypes.util.find_library, soname, Debian/Ubuntu package).
XCB_LIBRARIES: tuple[tuple[str, str, str], ...] = (
    ("xcb-cursor", "libxcb-cursor.so.0", "libxcb-cursor0"),
    ("xcb-icccm", "libxcb-icccm.so.4", "libxcb-icccm4"),
    ("xcb-keysyms", "libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("xcb-image", "libxcb-image.so.0", "libxcb-image0"),
    ("xcb-util", "libxcb-util.so.1", "libxcb-util1"),
    ("xcb-render-util", "libxcb-render-util.so.0", "libxcb-render-util0"),
    ("xcb-randr", "libxcb-randr.so.0", "libxcb-randr0"),
    ("xcb-render", "libxcb-render.so.0", "libxcb-render0"),
    ("xcb-shape", "libxcb-shape.so.0", "libxcb-shape0"),
    ("xcb-shm", "libxcb-shm.so.0", "libxcb-shm0"),
    ("xcb-sync", "libxcb-sync.so.1", "libxcb-sync1"),
    ("xcb-xfixes", "libxcb-xfixes.so.0", "libxcb-xfixes0"),
    ("xcb-xkb", "libxcb-xkb.so.1", "libxcb-xkb1"),
    ("xcb", "libxcb.so.1", "libxcb1"),
    ("xkbcommon-x11", "libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("xkbcommon", "libxkbcommon.so.0", "libxkbcommon0"),
    ("X11-xcb", "libX11-xcb.so.1", "libx11-xcb1"),
    ("X11", "libX11.so.6", "libx11-6"),
    ("GL", "libGL.so.1", "libgl1"),
    ("EGL", "libEGL.so.1", "libegl1"),
    ("fontconfig", "libfontconfig.so.1", "libfontconfig1"),
    ("dbus-1", "libdbus-1.so.3", "libdbus-1-3"),
    ("glib-2.0", "libglib-2.0.so.0", "libglib2.0-0"),
)

HEADLESS_HINT = ("To process videos without a window use: .venv/bin/python main.py process VIDEO_OR_FOLDER... "
                 "[--out DIR] (README, 'Headless batches').")


def bundled_libraries() -> set[str]:
    """File names inside a frozen app bundle (libraries PyInstaller copied in), else empty."""
    from app.base import paths

    bundle = paths.bundle_dir()
    if bundle is None:
        return set()
    return {name for _root, _dirs, files in os.walk(bundle) for name in files}


def missing_xcb_packages(find_library: Callable[[str], str | None] = ctypes.util.find_library,
                         bundled: set[str] | None = None) -> list[str]:
    """Debian/Ubuntu packages whose library Qt's xcb plugin needs and neither the system nor the
    app bundle has."""
    bundled = bundled_libraries() if bundled is None else bundled
    missing = []
    for name, soname, package in XCB_LIBRARIES:
        if soname in bundled:
            continue
        found = find_library(name)
        # find_library gives the soname on Linux; another version is as good as none.
        if not found or (found.startswith("lib") and ".so." in found and found != soname):
            missing.append(package)
    return missing


def _window_system(env: Mapping[str, str]) -> str | None:
    """What Qt will draw on: "headless" (a platform that needs no display), "wayland", "xcb"
    (X11), or None when the chosen (or any) display is not there."""
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen in _HEADLESS_PLATFORMS:
        return "headless"
    present = {"wayland": bool(env.get("WAYLAND_DISPLAY")), "xcb": bool(env.get("DISPLAY"))}
    if chosen in present:
        return chosen if present[chosen] else None
    return next((name for name, there in present.items() if there), None)   # Wayland first, as Qt does


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None,
                    find_library: Callable[[str], str | None] = ctypes.util.find_library,
                    bundled: set[str] | None = None) -> str | None:
    """Why Qt cannot open a window here (a message for the user), or None when it should."""
    if not (sys.platform if platform is None else platform).startswith("linux"):
        return None  # macOS (cocoa) and Windows always have their platform
    system = _window_system(os.environ if env is None else env)
    if system is None:
        return ("no display: this machine has no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set), "
                "so the FaceMirror window cannot open. " + HEADLESS_HINT)
    # only Qt's xcb plugin needs the X11 libraries
    missing = missing_xcb_packages(find_library, bundled) if system == "xcb" else []
    if not missing:
        return None
    return (f"the window cannot open on this X11 desktop: Qt needs libraries that are not installed "
            f"(packages {', '.join(missing)}). On Debian/Ubuntu install them with:\n"
            f"  sudo apt-get install {' '.join(missing)}\n" + HEADLESS_HINT)


def _icon_path():
    from app.base import paths

    for base in (paths.bundle_dir(), paths.repo_root()):
        if base is not None:
            candidate = base / "resources" / "FaceMirror.png"
            if candidate.is_file():
                return candidate
    return None


def _application(QApplication, argv: list[str] | None):
    """The QApplication with the app's names, icon, Qt's messages routed to the log, and the
    Finder/Dock open-file filter in place before the window exists."""
    from PySide6.QtGui import QIcon

    from app import APP_NAME
    from app.gui import file_open, qt_log
    from app.gui.prefs import APPLICATION, ORGANIZATION

    qt_log.install()      # Qt's own messages go to the log file, not the terminal

    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationDisplayName(APP_NAME)
    # Files dropped on the Dock/Finder icon (macOS) may arrive before the window exists:
    # the filter queues them until the window attaches.
    file_open.install(app)
    icon = _icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    return app


def launch_gui(argv: list[str] | None = None, *, live_source: Path | None = None,
               files: list[Path] | None = None) -> int:
    """The window; ``live_source``: a video file played as the camera in the live exam, opened at once;
    ``files``: videos and folders queued at once (`main.py clip.mp4`), as a drop on the window queues them."""
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        print(f"error: the window needs PySide6 ({exc}); run: make run", file=sys.stderr)
        return 2
    app = _application(QApplication, argv)

    from app.base import logs, session_journal
    from app.gui import crash_notice
    from app.gui.main_window import MainWindow

    leftovers = session_journal.left_by_crash()   # before ours starts: a session that died is reported once
    session_journal.start("window")
    window = MainWindow()
    window.show()
    notice = crash_notice.show(window, leftovers, logs.log_file())   # noqa: F841 - kept alive with the window
    if files:
        window.add_paths([str(f) for f in files])
    if live_source is not None:
        window.open_live_exam(source_file=live_source)
    previous, watch = _quit_on_signals(app, window)
    status = app.exec()
    watch.stop()
    _tear_down(window)           # cancels the running file: its partial files are discarded
    from app.base import cancel

    cancel.restore(previous)
    session_journal.end()        # a normal end (a handled signal included): nothing to report next time
    return cancel.exit_code() if cancel.received is not None else status


def _quit_on_signals(app, window):
    """Ctrl-C in the launching terminal, SIGTERM and SIGHUP quit the window cleanly (the running file
    is cancelled and leaves nothing), then the process exits 128 + the signal. Python runs signal
    handlers only between its own bytecodes, and Qt's event loop is C++: a short timer lets the
    handler's flag be seen within 0.2 s."""
    from PySide6.QtCore import QTimer

    from app.base import cancel

    cancel.clear()
    previous = cancel.install()
    watch = QTimer()
    watch.setInterval(200)
    def check() -> None:
        if cancel.requested.is_set():
            watch.stop()
            window.shutdown()    # inside the event loop, as a quit from the menu: the worker winds down
            app.quit()

    watch.timeout.connect(check)
    watch.start()
    return previous, watch


def _tear_down(window) -> None:
    """Stop the window's threads and delete it while Python is fully alive, not during interpreter
    finalization (where Qt objects, queued events and ONNX sessions freed by the garbage collector
    crashed the process at exit)."""
    import gc

    import shiboken6
    from PySide6.QtCore import QCoreApplication

    window.shutdown()
    QCoreApplication.sendPostedEvents()     # anything still queued for the window, while it exists
    if shiboken6.isValid(window):
        shiboken6.delete(window)            # the window and its children, now (deleteLater would not
    del window                              # run: the event loop has ended)
    gc.collect()
