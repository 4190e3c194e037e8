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
    from app.gui_launch import launch_gui

    seen = []

    def close_it():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or not all(w.models_known for w in windows):
            QTimer.singleShot(50, close_it)
            return
        seen.extend(windows)
        for w in windows:
            w.close()
        QTimer.singleShot(0, QApplication.quit)   # in case an earlier test left a hidden window around

    QTimer.singleShot(50, close_it)
    assert launch_gui() == 0
    assert len(seen) == 1
    win = seen[0]
    assert win.worker_thread.isFinished()
    assert file_open.install(qapp)._target is None           # the closed window let go of file-open events
    assert QApplication.organizationName() == "FaceMirror" and QApplication.applicationName() == "FaceMirror"
    win.deleteLater()
