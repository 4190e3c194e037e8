"""Start the desktop window (imports Qt only when the window is wanted)."""
from __future__ import annotations

import sys


def _icon_path():
    from app import paths

    for base in (paths.bundle_dir(), paths.repo_root()):
        if base is not None:
            candidate = base / "resources" / "FaceMirror.png"
            if candidate.is_file():
                return candidate
    return None


def launch_gui(argv: list[str] | None = None) -> int:
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        print(f"error: the window needs PySide6 ({exc}); run: make run", file=sys.stderr)
        return 2
    from PySide6.QtGui import QIcon

    from app import APP_NAME
    from app.gui import file_open
    from app.gui.prefs import APPLICATION, ORGANIZATION

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

    from app.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()
