"""The live window's guided exam: the protocol chooser and "Guided exam" button, and while the exam
runs a large high-contrast prompt for the patient (read from the chair: big type, light on black,
one colour per phase) with its countdown, and Repeat / Skip / Stop for the clinician.

The exam itself is app.live.guided.GuidedExam, driven by the window with the time of each recorded
frame (the recording's player clock), so the record matches the file. The panel publishes the
record (NAME_protocol.json beside the finished recording, written whole) only once the recording
is complete; a recording that fails or is abandoned gets none.

Speech: the prompts can be spoken through Qt's text to speech (PySide6.QtTextToSpeech) where the
module imports and a real engine exists; off by default, and the box says why when it cannot be on.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

from app.live.guided import Cue, GuidedExam, Phase
from app.measures.protocol import (STANDARD, TASKS, Protocol, ProtocolError, load_protocol, record_path_for,
                                   write_record)

log = logging.getLogger(__name__)

# One colour per phase on black: get ready (amber), move (bright green), rest (light blue); each
# well above 7:1 against black (WCAG AAA), and told apart by the word under it as well
PHASE_COLOURS = {Phase.COUNTDOWN: "#ffd24d", Phase.HOLD: "#5cff7a", Phase.RELAX: "#8fd3ff",
                 Phase.DONE: "#ffffff", Phase.WAITING: "#ffffff"}
PHASE_WORDS = {Phase.COUNTDOWN: "GET READY", Phase.HOLD: "NOW", Phase.RELAX: "RELAX", Phase.DONE: "", Phase.WAITING: ""}
PROMPT_PX = 54          # the prompt: about 1.5 cm tall on a 24" screen, readable at 2-3 m
COUNT_PX = 96           # the countdown digits, larger still
STAGE_PX = 240          # the phase word, two lines of prompt, the detail line
END_SHOWN_MS = 4000    # "Thank you: the exam is over" stays this long
FILE_ITEM = "From a file..."
# Qt's test engine speaks nothing: not a reason to offer speech
NOT_REAL_ENGINES = {"mock"}


def speech_engines() -> list[str] | None:
    """The platform's text-to-speech engines (None: QtTextToSpeech is not part of this Qt)."""
    try:
        from PySide6.QtTextToSpeech import QTextToSpeech
    except ImportError:
        return None
    return [e for e in QTextToSpeech.availableEngines() if e not in NOT_REAL_ENGINES]


def speech_unavailable_reason(engines: Sequence[str] | None) -> str:
    """"" when the prompts can be spoken, else why not, in plain words."""
    if engines is None:
        return "Speech is not available: this Qt has no text to speech module."
    if not engines:
        return "Speech is not available: no text to speech engine is installed on this computer."
    return ""


def _qt_speaker(parent: QWidget):
    from PySide6.QtTextToSpeech import QTextToSpeech

    return QTextToSpeech(parent)


def spoken_words(cue: Cue) -> str:
    """What is said at a cue: the task as it is counted down, "now" as it starts, then "relax"."""
    if cue.phase is Phase.COUNTDOWN and cue.task is not None:
        return TASKS[cue.task]
    if cue.phase is Phase.HOLD:
        return "Now"
    return cue.text


