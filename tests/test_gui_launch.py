"""`python main.py` with no arguments: launch_gui opens the main window and returns when it closes."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")


def test_launch_gui_opens_the_main_window(qtbot, qapp, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "weights"))
    from app.gui import file_open
    from app.gui.main_window import MainWindow
    from app.gui.launch import launch_gui

    seen, stopped = [], []

    def close_it():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or not all(w.models_known for w in windows):
            QTimer.singleShot(50, close_it)
            return
        seen.extend(windows)
        for w in windows:
            w.close()
            stopped.append(w.worker_thread.isFinished())
        QTimer.singleShot(0, QApplication.quit)   # in case an earlier test left a hidden window around

    QTimer.singleShot(50, close_it)
    assert launch_gui() == 0
    assert len(seen) == 1
    import shiboken6

    assert stopped == [True]                                  # closing stopped the worker thread
    assert not shiboken6.isValid(seen[0])                     # and launch_gui deleted the window before returning
    assert file_open.install(qapp)._target is None           # the closed window let go of file-open events
    assert QApplication.organizationName() == "FaceMirror" and QApplication.applicationName() == "FaceMirror"


def test_main_with_files_opens_the_window_with_them_queued(qtbot, qapp, tmp_path, monkeypatch):
    """`main.py clip.mp4 folder/` queues them as a drop on the window (or the Dock icon) does."""
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv("FACEMIRROR_WEIGHTS_DIR", str(tmp_path / "weights"))
    from app.cli import main as cli
    from app.gui.main_window import MainWindow

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    folder = tmp_path / "visit2"
    folder.mkdir()
    for name in ("smile.mp4", "closed_eyes.mov"):
        (folder / name).write_bytes(b"x")
    seen = []

    def close_it():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or not all(w.models_known for w in windows):
            QTimer.singleShot(50, close_it)
            return
        seen.extend(sorted(j.path.name for j in w.model.jobs) for w in windows)
        for w in windows:
            w.close()
        QTimer.singleShot(0, QApplication.quit)

    QTimer.singleShot(50, close_it)
    assert cli.main([str(clip), str(folder)]) == 0
    assert seen == [["clip.mp4", "closed_eyes.mov", "smile.mp4"]]


def test_main_routes_paths_to_the_window_and_commands_elsewhere(tmp_path, monkeypatch, capsys):
    from app.cli import main as cli
    from app.gui import launch as gui_launch

    calls = []
    monkeypatch.setattr(gui_launch, "launch_gui", lambda *a, **k: calls.append(k) or 0)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    assert cli.main([str(clip)]) == 0
    assert calls == [{"files": [clip]}]
    assert cli.main([str(tmp_path / "missing.mp4")]) == 2          # said before any window opens
    assert "missing.mp4" in capsys.readouterr().err and len(calls) == 1
    with pytest.raises(SystemExit):
        cli.main(["proces"])                                        # a mistyped command stays an error
    assert len(calls) == 1


# ---------------------------------------------------------------------------------------------
# Before Qt: can a window open here? (environment and libraries injected)
# ---------------------------------------------------------------------------------------------
def _all_libraries(name):
    from app.gui.launch import XCB_LIBRARIES

    return {n: soname for n, soname, _ in XCB_LIBRARIES}.get(name)


def _without(*missing):
    return lambda name: None if name in missing else _all_libraries(name)


def test_no_display_on_linux_points_to_headless_processing():
    from app.gui.launch import display_problem

    msg = display_problem(env={}, platform="linux", find_library=_all_libraries)
    assert msg and "no display" in msg and "DISPLAY" in msg and "main.py process" in msg
    # a platform named explicitly but whose server is absent
    assert "no display" in display_problem(env={"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"},
                                           platform="linux", find_library=_all_libraries)
    assert "no display" in display_problem(env={"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"},
                                           platform="linux", find_library=_all_libraries)


def test_x11_without_libxcb_cursor_names_the_package():
    from app.gui.launch import display_problem

    msg = display_problem(env={"DISPLAY": ":0"}, platform="linux", find_library=_without("xcb-cursor"))
    assert "libxcb-cursor0" in msg and "sudo apt-get install libxcb-cursor0" in msg and "main.py process" in msg
    assert "libxcb-icccm4" not in msg
    both = display_problem(env={"DISPLAY": ":0"}, platform="linux", find_library=_without("xcb-cursor", "xcb-icccm"))
    assert "apt-get install libxcb-cursor0 libxcb-icccm4" in both


def test_a_library_of_another_version_counts_as_missing():
    from app.gui.launch import missing_xcb_packages

    old = lambda name: "libxcb-util.so.0" if name == "xcb-util" else _all_libraries(name)  # noqa: E731
    assert missing_xcb_packages(old, bundled=set()) == ["libxcb-util1"]
    assert missing_xcb_packages(_all_libraries, bundled=set()) == []


def test_libraries_inside_a_frozen_bundle_count_as_present():
    from app.gui.launch import display_problem, missing_xcb_packages

    none = _without("xcb-cursor", "xcb-icccm")
    assert missing_xcb_packages(none, bundled={"libxcb-cursor.so.0"}) == ["libxcb-icccm4"]
    assert display_problem(env={"DISPLAY": ":0"}, platform="linux", find_library=none,
                           bundled={"libxcb-cursor.so.0", "libxcb-icccm.so.4"}) is None


def test_no_problem_reported_where_a_window_can_open():
    from app.gui.launch import display_problem

    nothing = _without(*[n for n in ("xcb-cursor", "xcb", "GL")])
    assert display_problem(env={"DISPLAY": ":0"}, platform="linux", find_library=_all_libraries) is None
    # Wayland sessions use Qt's Wayland plugin: the xcb libraries do not matter
    assert display_problem(env={"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, platform="linux",
                           find_library=nothing) is None
    # headless Qt platforms need no display
    assert display_problem(env={"QT_QPA_PLATFORM": "offscreen"}, platform="linux", find_library=nothing) is None
    # macOS and Windows always have their windowing platform
    assert display_problem(env={}, platform="darwin", find_library=nothing) is None
    assert display_problem(env={}, platform="win32", find_library=nothing) is None


def test_main_without_display_exits_2_with_the_message_instead_of_qt_abort():
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not sys.platform.startswith("linux"):
        pytest.skip("only Linux can lack a display server (macOS/Windows would open a real window)")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "main.py"], cwd=Path(__file__).resolve().parent.parent, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no display") and "main.py process" in proc.stderr
    assert "qt.qpa" not in proc.stderr and "plugin" not in proc.stderr
