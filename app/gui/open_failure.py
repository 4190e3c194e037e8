"""Opening a file or folder with the system's application, and saying so when that fails.

QDesktopServices.openUrl returns False when the system has nothing to open the file with (no
browser set for .html, no file manager, a locked-down clinic PC). The user then sees what
happened and where the file is, with a button that copies its path: nothing fails silently.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

OBJECT_NAME = "cannotOpen"     # tests and accessibility tools find the message by this name


def system_open(path: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def open_or_explain(parent: QWidget, path: Path, what: str, *,
                    opener: Callable[[Path], bool] = system_open,
                    notify: Callable[[str], object] = lambda text: None) -> bool:
    """Open ``path``; when the system cannot, show a message naming ``what`` ("the summary") and the
    path, with Copy path. Returns whether the system opened it."""
    if opener(path):
        return True
    notify(f"Could not open {what}: it is at {path}")
    explain_unopened(parent, path, what)
    return False


def explain_unopened(parent: QWidget, path: Path, what: str) -> QMessageBox:
    """The message (not modal: the queue keeps running and the window stays usable)."""
    kind = "folder" if path.is_dir() else "file"
    box = QMessageBox(QMessageBox.Icon.Warning, "Could not open", f"The system could not open {what}.", parent=parent)
    box.setObjectName(OBJECT_NAME)
    box.setInformativeText(f"No application opened it (none may be set for this kind of {kind}). "
                           f"It is here:\n\n{path}\n\nCopy the path and open it yourself, e.g. in a web browser's "
                           "address bar or your file manager.")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)   # the path can be selected too
    copy = box.addButton("Copy path", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Close)
    box.setDefaultButton(copy)
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(str(path)))
    box.finished.connect(box.deleteLater)
    box.open()
    return box