class GuidedPanel(QWidget):
    def __init__(self, parent: QWidget | None = None, *, engines: Sequence[str] | None | bool = True,
                 speaker_factory: Callable[[QWidget], object] | None = None,
                 start_recording: Callable[[], bool] | None = None, stop_recording: Callable[[], object] | None = None,
                 say: Callable[[str], None] | None = None):
        """``engines``: the platform's speech engines (True: ask Qt); ``speaker_factory``: makes the
        object whose ``say(text)`` speaks (default QTextToSpeech); both injectable for tests.
        ``start_recording`` / ``stop_recording`` / ``say``: the live window's (its Stop calls
        :meth:`publish` with the finished recording, or :meth:`abandon`)."""
        super().__init__(parent)
        self._start_recording = start_recording or (lambda: False)
        self._stop_recording = stop_recording or (lambda: None)
        self._say = say or (lambda text: None)
        self._ending = False                  # the protocol ran to its end: the recording's Stop is on its way
        self.setObjectName("guidedPanel")
        self.exam: GuidedExam | None = None
        self.now = 0.0                        # the last recorded frame's time
        self.spoken: list[str] = []           # what was handed to the speaker (figures for tests)
        self._speaker: Any = None              # QTextToSpeech (or a test's): say(text)
        self._speaker_factory = speaker_factory or _qt_speaker
        self._engines: Sequence[str] | None = (speech_engines() if engines else None) if isinstance(engines, bool) \
            else engines
        self._build()
        self._show()

    # =========================================================================================
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.start_button = QPushButton("\u25b6 Guided exam", self)
        self.start_button.setToolTip("Record while the patient is led through the protocol's movements with large "
                                     "prompts and a countdown; the recording stops at the end of the protocol")
        self.start_button.clicked.connect(self.start)
        bar.addWidget(self.start_button)
        bar.addWidget(QLabel("Protocol:", self))
        self.protocol_combo = QComboBox(self)
        self.protocol_combo.addItem(f"Standard exam ({len(STANDARD.steps)} tasks, {STANDARD.duration_s:.0f} s)",
                                    STANDARD.name)
        self.protocol_combo.addItem(FILE_ITEM, None)
        self.protocol_combo.setToolTip("The movements asked for and their timing: the standard exam, or a protocol "
                                       "JSON file (docs/GUIDED_EXAM.md)")
        self.protocol_combo.activated.connect(self._protocol_chosen)
        bar.addWidget(self.protocol_combo)
        self.speak_box = QCheckBox("Speak the prompts", self)
        why = speech_unavailable_reason(self._engines)
        self.speak_box.setEnabled(not why)
        self.speak_box.setToolTip(why or "Say each prompt aloud as well (the computer's voice)")
        bar.addWidget(self.speak_box)
        self.choice_note = QLabel(self)       # a protocol file that cannot be used: said here
        self.choice_note.setStyleSheet("color: #a03000;")
        bar.addWidget(self.choice_note, 1)
        root.addLayout(bar)
        root.addWidget(self._build_stage())
        self.stage.hide()

    def _build_stage(self) -> QWidget:
        """The patient's part, shown while the exam runs: the prompt, the countdown, Repeat / Skip / Stop."""
        self.stage = QWidget(self)
        self.stage.setObjectName("guidedStage")
        self.stage.setStyleSheet("QWidget#guidedStage { background: #000000; border-radius: 6px; }")
        stage = QHBoxLayout(self.stage)
        words = QVBoxLayout()
        self.phase_label = QLabel(self.stage)
        self.prompt_label = QLabel(self.stage)
        self.prompt_label.setWordWrap(True)
        self.detail_label = QLabel(self.stage)
        self.detail_label.setWordWrap(True)
        for label in (self.phase_label, self.prompt_label, self.detail_label):
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            words.addWidget(label)
        stage.addLayout(words, 1)
        self.count_label = QLabel(self.stage)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.count_label.setMinimumWidth(int(COUNT_PX * 1.6))
        stage.addWidget(self.count_label)
        buttons = QVBoxLayout()
        self.step_label = QLabel(self.stage)
        self.step_label.setStyleSheet("color: #dddddd; font-size: 15px;")
        buttons.addWidget(self.step_label)
        self.repeat_button = QPushButton("Repeat", self.stage)
        self.repeat_button.clicked.connect(self.repeat)
        self.skip_button = QPushButton("Skip", self.stage)
        self.skip_button.clicked.connect(self.skip)
        self.stop_button = QPushButton("\u25a0 Stop exam", self.stage)
        self.stop_button.setToolTip("End the exam and the recording now: the tasks held to their end are kept "
                                    "with the recording, which is processed as usual")
        self.stop_button.clicked.connect(lambda: self._stop_recording())
        for b in (self.repeat_button, self.skip_button, self.stop_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)     # Space stays the window's Freeze
            b.setMinimumHeight(int(self.fontMetrics().height() * 2.2))
            b.setMinimumWidth(200)
            buttons.addWidget(b)
        stage.addLayout(buttons)
        # one height whatever the prompt: a taller stage would move the buttons under the clinician's
        # pointer (a Stop pressed as a wrap moved it would land on Repeat) and make the panes jump
        self.stage.setFixedHeight(STAGE_PX)
        return self.stage

    # =========================================================================================
    # the protocol
    def _protocol_chosen(self, index: int) -> None:
        if self.protocol_combo.itemData(index) is not None:
            self.choice_note.setText("")
            return
        name, _ = QFileDialog.getOpenFileName(self, "Protocol file", "", "Protocol (*.json)")
        if name:
            self.set_protocol_file(Path(name))
        else:
            self.protocol_combo.setCurrentIndex(0)

    def set_protocol_file(self, path: Path) -> bool:
        """Choose a protocol JSON file (checked now: a bad file is said here, not at the start)."""
        try:
            protocol = load_protocol(path)
        except ProtocolError as exc:
            self.choice_note.setText(str(exc))
            self.protocol_combo.setCurrentIndex(0)
            return False
        label = f"{protocol.name} ({Path(path).name}, {len(protocol.steps)} tasks, {protocol.duration_s:.0f} s)"
        index = self.protocol_combo.findData(str(path))
        if index < 0:
            self.protocol_combo.insertItem(self.protocol_combo.count() - 1, label, str(path))
            index = self.protocol_combo.count() - 2
        self.protocol_combo.setCurrentIndex(index)
        self.choice_note.setText("")
        return True

    def chosen_protocol(self) -> Protocol:
        """The protocol chosen (a file is read again: it may have been edited). Raises ProtocolError."""
        return load_protocol(self.protocol_combo.currentData() or STANDARD.name)

    # =========================================================================================
    # the exam
    @property
    def running(self) -> bool:
        return self.exam is not None and not self.exam.done

    def start(self) -> bool:
        """Record while the exam leads the patient; the exam ends the recording at its end."""
        if self.running:
            return False
        try:
            protocol = self.chosen_protocol()
        except ProtocolError as exc:
            self._say(f"The guided exam cannot start: {exc}")
            return False
        if not self._start_recording():
            return False
        self.begin(protocol)
        return True

    def begin(self, protocol: Protocol) -> None:
        """The recording has started: the exam starts at its first frame (tick)."""
        self.exam, self.now, self._ending = GuidedExam(protocol), 0.0, False
        if self.speak_box.isChecked() and self._speaker is None:
            try:
                self._speaker = self._speaker_factory(self)
            except Exception as exc:  # noqa: BLE001 - the prompts are still shown
                log.warning("text to speech could not start: %s", exc)
                self.speak_box.setChecked(False)
                self.speak_box.setToolTip(f"Speech could not start ({exc})")
        self._show()

    def tick(self, now: float) -> None:
        """The frame recorded at ``now`` (the recording's clock)."""
        if self.exam is None:
            return
        self.now = now
        self._cues(self.exam.start(now) + self.exam.tick(now))
        if self.exam.done and not self._ending:
            self._ending = True
            QTimer.singleShot(0, self, self._stop_recording)   # not from inside a frame; never once deleted

    def repeat(self) -> None:
        if self.exam is not None and not self.exam.done:
            self._cues(self.exam.repeat(self.now))

    def skip(self) -> None:
        if self.exam is not None and not self.exam.done:
            self._cues(self.exam.skip(self.now))

    def publish(self, recording: Path) -> str:
        """The recording is complete at ``recording``: end the exam (a hold in progress is not kept)
        and write its record beside it (NAME_protocol.json, whole). Returns a note for the window
        ("" when no guided exam ran). Raises OSError when the record cannot be written (none is left)."""
        exam = self.exam
        if exam is None:
            return ""
        self._cues(exam.stop(self.now) if not exam.done else [])
        self.exam = None
        self._show_end(exam)
        record = exam.record()
        if record is None:
            return "guided exam: no task was held to its end, so no protocol record"
        path = record_path_for(recording)
        write_record(path, record)
        return f"guided exam: {len(record.tasks)} of {exam.steps} tasks recorded in {path.name}"

    def abandon(self, why: str) -> None:
        """The recording failed or holds nothing: the exam ends without a record."""
        if self.exam is None:
            return
        exam, self.exam = self.exam, None
        exam.stop(self.now)
        self._show_end(exam, why)

    # =========================================================================================
    def _cues(self, cues: list[Cue]) -> None:
        for cue in cues:
            if self._speaker is not None and self.speak_box.isChecked():
                words = spoken_words(cue)
                self.spoken.append(words)
                try:
                    self._speaker.say(words)
                except Exception as exc:  # noqa: BLE001 - the prompts are still shown
                    log.warning("text to speech failed: %s", exc)
        self._show()

    def _show(self) -> None:
        running = self.running
        self.start_button.setVisible(not running)
        self.protocol_combo.setEnabled(not running)
        self.speak_box.setEnabled(not running and not speech_unavailable_reason(self._engines))
        if self.exam is None:
            return
        self.stage.show()
        self.stop_button.setEnabled(True)
        d = self.exam.display(self.now)
        colour = PHASE_COLOURS[d.phase]
        self.phase_label.setText(PHASE_WORDS[d.phase])
        self.phase_label.setStyleSheet(f"color: {colour}; font-size: 22px; font-weight: bold; letter-spacing: 2px;")
        self.prompt_label.setText(d.prompt)
        self.prompt_label.setStyleSheet(f"color: {colour}; font-size: {PROMPT_PX}px; font-weight: bold;")
        self.detail_label.setText(d.detail if d.phase is Phase.RELAX else "")
        self.detail_label.setStyleSheet("color: #eeeeee; font-size: 26px;")
        counting = d.phase in (Phase.COUNTDOWN, Phase.HOLD, Phase.RELAX) and d.seconds_left > 0
        self.count_label.setText(f"{int(-(-d.seconds_left // 1))}" if counting else "")
        self.count_label.setStyleSheet(f"color: {colour}; font-size: {COUNT_PX}px; font-weight: bold;")
        self.step_label.setText(f"Task {d.step} of {d.steps}" if d.step else "")
        self.repeat_button.setText(f"\u21ba Repeat: {_short(d.repeat_task)}" if d.repeat_task else "\u21ba Repeat")
        self.repeat_button.setEnabled(d.repeat_task is not None)
        self.skip_button.setText(f"\u21e5 Skip: {_short(d.skip_task)}" if d.skip_task else "\u21e5 Skip")
        self.skip_button.setEnabled(d.skip_task is not None)

    def _show_end(self, exam: GuidedExam, why: str = "") -> None:
        """The last words stay on the stage a few seconds (the patient sees the exam is over)."""
        d = exam.display(self.now)
        self.phase_label.setText("")
        self.prompt_label.setText(d.prompt)
        self.prompt_label.setStyleSheet(f"color: #ffffff; font-size: {PROMPT_PX}px; font-weight: bold;")
        self.detail_label.setText("")
        self.count_label.setText("")
        self.step_label.setText("")
        for b in (self.repeat_button, self.skip_button, self.stop_button):
            b.setEnabled(False)
        self.start_button.setVisible(True)
        self.protocol_combo.setEnabled(True)
        self.speak_box.setEnabled(not speech_unavailable_reason(self._engines))
        self.choice_note.setText(why or f"Last guided exam: {len(exam.takes)} of {exam.steps} tasks held to "
                                 "their end.")
        self.choice_note.setStyleSheet("color: #a03000;" if why else "color: #1e4d2b;")
        QTimer.singleShot(END_SHOWN_MS, self, self._hide_stage)     # never once the panel is deleted

    def _hide_stage(self) -> None:
        if self.exam is None:          # not when a new exam began meanwhile
            self.stage.hide()


def _short(task: str | None) -> str:
    return (task or "").replace("_", " ")
