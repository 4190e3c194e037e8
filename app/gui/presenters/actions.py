"""Which of the main window's actions are usable, from one explicit state value.

The window used to keep its busy state in scattered booleans (running, converting, closing after
the conversion, comparing); here it is one `Busy` value derived from the queue's state and the
conversion's phase, and `enabled_actions` is a pure function of a `WindowState`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from app.batch.job_queue.queue import QueueState

from app.batch.job_queue.jobs import Status
from app.batch.job_queue.jobs import RETRYABLE

# the names of the actions (and options) the window enables; the window maps each to its widget
START, CANCEL, REMOVE, RETRY, UP, DOWN = "start", "cancel", "remove", "retry", "up", "down"
OUTPUT, OPEN_SUMMARY, COMPARE = "output", "open_summary", "compare"
ALL = frozenset({START, CANCEL, REMOVE, RETRY, UP, DOWN, OUTPUT, OPEN_SUMMARY, COMPARE})


class Busy(enum.Enum):
    IDLE = "idle"                        # nothing runs: Start may begin
    PROCESSING = "processing"            # the queue runs its batch
    STOPPING = "stopping"                # Cancel was pressed: the running file is being stopped
    CONVERTING = "converting"            # a model conversion runs (nothing may start)
    CONVERTING_THEN_CLOSE = "closing"    # ... and the window closes when it has finished
    CLOSED = "closed"                    # the window is shutting down


class Conversion(enum.Enum):
    """The phase of a model conversion (model_convert.Conversion runs it)."""
    NONE = "none"
    RUNNING = "running"
    RUNNING_THEN_CLOSE = "running_then_close"


def busy_of(queue: QueueState, conversion: Conversion) -> Busy:
    """The window's one busy value (a conversion never runs beside a batch: each refuses the other)."""
    if queue is QueueState.CLOSED:
        return Busy.CLOSED
    if conversion is Conversion.RUNNING_THEN_CLOSE:
        return Busy.CONVERTING_THEN_CLOSE
    if conversion is Conversion.RUNNING:
        return Busy.CONVERTING
    return {QueueState.RUNNING: Busy.PROCESSING, QueueState.STOPPING: Busy.STOPPING}.get(queue, Busy.IDLE)


@dataclass(frozen=True)
class Selection:
    """What the window knows of the selected rows."""
    statuses: tuple[Status, ...] = ()
    can_move_up: bool = False            # a single row that may move (the queue decides)
    can_move_down: bool = False
    has_summary: bool = False            # a single finished row whose summary file is there
    has_patient: bool = False            # a single row with a patient ID (compare visits)

    @property
    def single(self) -> bool:
        return len(self.statuses) == 1


@dataclass(frozen=True)
class WindowState:
    busy: Busy = Busy.IDLE
    comparing: bool = False              # a compare page is being made (runs beside anything)
    can_process: bool = False            # the face detector model is loaded
    has_waiting: bool = False            # a row waits to be processed
    selection: Selection = Selection()


# what each busy state allows of the run and the output folder (fixed while a batch runs; a
# second Cancel while stopping cannot help); Start also needs the detector and a waiting row
RUN_ACTIONS: dict[Busy, frozenset[str]] = {
    Busy.IDLE: frozenset({START, OUTPUT}),
    Busy.PROCESSING: frozenset({CANCEL}),
    Busy.STOPPING: frozenset(),
    Busy.CONVERTING: frozenset({OUTPUT}),
    Busy.CONVERTING_THEN_CLOSE: frozenset({OUTPUT}),
    Busy.CLOSED: frozenset({OUTPUT}),
}


def _row_actions(sel: Selection, comparing: bool) -> dict[str, bool]:
    """The actions on the selected rows, whatever runs."""
    one = sel.single
    return {REMOVE: bool(sel.statuses) and Status.PROCESSING not in sel.statuses,   # a started row: Cancel stops it
            RETRY: any(s in RETRYABLE for s in sel.statuses),
            UP: one and sel.can_move_up, DOWN: one and sel.can_move_down,
            OPEN_SUMMARY: one and sel.has_summary,
            COMPARE: one and sel.has_patient and not comparing}


def enabled_actions(state: WindowState) -> frozenset[str]:
    """The names (this module's constants) of the actions usable in `state`."""
    run = RUN_ACTIONS[state.busy]
    if not (state.can_process and state.has_waiting):
        run -= {START}
    return run | {name for name, ok in _row_actions(state.selection, state.comparing).items() if ok}
