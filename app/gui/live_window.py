"""The live exam window: a camera, three panes (the camera with the midline, the patient's left
mirrored, the patient's right mirrored) at the camera's rate, Freeze, Capture rest, Record / Stop.

Threads: frames arrive on the GUI thread (camera_source); each is handed to the landmark thread
(app.live.landmarks.LatestLandmarks: a one-frame slot, so the panes use the last midline found and
never wait for the model) and, while recording, to the recorder's thread (every frame, with its
time). The models are loaded in a plain thread when the window opens; until then (or without a
face detector) the panes mirror about the picture's vertical centre line.

Stop finishes the recording (NAME.mp4) and emits ``recording_ready(path, rest, subject)``: the
main window queues it like a dropped file, with the rest capture as the measures' rest window.
Closing the window (or quitting) while recording finishes and hands over the recording the same
way; a crash leaves NAME.recording.mp4, playable up to its last second. Quit (Ctrl+Q) here is the
main window's Quit, asked first while recording. A write that fails (a full disk) stops the
recording at once and keeps the part written, said in one sentence. Stop compares the recording
(its frames and their times) with the time Record was held and says plainly when frames were lost.
"""
from __future__ import annotations

import collections
import datetime
import logging
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)

from app import APP_NAME

from app.base import logs
from app.engine.midline import Midline
from app.gui import camera_source, safe_question
from app.gui.guided_panel import GuidedPanel
from app.gui.prefs import Prefs
from app.gui.preview import PreviewPane, bgr_to_qimage
from app.gui.subject_fields import SubjectFields
from app.live.heap import HeapTrimmer
from app.live.landmarks import LatestLandmarks
from app.live.panes import PaneDrawer, pane_scale
from app.live.recorder import RecorderThread, fresh_recording_path, write_failure_sentence
from app.live.session import REST_SECONDS, rest_window
from app.live.timing import RecordingTiming
from app.measures.protocol import record_path_for

log = logging.getLogger(__name__)

LIVE_PANES = (
    ("camera", "Camera", "What the camera sees, with the midline and L/R labels (image left is the patient's right)."),
    ("left", "Patient's left, mirrored", "The patient's anatomical left half joined to its reflection across the midline."),
    ("right", "Patient's right, mirrored", "The patient's anatomical right half joined to its reflection across the midline."),
)


NOTICE_STYLE = {"warning": "background: #fff3cd; color: #5c4400; border: 1px solid #e0c068;",
                "info": "background: #e3f1e6; color: #1e4d2b; border: 1px solid #9cc9a8;"}


def default_live_folder() -> Path:
    movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation) or str(Path.home())
    return Path(movies) / "FaceMirror"


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:04.1f}"

LIVE_CUT_TOOLTIP = ("The live panes use STAR cut after the second of its four stacks: about twice as fast, a "
                    "little less exact. The recording is analysed with full STAR when you press Stop.")


