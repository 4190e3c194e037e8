"""The queue and batch core (app.batch.job_queue): Qt-free and fast, shared by the window and `process`."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.base import notices

from app.results import verdict
from app.batch.job_queue.summary import BatchSummary, FileRow
from app.batch.job_queue.queue import JobQueue, QueueState
from app.batch.job_queue.jobs import Status
from app.batch.job_queue.queue import STALE_FILES


def _queue(tmp_path: Path, *names: str) -> JobQueue:
    q = JobQueue()
    new, duplicates = q.new_jobs([tmp_path / n for n in names])
    assert not duplicates
    q.append(new)
    return q


def _done(q: JobQueue, job, level: str = verdict.GOOD) -> None:
    q.finish(job.id, Status.DONE, progress=1.0, verdict={"level": level, "reasons": []})


def test_jobs_run_in_queue_order_and_a_moved_job_runs_where_it_was_put(tmp_path):
    q = _queue(tmp_path, "a.mp4", "b.mp4", "c.mp4")
    assert q.move(2, -1) == 1                       # c before b
    assert q.start() and q.state is QueueState.RUNNING
    order = []
    while (job := q.next_job()) is not None:
        assert job.status is Status.PROCESSING and job.out_dir == tmp_path and q.is_current(job.id)
        order.append(job.path.name)
        _done(q, job)
    assert order == ["a.mp4", "c.mp4", "b.mp4"]
    summary = q.end()
    assert q.state is QueueState.IDLE and q.current is None
    assert (summary.done, summary.failed, summary.cancelled, summary.outcome) == (3, 0, 0, "finished")


def test_a_file_is_queued_once_while_it_waits_or_runs(tmp_path):
    q = _queue(tmp_path, "a.mp4")
    new, duplicates = q.new_jobs([tmp_path / "a.mp4", tmp_path / "b.mp4"])
    assert [j.path.name for j in new] == ["b.mp4"] and duplicates == [tmp_path / "a.mp4"]


def test_only_waiting_jobs_move_and_the_processing_one_is_not_removable(tmp_path):
    q = _queue(tmp_path, "a.mp4", "b.mp4")
    q.start()
    running = q.next_job()
    assert not q.can_move(1, -1) and q.move(1, -1) == 1
    assert not q.removable(q.row_of(running.id)) and q.removable(1)


def test_stop_cancels_the_current_job_and_starts_no_other(tmp_path):
    q = _queue(tmp_path, "a.mp4", "b.mp4")
    q.start()
    job = q.next_job()
    cancel = q.cancel_event
    assert q.request_stop() and cancel.is_set() and q.state is QueueState.STOPPING
    assert not q.request_stop()                      # once
    q.finish(job.id, Status.CANCELLED, message="")
    assert q.next_job() is None                      # b waits: stop means after the current one
    summary = q.end()
    assert summary.stopped and summary.outcome == "cancelled" and summary.waiting == 1
    assert summary.window_text() == "Cancelled: 0 done, 1 cancelled, 1 waiting"
    assert q.job_at(1).status is Status.WAITING


def test_closing_cancels_for_good(tmp_path):
    q = _queue(tmp_path, "a.mp4", "b.mp4")
    q.start()
    job = q.next_job()
    cancel = q.cancel_event
    q.close()
    assert cancel.is_set() and q.closed and not q.request_stop()
    q.finish(job.id, Status.CANCELLED)               # a late result is recorded, nothing starts
    assert q.next_job() is None and not q.start()
    q.end()
    assert q.closed


def test_retry_puts_finished_failed_and_cancelled_rows_back_to_waiting(tmp_path):
    q = _queue(tmp_path, "a.mp4", "b.mp4", "c.mp4")
    q.start()
    for status in (Status.DONE, Status.FAILED, Status.CANCELLED):
        job = q.next_job()
        q.finish(job.id, status, message="why", outputs={"summary": "x"})
    q.end()
    again = q.retry([0, 1, 2, 7])                    # the finished row is kept: its outputs exist
    assert [j.path.name for j in again] == ["b.mp4", "c.mp4"]
    assert all(j.status is Status.WAITING and j.message == "" and j.outputs == {} and j.out_dir is None for j in again)
    assert not any(j.replace for j in again)         # nothing of theirs to replace
    finished = q.job_at(0)
    assert finished.status is Status.DONE and finished.outputs == {"summary": "x"}   # its summary still opens
    assert q.finished_among([0, 1, 2]) == [finished]
    assert q.retry([0], replace_finished=True) == [finished]      # the user agreed to replace its outputs
    assert finished.status is Status.WAITING and finished.replace
    assert q.start()                                 # a new batch counts from zero
    assert q.summary().done == 0


def test_the_run_counts_every_row_it_was_to_process(tmp_path):
    """"1 of 4 files done" after a stop, not "1 of 2": the rows waiting at Start, and those queued
    (or retried) while it runs, belong to the run; a removed row does not."""
    q = _queue(tmp_path, "a.mp4", "b.mp4", "c.mp4", "d.mp4")
    assert q.start() and q.run_size == 4
    _done(q, q.next_job())
    new, _ = q.new_jobs([tmp_path / "e.mp4"])
    q.append(new)                                    # added while it runs: processed by this run
    assert q.run_size == 5
    q.remove_at(q.row_of(new[0].id))
    assert q.run_size == 4
    job = q.next_job()
    assert q.request_stop()
    q.finish(job.id, Status.CANCELLED)
    summary = q.end()
    assert (summary.done, summary.cancelled, summary.waiting, summary.planned) == (1, 1, 2, 4)
    new, _ = q.new_jobs([tmp_path / "f.mp4"])
    q.append(new)                                    # after the run: not part of it
    assert q.run_size == 4


def test_counts_belong_to_their_batch_and_flag_files_not_rated_good(tmp_path):
    q = _queue(tmp_path, "earlier.mp4")
    q.start()
    _done(q, q.next_job(), verdict.NOT_USABLE)
    q.end()
    q.append(q.new_jobs([tmp_path / "now.mp4", tmp_path / "bad.mp4"])[0])
    q.start()
    _done(q, q.next_job(), verdict.GOOD)
    q.finish(q.next_job().id, Status.FAILED, message="broken")
    summary = q.end()
    assert (summary.done, summary.failed, summary.flagged, summary.total) == (1, 1, 0, 2)
    assert summary.outcome == "failed"
    assert summary.window_text() == "Queue finished: 1 done, 1 failed (reason in the Status column)"


def test_colliding_outputs_fail_before_anything_starts(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    q = _queue(tmp_path, "v1/smile.mp4", "v2/smile.mp4", "other.mp4")
    q.default_out_dir = tmp_path / "out"
    changed = []
    q.on_change = changed.append
    assert q.start()
    assert [j.status for j in q.jobs] == [Status.FAILED, Status.FAILED, Status.WAITING]
    assert all(j.message.startswith("not processed: ") for j in q.jobs[:2]) and len(changed) == 2
    assert q.next_job().path.name == "other.mp4"
    assert q.summary().failed == 2


def test_nothing_to_start_and_no_second_start(tmp_path):
    q = JobQueue()
    assert not q.start() and q.state is QueueState.IDLE
    q = _queue(tmp_path, "a.mp4")
    assert q.start() and not q.start()


def test_notices_are_kept_by_code_for_the_summary(tmp_path):
    q = _queue(tmp_path, "a.mp4")
    q.start()
    q.note(STALE_FILES, "Removed 2 partial files")
    assert [n.code for n in q.notices] == [STALE_FILES]
    q.end()
    q.retry([0])
    q.start()
    assert q.notices == []                           # each batch says its own


def test_the_terminal_summary_counts_rows_once():
    rows = [FileRow(Path("a.mp4"), Status.DONE, verdict=verdict.GOOD),
            FileRow(Path("b.mp4"), Status.SKIPPED, "already done", verdict=verdict.WARNINGS),
            FileRow(Path("c.mp4"), Status.FAILED, "broken"),
            FileRow(Path("d.mp4"), Status.CANCELLED, "not started")]
    summary = BatchSummary.of_rows(rows, {r.path: r.path.name for r in rows})
    assert summary.terminal_text() == ("2 of 4 succeeded, 1 of them already done earlier (1 not rated good: "
                                       "read the verdict before use); not done: c.mp4, d.mp4")


def test_the_terminal_summary_names_ten_inputs_not_done_at_most():
    rows = [FileRow(Path(f"{i}.mp4"), Status.FAILED) for i in range(12)]
    text = BatchSummary.of_rows(rows, {r.path: r.path.name for r in rows}).terminal_text()
    assert text.startswith("0 of 12 succeeded; not done: 0.mp4,") and text.endswith("9.mp4 and 2 more")


def test_the_summary_is_written_in_one_place():
    """The front ends take the end-of-batch text from app.batch.job_queue.summary."""
    root = Path(__file__).resolve().parents[1] / "app"
    for path in (root / "batch" / "process.py", *sorted((root / "gui").glob("*.py"))):
        text = path.read_text(encoding="utf-8")
        assert "not rated good" not in text and "Queue finished" not in text, path


@pytest.mark.parametrize("module", ["queue", "summary", "jobs", "runner"])
def test_front_ends_compare_codes_not_notice_text(module):
    """The core never tests a notice's words (app.base.notices.TEXT is only ever said, not compared)."""
    path = Path(__file__).resolve().parents[1] / "app" / "batch" / "job_queue" / f"{module}.py"
    assert "notices.TEXT" not in path.read_text(encoding="utf-8")


