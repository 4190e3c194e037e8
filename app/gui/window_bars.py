"""The main window's bars: the queue toolbar, the options bar (output folder, replace existing
outputs, midline), the patient and visit bar, and the status bar. Built here, as attributes of the
window (its slots and tests use them); the window wires their signals.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QToolBar

from app import APP_NAME, __version__
from app.base import build_info
from app.engine.midline import FALLBACK_CHOICE_REASON, METHOD_LABELS, METHOD_TIPS
from app.engine.midline import MIDLINE_METHODS
from app.gui.status_line import NoticeLabel, StatusLine
from app.gui.subject_fields import SubjectFields

MIDLINE_TOOLTIP = "How the facial midline is defined from the 98 STAR landmarks"


def install_toolbars(window) -> None:
    """The queue toolbar, the options bar (output folder, replace, midline) and the patient bar."""
    tb = QToolBar("Queue", window)
    tb.setObjectName("queueToolbar")
    tb.setMovable(False)
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for a in (window.add_action, window.add_folder_action, window.remove_action, window.up_action, window.down_action):
        tb.addAction(a)
    tb.addSeparator()
    for a in (window.start_action, window.cancel_action, window.retry_action):
        tb.addAction(a)
    tb.addSeparator()
    tb.addAction(window.open_output_action)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
    window.addToolBarBreak()
    _install_options_bar(window)
    _install_subject_bar(window)


def _install_options_bar(window) -> None:
    ob = QToolBar("Options", window)
    ob.setObjectName("optionsToolbar")
    ob.setMovable(False)
    ob.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    ob.addWidget(QLabel(" Output: ", ob))
    window.output_combo = QComboBox(ob)
    window.output_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    window.output_combo.setMinimumContentsLength(24)
    # a long chosen folder must not push "Replace existing outputs" out of a 1024 px window
    # (the full path is in the item's tooltip and in the Output folder column)
    window.output_combo.setMaximumWidth(36 * window.fontMetrics().averageCharWidth() + 40)
    window.output_combo.setToolTip("Where the output files of each video (videos, CSV, report, measures, "
                                 "summary) are written")
    window.output_combo.setAccessibleName("Output folder")
    window.output_combo.addItem("Beside each input video", None)
    ob.addWidget(window.output_combo)
    ob.addAction(window.choose_output_action)
    # beside the output choice, not last: at 1024 px the toolbar's last items go into its
    # overflow menu, and a failure's message tells the user to tick this box
    window.overwrite_box = QCheckBox("Replace existing outputs", ob)
    window.overwrite_box.setToolTip("Off: a file whose outputs already exist fails and nothing is changed")
    window.overwrite_box.setAccessibleName("Replace existing outputs")
    ob.addWidget(window.overwrite_box)
    ob.addSeparator()
    ob.addWidget(QLabel(" Midline: ", ob))
    window.midline_combo = QComboBox(ob)
    window.midline_combo.setAccessibleName("Midline method")
    for i, m in enumerate(MIDLINE_METHODS):
        window.midline_combo.addItem(METHOD_LABELS[m], m)
        window.midline_combo.setItemData(i, METHOD_TIPS[m], Qt.ItemDataRole.ToolTipRole)
    window.midline_combo.setToolTip(MIDLINE_TOOLTIP)
    window.midline_combo_action = ob.addWidget(window.midline_combo)
    window.midline_note = QLabel(" eye-centre bisector (5-point mode) ", ob)
    window.midline_note.setToolTip(FALLBACK_CHOICE_REASON)
    window.midline_note_action = ob.addWidget(window.midline_note)
    window.midline_note_action.setVisible(False)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, ob)
    # its own bar: beside the output options the fields were squeezed to a few letters
    window.addToolBarBreak()


def _install_subject_bar(window) -> None:
    sb = QToolBar("Patient and visit", window)
    sb.setObjectName("subject_toolbar")
    window.subject_fields = SubjectFields(window.prefs.s, sb, with_opt_in=True)
    sb.addWidget(window.subject_fields)
    sb.addWidget(QLabel("  (for the videos you add next, then emptied; shown in their report and summary)", sb))
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, sb)


def build_status_bar(window) -> None:
    """The status line with the backend, the landmark model's warning and the version."""
    # elided at whole words when the window is narrow (the tooltip explains; the notice needs room)
    window.backend_label = NoticeLabel(window, own_tooltip=True, min_width=12 * window.fontMetrics().height())
    window.backend_label.setToolTip("What runs the models (ONNX Runtime execution provider) and which landmark model is loaded")
    window.warning_label = QLabel(window)
    window.warning_label.setStyleSheet("QLabel { color: #b35c00; font-weight: bold; }")
    note = build_info.build_note()  # "detector-only build" when built without STAR on purpose
    window.version_label = QLabel(f"{APP_NAME} {__version__}" + (f" - {note}" if note else ""), window)
    window.setStatusBar(StatusLine(window))      # notices elided at whole words, full text in the tooltip
    sb = window.statusBar()
    sb.addPermanentWidget(window.backend_label)
    sb.addPermanentWidget(window.warning_label)
    sb.addPermanentWidget(window.version_label)
