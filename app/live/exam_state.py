"""The live exam's recording state machine, Qt-free: one home for the live window
(app/gui/live_window.py) and the `live` command (app/live/session.py, app/live/command.py).

    IDLE --begin--> RECORDING --finish--> FINISHING --finished--> IDLE
                        |                     |
                        +------fail-----------+--> FAILED --begin--> RECORDING

IDLE: nothing recorded; Record (and the guided exam's Start) allowed. RECORDING: every frame goes
to the recorder on the recording's clock; Stop and Capture rest (once a frame is in) allowed, the
camera and the folder stay as they are (one picture size per file), quitting asks first.
FINISHING: Stop was pressed, the encoder catches up and the file is published; nothing else
starts meanwhile. FAILED: a write failed (a full disk): the part written is kept; like IDLE a new
recording may begin. A transition that is not allowed raises :class:`RefusedTransition` (a bug in
the caller, never a clinician's click: the views ask :meth:`ExamState.allows` first).

The clock: the recording's time of a frame is its source time minus the first recorded frame's
(``origin=None``, the window: a camera's times start anywhere) or minus a given origin (the
command: the file's own times, 0 at its start, as the guided exam's prompts print them).
"""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from app.live.timing import RecordingTiming


class Phase(enum.Enum):
    IDLE = "idle"
    RECORDING = "recording"
    FINISHING = "finishing"
    FAILED = "failed"


class Action(enum.Enum):
    RECORD = "record"               # Record, and the guided exam's Start (it records)
    STOP = "stop"
    CAPTURE_REST = "capture rest"
    FREEZE = "freeze"               # the panes only: never touches the recording
    CHANGE_CAMERA = "change camera"  # also the folder: one size and one place per recording
    QUIT_WITHOUT_ASKING = "quit without asking"


class Controls(NamedTuple):
    """Which of the live window's controls are enabled (the window only applies it)."""
    record: bool        # Record / Stop
    rest: bool          # Capture rest (pressed before the first frame it says so)
    freeze: bool
    camera: bool        # the camera list
    folder: bool        # Change... (the recordings' folder)
    guided: bool        # the guided exam's Start


class RefusedTransition(RuntimeError):
    """A transition the current phase does not allow."""


_ALLOWED = {
    Phase.IDLE: {Action.RECORD, Action.FREEZE, Action.CHANGE_CAMERA, Action.QUIT_WITHOUT_ASKING},
    Phase.RECORDING: {Action.STOP, Action.CAPTURE_REST, Action.FREEZE},
    Phase.FINISHING: {Action.FREEZE},
    Phase.FAILED: {Action.RECORD, Action.FREEZE, Action.CHANGE_CAMERA, Action.QUIT_WITHOUT_ASKING},
}


@dataclass
class ExamState:
    """Where the exam is, and the recording's clock while it records."""
    phase: Phase = Phase.IDLE
    pressed: float | None = None      # perf_counter when Record was pressed (None: at the first frame)
    origin: float | None = None       # source time of the recording's 0 (None: the first frame's)
    last: float = 0.0                 # recording clock of the last recorded frame
    arrived: float = 0.0              # perf_counter when that frame arrived
    first_wall: float | None = None   # perf_counter at the first recorded frame (the sound's clock)
    rest_mark: float | None = None    # recording clock when Capture rest was pressed
    times: list[float] = field(default_factory=list)   # every recorded frame's time (the recording's clock)

    # -----------------------------------------------------------------------------------------
    # what is allowed
    def allows(self, action: Action) -> bool:
        if action is Action.CAPTURE_REST:
            return self.phase is Phase.RECORDING and bool(self.times)   # the rest is marked on a frame
        return action in _ALLOWED[self.phase]

    def controls(self, *, has_source: bool, frozen: bool, has_cameras: bool) -> Controls:
        """What the window enables: nothing starts without a picture; a frozen picture can always
        be let go; one camera and one folder per recording."""
        record = has_source and self.allows(Action.RECORD)
        return Controls(record=record or self.allows(Action.STOP), rest=self.recording,
                        freeze=has_source or frozen, camera=self.allows(Action.CHANGE_CAMERA) and has_cameras,
                        folder=self.allows(Action.CHANGE_CAMERA), guided=record)

    @property
    def recording(self) -> bool:
        return self.phase is Phase.RECORDING

    @property
    def started(self) -> bool:
        """A frame is in: the recording has a clock."""
        return bool(self.times)

    def _require(self, action: Action) -> None:
        if not self.allows(action):
            raise RefusedTransition(f"{action.value} is not allowed while {self.phase.value}")

    # -----------------------------------------------------------------------------------------
    # transitions
    def begin(self, pressed: float | None = None, *, origin: float | None = None) -> None:
        """Record: a new recording's clock, from nothing."""
        self._require(Action.RECORD)
        self.phase, self.pressed, self.origin = Phase.RECORDING, pressed, origin
        self.last, self.arrived, self.first_wall, self.rest_mark, self.times = 0.0, 0.0, None, None, []

    def frame(self, t: float, arrived: float | None = None) -> float:
        """A frame of source time ``t`` is recorded: its time on the recording's clock."""
        if self.phase is not Phase.RECORDING:
            raise RefusedTransition(f"a frame is recorded only while recording, not while {self.phase.value}")
        arrived = time.perf_counter() if arrived is None else arrived
        if not self.times:
            self.first_wall = arrived
            if self.origin is None:
                self.origin = t
            if self.pressed is None:
                self.pressed = arrived
        self.last, self.arrived = t - (self.origin or 0.0), arrived
        self.times.append(self.last)
        return self.last

    def mark_rest(self) -> float:
        """Capture rest: the rest starts at the last recorded frame."""
        self._require(Action.CAPTURE_REST)
        self.rest_mark = self.last
        return self.last

    def finish(self) -> None:
        """Stop: the recording is being finished (the encoder catches up, the file is published)."""
        self._require(Action.STOP)
        self.phase = Phase.FINISHING

    def finished(self) -> None:
        """The recording is handed over (or found empty): ready for the next."""
        if self.phase is not Phase.FINISHING:
            raise RefusedTransition(f"nothing is being finished while {self.phase.value}")
        self.phase = Phase.IDLE

    def fail(self) -> None:
        """A write failed: the part written is kept; a new recording may begin."""
        if self.phase not in (Phase.RECORDING, Phase.FINISHING):
            raise RefusedTransition(f"nothing can fail while {self.phase.value}")
        self.phase = Phase.FAILED

    # -----------------------------------------------------------------------------------------
    # figures
    def held_s(self, fps: float, now: float | None = None) -> float:
        """How long the recording ran: from Record (or the first frame) to one frame after the last
        frame that arrived (a camera unplugged mid-recording sends no more frames: that time is not
        counted as frames missing). Nothing arrived: until ``now`` when Record was pressed, else 0."""
        if self.times:
            return self.arrived + 1.0 / fps - (self.pressed if self.pressed is not None else self.first_wall or 0.0)
        if self.pressed is None:
            return 0.0
        return (time.perf_counter() if now is None else now) - self.pressed

    def timing(self, fps: float, recorded: int | None = None, now: float | None = None) -> RecordingTiming:
        """The recording against the time it ran; ``recorded``: the frames the file holds (the
        first ones of ``times``), when fewer were written than handed over."""
        times = self.times if recorded is None else self.times[:recorded]
        return RecordingTiming.of(self.held_s(fps, now), times, fps)
