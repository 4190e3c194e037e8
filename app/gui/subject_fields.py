"""Patient ID and visit label fields, offered again from earlier recordings (autocomplete).

The values apply to the videos added while they are filled in: each queued file keeps the
patient and visit it was added with (a queue may hold several patients). They are stored in the
user's preferences only to be offered again; the log never shows them (app.logs).
"""
from __future__ import annotations

from PySide6.QtCore import QSettings, QStringListModel, Qt
from PySide6.QtWidgets import QCompleter, QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QWidget

REMEMBERED = 200      # most recent values offered per field
KEYS = {"patient": "subject/patients", "visit": "subject/visits"}


def _recent(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    if isinstance(value, str):        # QSettings gives a one-item list back as a plain string
        value = [value]
    return [str(v) for v in (value or []) if str(v).strip()]


class SubjectFields(QWidget):
    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings = settings
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self.edits: dict[str, QLineEdit] = {}
        self._models: dict[str, QStringListModel] = {}
        for field, label, hint in (("patient", " Patient: ", "study code, not a name"),
                                   ("visit", " Visit: ", "e.g. V2 or 2026-12-03")):
            layout.addWidget(QLabel(label, self))
            edit = QLineEdit(self)
            edit.setPlaceholderText(hint)
            edit.setClearButtonEnabled(True)
            edit.setMaximumWidth(170)
            edit.setAccessibleName(f"{field.title()} for the videos added next")
            edit.setToolTip(f"{field.title()} recorded in the report and summary of the videos you add from now on")
            model = QStringListModel(_recent(settings, KEYS[field]), self)
            completer = QCompleter(model, edit)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            edit.setCompleter(completer)
            layout.addWidget(edit)
            self.edits[field], self._models[field] = edit, model

    def current(self) -> dict[str, str | None]:
        return {field: (edit.text().strip() or None) for field, edit in self.edits.items()}

    def remember(self) -> None:
        """Offer the current values first next time (also after a restart)."""
        for field, value in self.current().items():
            if not value:
                continue
            values = [value] + [v for v in _recent(self._settings, KEYS[field]) if v != value]
            values = values[:REMEMBERED]
            self._settings.setValue(KEYS[field], values)
            self._models[field].setStringList(values)
