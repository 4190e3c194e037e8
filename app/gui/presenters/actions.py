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


def enabled_actions(state: WindowState) -> frozenset[str]:
    """The names (this module's constants) of the actions usable in `state`."""
    sel, busy = state.selection, state.busy
    on: set[str] = set()
    if busy is Busy.IDLE and state.can_process and state.has_waiting:
        on.add(START)
    if busy is Busy.PROCESSING:
        on.add(CANCEL)
    if busy not in (Busy.PROCESSING, Busy.STOPPING):
        on.add(OUTPUT)                   # the output folder is fixed while a batch runs
    # a row that has started is stopped by Cancel, never removed
    if sel.statuses and Status.PROCESSING not in sel.statuses:
        on.add(REMOVE)
    if any(s in RETRYABLE for s in sel.statuses):
        on.add(RETRY)
    if sel.single:
        on.update(name for name, ok in ((UP, sel.can_move_up), (DOWN, sel.can_move_down),
                                        (OPEN_SUMMARY, sel.has_summary),
                                        (COMPARE, sel.has_patient and not state.comparing)) if ok)
    return frozenset(on)
