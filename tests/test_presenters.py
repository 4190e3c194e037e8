"""The main window's presenters (app.gui.presenters): its decisions, tested without Qt."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.batch.job_queue.jobs import Job, Status

from app.batch.job_queue.queue import QueueState
from app.gui.presenters import actions, adding
from app.gui.presenters.actions import Busy, Conversion, Selection, WindowState, busy_of, enabled_actions
from tests.fresh_imports import packages_loaded


def test_the_presenters_import_no_qt():
    assert packages_loaded("import app.gui.presenters.actions, app.gui.presenters.adding",
                           ("PySide6", "shiboken6")) == []


# --- busy state -------------------------------------------------------------------------------
@pytest.mark.parametrize("queue,conversion,busy", [
    (QueueState.IDLE, Conversion.NONE, Busy.IDLE),
    (QueueState.RUNNING, Conversion.NONE, Busy.PROCESSING),
    (QueueState.STOPPING, Conversion.NONE, Busy.STOPPING),
    (QueueState.IDLE, Conversion.RUNNING, Busy.CONVERTING),
    (QueueState.IDLE, Conversion.RUNNING_THEN_CLOSE, Busy.CONVERTING_THEN_CLOSE),
    (QueueState.CLOSED, Conversion.RUNNING, Busy.CLOSED),
])
def test_one_busy_value_from_the_queue_and_the_conversion(queue, conversion, busy):
    assert busy_of(queue, conversion) is busy


# --- enabled actions --------------------------------------------------------------------------
def _state(**kw) -> WindowState:
    base = {"busy": Busy.IDLE, "can_process": True, "has_waiting": True}
    base.update(kw)
    return WindowState(**base)


def test_idle_with_waiting_files_and_models_may_start_and_nothing_else_without_a_selection():
    assert enabled_actions(_state()) == {actions.START, actions.OUTPUT}


@pytest.mark.parametrize("kw", [{"can_process": False}, {"has_waiting": False}, {"busy": Busy.CONVERTING},
                                {"busy": Busy.PROCESSING}, {"busy": Busy.STOPPING}, {"busy": Busy.CLOSED},
                                {"busy": Busy.CONVERTING_THEN_CLOSE}])
def test_start_needs_idle_models_and_a_waiting_file(kw):
    assert actions.START not in enabled_actions(_state(**kw))


def test_cancel_only_while_processing_and_the_output_folder_fixed_while_a_batch_runs():
    assert enabled_actions(_state(busy=Busy.PROCESSING)) == {actions.CANCEL}
    assert enabled_actions(_state(busy=Busy.STOPPING)) == frozenset()   # a second cancel cannot help
    assert actions.OUTPUT in enabled_actions(_state(busy=Busy.CONVERTING))


def test_a_processing_row_is_never_removable_but_others_are():
    sel = Selection(statuses=(Status.WAITING, Status.PROCESSING))
    assert actions.REMOVE not in enabled_actions(_state(selection=sel))
    assert actions.REMOVE in enabled_actions(_state(selection=Selection(statuses=(Status.WAITING, Status.DONE))))


@pytest.mark.parametrize("status,retry", [(Status.WAITING, False), (Status.PROCESSING, False), (Status.DONE, True),
                                          (Status.FAILED, True), (Status.CANCELLED, True)])
def test_retry_for_ended_rows_only(status, retry):
    assert (actions.RETRY in enabled_actions(_state(selection=Selection(statuses=(status,))))) is retry


def test_move_summary_and_compare_need_a_single_row():
    one = Selection(statuses=(Status.DONE,), can_move_up=True, can_move_down=False, has_summary=True, has_patient=True)
    on = enabled_actions(_state(selection=one))
    assert {actions.UP, actions.OPEN_SUMMARY, actions.COMPARE} <= on and actions.DOWN not in on
    two = Selection(statuses=(Status.DONE, Status.DONE), can_move_up=True, has_summary=True, has_patient=True)
    assert not {actions.UP, actions.OPEN_SUMMARY, actions.COMPARE} & enabled_actions(_state(selection=two))
    assert actions.COMPARE not in enabled_actions(_state(selection=one, comparing=True))


# --- added files ------------------------------------------------------------------------------
def _job(i, name, status) -> Job:
    return Job(i, Path("/v") / name, status=status)


def test_added_files_are_sorted_by_the_row_the_queue_has():
    rows = {"done.mp4": _job(1, "done.mp4", Status.DONE), "bad.mp4": _job(2, "bad.mp4", Status.FAILED),
            "stop.mp4": _job(3, "stop.mp4", Status.CANCELLED), "wait.mp4": _job(4, "wait.mp4", Status.WAITING)}
    videos = [Path("/v") / n for n in ("done.mp4", "bad.mp4", "new.mp4", "stop.mp4", "wait.mp4")]
    known = adding.sort_known(videos, lambda p: rows.get(Path(p).name))
    assert known.finished == [Path("/v/done.mp4")]
    assert [j.id for j in known.requeue] == [2, 3]
    assert known.fresh == [Path("/v/new.mp4"), Path("/v/wait.mp4")]     # the queue refuses the duplicate


def test_the_notes_say_each_outcome_once():
    added = [_job(1, "a.mp4", Status.WAITING), _job(2, "b.mp4", Status.WAITING)]
    again = [_job(3, "c.mp4", Status.WAITING)]
    notes = adding.added_notes(added, again, [Path("d.mp4"), Path("e.mp4")], [Path("f.mp4")],
                               [(Path("notes.txt"), "not a video file")], {"patient": "P1", "visit": ""})
    assert notes[0] == "Added 2 videos for patient P1"
    assert notes[1] == "c.mp4 queued again (had failed or been cancelled)"
    assert notes[2].startswith("d.mp4 and 1 more already processed")
    assert notes[3] == "1 already in the queue"
    assert notes[4].startswith("Not added: notes.txt (not a video file)")
    assert adding.added_notes([], [], [], []) == []
    assert adding.added_notes(added[:1], [], [], [], subject={"patient": ""}) == ["Added 1 video"]


def test_retry_says_what_was_replaced_and_kept():
    a, b, c = (_job(i, f"{i}.mp4", Status.WAITING) for i in (1, 2, 3))
    assert adding.retry_note([a, b], [b], ["3.mp4"], running=False) == (
        "2 files queued again (1 finished: its outputs are replaced); 1 finished kept as it is: press Start")
    assert adding.retry_note([a], [], [], running=True) == "1 file queued again"
    assert adding.retry_note([], [c], ["3.mp4", "4.mp4"], running=False) == (
        "3.mp4 and 1 more not queued again: its results are kept")
    assert adding.retry_note([], [], [], running=False).startswith("Select failed")


def test_the_quit_question_follows_the_queue():
    text, informative, yes, no = adding.quit_question("a.mp4")
    assert text == "Stop processing and quit?" and informative.startswith("a.mp4 is being processed")
    assert (yes, no) == ("Stop and quit", "Keep processing")
    assert adding.quit_question(None)[0] == "Processing has finished. Quit now?"
