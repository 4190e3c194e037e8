"""The main window's bars: the queue toolbar, the patient and visit bar, and the status bar
(`WindowStatusBar`: what runs the models, their warning, the version). The options bar is
app/gui/window_options.py. The window places them and wires their signals.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QToolBar, QWidget

from app import APP_NAME, __version__
from app.base import build_info, notices
from app.gui.model_status import ModelStatus
from app.gui.status_line import NoticeLabel, StatusLine
from app.gui.subject_fields import SubjectFields
from app.gui.window_actions import QUEUE_TOOLBAR, WindowActions


def queue_toolbar(parent: QMainWindow, actions: WindowActions) -> QToolBar:
    """The queue's actions as buttons (window_actions.QUEUE_TOOLBAR)."""
    tb = QToolBar("Queue", parent)
    tb.setObjectName("queueToolbar")
    tb.setMovable(False)
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    actions.fill(tb, QUEUE_TOOLBAR)
    return tb


def subject_toolbar(parent: QMainWindow, settings) -> tuple[QToolBar, SubjectFields]:
    """The patient and visit fields, in a bar of their own (beside the output options they were
    squeezed to a few letters)."""
    sb = QToolBar("Patient and visit", parent)
    sb.setObjectName("subject_toolbar")
    fields = SubjectFields(settings, sb, with_opt_in=True)
    sb.addWidget(fields)
    sb.addWidget(QLabel("  (for the videos you add next, then emptied; shown in their report and summary)", sb))
    return sb, fields


class WindowStatusBar(StatusLine):
    """The status line (notices elided at whole words, the full text in the tooltip) with the
    backend, the landmark model's warning and the version at its right."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        # elided at whole words when the window is narrow (the tooltip explains; the notice needs room)
        self.backend_label = NoticeLabel(self, own_tooltip=True, min_width=12 * parent.fontMetrics().height())
        self.backend_label.setToolTip("What runs the models (ONNX Runtime execution provider) and which landmark "
                                      "model is loaded")
        self.warning_label = QLabel(self)
        self.warning_label.setStyleSheet("QLabel { color: #b35c00; font-weight: bold; }")
        note = build_info.build_note()  # "detector-only build" when built without STAR on purpose
        self.version_label = QLabel(f"{APP_NAME} {__version__}" + (f" - {note}" if note else ""), self)
        for label in (self.backend_label, self.warning_label, self.version_label):
            self.addPermanentWidget(label)

    def show_models(self, status: ModelStatus) -> None:
        """The backend, and the models' worst warning (red for an untrained model)."""
        self.backend_label.setText(status.backend_text)
        warn, colour = model_warning(status)
        self.warning_label.setText(warn)
        self.warning_label.setStyleSheet(f"QLabel {{ color: {colour}; font-weight: bold; }}")
        self.warning_label.setToolTip("\n".join(status.warnings + ([status.error] if status.error else [])))
        self.warning_label.setVisible(bool(warn))


def model_warning(status: ModelStatus) -> tuple[str, str]:
    """(the status bar's warning about the models, or "", its colour)."""
    if notices.UNTRAINED in status.notices:
        return f"WARNING: {notices.SHORT[notices.UNTRAINED]}", "#c62828"
    if notices.COARSE in status.notices and status.loaded:
        return f"WARNING: {notices.SHORT[notices.COARSE]}", "#b35c00"
    return ("WARNING: models failed to load" if status.error else ""), "#b35c00"
