"""The guided exam as a state machine, Qt-free: it plays a Protocol (app.measures.protocol) on the
recording's player clock and produces the Record of which task ran when.

Each step runs countdown (``lead_s``: "Raise your eyebrows ... in 3") -> hold (``hold_s``: the task;
its start and end are the record's times) -> relax (``relax_s``). The machine has no clock of its
own: the caller gives it the time of each recorded frame (``tick(now)``), so the record's times are
those of the frames in the file, and a stalled camera stalls the exam instead of running it on
without pictures. A transition happens at the first frame at or after its due time, and the next
phase is timed from that frame: every phase lasts at least what the protocol asks.

The clinician's controls:

- Repeat: the task being held, else the last task held (the patient just did it badly), else the
  countdown starts again. The new take replaces the earlier one in the record only when it is held
  to its end; a repeat interrupted by Stop leaves the earlier take. After the repeat the exam goes
  on where it was.
- Skip: the task being counted down or held (a hold cut short is not recorded; the relax follows);
  during a relax, the task that comes next.
- Stop: the exam ends; the tasks held to their end are the record, a hold in progress is not.

The record therefore holds, for each step, its last take held to the end, in time order, never
overlapping (each take is a stretch of the recording's own past). No take at all: no record.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from app.measures.protocol import RELAX_PROMPT, Protocol, Record, TaskTime

_EPS = 1e-6          # frame times are sums of floats: 1.1 + 0.3 must reach the frame at 1.4
DONE_PROMPT = "Thank you: the exam is over"
STOPPED_PROMPT = "The exam was stopped"


class Phase(enum.Enum):
    WAITING = "waiting"        # not started (before the recording's first frame)
    COUNTDOWN = "countdown"
    HOLD = "hold"
    RELAX = "relax"
    DONE = "done"


@dataclass(frozen=True)
class Cue:
    """A change of what the patient is asked: printed with its time (headless), spoken (window)."""
    t: float
    phase: Phase
    step: int              # 1-based step of the protocol (0 when done)
    steps: int
    task: str | None
    text: str              # the words to say: "Raise your eyebrows", "Relax", ...

    def line(self) -> str:
        where = f"step {self.step}/{self.steps}" if self.step else "end"
        return f"{self.t:8.2f} s  {where:<10} {self.phase.value:<9} {self.text}"


@dataclass(frozen=True)
class Display:
    """What to show now, in large type for the patient and small for the clinician."""
    phase: Phase
    prompt: str            # the large line
    detail: str            # under it: "in 3", "hold: 2 s", "next: Smile with your lips closed"
    seconds_left: float    # of the phase (0 when waiting or done)
    step: int              # 1-based, 0 when waiting or done
    steps: int
    repeat_task: str | None    # what Repeat would redo (None: Repeat restarts the countdown / does nothing)
    skip_task: str | None      # what Skip would skip (None: nothing left to skip)


class GuidedExam:
    def __init__(self, protocol: Protocol):
        self.protocol = protocol
        self.phase = Phase.WAITING
        self.stopped = False
        self._step = 0                   # the step counted down / held / just held (relax)
        self._next = 0                   # in a relax: the step that follows it
        self._resume: int | None = None  # after a repeated take: where the exam goes on
        self._until = 0.0                # end of the current phase on the player clock
        self._hold_start = 0.0
        self._takes: dict[int, TaskTime] = {}   # step index -> its last take held to the end
        self._last_held: int | None = None
        self.cues: list[Cue] = []

    # ------------------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return len(self.protocol.steps)

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def takes(self) -> list[TaskTime]:
        return sorted(self._takes.values(), key=lambda t: t.start_s)

    def record(self) -> Record | None:
        """The record of the tasks held to their end (None: none was)."""
        takes = self.takes
        return Record(self.protocol.name, tuple(takes)) if takes else None

    # ------------------------------------------------------------------------------------------
    def start(self, now: float) -> list[Cue]:
        if self.phase is not Phase.WAITING:
            return []
        return self._countdown(0, now)

    def tick(self, now: float) -> list[Cue]:
        """Advance to ``now`` (the time of the frame just recorded); the cues of what changed."""
        cues: list[Cue] = []
        while self.phase in (Phase.COUNTDOWN, Phase.HOLD, Phase.RELAX) and now >= self._until - _EPS:
            if self.phase is Phase.COUNTDOWN:
                cues += self._hold(now)
            elif self.phase is Phase.HOLD:
                self._takes[self._step] = TaskTime(self.protocol.steps[self._step].task, self._hold_start, now)
                self._last_held = self._step
                nxt = self._resume if self._resume is not None else self._step + 1
                self._resume = None
                cues += self._relax(now, nxt)
            else:
                cues += self._countdown(self._next, now)
        return cues

    def repeat(self, now: float) -> list[Cue]:
        target = self._repeat_target()
        if target is None:
            return []
        if self.phase is Phase.RELAX:
            resume = self._next
        elif self.phase is Phase.COUNTDOWN and target != self._step:
            resume = self._step                  # back to the step that was about to start
        else:                                    # the step being held, or its countdown again
            resume = self._resume if self._resume is not None else self._step + 1
        cues = self._countdown(target, now)
        self._resume = resume
        return cues

    def skip(self, now: float) -> list[Cue]:
        if self.phase is Phase.COUNTDOWN:
            nxt = self._resume if self._resume is not None else self._step + 1
            self._resume = None
            return self._countdown(nxt, now)
        if self.phase is Phase.HOLD:       # the patient is moving: the relax still follows
            nxt = self._resume if self._resume is not None else self._step + 1
            self._resume = None
            return self._relax(now, nxt)
        if self.phase is Phase.RELAX and self._next < self.steps:
            self._next += 1
        return []

    def stop(self, now: float) -> list[Cue]:
        """End the exam (a hold in progress is not recorded). Also when the source ends."""
        if self.phase is Phase.DONE:
            return []
        self.stopped = True
        return self._done(now, STOPPED_PROMPT)

    # ------------------------------------------------------------------------------------------
    def display(self, now: float) -> Display:
        left = max(0.0, self._until - now)
        repeat_task, skip_task = self._names(self._repeat_target()), self._names(self._skip_target())
        if self.phase is Phase.WAITING:
            return Display(self.phase, "Get ready", "the exam starts with the recording", 0.0, 0, self.steps,
                           None, None)
        if self.phase is Phase.DONE:
            return Display(self.phase, STOPPED_PROMPT if self.stopped else DONE_PROMPT, "", 0.0, 0, self.steps,
                           None, None)
        step = self.protocol.steps[self._step]
        if self.phase is Phase.COUNTDOWN:
            return Display(self.phase, step.prompt, f"in {math.ceil(left - 1e-9)}" if left > 0 else "now",
                           left, self._step + 1, self.steps, repeat_task, skip_task)
        if self.phase is Phase.HOLD:
            return Display(self.phase, step.prompt, f"hold: {math.ceil(left - 1e-9)}", left, self._step + 1,
                           self.steps, repeat_task, skip_task)
        nxt = (f"next: {self.protocol.steps[self._next].prompt}" if self._next < self.steps
               else "that was the last one")
        return Display(self.phase, RELAX_PROMPT, nxt, left, self._step + 1, self.steps, repeat_task, skip_task)

    def _names(self, index: int | None) -> str | None:
        return self.protocol.steps[index].task if index is not None else None

    def _repeat_target(self) -> int | None:
        if self.phase is Phase.HOLD:
            return self._step
        if self.phase in (Phase.COUNTDOWN, Phase.RELAX):
            return self._last_held if self._last_held is not None else self._step
        return None

    def _skip_target(self) -> int | None:
        if self.phase in (Phase.COUNTDOWN, Phase.HOLD):
            return self._step
        if self.phase is Phase.RELAX and self._next < self.steps:
            return self._next
        return None

    # ------------------------------------------------------------------------------------------
    def _cue(self, now: float, text: str) -> list[Cue]:
        step = self._step + 1 if self.phase is not Phase.DONE else 0
        task = self.protocol.steps[self._step].task if self.phase is not Phase.DONE else None
        cue = Cue(round(now, 3), self.phase, step, self.steps, task, text)
        self.cues.append(cue)
        return [cue]

    def _countdown(self, index: int, now: float) -> list[Cue]:
        if index >= self.steps:
            return self._done(now, DONE_PROMPT)
        self.phase, self._step = Phase.COUNTDOWN, index
        self._until = now + self.protocol.steps[index].lead_s
        return self._cue(now, f"Get ready: {self.protocol.steps[index].prompt}")

    def _hold(self, now: float) -> list[Cue]:
        self.phase, self._hold_start = Phase.HOLD, now
        self._until = now + self.protocol.steps[self._step].hold_s
        return self._cue(now, self.protocol.steps[self._step].prompt)

    def _relax(self, now: float, nxt: int) -> list[Cue]:
        self.phase, self._next = Phase.RELAX, nxt
        self._until = now + self.protocol.steps[self._step].relax_s
        return self._cue(now, RELAX_PROMPT)

    def _done(self, now: float, text: str) -> list[Cue]:
        self.phase, self._until = Phase.DONE, now
        return self._cue(now, text)