def test_batch_leaves_out_the_run_notices_by_code():
    from app.batch import process as batch

    tree = ast.parse(Path(batch.__file__).read_text(encoding="utf-8"))
    compares_text = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)
                     and any(isinstance(c, ast.Name) and c.id in ("batch_warnings", "run_notices") for c in n.comparators)]
    assert not compares_text
    own = "head turned > 12 deg in 30 % of frames"
    outcome = {"ok": True, "cancelled": False, "error": "", "outputs_exist": False, "verdict": verdict.GOOD,
               "warnings": [notices.TEXT[notices.COARSE], own], "reasons": [], "frames": 3, "fps": 1.0}
    import io

    out = io.StringIO()
    row = batch.report_outcome(Path("a.mp4"), outcome, out, io.StringIO())
    assert row == FileRow(Path("a.mp4"), Status.DONE, own, 3, 1.0, verdict.GOOD)
    assert notices.TEXT[notices.COARSE] not in out.getvalue()


def test_planned_inputs_keep_their_output_folders_and_skips_count_as_succeeded(tmp_path):
    """`process`: inputs queued with the folders the plan chose; --resume's kept sets are skipped."""
    q = JobQueue()
    a = q.add(tmp_path / "a.mp4", tmp_path / "out" / "visit1")
    q.add(tmp_path / "b.mp4", tmp_path / "out" / "visit2")
    assert q.start()
    assert q.next_job() is a and a.out_dir == tmp_path / "out" / "visit1"
    q.finish(a.id, Status.SKIPPED, message="already done")
    q.finish(q.next_job().id, Status.DONE)
    summary = q.end()
    assert (summary.skipped, summary.done, summary.succeeded, summary.total) == (1, 1, 2, 2)
