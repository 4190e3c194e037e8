"""Start the desktop window (imports Qt only when the window is wanted)."""
from __future__ import annotations

import sys


def launch_gui(argv: list[str] | None = None) -> int:
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        print(f"error: the window needs PySide6 ({exc}); run: make run", file=sys.stderr)
        return 2
    from app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("FaceMirror")
    app.setOrganizationName("FaceMirror")
    window = MainWindow()
    window.show()
    return app.exec()
