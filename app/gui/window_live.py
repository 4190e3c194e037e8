"""The main window's live exam: one LiveWindow at a time (a new exam after the old one was closed
gets a fresh window and camera session), whose recordings go to ``add_recording``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QWidget

from app.gui.prefs import Prefs


class LiveExams:
    def __init__(self, parent: QWidget, prefs: Prefs, add_recording: Callable[..., bool]):
        self._parent, self._prefs, self._add_recording = parent, prefs, add_recording
        self.window = None          # the live window (app.gui.live_window.LiveWindow), once opened

    def open(self, source_file: Path | None = None) -> None:
        """The live exam window; ``source_file``: a video played as the camera (`main.py live --window`)."""
        from app.gui.live_window import LiveWindow

        source = None
        if source_file is not None:
            from app.gui.camera_source import PushedFileSource
            from app.live.sources import FileSource, LoopedSource

            # paced by the pushing timer, as a camera delivers, so the file is read as fast as asked;
            # looped, as a camera never ends (a demonstration may Record at any moment)
            source = PushedFileSource(LoopedSource(FileSource(Path(source_file), realtime=False)))
        old = self.window
        if old is not None and not old.is_closed:
            if source is not None:
                old.set_source(source)
        else:
            if old is not None:
                old.deleteLater()        # a new exam: a fresh window and camera session
            self.window = LiveWindow(self._parent, settings=self._prefs.s, source=source)
            self.window.recording_ready.connect(self._add_recording)
        self.window.show()
        self.window.raise_()

    def close(self) -> None:
        """Finishes a recording in progress (kept on disk, complete)."""
        if self.window is not None:
            self.window.close()
