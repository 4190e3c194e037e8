"""The banner above the previews: models missing (and how to get them), model warnings, conversion.

Written for the clinician first: one line (what is wrong) with the convert buttons beside it,
then what is missing (the required face detector before the optional landmark model), what it
means and what to do, in plain words. File names, commands, download addresses and folders are
for whoever installs the models: they are only under "Details" (never opened by itself).
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from app.base import model_files
from app.gui import model_status
from app.gui.model_status import SHORT_NAME, ModelStatus, checkpoint_names

KEYS = (model_files.RETINAFACE_KEY, model_files.STAR_KEY)
COLOURS = {"error": "#c62828", "warning": "#b35c00", "": "palette(text)"}


class ModelsPanel(QFrame):
    convert_requested = Signal(str)     # model key

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("modelsPanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(4)

        row = QHBoxLayout()
        self.headline = QLabel(self)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        row.addWidget(self.headline, 1)
        self.buttons: dict[str, QPushButton] = {}
        for key in KEYS:
            ckpt = checkpoint_names([key])[0]
            b = QPushButton(f"Convert {SHORT_NAME[key]} checkpoint...", self)
            b.setToolTip(f"Choose the downloaded checkpoint ({ckpt}) and convert it to ONNX in the background")
            b.clicked.connect(lambda _=False, k=key: self.convert_requested.emit(k))
            row.addWidget(b)
            self.buttons[key] = b
        self.details_button = QToolButton(self)
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.details_button.setToolTip("Which model files are missing and where to get them")
        self.details_button.toggled.connect(self._show_details)
        row.addWidget(self.details_button)
        layout.addLayout(row)

        self.explain = QLabel(self)     # what is missing, what it means, what to do (no commands)
        self.explain.setTextFormat(Qt.TextFormat.RichText)
        self.explain.setWordWrap(True)
        layout.addWidget(self.explain)

        self.label = QLabel(self)       # the details
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setOpenExternalLinks(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.label)
        self.log_label = QLabel("", self)
        self.log_label.setTextFormat(Qt.TextFormat.PlainText)
        self.log_label.setWordWrap(True)
        self.log_label.hide()
        layout.addWidget(self.log_label)
        self._converting = False
        self._busy = False
        self._status: ModelStatus | None = None

    def show_status(self, status: ModelStatus) -> None:
        self._status = status
        level, line = status.headline()
        if not line and not status.loaded:
            line = "Loading models..."
        self.headline.setText(f"<b style='color:{COLOURS[level]}'>{html.escape(line, quote=False)}</b>")
        self.explain.setText(status.clinician_html())
        self.explain.setVisible(bool(self.explain.text()))
        self.label.setText(status.summary_html())
        self._show_details(self.details_button.isChecked())   # commands only when asked for
        self._update_buttons()
        self.setVisible(status.needs_attention or self._converting)

    def _show_details(self, on: bool) -> None:
        self.label.setVisible(on)

    def set_converting(self, converting: bool, text: str = "") -> None:
        self._converting = converting
        self.show_log(text)
        self._update_buttons()
        if converting:
            self.show()

    def show_log(self, text: str) -> None:
        self.log_label.setText(text)
        self.log_label.setVisible(bool(text))

    def set_busy(self, busy: bool) -> None:
        """Processing videos: no conversion meanwhile (both need the CPU and the models)."""
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        missing = set(self._status.missing_keys) if self._status else set()
        can = model_status.converter_available()
        for key, b in self.buttons.items():
            b.setVisible(key in missing)
            b.setEnabled(can and not self._converting and not self._busy)
            if not can:
                b.setToolTip(model_status.converter_missing_hint())
