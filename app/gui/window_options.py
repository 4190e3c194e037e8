"""The main window's options bar: where outputs go (beside each input, or one chosen folder,
remembered), Replace existing outputs, and the midline method (remembered; in 5-point mode a note
takes its place, as the choice cannot apply).

It owns these widgets and their remembered values (app.gui.prefs); ``output_changed(folder)``
tells the window the queue's default output folder (None: beside each input).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QLabel, QToolBar, QWidget

from app.engine.midline import FALLBACK_CHOICE_REASON, METHOD_LABELS, METHOD_TIPS, MIDLINE_METHODS
from app.gui.prefs import Prefs

MIDLINE_TOOLTIP = "How the facial midline is defined from the 98 STAR landmarks"


class OptionsBar(QToolBar):
    output_changed = Signal(object)      # Path | None

    def __init__(self, parent: QWidget, prefs: Prefs, choose_output: QAction):
        super().__init__("Options", parent)
        self.prefs = prefs
        self.setObjectName("optionsToolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addWidget(QLabel(" Output: ", self))
        self.output_combo = self._output_combo()
        self.addWidget(self.output_combo)
        self.addAction(choose_output)
        # beside the output choice, not last: at 1024 px the toolbar's last items go into its
        # overflow menu, and a failure's message tells the user to tick this box
        self.overwrite_box = QCheckBox("Replace existing outputs", self)
        self.overwrite_box.setToolTip("Off: a file whose outputs already exist fails and nothing is changed")
        self.overwrite_box.setAccessibleName("Replace existing outputs")
        self.addWidget(self.overwrite_box)
        self.addSeparator()
        self.addWidget(QLabel(" Midline: ", self))
        self.midline_combo = self._midline_combo()
        self.midline_combo_action = self.addWidget(self.midline_combo)
        self.midline_note = QLabel(" eye-centre bisector (5-point mode) ", self)
        self.midline_note.setToolTip(FALLBACK_CHOICE_REASON)
        self.midline_note_action = self.addWidget(self.midline_note)
        self.midline_note_action.setVisible(False)

    def _output_combo(self) -> QComboBox:
        combo = QComboBox(self)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.setMinimumContentsLength(24)
        # a long chosen folder must not push "Replace existing outputs" out of a 1024 px window
        # (the full path is in the item's tooltip and in the Output folder column)
        combo.setMaximumWidth(36 * self.fontMetrics().averageCharWidth() + 40)
        combo.setToolTip("Where the output files of each video (videos, CSV, report, measures, summary) are written")
        combo.setAccessibleName("Output folder")
        combo.addItem("Beside each input video", None)
        return combo

    def _midline_combo(self) -> QComboBox:
        combo = QComboBox(self)
        combo.setAccessibleName("Midline method")
        for i, m in enumerate(MIDLINE_METHODS):
            combo.addItem(METHOD_LABELS[m], m)
            combo.setItemData(i, METHOD_TIPS[m], Qt.ItemDataRole.ToolTipRole)
        combo.setToolTip(MIDLINE_TOOLTIP)
        return combo

    def restore(self) -> str:
        """The remembered output folder and midline, then follow the user's choices. Returns a note
        when the remembered folder has gone ("" otherwise)."""
        folder, note = self.prefs.last_output_folder, ""
        if folder is not None and Path(folder).is_dir():
            self._set_folder_item(Path(folder))
        elif folder is not None:   # deleted or unmounted: never recreated behind the user's back
            self.prefs.output_folder = None
            note = (f"The remembered output folder {folder} no longer exists: outputs go beside each input video "
                    "until you choose an output folder")
        if self.prefs.output_folder is not None and self.output_combo.count() > 1:
            self.output_combo.setCurrentIndex(1)
        self.midline_combo.setCurrentIndex(max(0, MIDLINE_METHODS.index(self.prefs.midline)))
        self.output_combo.currentIndexChanged.connect(self._output_choice_changed)
        self.midline_combo.currentIndexChanged.connect(self._midline_changed)
        return note

    @property
    def output_folder(self) -> Path | None:
        data = self.output_combo.currentData()
        return Path(data) if data else None

    @property
    def midline(self) -> str:
        return self.midline_combo.currentData() or MIDLINE_METHODS[0]

    @property
    def replace(self) -> bool:
        return self.overwrite_box.isChecked()

    def choose_output_folder(self) -> None:
        start = str(self.output_folder or self.prefs.last_output_folder or self.prefs.input_start_folder())
        folder = QFileDialog.getExistingDirectory(self.parentWidget(), "Write outputs into this folder", start)
        if folder:
            self.set_output_folder(Path(folder))

    def set_output_folder(self, folder: Path | None) -> None:
        """None: beside each input; otherwise one folder for all outputs (remembered)."""
        if folder is None:
            self.output_combo.setCurrentIndex(0)
            return
        self._set_folder_item(folder)
        if self.output_combo.currentIndex() == 1:
            self._output_choice_changed(1)
        else:
            self.output_combo.setCurrentIndex(1)

    def _set_folder_item(self, folder: Path) -> None:
        if self.output_combo.count() > 1:
            self.output_combo.setItemText(1, str(folder))
            self.output_combo.setItemData(1, str(folder))
        else:
            self.output_combo.addItem(str(folder), str(folder))
        self.output_combo.setItemData(1, str(folder), Qt.ItemDataRole.ToolTipRole)

    def _output_choice_changed(self, _index: int) -> None:
        self.prefs.output_folder = self.output_folder
        self.output_changed.emit(self.output_folder)

    def _midline_changed(self, _index: int) -> None:
        self.prefs.midline = self.midline

    def show_five_point(self, coarse: bool) -> None:
        """5-point mode (no STAR loaded): the midline choice cannot apply; a note takes its place
        (both side by side pushed the end of the toolbar into its overflow menu at 1024 px)."""
        self.midline_combo.setEnabled(not coarse)
        self.midline_combo.setToolTip(FALLBACK_CHOICE_REASON if coarse else MIDLINE_TOOLTIP)
        self.midline_note_action.setVisible(coarse)
        self.midline_combo_action.setVisible(not coarse)
