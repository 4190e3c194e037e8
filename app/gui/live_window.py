"""The live exam window: a camera, three panes (the camera with the midline, the patient's left
mirrored, the patient's right mirrored) at the camera's rate, Freeze, Capture rest, Record / Stop.

A thin view that lays out and wires composed parts, none of which sees the window: the panels
(app/gui/live_panels.py, app/gui/guided_panel.py), the camera list (live_cameras.LiveCameras),
the frames shown (live_feed.LiveFeed) and the recording (live_recording.LiveRecording). What is
allowed when is app.live.exam_state (idle / recording / finishing / failed), what each frame does
is app.live.frame_step (both shared with the `live` command).

Threads: frames arrive on the GUI thread (camera_source); each is handed to the landmark thread
(app.live.landmarks.LatestLandmarks: a one-frame slot, so the panes use the last midline found and
never wait for the model) and, while recording, to the recorder's thread (every frame, with its
time). The models are loaded in a plain thread when the window opens; until then (or without a
face detector) the panes mirror about the picture's vertical centre line.

Stop finishes the recording (NAME.mp4) and emits ``recording_ready(path, rest, subject)``: the
main window queues it like a dropped file, with the rest capture as the measures' rest window.
Closing the window (or quitting) while recording finishes and hands over the recording the same
way; a crash leaves NAME.recording.mp4, playable up to its last second. Quit (Ctrl+Q) here is the
main window's Quit, asked first while recording.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QVBoxLayout, QWidget

from app import APP_NAME

from app.gui import camera_source
from app.gui.guided_panel import GuidedPanel
from app.gui.live_cameras import LiveCameras, ModelsInBackground
from app.gui.live_feed import LiveFeed
from app.gui.live_panels import (LiveControlsBar, LiveNotice, LivePanesPanel, LiveTopBar, landmark_label_text,
                                 window_shortcut)
from app.gui.live_recording import LiveRecording
from app.gui.prefs import Prefs
from app.live.exam_state import Action
from app.live.exam_text import status_line
from app.live.heap import HeapTrimmer

__all__ = ["LiveWindow", "default_live_folder", "landmark_label_text"]


def default_live_folder() -> Path:
    movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation) or str(Path.home())
    return Path(movies) / "FaceMirror"


class LiveWindow(QWidget):
    recording_ready = Signal(object, object, object)   # Path, (rest start, end) s | None, {"patient", "visit"}

    def __init__(self, parent: QWidget | None = None, *, settings: QSettings | None = None, models_loader=None,
                 folder: Path | None = None, source: camera_source.QtFrameSource | None = None, audio_factory=None,
                 speech_engines: list[str] | None | bool = True):
        """``models_loader``: a callable returning app.engine.model_set.Models (run in a thread; default
        Models.load). ``source``: a frame source to use instead of a camera (tests, demos).
        ``audio_factory``: makes the sound source at Record (like camera_source.MicrophoneSource);
        default the microphone with a camera, no sound with a given ``source``. ``speech_engines``:
        the platform's text-to-speech engines for the guided exam (True: ask Qt; tests inject them)."""
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setWindowTitle(f"{APP_NAME} - Live exam")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.prefs = Prefs(settings)
        self.folder = folder or self.prefs.live_folder or default_live_folder()
        self._closed = False
        self._quit_agreed = False                  # Quit from this window, already confirmed
        self._heap = HeapTrimmer().start()          # frames freed in other threads go back to the system
        self._speech_engines = speech_engines
        self._build()
        self._compose(audio_factory, file_source=source is not None)
        self._models_loader = ModelsInBackground(self, models_loader, self._models_ready)
        camera_source.application().aboutToQuit.connect(self.shutdown)   # quitting while recording keeps the recording
        if source is not None:
            self.set_source(source)
        else:
            self.cameras.watch()
        self._update_controls()

    # =========================================================================================
    # building: the panels and their layout; the parts composed over them and wired
    def _build(self) -> None:
        root = QVBoxLayout(self)
        self.top = LiveTopBar(self.prefs.s, self)
        self.camera_combo, self.subject_fields = self.top.camera_combo, self.top.subject_fields
        self.folder_label, self.folder_button = self.top.folder_label, self.top.folder_button
        for edit in self.subject_fields.edits.values():
            edit.returnPressed.connect(self.setFocus)    # back to the window, where Space freezes
        self.folder_button.clicked.connect(self.choose_folder)
        root.addWidget(self.top)
        self.notice = LiveNotice(self)
        root.addWidget(self.notice)
        # the guided exam (app.gui.guided_panel): its controls, and its prompts above the panes
        self.guided = GuidedPanel(self, engines=self._speech_engines, start_recording=self.start_recording,
                                  stop_recording=self.stop_recording, say=self.say)
        root.addWidget(self.guided)
        self.pane_panel = LivePanesPanel(self)
        self.panes = self.pane_panel.panes
        root.addWidget(self.pane_panel, 1)
        self.controls = LiveControlsBar(self)
        self.record_button, self.rest_button = self.controls.record_button, self.controls.rest_button
        self.freeze_button, self.status_label = self.controls.freeze_button, self.controls.status_label
        self.landmark_label = self.controls.landmark_label
        root.addWidget(self.controls)
        self.top.show_folder(self.folder)
        # the window, not the patient field, has the focus: Space must freeze, not type a space
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.resize(1200, 560)

    def _compose(self, audio_factory, *, file_source: bool) -> None:
        """The behaviour: the camera list, the recording and the frames shown, each with what it
        needs (never the window); then the buttons and shortcuts wired to them."""
        self.cameras = LiveCameras(self, self.camera_combo, self.prefs, source=lambda: self.source,
                                   recording=lambda: self.recording, show=self.set_source,
                                   no_picture=self._no_picture, say=self.say, changed=self.recording_changed)
        self.rec = LiveRecording(self, guided=self.guided, subject=self.subject_fields, source=lambda: self.source,
                                 fps=lambda: self.feed.fps(), folder=lambda: self.folder, say=self.say,
                                 changed=self.recording_changed, status=self.show_status,
                                 hand_over=self.recording_ready.emit, audio_factory=audio_factory,
                                 file_source=file_source)
        self.feed = LiveFeed(self.pane_panel, self.controls, self.rec.step, recording=lambda: self.recording,
                             write_failed=self.rec.write_failed, say=self.say, status=self.show_status)
        self.record_button.clicked.connect(self.rec.toggle)
        self.rest_button.clicked.connect(self.capture_rest)
        self.freeze_button.toggled.connect(self.feed.set_frozen)
        self._shortcuts()

    def _shortcuts(self) -> None:
        self.record_action = window_shortcut(self, "Ctrl+R", self.rec.toggle)
        self.rest_action = window_shortcut(self, "Ctrl+M", self.capture_rest)
        self.freeze_action = window_shortcut(self, "Space", self._space)
        # Quit works from this window as from the main window (the shortcut of its Quit is a window shortcut)
        self.quit_action = window_shortcut(self, QKeySequence(QKeySequence.StandardKey.Quit), self.quit_app)
        if QKeySequence("Ctrl+Q") not in self.quit_action.shortcuts():
            self.quit_action.setShortcuts([*self.quit_action.shortcuts(), QKeySequence("Ctrl+Q")])

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.setFocus()

    def _space(self) -> None:
        if self.freeze_button.isEnabled():       # nothing to freeze without a picture
            self.freeze_button.toggle()

    def say(self, text: str, level: str = "warning") -> None:
        """A message that stays until the next one (or until it is cleared with ""); "warning" for
        what stops the exam (no camera, permission), "info" for what went well."""
        self.notice.say(text, level)

    # =========================================================================================
    # models, cameras (app/gui/live_cameras.py)
    def _models_ready(self, models, error: str) -> None:
        if self._closed:
            return
        self.feed.models = models
        self.controls.show_models(models, error)

    def refresh_cameras(self) -> None:
        """Fill the camera list (also when a camera is plugged in or out) and open the remembered one."""
        self.cameras.refresh()

    # =========================================================================================
    # frames (app/gui/live_feed.py)
    @property
    def source(self) -> camera_source.QtFrameSource | None:
        return self.feed.source

    @property
    def frames_seen(self) -> int:
        return self.feed.frames_seen

    def set_source(self, source: camera_source.QtFrameSource) -> None:
        if isinstance(source, camera_source.PushedFileSource):
            # the list names what is shown, so a demo is never taken for a camera
            self.camera_combo.clear()
            path = getattr(source.source, "path", None)
            self.camera_combo.addItem(f"File: {path.name}" if path else "Synthetic test picture")
        self.feed.show(source)
        self._update_controls()

    def _no_picture(self, why: str) -> None:
        """No camera to show (none, or not allowed): the source stopped, the panes say why."""
        self.feed.stop()
        self.pane_panel.no_picture(why)

    # =========================================================================================
    # rest, record (app/gui/live_recording.py)
    @property
    def recording(self) -> bool:
        return self.rec.writer is not None

    @property
    def last_recording(self):
        return self.rec.last_recording

    def start_recording(self) -> bool:
        return self.rec.start()

    def stop_recording(self) -> Path | None:
        """Finish the recording and hand it over (``recording_ready``). Returns its path, None if
        nothing could be handed over (the reason is said in the window)."""
        return self.rec.stop()

    def capture_rest(self) -> None:
        self.rec.capture_rest()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the live recordings", str(self.folder))
        if folder:
            self.folder = Path(folder)
            self.prefs.live_folder = self.folder
            self.prefs.sync()
            self.top.show_folder(self.folder)

    def show_status(self) -> None:
        writer = self.rec.writer
        text = status_line(self.rec.exam, frozen=self.feed.frozen, sound_note=self.rec.sound_note,
                           backlog=writer.backlog if writer is not None else 0, fps=self.feed.fps())
        self.controls.show_status(text, writer is not None)

    def recording_changed(self) -> None:
        """The recording started or ended: the controls say what is allowed now."""
        self._update_controls()
        self.show_status()

    def _update_controls(self) -> None:
        recording = self.recording
        can = self.rec.exam.controls(has_source=self.source is not None, frozen=self.feed.frozen,
                                     has_cameras=self.camera_combo.count() > 0)
        self.record_button.setText("\u25a0 Stop" if recording else "\u25cf Record")
        for widget, enabled in ((self.record_button, can.record), (self.rest_button, can.rest),
                                (self.freeze_button, can.freeze), (self.camera_combo, can.camera),
                                (self.folder_button, can.folder), (self.guided.start_button, can.guided)):
            widget.setEnabled(enabled)
        if not recording:
            self.show_status()

    # =========================================================================================
    # quitting from this window
    def quit_app(self) -> None:
        """Quit (Ctrl+Q) from the live window does what the main window's Quit does (which asks
        while a file is processing); while recording it asks first, as stopping ends the exam."""
        if self.rec.writer is not None and not self.rec.confirm_quit():
            return
        owner = self.parentWidget()
        quit_action = getattr(owner, "quit_action", None)
        self._quit_agreed = True    # the main window's Quit asks may_quit(): answered already
        try:
            if isinstance(quit_action, QAction):
                quit_action.trigger()
            else:
                self.close()        # a live window of its own (tests): closing it is quitting it
        finally:
            self._quit_agreed = False

    def may_quit(self) -> bool:
        """Whether the app may quit now (the main window asks before it quits): while recording,
        the clinician is asked first (once per Quit)."""
        if self.rec.exam.allows(Action.QUIT_WITHOUT_ASKING) or self._quit_agreed or self._closed:
            return True
        return self.rec.confirm_quit()

    # =========================================================================================
    # closing
    @property
    def is_closed(self) -> bool:
        return self._closed

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Finish (and hand over) a recording, stop the camera and the landmark thread. Idempotent."""
        if self._closed:
            return
        if self.rec.writer is not None:
            self.stop_recording()
        self._closed = True
        self._models_loader.stop()
        self.feed.close()                      # the camera, the landmark thread, the models
        self._heap.stop()
        try:
            camera_source.application().aboutToQuit.disconnect(self.shutdown)
        except (RuntimeError, TypeError):
            pass
        self.prefs.sync()
