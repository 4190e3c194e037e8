"""The window's Help menu: "Show log" and "Copy diagnostic info" (a packaged app has no terminal,
so this is where a clinician finds what went wrong and what to send to support)."""
from __future__ import annotations

from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMainWindow, QMenu

from app.base import diagnostics, logs, model_files
from app.gui import open_failure


def _models() -> dict:
    out = {}
    for m in model_files.expected_models():
        path = model_files.find_model(m.key)
        if path is not None:
            out[m.key] = {"file": str(path), "sha256": model_files.sha256_file(path)}
    return out


def install_help_menu(window: QMainWindow, backend_text=lambda: "", notify=lambda text: None,
                      open_path=None) -> QMenu:
    """``open_path(path, what)``: opens with the system and says so when it cannot (the window's
    own, gui.open_failure); by default open_failure.open_or_explain."""
    if open_path is None:
        def open_path(path, what):
            return open_failure.open_or_explain(window, path, what, notify=notify)
    menu = window.menuBar().addMenu("&Help")
    show_log = QAction("Show log", window)
    show_log.setToolTip(f"Open the folder of FaceMirror's log file ({logs.log_file()})")
    # The folder, not the file: it exists even before anything was logged, and shows older logs too.
    show_log.triggered.connect(lambda: open_path(logs.log_dir(), "the log folder"))
    copy = QAction("Copy diagnostic info", window)
    copy.setToolTip("Copy versions, backend, models and the last errors to the clipboard (no patient data)")

    def copy_info() -> None:
        QGuiApplication.clipboard().setText(diagnostics.diagnostic_text(backend=backend_text(), models=_models()))
        notify("Diagnostic info copied to the clipboard")
    copy.triggered.connect(copy_info)
    menu.addAction(show_log)
    menu.addAction(copy)
    window.show_log_action, window.copy_diagnostics_action = show_log, copy   # type: ignore[attr-defined]
    return menu
