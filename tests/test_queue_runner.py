"""The queue runner (app.batch.job_queue.runner): the one mapping from a run to a row, without Qt."""
from __future__ import annotations

import threading
from pathlib import Path

from app.base import notices
from app.batch.job_queue.queue import JobQueue
from app.batch.job_queue.jobs import Status
from app.batch.job_queue.runner import (CLI_EXISTS_HINT, WINDOW_EXISTS_HINT, QueueRunner, ending_of,
                                        outcome_of, unexpected_error)
from app.pipeline.run import Result
from app.results import verdict


def _queue(tmp_path, n=2):
    q = JobQueue()
    for i in range(n):
        q.add(tmp_path / f"v{i}.mp4", tmp_path / "out")
    assert q.start()
    return q


def test_a_finished_run_is_done_with_its_own_warnings_and_verdict(tmp_path):
    q = _queue(tmp_path)
    runner = QueueRunner(q, WINDOW_EXISTS_HINT)
    job = runner.next_request()
    own = "head turned in 30 % of frames"
    result = Result(input=job.path, ok=True, outputs={"summary": tmp_path / "s.html"}, frames=12, fps=3.0,
                    report={"verdict": {"level": verdict.WARNINGS, "reasons": ["blur"]}},
                    warnings=[notices.TEXT[notices.COARSE], own])
    row, ending = runner.on_result(job.id, outcome_of(result))
    assert row is job and job.status == Status.DONE and job.progress == 1.0
    assert job.message == own                      # the run's notice is left out, said once elsewhere
    assert job.verdict == {"level": verdict.WARNINGS, "reasons": ["blur"]}
    assert job.outputs == {"summary": tmp_path / "s.html"}
    assert ending.note == f"blur; {own}" and (ending.frames, ending.fps) == (12, 3.0)
    assert job.status_text == f"done: usable with warnings - blur; {own}"


def test_a_failure_with_outputs_in_the_way_gets_each_front_ends_hint(tmp_path):
    outcome = outcome_of(Result(input=Path("a.mp4"), ok=False, error="outputs exist.", outputs_exist=True))
    window, cli = ending_of(outcome, WINDOW_EXISTS_HINT), ending_of(outcome, CLI_EXISTS_HINT)
    assert window.status == cli.status == Status.FAILED
    assert window.error == "outputs exist." + WINDOW_EXISTS_HINT and "Replace existing outputs" in window.error
    assert cli.error.endswith("--out to write elsewhere.")
    assert ending_of(outcome_of(Result(input=Path("a"), ok=False)), CLI_EXISTS_HINT).error == "unknown error"


def test_a_cancelled_run_leaves_no_message_on_its_row(tmp_path):
    q = _queue(tmp_path, 1)
    runner = QueueRunner(q, WINDOW_EXISTS_HINT)
    job = runner.next_request()
    row, ending = runner.on_result(job.id, outcome_of(Result(input=job.path, ok=False, cancelled=True,
                                                             error="cancelled")))
    assert ending.status == Status.CANCELLED and row.status == Status.CANCELLED and row.message == ""
    assert runner.next_request() is None


def test_a_set_cancel_event_stops_the_batch_before_the_next_file(tmp_path):
    q = _queue(tmp_path, 3)
    runner = QueueRunner(q, CLI_EXISTS_HINT)
    first = runner.next_request()
    runner.on_result(first.id, outcome_of(Result(input=first.path, ok=False, error="bad")))
    cancel = threading.Event()
    cancel.set()
    assert runner.next_request(cancel) is None
    assert [j.status for j in q.waiting()] == [Status.WAITING, Status.WAITING]   # never started
    assert first.status == Status.FAILED and first.message == "bad"


def test_an_exception_is_named_with_its_type():
    assert unexpected_error(ValueError("boom")) == "unexpected error: ValueError: boom"


def test_process_has_no_mapping_of_its_own():
    """The second mapping (batch.py's) is gone: process goes through ending_of."""
    from app.batch import process

    text = Path(process.__file__).read_text(encoding="utf-8")
    assert "ending_of(" in text and 'outcome["cancelled"]' not in text and "QueueRunner(" in text
