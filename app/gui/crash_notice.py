"""At launch: what the previous window session left when it ended unexpectedly (app.base.session_journal).

Shown once, without blocking the window (the clinician may have patients waiting): which
recording is kept and where, which partial outputs were removed, and where the log is.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from app.gui.open_failure import open_or_explain
from app.base.session_journal import Leftover

TITLE = "FaceMirror did not close normally"


def show(parent: QWidget, leftovers: list[Leftover], log_file: Path | None) -> QMessageBox | None:
    """A non-modal notice for ``leftovers`` (None when there is nothing to say)."""
    if not leftovers:
        return None
    text = "\n\n".join(item.message() for item in leftovers)
    box = QMessageBox(QMessageBox.Icon.Warning, TITLE, text, QMessageBox.StandardButton.Close, parent)
    box.setObjectName("crashNotice")
    recordings = [p for item in leftovers for p in item.recordings]
    folder_button = box.addButton("Show recording in folder" if recordings else "Show log folder",
                                  QMessageBox.ButtonRole.ActionRole)
    copy_button = box.addButton("Copy paths", QMessageBox.ButtonRole.ActionRole)
    target = recordings[0].parent if recordings else (log_file.parent if log_file else None)
    paths_text = "\n".join(str(p) for p in recordings) or (str(log_file) if log_file else "")

    def say(message: str) -> None:
        status = getattr(parent, "statusBar", None)
        if status is not None:
            status().showMessage(message)

    def clicked(button) -> None:        # any button closes the box; what happened goes to the status bar
        if button is folder_button and target is not None:
            open_or_explain(parent, target, "the recording's folder" if recordings else "the log folder", notify=say)
        elif button is copy_button:
            QGuiApplication.clipboard().setText(paths_text)
            say("Copied the kept recording's path." if recordings else "Copied the log's path.")

    box.buttonClicked.connect(clicked)
    box.setModal(False)
    box.show()
    return box
