"""Remembered choices (QSettings, organisation and application "FaceMirror").

Stored: the output folder choice (beside each input, or a chosen folder), the midline method, the
window geometry, and for the live exam the last camera (its id) and the recordings folder. The
settings are opened in QSettings' default format, so tests can redirect them with
QSettings.setDefaultFormat(IniFormat) + QSettings.setPath(IniFormat, UserScope, tmp).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from app.engine.midline import MIDLINE_METHODS  # noqa: F401 - the one home of the names

ORGANIZATION = "FaceMirror"
APPLICATION = "FaceMirror"


def open_settings() -> QSettings:
    return QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


class Prefs:
    def __init__(self, settings: QSettings | None = None):
        self.s = settings or open_settings()

    # output folder: None means "beside each input"
    @property
    def output_folder(self) -> Path | None:
        if self.s.value("output/mode", "beside") != "folder":
            return None
        folder = self.s.value("output/folder", "")
        return Path(folder) if folder else None

    @output_folder.setter
    def output_folder(self, folder: Path | None) -> None:
        self.s.setValue("output/mode", "folder" if folder else "beside")
        if folder:
            self.s.setValue("output/folder", str(folder))

    @property
    def last_output_folder(self) -> Path | None:
        """The last chosen folder, even when 'beside each input' is selected now."""
        folder = self.s.value("output/folder", "")
        return Path(folder) if folder else None

    @property
    def midline(self) -> str:
        value = self.s.value("midline", MIDLINE_METHODS[0])
        return value if value in MIDLINE_METHODS else MIDLINE_METHODS[0]

    @midline.setter
    def midline(self, value: str) -> None:
        self.s.setValue("midline", value)

    @property
    def last_input_folder(self) -> str:
        return str(self.s.value("input/last_folder", ""))

    @last_input_folder.setter
    def last_input_folder(self, folder: str) -> None:
        self.s.setValue("input/last_folder", folder)

    def input_start_folder(self) -> str:
        """Where the open dialogs start: the last folder videos came from while it exists, else the
        user's Movies (macOS) / Videos folder, else home. Never the folder the app was started
        from (running from source: the repository)."""
        last = self.last_input_folder
        if last and Path(last).is_dir():
            return last
        movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
        if movies and Path(movies).is_dir():
            return movies
        return str(Path.home())

    def geometry(self) -> QByteArray | None:
        value = self.s.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, value: QByteArray) -> None:
        self.s.setValue("window/geometry", value)

    def splitter(self) -> QByteArray | None:
        value = self.s.value("window/splitter")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_splitter(self, value: QByteArray) -> None:
        self.s.setValue("window/splitter", value)

    @property
    def camera(self) -> str:
        """The id of the camera chosen last in the live exam window ("" = none yet)."""
        return str(self.s.value("live/camera", ""))

    @camera.setter
    def camera(self, camera_id: str) -> None:
        self.s.setValue("live/camera", camera_id)

    @property
    def live_folder(self) -> Path | None:
        """Where live exams are recorded (None: not chosen yet)."""
        folder = self.s.value("live/folder", "")
        return Path(folder) if folder else None

    @live_folder.setter
    def live_folder(self, folder: Path) -> None:
        self.s.setValue("live/folder", str(folder))

    def sync(self) -> None:
        self.s.sync()
