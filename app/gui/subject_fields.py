"""Patient ID and visit label fields.

The values belong to the videos they were entered for: the window applies them to the videos added
while they are filled in (each queued file keeps its own patient and visit; a queue may hold
several patients) and then empties the fields, so the next folder added never takes another
patient's ID silently.

Patient IDs are remembered only when the user asks ("Offer earlier IDs", off by default): they
would be stored in plain text in the user's settings and offered to the next person using the
computer. Without that choice any stored history is removed (also the history an earlier version
kept unasked). The log never shows the values (app.base.logs).
"""
from __future__ import annotations

from PySide6.QtCore import QSettings, QStringListModel, Qt
from PySide6.QtWidgets import QCheckBox, QCompleter, QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QWidget

REMEMBERED = 200      # most recent values offered per field
KEYS = {"patient": "subject/patients", "visit": "subject/visits"}
OPT_IN_KEY = "subject/remember_ids"


def _recent(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    if isinstance(value, str):        # QSettings gives a one-item list back as a plain string
        value = [value]
    return [str(v) for v in (value or []) if str(v).strip()]


def remembering(settings: QSettings) -> bool:
    """The user asked to have earlier IDs offered (default: no)."""
    return str(settings.value(OPT_IN_KEY, "false")).lower() in ("true", "1")


def forget_history(settings: QSettings) -> None:
    for key in KEYS.values():
        settings.remove(key)


class SubjectFields(QWidget):
    def __init__(self, settings: QSettings, parent: QWidget | None = None, *, with_opt_in: bool = False):
        """``with_opt_in``: show the "Offer earlier IDs" box (the main window); elsewhere the choice
        made there applies."""
        super().__init__(parent)
        self._settings = settings
        if not remembering(settings):
            forget_history(settings)     # never asked for (an earlier version stored it unasked)
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
            edit.setToolTip(f"{field.title()} recorded in the report and summary of the videos you add next "
                            "(the field is emptied once they are added)")
            model = QStringListModel(_recent(settings, KEYS[field]), self)
            completer = QCompleter(model, edit)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            edit.setCompleter(completer)
            layout.addWidget(edit)
            self.edits[field], self._models[field] = edit, model
        self.remember_box: QCheckBox | None = None
        if with_opt_in:
            box = QCheckBox("Offer earlier IDs", self)
            box.setChecked(remembering(settings))
            box.setToolTip("Off (the default): patient IDs and visits are kept only with the videos they were "
                           "entered for.\nOn: they are also stored on this computer, in plain text in FaceMirror's "
                           "settings, and offered again to anyone using this account.\nTurning it off removes "
                           "the stored ones.")
            box.toggled.connect(self.set_remembering)
            layout.addWidget(box)
            self.remember_box = box

    def current(self) -> dict[str, str | None]:
        return {field: (edit.text().strip() or None) for field, edit in self.edits.items()}

    def clear(self) -> None:
        """The values were applied to their videos: the next ones start empty."""
        for edit in self.edits.values():
            edit.clear()

    def set_remembering(self, on: bool) -> None:
        self._settings.setValue(OPT_IN_KEY, bool(on))
        if not on:
            forget_history(self._settings)
            for model in self._models.values():
                model.setStringList([])
        self._settings.sync()

    def remember(self) -> None:
        """Offer the current values first next time (also after a restart), only if the user asked."""
        if not remembering(self._settings):
            return
        for field, value in self.current().items():
            if not value:
                continue
            values = [value] + [v for v in _recent(self._settings, KEYS[field]) if v != value]
            values = values[:REMEMBERED]
            self._settings.setValue(KEYS[field], values)
            self._models[field].setStringList(values)
