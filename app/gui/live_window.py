"""The live exam window: a camera, three panes (the camera with the midline, the patient's left
mirrored, the patient's right mirrored) at the camera's rate, Freeze, Capture rest, Record / Stop.

A thin view: the panels are app/gui/live_panels.py and app/gui/guided_panel.py; what is allowed
when is app.live.exam_state (idle / recording / finishing / failed), what each frame does is
app.live.frame_step (both shared with the `live` command), the recording's Qt side is
app/gui/live_recording.py.

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

import collections
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QVBoxLayout, QWidget

from app import APP_NAME

from app.gui import camera_source
from app.gui.guided_panel import GuidedPanel
from app.gui.live_cameras import LiveCameras, ModelsInBackground
from app.gui.live_panels import (LiveControlsBar, LiveNotice, LivePanesPanel, LiveTopBar, landmark_label_text,
                                 window_shortcut)
from app.gui.live_recording import LiveRecording
from app.gui.prefs import Prefs
from app.live.exam_state import Action
from app.live.exam_text import status_line
from app.live.heap import HeapTrimmer
from app.live.landmarks import LatestLandmarks

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
        self.source: camera_source.QtFrameSource | None = None
        self.frozen = False
        self.frames_seen = 0
        self.pane_updates = 0
        self.handle_ms: collections.deque[float] = collections.deque(maxlen=600)   # frame in -> panes set
        self.draws_skipped = 0                     # frames recorded but not drawn: a newer one was waiting
        self._models = None
        self._models_error = ""
        self._marks_size: tuple[int, int] | None = None
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
    # building: the panels, their signals, the shortcuts
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
        """The behaviour: the camera list and the recording, each with what it needs; then the
        buttons and shortcuts wired to them."""
        self.cameras = LiveCameras(self, self.camera_combo, self.prefs, source=lambda: self.source,
                                   recording=lambda: self.recording, show=self.set_source,
                                   no_picture=self._no_picture, say=self.say, changed=self.recording_changed)
        self.rec = LiveRecording(self, guided=self.guided, subject=self.subject_fields, source=lambda: self.source,
                                 fps=self.fps, folder=lambda: self.folder, say=self.say,
                                 changed=self.recording_changed, status=self.show_status,
                                 hand_over=self.recording_ready.emit, audio_factory=audio_factory,
                                 file_source=file_source)
        self.record_button.clicked.connect(self.rec.toggle)
        self.rest_button.clicked.connect(self.capture_rest)
        self.freeze_button.toggled.connect(self.set_frozen)
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
        self._models, self._models_error = models, error
        self.controls.show_models(models, error)

    @property
    def landmark_runs(self) -> int:
        marks = self.rec.step.marks
        return marks.runs if marks is not None else 0

    def refresh_cameras(self) -> None:
        """Fill the camera list (also when a camera is plugged in or out) and open the remembered one."""
        self.cameras.refresh()

    def open_camera(self, info: camera_source.CameraInfo) -> None:
        self.cameras.open(info)

    # =========================================================================================
    # frames
    def set_source(self, source: camera_source.QtFrameSource) -> None:
        self.stop_source()
        if isinstance(source, camera_source.PushedFileSource):
            # the list names what is shown, so a demo is never taken for a camera
            self.camera_combo.clear()
            path = getattr(source.source, "path", None)
            self.camera_combo.addItem(f"File: {path.name}" if path else "Synthetic test picture")
        self.source = source
        source.frame.connect(self._on_frame)
        source.failed.connect(self._on_source_failed)
        self.say("")
        self.pane_panel.waiting()
        source.start()
        self._update_controls()

    def _no_picture(self, why: str) -> None:
        """No camera to show (none, or not allowed): the source stopped, the panes say why."""
        self.stop_source()
        self.pane_panel.no_picture(why)

    def stop_source(self) -> None:
        if self.source is None:
            return
        src, self.source = self.source, None
        src.frame.disconnect(self._on_frame)
        src.failed.disconnect(self._on_source_failed)
        src.stop()
        src.deleteLater()

    def _on_source_failed(self, text: str) -> None:
        self.say(text + (" The recording so far is kept: press Stop to hand it over." if self.recording else ""))

    def _on_frame(self, image: np.ndarray, t: float) -> None:
        """Every frame: the shared step (landmark slot, recorder, guided clock), then the panes
        unless frozen or a newer frame is already waiting."""
        arrived = time.perf_counter()
        self.frames_seen += 1
        h, w = image.shape[:2]
        self._landmarks_for((w, h))
        writer = self.rec.writer
        if writer is not None and writer.error is not None:
            self.rec.write_failed()                             # a full disk: stopped, the part kept
        if self.rec.step.take(self.frames_seen, image, t, arrived) is not None:
            self.show_status()
        if self.frozen:
            return
        if self.source is not None and self.source.behind:
            self.draws_skipped += 1                             # recorded; the newer frame is drawn
            return
        self.pane_panel.show_panes(self.rec.step.draw(image, self.pane_panel.display_scale(w, h)))   # at the size shown
        self.pane_updates += 1
        self.handle_ms.append((time.perf_counter() - arrived) * 1000.0)
        marks = self.rec.step.marks
        if marks is not None and marks.error is not None and self.frames_seen % 30 == 0:
            self.controls.show_landmarks_failed(marks.error)

    def _landmarks_for(self, size: tuple[int, int]) -> None:
        """The landmark thread, once the models are in, (re)made for the frames' size."""
        step = self.rec.step
        if self._models is None or (step.marks is not None and self._marks_size == size):
            return
        if step.marks is not None:
            step.marks.stop()
        step.marks, self._marks_size = LatestLandmarks(self._models, size, self.fps()), size

    def fps(self) -> float:
        return self.source.fps if self.source is not None else camera_source.DEFAULT_FPS

    # =========================================================================================
    # freeze, rest, record (app/gui/live_recording.py)
    def set_frozen(self, frozen: bool) -> None:
        self.frozen = bool(frozen)
        self.controls.show_frozen(self.frozen)
        self.pane_panel.show_frozen(self.frozen)
        self.show_status()

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
        text = status_line(self.rec.exam, frozen=self.frozen, sound_note=self.rec.sound_note,
                           backlog=writer.backlog if writer is not None else 0, fps=self.fps())
        self.controls.show_status(text, writer is not None)

    def recording_changed(self) -> None:
        """The recording started or ended: the controls say what is allowed now."""
        self._update_controls()
        self.show_status()

    def _update_controls(self) -> None:
        recording = self.recording
        can = self.rec.exam.controls(has_source=self.source is not None, frozen=self.frozen,
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
        self.stop_source()
        if self.rec.step.marks is not None:
            self.rec.step.marks.stop()
            self.rec.step.marks = None
        self._heap.stop()
        self._models = None                    # ONNX sessions freed now, not by the collector at exit
        try:
            camera_source.application().aboutToQuit.disconnect(self.shutdown)
        except (RuntimeError, TypeError):
            pass
        self.prefs.sync()