def landmark_label_text(models) -> str:
    if models.coarse:
        return "Landmarks: 5-point mode (coarse midline)"
    text = "Landmarks: STAR 98-point (fast live model)" if models.live_cut else "Landmarks: STAR 98-point"
    # a development model's random weights put the midline anywhere: said where the clinician looks
    return text + " - UNTRAINED model, midline meaningless" if models.untrained else text


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
        self.last_timing: RecordingTiming | None = None    # the last recording against the time Record was held
        self.last_recording: tuple[Path, tuple[float, float] | None, dict] | None = None
        self._models = None
        self._models_error = ""
        self._marks: LatestLandmarks | None = None
        self._marks_size: tuple[int, int] | None = None
        self._cameras: dict[str, camera_source.CameraInfo] = {}
        self._drawer = PaneDrawer()
        self._writer: RecorderThread | None = None
        self._rec_t0: float | None = None          # source time of the recording's first frame
        self._rec_last = 0.0                       # recording clock of its last frame
        self._rest_mark: float | None = None
        self._rec_wall0: float | None = None       # perf_counter at the recording's first frame (the sound's clock)
        self._rec_pressed = 0.0                    # perf_counter when Record was pressed
        self._rec_arrived = 0.0                    # perf_counter when its last frame arrived
        self._rec_times: list[float] = []          # the recorded frames' times (the recording's clock)
        self._audio_factory = audio_factory
        self._file_source = source is not None
        self._mic = None
        self.sound_note = ""                       # why a recording has no sound ("" = it has)
        self._closed = False
        self._quit_agreed = False                  # Quit from this window, already confirmed
        self._heap = HeapTrimmer().start()          # frames freed in other threads go back to the system
        self._speech_engines = speech_engines
        self._build()
        self._load_models(models_loader)
        camera_source.application().aboutToQuit.connect(self.shutdown)   # quitting while recording keeps the recording
        if source is not None:
            self.set_source(source)
        else:
            from PySide6.QtMultimedia import QMediaDevices

            self._devices = QMediaDevices(self)
            self._devices.videoInputsChanged.connect(self.refresh_cameras)
            self.refresh_cameras()
            if camera_source.MicrophoneSource.available() and camera_source.microphone_permission() == "undetermined":
                camera_source.request_microphone_permission(self)    # asked now, answered before Record
        self._update_controls()

    # =========================================================================================
    # building
    def _build(self) -> None:
        root = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Camera:", self))
        self.camera_combo = QComboBox(self)
        self.camera_combo.setMinimumContentsLength(18)
        self.camera_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.camera_combo.setToolTip("The camera to examine with (remembered for next time)")
        self.camera_combo.activated.connect(self._camera_chosen)
        top.addWidget(self.camera_combo)
        self.subject_fields = SubjectFields(self.prefs.s, self)
        for edit in self.subject_fields.edits.values():
            edit.setToolTip("Recorded in the report and summary of this exam's recording (Enter: done)")
            edit.returnPressed.connect(self.setFocus)    # back to the window, where Space freezes
        top.addWidget(self.subject_fields)
        top.addStretch(1)
        self.folder_label = QLabel(self)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.folder_label)
        self.folder_button = QPushButton("Change...", self)
        self.folder_button.setToolTip("Choose the folder the recordings go to (their outputs follow the main "
                                      "window's Output choice)")
        self.folder_button.clicked.connect(self.choose_folder)
        top.addWidget(self.folder_button)
        root.addLayout(top)

        self.notice = QLabel(self)       # no camera, permission refused, model problems: said here, not in a popup
        self.notice.setWordWrap(True)
        self.notice.setObjectName("liveNotice")
        self.notice.hide()
        root.addWidget(self.notice)

        # the guided exam (app.gui.guided_panel): its controls, and its prompts above the panes
        self.guided = GuidedPanel(self, engines=self._speech_engines, start_recording=self.start_recording,
                                  stop_recording=self.stop_recording, say=self.say)
        root.addWidget(self.guided)

        panes = QHBoxLayout()
        self.panes: dict[str, PreviewPane] = {}
        for key, title, tip in LIVE_PANES:
            self.panes[key] = PreviewPane(title, tip, self, placeholder="Waiting for the camera...", accessible_name=title)
            panes.addWidget(self.panes[key], 1)
        root.addLayout(panes, 1)

        bottom = QHBoxLayout()
        self.record_button = QPushButton(self)
        self.record_button.clicked.connect(self.toggle_recording)
        self.rest_button = QPushButton("Capture rest", self)
        self.rest_button.clicked.connect(self.capture_rest)
        self.freeze_button = QPushButton("Freeze", self)
        self.freeze_button.setCheckable(True)
        self.freeze_button.toggled.connect(self.set_frozen)
        for b in (self.record_button, self.rest_button, self.freeze_button):
            b.setMinimumHeight(int(self.fontMetrics().height() * 2.2))
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)     # Space is Freeze, never "press the focused button"
            bottom.addWidget(b)
        self.status_label = QLabel(self)
        # long texts must not widen the window (the panes would jump): they are cut, the notice says more
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bottom.addWidget(self.status_label, 1)
        self.landmark_label = QLabel("Landmarks: loading the models...", self)
        self.landmark_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bottom.addWidget(self.landmark_label)
        root.addLayout(bottom)

        self.record_action = self._shortcut("Ctrl+R", self.toggle_recording)
        self.rest_action = self._shortcut("Ctrl+M", self.capture_rest)
        self.freeze_action = self._shortcut("Space", self._space)
        # Quit works from this window as from the main window (the shortcut of its Quit is a window shortcut)
        self.quit_action = self._shortcut(QKeySequence(QKeySequence.StandardKey.Quit), self.quit_app)
        if QKeySequence("Ctrl+Q") not in self.quit_action.shortcuts():
            self.quit_action.setShortcuts([*self.quit_action.shortcuts(), QKeySequence("Ctrl+Q")])
        self.record_button.setToolTip("Start recording (Ctrl+R); press again to stop: the recording is then "
                                      "queued for processing in the main window")
        self.rest_button.setToolTip(f"Mark the rest: the {REST_SECONDS:g} s from now, while the face is relaxed, "
                                    "are the measures' rest (Ctrl+M; while recording)")
        self.freeze_button.setToolTip("Hold the panes still to look at them (Space); the recording continues")
        self._show_folder()
        # the window, not the patient field, has the focus: Space must freeze, not type a space
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.resize(1200, 560)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.setFocus()

    def _space(self) -> None:
        if self.freeze_button.isEnabled():       # nothing to freeze without a picture
            self.freeze_button.toggle()

    def _shortcut(self, key: str | QKeySequence, slot) -> QAction:
        a = QAction(self)
        a.setShortcut(QKeySequence(key))
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _show_folder(self) -> None:
        self.folder_label.setText(f"Recordings go to: {self.folder}")
        self.folder_label.setToolTip(str(self.folder))

    def _no_picture(self, why: str) -> None:
        for pane in self.panes.values():
            pane.view.set_image(None)
            pane.view.set_placeholder(why)

    def say(self, text: str, level: str = "warning") -> None:
        """A message that stays until the next one (or until it is cleared with ""); "warning" for
        what stops the exam (no camera, permission), "info" for what went well."""
        colours = NOTICE_STYLE[level]
        self.notice.setStyleSheet(f"QLabel#liveNotice {{ {colours} padding: 6px; border-radius: 4px; }}")
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # =========================================================================================
    # models
    def _load_models(self, loader) -> None:
        # The thread only sets a Python attribute and a timer of the window picks it up: a signal
        # emitted from the thread after the window was deleted would reach freed memory.
        self._loaded: tuple | None = None

        def work():
            try:
                if loader is not None:
                    models = loader()
                else:
                    from app.engine.model_set import Models

                    models = Models.load(threads=2, live=True)    # two: the display and the encoder need the rest
                self._loaded = (models, "")
            except Exception as exc:  # noqa: BLE001 - said in the window; the exam works without
                self._loaded = (None, str(exc))

        self._models_timer = QTimer(self)
        self._models_timer.setInterval(50)
        self._models_timer.timeout.connect(self._take_models)
        self._models_timer.start()
        threading.Thread(target=work, name="facemirror-live-models", daemon=True).start()

    def _take_models(self) -> None:
        if self._loaded is None:
            return
        self._models_timer.stop()
        if self._closed:
            return
        models, error = self._loaded
        self._models, self._models_error = models, error
        if models is None:
            self.landmark_label.setText("Landmarks: none (midline = picture centre)")
            self.landmark_label.setToolTip(f"The models could not be loaded: {error}. The recording is not "
                                           "affected; its processing says the same.")
        else:
            self.landmark_label.setText(landmark_label_text(models))
            if models.live_cut:
                self.landmark_label.setToolTip(LIVE_CUT_TOOLTIP)

    @property
    def landmark_runs(self) -> int:
        return self._marks.runs if self._marks is not None else 0

    # =========================================================================================
    # cameras
    def refresh_cameras(self) -> None:
        """Fill the camera list (also when a camera is plugged in or out) and open the remembered one."""
        cameras = camera_source.list_cameras()
        current = self.camera_combo.currentData()
        self.camera_combo.blockSignals(True)
        self.camera_combo.clear()
        for cam in cameras:
            self.camera_combo.addItem(cam.name, cam.id)
        self.camera_combo.blockSignals(False)
        self._cameras = {c.id: c for c in cameras}
        if self._writer is not None and isinstance(self.source, camera_source.CameraSource):
            # never another camera in the middle of a recording (one picture size per file)
            recording_id = self.source.info.id
            if recording_id in self._cameras:
                self.camera_combo.setCurrentIndex(self.camera_combo.findData(recording_id))
            else:
                self.say("The camera was disconnected. Press Stop to keep the recording so far; "
                         "then choose a camera to go on.")
            self._update_controls()
            return
        if not cameras:
            if not isinstance(self.source, camera_source.PushedFileSource):
                self._stop_source()
                self.say(camera_source.NO_CAMERA_MESSAGE)
                self._no_picture("No camera (see above)")
            self._update_controls()
            return
        wanted = current if current in self._cameras else self.prefs.camera
        if wanted not in self._cameras:
            wanted = next((c.id for c in cameras if c.device is not None and c.device.isDefault()), cameras[0].id)
        self.camera_combo.setCurrentIndex(self.camera_combo.findData(wanted))
        if not isinstance(self.source, camera_source.CameraSource) or self.source.info.id != wanted:
            self.open_camera(self._cameras[wanted])
        self._update_controls()

    def _camera_chosen(self, index: int) -> None:
        camera_id = self.camera_combo.itemData(index)
        if camera_id is None:
            return
        self.prefs.camera = camera_id
        self.prefs.sync()
        if not isinstance(self.source, camera_source.CameraSource) or self.source.info.id != camera_id:
            self.open_camera(self._cameras[camera_id])

    def open_camera(self, info: camera_source.CameraInfo) -> None:
        permission = camera_source.camera_permission()
        if permission == "denied":
            self._stop_source()
            self.say(camera_source.DENIED_MESSAGE)
            self._no_picture("The camera is not allowed (see above)")
            return
        if permission == "undetermined":
            self.say("Waiting for permission to use the camera (answer the system's question)...")
            camera_source.request_camera_permission(
                self, lambda granted: self.open_camera(info) if granted else self.say(camera_source.DENIED_MESSAGE))
            return
        self.set_source(camera_source.CameraSource(info, self))

    # =========================================================================================
    # frames
    def set_source(self, source: camera_source.QtFrameSource) -> None:
        self._stop_source()
        if isinstance(source, camera_source.PushedFileSource):
            # the list names what is shown, so a demo is never taken for a camera
            self.camera_combo.clear()
            path = getattr(source.source, "path", None)
            self.camera_combo.addItem(f"File: {path.name}" if path else "Synthetic test picture")
        self.source = source
        source.frame.connect(self._on_frame)
        source.failed.connect(self._on_source_failed)
        self.say("")
        for pane in self.panes.values():
            pane.view.set_placeholder("Waiting for the camera...")
        source.start()
        self._update_controls()

    def _stop_source(self) -> None:
        if self.source is None:
            return
        src, self.source = self.source, None
        src.frame.disconnect(self._on_frame)
        src.failed.disconnect(self._on_source_failed)
        src.stop()
        src.deleteLater()

    def _on_source_failed(self, text: str) -> None:
        self.say(text + (" The recording so far is kept: press Stop to hand it over." if self._writer else ""))

    def _on_frame(self, image: np.ndarray, t: float) -> None:
        arrived = time.perf_counter()
        self.frames_seen += 1
        h, w = image.shape[:2]
        if self._models is not None and (self._marks is None or self._marks_size != (w, h)):
            if self._marks is not None:
                self._marks.stop()
            fps = self.source.fps if self.source is not None else camera_source.DEFAULT_FPS
            self._marks, self._marks_size = LatestLandmarks(self._models, (w, h), fps), (w, h)
        if self._marks is not None:
            self._marks.offer(self.frames_seen, image, t)        # never waits for the model
        if self._writer is not None and self._writer.error is not None:
            self._recording_failed()                            # a full disk: stopped, the part kept
        if self._writer is not None:
            if self._rec_t0 is None:
                self._rec_t0, self._rec_wall0 = t, arrived
            self._rec_last = t - self._rec_t0
            self._writer.write(image, self._rec_last)           # every frame, on the recording's clock
            self._rec_times.append(self._rec_last)
            self._rec_arrived = arrived
            self.guided.tick(self._rec_last)      # on the recording's clock: the record matches the file
            self._show_status()
        if self.frozen:
            return
        if self.source is not None and self.source.behind:
            self.draws_skipped += 1                             # recorded; the newer frame is drawn
            return
        line = self._marks.line if self._marks is not None else Midline.vertical((w, h))
        points = self._marks.points if self._marks is not None else None
        panes = self._drawer.draw(image, line, points, self._display_scale(w, h))   # at the size shown
        self.panes["camera"].view.set_image(bgr_to_qimage(panes.camera))
        self.panes["left"].view.set_image(bgr_to_qimage(panes.left))
        self.panes["right"].view.set_image(bgr_to_qimage(panes.right))
        self.pane_updates += 1
        self.handle_ms.append((time.perf_counter() - arrived) * 1000.0)
        if self._marks is not None and self._marks.error is not None and self.frames_seen % 30 == 0:
            self.landmark_label.setText("Landmarks: failed (midline held)")
            self.landmark_label.setToolTip(f"{type(self._marks.error).__name__}: {self._marks.error}")

    def _display_scale(self, w: int, h: int) -> float:
        """The frame's scale for the panes: the pixels a pane shows (HiDPI included)."""
        view = self.panes["camera"].view
        return pane_scale(w, min(view.width(), view.height() * w / h) * view.devicePixelRatioF())

    # =========================================================================================
    # freeze, rest, record
    def set_frozen(self, frozen: bool) -> None:
        self.frozen = bool(frozen)
        if self.freeze_button.isChecked() != self.frozen:
            self.freeze_button.setChecked(self.frozen)
        self.freeze_button.setText("Frozen: press Space to go on" if self.frozen else "Freeze")
        for pane in self.panes.values():
            pane.title.setStyleSheet("color: #1d5fbf;" if self.frozen else "")
        self.panes["camera"].title.setText("Camera (FROZEN)" if self.frozen else "Camera")
        self._show_status()

    @property
    def recording(self) -> bool:
        return self._writer is not None

    def toggle_recording(self) -> None:
        if self._writer is None:
            self.start_recording()
        else:
            self.stop_recording()

    def _new_recording_path(self) -> Path:
        # a NAME_protocol.json without its recording (by hand, or left) would be taken for this one's
        return fresh_recording_path(self.folder, f"exam_{datetime.datetime.now():%Y-%m-%d_%H%M%S}",
                                    taken=lambda p: record_path_for(p).exists())

    def _catch_up(self) -> None:
        """Frames already due from a file played as the camera, delivered now (before Record:
        not part of the recording; at Stop: the last ones of it)."""
        catch_up = getattr(self.source, "catch_up", None)
        if catch_up is not None:
            catch_up()

    def start_recording(self) -> bool:
        if self._writer is not None:
            return True
        if self.source is None or self.source.size is None:
            self.say("Nothing to record yet: no picture from the camera.")
            return False
        self._catch_up()
        pressed = time.perf_counter()     # frames due from now on are the recording's (opening it takes a while)
        mic, self.sound_note = self._open_microphone()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._writer = RecorderThread(self._new_recording_path(), self.source.size, self.source.fps,
                                          audio=(mic.rate, mic.channels) if mic is not None else None)
        except Exception as exc:  # noqa: BLE001 - a folder that cannot be written, an encoder missing
            self.say(f"Cannot record into {self.folder}: {exc}. Choose another folder (Change...).")
            return False
        logs.note_private(self._writer.final)
        self._rec_t0, self._rec_wall0, self._rec_last, self._rest_mark = None, None, 0.0, None
        self._rec_pressed, self._rec_times = pressed, []
        self.say("")
        if mic is not None:
            self._mic = mic
            mic.chunk.connect(self._on_audio)
            mic.start()
        elif camera_source.MIC_SETTINGS_PATH in self.sound_note:
            self.say("Recording without sound: FaceMirror may not use the microphone. Allow it in "
                     f"{camera_source.MIC_SETTINGS_PATH} for the next recording.")
        self._update_controls()
        self._show_status()
        return True

    def _open_microphone(self):
        """(sound source or None, why there is no sound)."""
        try:
            if self._audio_factory is not None:
                return self._audio_factory(), ""
            if self._file_source:
                return None, "no sound (file source)"
            if not camera_source.MicrophoneSource.available():
                return None, "no sound: no microphone"
            if camera_source.microphone_permission() != "granted":
                return None, f"no sound: microphone not allowed ({camera_source.MIC_SETTINGS_PATH})"
            return camera_source.MicrophoneSource(self), ""
        except Exception as exc:  # noqa: BLE001 - the video is recorded all the same
            log.warning("microphone not opened: %s", exc)
            return None, f"no sound: the microphone could not be opened ({exc})"

    def _on_audio(self, pcm: np.ndarray, t_wall: float) -> None:
        if self._writer is not None and self._rec_wall0 is not None:
            self._writer.write_audio(pcm, t_wall - self._rec_wall0)

    def _stop_microphone(self) -> None:
        mic, self._mic = self._mic, None
        if mic is not None:
            mic.chunk.disconnect(self._on_audio)
            mic.stop()
            mic.deleteLater()

    def capture_rest(self) -> None:
        if self._writer is None or self._rec_t0 is None:
            self.say("Capture rest works while recording: press Record first.")
            return
        self._rest_mark = self._rec_last
        self.say("")
        self._show_status()

    def stop_recording(self) -> Path | None:
        """Finish the recording and hand it over (``recording_ready``). Returns its path, None if
        nothing could be handed over (the reason is said in the window)."""
        if self._writer is None:
            return None
        if self._writer.error is None:
            self._catch_up()             # the frames due until now belong to the recording
        if self._writer is None:
            return None                  # (a write failure seen while catching up stopped it)
        # held: from Record to one frame after the last frame that arrived (a camera unplugged
        # mid-recording sends no more frames: that time is not counted as frames missing)
        held = (self._rec_arrived + 1.0 / self._fps() if self._rec_times else time.perf_counter()) - self._rec_pressed
        self._stop_microphone()
        writer, self._writer = self._writer, None
        self._update_controls()
        if writer.frames == 0 and writer.backlog == 0 and self._rec_t0 is None:
            writer.close_partial().unlink(missing_ok=True)
            self.guided.abandon("The guided exam ended with nothing recorded.")
            self.say("Nothing was recorded (no frame arrived).")
            self._show_status()
            return None
        try:
            path = writer.finish()
        except OSError as exc:           # a full disk: the part written is kept and named
            self.guided.abandon("The guided exam stopped: the recording failed (see above).")
            self.say(write_failure_sentence(exc, writer.partial, writer.recorder.last_s))
            self._show_status()
            return None
        except Exception as exc:  # noqa: BLE001 - the partial file is kept and named
            self.guided.abandon("The guided exam stopped: the recording failed (see above).")
            self.say(f"The recording could not be finished ({exc}). What was recorded is kept as {writer.partial}.")
            self._show_status()
            return None
        try:
            guided_note = self.guided.publish(path)     # NAME_protocol.json, now the recording is whole
        except OSError as exc:
            self.say(f"{path.name} is saved, but its protocol record could not be written "
                     f"({exc.strerror or exc}); it is not processed now. Free some space, then add the recording "
                     "to the queue (or write the record by hand: docs/GUIDED_EXAM.md).")
            self._show_status()
            return None
        self.last_timing = RecordingTiming.of(held, self._rec_times, self._fps())
        rest = rest_window(self._rest_mark, self._rec_last)
        subject = self.subject_fields.current()
        if any(subject.values()):
            logs.note_private_words(*subject.values())
            self.subject_fields.remember()
        self.last_recording = (path, rest, subject)
        note = f"Saved {path.name} ({_clock(self._rec_last)}, {self.sound_note or 'with sound'})"
        if guided_note:
            note += f"; {guided_note}"
        if self._rest_mark is not None and rest is None:
            note += "; the rest capture was too close to Stop and is not used (the rest is found automatically)"
        elif rest is not None:
            note += f"; rest {rest[0]:.1f}-{rest[1]:.1f} s"
        note += ". The main window processes it now (its queue shows the progress and the summary)."
        lost = self.last_timing.sentence()
        self.say(f"{lost} {note}" if lost else note, "warning" if lost else "info")
        self._show_status()
        self.recording_ready.emit(path, rest, subject)
        return path

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the live recordings", str(self.folder))
        if folder:
            self.folder = Path(folder)
            self.prefs.live_folder = self.folder
            self.prefs.sync()
            self._show_folder()

    def _show_status(self) -> None:
        if self._writer is None:
            self.status_label.setText("Frozen (not recording)" if self.frozen else "Not recording")
            return
        parts = [f"\u25cf REC {_clock(self._rec_last)}", self.sound_note or "with sound"]
        if self._rest_mark is not None:
            left = self._rest_mark + REST_SECONDS - self._rec_last
            parts.append(f"rest marked at {_clock(self._rest_mark)}" + (f": hold still {left:.1f} s" if left > 0 else ""))
        if self.frozen:
            parts.append("panes frozen, still recording")
        fps = self._fps()
        if self._writer.backlog > 2 * fps:
            # the encoder is slower than the camera: frames wait in memory (none is lost); said so
            # that a clinician on a slow machine stops before the memory runs out
            parts.append(f"saving {self._writer.backlog / fps:.0f} s behind")
        self.status_label.setText("  \u00b7  ".join(parts))
        self.status_label.setStyleSheet("color: #c0392b; font-weight: bold;")

    def _fps(self) -> float:
        return self.source.fps if self.source is not None else camera_source.DEFAULT_FPS

    def _recording_failed(self) -> None:
        """A write failed (a full disk): nothing more can be recorded, so the recording stops now;
        the part written is closed (playable) and named in one sentence. Not handed over: a cut
        exam is the clinician's to judge, not to be processed as if complete."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self._stop_microphone()
        error = writer.error
        writer.close_partial()
        self.guided.abandon("The guided exam stopped: the recording failed (see above).")
        self.say(write_failure_sentence(error or OSError("write failed"), writer.partial, writer.recorder.last_s))
        self._update_controls()

    # =========================================================================================
    # quitting from this window
    def quit_app(self) -> None:
        """Quit (Ctrl+Q) from the live window does what the main window's Quit does (which asks
        while a file is processing); while recording it asks first, as stopping ends the exam."""
        if self._writer is not None and not self._confirm_quit_while_recording():
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
        if self._writer is None or self._quit_agreed or self._closed:
            return True
        return self._confirm_quit_while_recording()

    def _confirm_quit_while_recording(self) -> bool:
        """Modal; tests find it by its object name."""
        return safe_question.ask(
            self, "confirmQuitLive", "Stop recording and quit?",
            f"The recording so far ({_clock(self._rec_last)}) is kept, complete, in {self.folder}. It is not "
            "processed now: add it to the queue after FaceMirror opens again.", "Stop recording and quit",
            "Keep recording")

    def _update_controls(self) -> None:
        rec = self._writer is not None
        self.record_button.setText("\u25a0 Stop" if rec else "\u25cf Record")
        self.record_button.setEnabled(self.source is not None or rec)
        self.rest_button.setEnabled(rec)
        self.freeze_button.setEnabled(self.source is not None or self.frozen)
        self.camera_combo.setEnabled(not rec and self.camera_combo.count() > 0)  # one size per recording
        self.folder_button.setEnabled(not rec)
        self.guided.start_button.setEnabled(self.source is not None and not rec)
        if not rec:
            self.status_label.setStyleSheet("")
            self._show_status()

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
        if self._writer is not None:
            self.stop_recording()
        self._closed = True
        self._models_timer.stop()
        self._stop_source()
        if self._marks is not None:
            self._marks.stop()
            self._marks = None
        self._heap.stop()
        self._models = self._loaded = None     # ONNX sessions freed now, not by the collector at exit
        try:
            camera_source.application().aboutToQuit.disconnect(self.shutdown)
        except (RuntimeError, TypeError):
            pass
        self.prefs.sync()

