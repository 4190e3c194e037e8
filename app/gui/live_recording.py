"""The live window's recording: Record, Capture rest, Stop, a failed write, the microphone, over
the Qt-free state machine (app.live.exam_state) and per-frame step (app.live.frame_step).

Stop finishes the recording (NAME.mp4) and the window emits ``recording_ready(path, rest,
subject)``. A write that fails (a full disk) stops the recording at once and keeps the part
written, said in one sentence. Stop compares the recording (its frames and their times) with the
time Record was held and says plainly when frames were lost.
"""
from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QWidget

from app.base import logs
from app.gui import camera_source, safe_question
from app.gui.guided_panel import GuidedPanel
from app.gui.subject_fields import SubjectFields
from app.live.exam_state import Action, ExamState, Phase
from app.live.exam_text import clock, saved_sentence
from app.live.frame_step import LiveFrameStep
from app.live.recorder import RecorderThread, fresh_recording_path, write_failure_sentence
from app.live.session import rest_window
from app.live.timing import RecordingTiming
from app.measures.protocol import record_path_for

log = logging.getLogger(__name__)

FAILED_EXAM = "The guided exam stopped: the recording failed (see above)."


class LiveRecording:
    """Receives ``parent`` (of the microphone and the quit question), the guided panel (its clock
    is the recording's), the subject fields, and from the window: ``source()`` and ``fps()`` (the
    frames shown now), ``folder()`` (the recordings' folder, as chosen now), ``say(text, level)``
    (the notice), ``changed()`` (a recording started or ended: the controls follow), ``status()``
    (the status line), ``hand_over(path, rest, subject)`` (a finished recording, for the queue).
    ``audio_factory``: makes the sound source at Record (tests); ``file_source``: the frames come
    from a file (no microphone by default)."""

    def __init__(self, parent: QWidget, *, guided: GuidedPanel, subject: SubjectFields,
                 source: Callable[[], camera_source.QtFrameSource | None], fps: Callable[[], float],
                 folder: Callable[[], Path], say: Callable[..., None], changed: Callable[[], None],
                 status: Callable[[], None], hand_over: Callable[[Path, tuple[float, float] | None, dict], None],
                 audio_factory=None, file_source: bool = False):
        self._parent, self._guided, self._subject = parent, guided, subject
        self._source, self._fps, self._folder = source, fps, folder
        self._say, self._changed, self._status, self._hand_over_to = say, changed, status, hand_over
        self.exam = ExamState()
        self.step = LiveFrameStep(self.exam, on_recorded=guided.tick)   # on the recording's clock
        self.sound_note = ""                       # why a recording has no sound ("" = it has)
        self.last_timing: RecordingTiming | None = None    # the last recording against the time Record was held
        self.last_recording: tuple[Path, tuple[float, float] | None, dict] | None = None
        self._audio_factory = audio_factory
        self._file_source = file_source
        self._mic = None
        self._guided_note = ""                  # what the guided exam's record says, at Stop

    @property
    def writer(self) -> RecorderThread | None:
        return self.step.writer

    # =========================================================================================
    # Record
    def toggle(self) -> None:
        """Record / Stop (the button, Ctrl+R)."""
        if self.step.writer is None:
            self.start()
        else:
            self.stop()

    def start(self) -> bool:
        if self.step.writer is not None:
            return True
        if not self.exam.allows(Action.RECORD):
            return False                 # a recording being finished (Stop under way)
        source, folder = self._source(), self._folder()
        if source is None or source.size is None:
            self._say("Nothing to record yet: no picture from the camera.")
            return False
        self._catch_up()
        pressed = time.perf_counter()     # frames due from now on are the recording's (opening it takes a while)
        mic, self.sound_note = self._open_microphone()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            writer = RecorderThread(self._new_path(folder), source.size, source.fps,
                                    audio=(mic.rate, mic.channels) if mic is not None else None)
        except Exception as exc:  # noqa: BLE001 - a folder that cannot be written, an encoder missing
            self._say(f"Cannot record into {folder}: {exc}. Choose another folder (Change...).")
            return False
        logs.note_private(writer.final)
        self.exam.begin(pressed)
        self.step.writer = writer
        self._say("")
        if mic is not None:
            self._mic = mic
            mic.chunk.connect(self._on_audio)
            mic.start()
        elif camera_source.MIC_SETTINGS_PATH in self.sound_note:
            self._say("Recording without sound: FaceMirror may not use the microphone. Allow it in "
                     f"{camera_source.MIC_SETTINGS_PATH} for the next recording.")
        self._changed()
        return True

    def _catch_up(self) -> None:
        """Frames already due from a file played as the camera, delivered now (before Record:
        not part of the recording; at Stop: the last ones of it)."""
        catch_up = getattr(self._source(), "catch_up", None)
        if catch_up is not None:
            catch_up()

    @staticmethod
    def _new_path(folder: Path) -> Path:
        # a NAME_protocol.json without its recording (by hand, or left) would be taken for this one's
        return fresh_recording_path(folder, f"exam_{datetime.datetime.now():%Y-%m-%d_%H%M%S}",
                                    taken=lambda p: record_path_for(p).exists())

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
            return camera_source.MicrophoneSource(self._parent), ""
        except Exception as exc:  # noqa: BLE001 - the video is recorded all the same
            log.warning("microphone not opened: %s", exc)
            return None, f"no sound: the microphone could not be opened ({exc})"

    def _on_audio(self, pcm: np.ndarray, t_wall: float) -> None:
        if self.step.writer is not None and self.exam.first_wall is not None:
            self.step.writer.write_audio(pcm, t_wall - self.exam.first_wall)

    def _stop_microphone(self) -> None:
        mic, self._mic = self._mic, None
        if mic is not None:
            mic.chunk.disconnect(self._on_audio)
            mic.stop()
            mic.deleteLater()

    # =========================================================================================
    # Capture rest
    def capture_rest(self) -> None:
        if self.step.writer is None or not self.exam.allows(Action.CAPTURE_REST):
            self._say("Capture rest works while recording: press Record first.")
            return
        self.exam.mark_rest()
        self._say("")
        self._status()

    # =========================================================================================
    # Stop
    def stop(self) -> Path | None:
        """Finish the recording and hand it over. Returns its path, None if nothing could be
        handed over (the reason is said in the window)."""
        if self.step.writer is None:
            return None
        if self.step.writer.error is None:
            self._catch_up()         # the frames due until now belong to the recording
        writer = self.step.writer
        if writer is None:
            return None                  # (a write failure seen while catching up stopped it)
        held_timing = self.exam.timing(self._fps())
        self._stop_microphone()
        self.step.writer = None
        self.exam.finish()
        path = self._finish(writer)
        self._changed()
        if path is None:
            return None
        self.last_timing = held_timing
        return self._hand_over(path)

    def _finish(self, writer: RecorderThread) -> Path | None:
        """The recording finished and its protocol record written; None (said) when nothing was
        recorded or either could not be written (the part kept and named)."""
        if writer.frames == 0 and writer.backlog == 0 and not self.exam.started:
            writer.close_partial().unlink(missing_ok=True)
            self.exam.finished()
            self._guided.abandon("The guided exam ended with nothing recorded.")
            self._say("Nothing was recorded (no frame arrived).")
            return None
        try:
            path = writer.finish()
        except OSError as exc:           # a full disk: the part written is kept and named
            self._failed(write_failure_sentence(exc, writer.partial, writer.recorder.last_s))
            return None
        except Exception as exc:  # noqa: BLE001 - the partial file is kept and named
            self._failed(f"The recording could not be finished ({exc}). What was recorded is kept as "
                         f"{writer.partial}.")
            return None
        self.exam.finished()
        try:
            self._guided_note = self._guided.publish(path)     # NAME_protocol.json, now the recording is whole
        except OSError as exc:
            self._say(f"{path.name} is saved, but its protocol record could not be written "
                     f"({exc.strerror or exc}); it is not processed now. Free some space, then add the recording "
                     "to the queue (or write the record by hand: docs/GUIDED_EXAM.md).")
            return None
        return path

    def _failed(self, sentence: str) -> None:
        self.exam.fail()
        self._guided.abandon(FAILED_EXAM)
        self._say(sentence)

    def _hand_over(self, path: Path) -> Path:
        rest = rest_window(self.exam.rest_mark, self.exam.last)
        subject = self._subject.current()
        if any(subject.values()):
            logs.note_private_words(*subject.values())
            self._subject.remember()
        self.last_recording = (path, rest, subject)
        lost = self.last_timing.sentence() if self.last_timing is not None else ""
        self._say(saved_sentence(path.name, self.exam, rest, sound_note=self.sound_note,
                                 guided_note=self._guided_note, lost=lost), "warning" if lost else "info")
        self._status()
        self._hand_over_to(path, rest, subject)
        return path

    def confirm_quit(self) -> bool:
        """Whether to stop recording and quit: asked (modal; tests find it by its object name)."""
        return safe_question.ask(
            self._parent, "confirmQuitLive", "Stop recording and quit?",
            f"The recording so far ({clock(self.exam.last)}) is kept, complete, in {self._folder()}. It is not "
            "processed now: add it to the queue after FaceMirror opens again.", "Stop recording and quit",
            "Keep recording")

    # =========================================================================================
    # a failed write
    def write_failed(self) -> None:
        """A write failed (a full disk): nothing more can be recorded, so the recording stops now;
        the part written is closed (playable) and named in one sentence. Not handed over: a cut
        exam is the clinician's to judge, not to be processed as if complete."""
        writer, self.step.writer = self.step.writer, None
        if writer is None:
            return
        self._stop_microphone()
        error = writer.error
        writer.close_partial()
        if self.exam.phase is Phase.RECORDING:
            self._failed(write_failure_sentence(error or OSError("write failed"), writer.partial,
                                                writer.recorder.last_s))
        self._changed()
