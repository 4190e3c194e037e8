"""FaceMirror main window (PySide6 only; no engine logic here)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from app import __version__, APP_NAME
from app.gui.model_status import ModelStatus, read_model_status


class MainWindow(QMainWindow):
    def __init__(self, status: ModelStatus | None = None):
        super().__init__()
        self.setWindowTitle(f"{APP_NAME} {__version__}")
        self.resize(1280, 800)
        self.model_status = status or read_model_status()
        central = QWidget(self)
        layout = QVBoxLayout(central)
        self.models_label = QLabel(self.model_status.summary_html(), central)
        self.models_label.setTextFormat(Qt.RichText)
        self.models_label.setWordWrap(True)
        self.models_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.models_label.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        layout.addWidget(self.models_label)
        self.setCentralWidget(central)
        self.backend_label = QLabel(self.model_status.backend_text)
        self.statusBar().addPermanentWidget(self.backend_label, 1)
        self.statusBar().addPermanentWidget(QLabel(f"{APP_NAME} {__version__}"))
