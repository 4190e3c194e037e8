"""The ordered jobs and the run's state machine (Qt-free; the window's table observes it).

States: IDLE --start()--> RUNNING --request_stop()--> STOPPING --end()--> IDLE; close() from any
state --> CLOSED, for good (the window is going: a late result is recorded on its row, nothing starts).
A batch is one start() to its end(): its rows, counts and notices are counted only there, so a
summary never mixes in rows finished by an earlier batch.
"""
from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from app.results import verdict
from app.batch.job_queue.jobs import RETRYABLE, Job, Status
from app.batch.job_queue.summary import BatchSummary
from app.base.outputs import find_collisions

STALE_FILES = "stale_files"     # partial files of a killed run were removed from an output folder


class QueueState(enum.Enum):
    IDLE = "idle"                # nothing runs; Start may begin a batch
    RUNNING = "running"          # working through the waiting jobs, one at a time
    STOPPING = "stopping"        # stop requested: the current job is cancelled, nothing more starts
    CLOSED = "closed"            # shut down for good


@dataclass(frozen=True)
class Notice:
    """Something said during a batch and repeated in its summary. Tested by `code`, never by text."""
    code: str
    text: str


class JobQueue:
    def __init__(self, on_change: Callable[[Job], None] | None = None):
        self._jobs: list[Job] = []
        self._next_id = 1
        self.default_out_dir: Path | None = None    # None: beside each input
        self.on_change = on_change or (lambda job: None)   # a job's fields changed (the table repaints its row)
        self._state = QueueState.IDLE
        self.current: Job | None = None
        self.cancel_event: threading.Event | None = None   # the current job's; set by stop and close
        self._batch_ids: set[int] = set()
        self._run_ids: set[int] = set()      # the rows this batch is to process (waiting at start, or queued during it)
        self._counts = dict.fromkeys((Status.DONE, Status.SKIPPED, Status.FAILED, Status.CANCELLED), 0)
        self.notices: list[Notice] = []

    # --- the ordered jobs ---------------------------------------------------------------------
    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def __len__(self) -> int:
        return len(self._jobs)

    def job_at(self, row: int) -> Job:
        return self._jobs[row]

    def job_by_id(self, job_id: int) -> Job | None:
        return next((j for j in self._jobs if j.id == job_id), None)

    def row_of(self, job_id: int) -> int:
        return next((i for i, j in enumerate(self._jobs) if j.id == job_id), -1)

    def find_job(self, path) -> Job | None:
        """The last row for this file (same resolved path), or None."""
        target = Path(path).resolve()
        return next((j for j in reversed(self._jobs) if j.path.resolve() == target), None)

    def new_jobs(self, paths: Iterable) -> tuple[list[Job], list[Path]]:
        """Jobs for these paths (not yet queued: append() them), and the paths refused because the
        file is already waiting or processing (a file is never queued twice)."""
        active = {j.path.resolve() for j in self._jobs if j.status in (Status.WAITING, Status.PROCESSING)}
        new: list[Job] = []
        duplicates: list[Path] = []
        for p in map(Path, paths):
            if p.resolve() in active:
                duplicates.append(p)
                continue
            active.add(p.resolve())
            new.append(Job(id=self._next_id, path=p))
            self._next_id += 1
        return new, duplicates

    def append(self, jobs: list[Job]) -> None:
        self._jobs.extend(jobs)
        if self.running:         # added while a batch runs: this batch processes them too
            self._run_ids.update(j.id for j in jobs)

    def add(self, path: Path, out_dir: Path | None = None) -> Job:
        """Queue one input as planned (the CLI: its output folder already chosen, duplicates
        already refused by the plan's collision check)."""
        job = Job(id=self._next_id, path=Path(path), out_dir=out_dir)
        self._next_id += 1
        self._jobs.append(job)
        return job

    def removable(self, row: int) -> bool:
        """Any row but the one being processed (Cancel stops that one)."""
        return 0 <= row < len(self._jobs) and self._jobs[row].status != Status.PROCESSING

    def remove_at(self, row: int) -> None:
        self._run_ids.discard(self._jobs[row].id)
        del self._jobs[row]

    def can_move(self, row: int, delta: int) -> bool:
        """Only a waiting job moves, and only past another waiting one."""
        target = row + delta
        return (0 <= row < len(self._jobs) and 0 <= target < len(self._jobs)
                and self._jobs[row].status == Status.WAITING and self._jobs[target].status == Status.WAITING)

    def move(self, row: int, delta: int) -> int:
        """Swap a waiting row with its waiting neighbour; returns the row's new position."""
        if not self.can_move(row, delta):
            return row
        self._jobs.insert(row + delta, self._jobs.pop(row))
        return row + delta

    def update(self, job_id: int, **changes) -> Job | None:
        job = self.job_by_id(job_id)
        if job is None:
            return None
        for k, v in changes.items():
            setattr(job, k, v)
        self.on_change(job)
        return job

    def finished_among(self, rows: Iterable[int]) -> list[Job]:
        """The finished (done) jobs of these rows: their outputs exist, so a retry replaces them."""
        return self._jobs_at(rows, {Status.DONE})

    def _jobs_at(self, rows: Iterable[int], statuses) -> list[Job]:
        """The jobs of these rows (each once, in row order; rows that do not exist ignored) whose
        status is one of `statuses`."""
        return [self._jobs[r] for r in sorted(set(rows)) if 0 <= r < len(self._jobs) and self._jobs[r].status in statuses]

    def retry(self, rows: Iterable[int], *, replace_finished: bool = False) -> list[Job]:
        """Put failed, cancelled or finished rows back to waiting; returns the jobs queued again.

        A finished row is queued again only with ``replace_finished`` (the user agreed to replace
        its outputs): its run then replaces them (``Job.replace``). Without it the row is left as
        it is, its results still open: queued again it could only fail with "outputs already
        exist", and it would have lost its summary on the way."""
        again = self._jobs_at(rows, RETRYABLE if replace_finished else set(RETRYABLE) - {Status.DONE})
        for job in again:
            replace = job.replace or job.status == Status.DONE
            self.update(job.id, status=Status.WAITING, progress=0.0 if job.frames else None, frames_done=0,
                        message="", verdict=None, outputs={}, out_dir=None, replace=replace)
            if self.running:
                self._run_ids.add(job.id)
        return again

    def next_waiting(self) -> Job | None:
        return next((j for j in self._jobs if j.status == Status.WAITING), None)

    def waiting(self, after: Job | None = None) -> list[Job]:
        return [j for j in self._jobs if j.status == Status.WAITING and j is not after]

    def out_dir_for(self, job: Job) -> Path:
        """Where a job's outputs go: fixed once it starts, else the chosen folder or its input's."""
        if job.out_dir is not None:
            return job.out_dir
        return self.default_out_dir or job.path.parent

    # --- the run ------------------------------------------------------------------------------
    @property
    def state(self) -> QueueState:
        """Changed only by start, request_stop, end and close (front ends read it)."""
        return self._state

    @property
    def running(self) -> bool:
        """A batch is under way (also while it stops)."""
        return self.state in (QueueState.RUNNING, QueueState.STOPPING)

    @property
    def closed(self) -> bool:
        return self.state is QueueState.CLOSED

    @property
    def stopping(self) -> bool:
        return self.state is QueueState.STOPPING

    @property
    def run_size(self) -> int:
        """How many rows this batch is to process: those waiting when it started and those queued
        while it runs, less any removed ("3 of 4" counts these, never only the ones reached)."""
        present = {j.id for j in self._jobs}
        return len(self._run_ids & present)

    @property
    def finished_in_batch(self) -> int:
        """Jobs of this batch that have ended (done, failed or cancelled)."""
        return sum(self._counts.values())

    def start(self) -> bool:
        """Begin a batch over the waiting jobs; False when one runs, the queue is closed or nothing waits."""
        if self._state is not QueueState.IDLE or self.next_waiting() is None:
            return False
        self._state = QueueState.RUNNING
        self._batch_ids = set()
        self._run_ids = {j.id for j in self.waiting()}
        self._counts = dict.fromkeys(self._counts, 0)
        self.notices = []
        self._refuse_collisions()
        return True

    def _refuse_collisions(self) -> None:
        """Waiting jobs whose outputs would meet those of another job of the queue (same name, same
        output folder) fail before anything starts, with the reason; none of them is preferred."""
        waiting = self.waiting()
        again = {j.path.resolve() for j in waiting}        # the same file once more replaces its own outputs
        jobs = waiting + [j for j in self._jobs if j.status == Status.DONE and j.path.resolve() not in again]
        clashes = find_collisions([(j.path, self.out_dir_for(j)) for j in jobs])
        for job in waiting:
            if job.path in clashes:
                self.update(job.id, status=Status.FAILED, message=f"not processed: {clashes[job.path]}")
                self._count(job, Status.FAILED)

    def next_job(self) -> Job | None:
        """The next waiting job, now processing with its output folder fixed and its own cancel
        event; None once a stop was requested or nothing waits (then end() the batch)."""
        job = self.next_waiting() if self.state is QueueState.RUNNING else None
        if job is None:
            return None
        self.cancel_event = threading.Event()
        self.current = job
        self._batch_ids.add(job.id)
        self.update(job.id, status=Status.PROCESSING, out_dir=self.out_dir_for(job), frames_done=0,
                    progress=0.0 if job.frames else None, message="")
        return job

    def is_current(self, job_id: int) -> bool:
        return self.current is not None and self.current.id == job_id

    def finish(self, job_id: int, status: Status, **changes) -> Job | None:
        """The job ended (done, skipped, failed or cancelled): record it, count it for this batch."""
        job = self.update(job_id, status=status, **changes)
        if job is not None:
            self._count(job, status)
        self.current = None
        self.cancel_event = None
        return job

    def _count(self, job: Job, status: Status) -> None:
        self._batch_ids.add(job.id)
        self._counts[status] += 1

    def note(self, code: str, text: str) -> None:
        """Something said during this batch, to be repeated in its summary."""
        self.notices.append(Notice(code, text))

    def request_stop(self) -> bool:
        """Stop the batch: the current job is cancelled (it leaves no output), nothing more starts.
        False when no batch runs or a stop was already requested."""
        if self._state is not QueueState.RUNNING:
            return False
        self._state = QueueState.STOPPING
        self._cancel_current()
        return True

    def close(self) -> None:
        """For good: cancel the current job; nothing starts again."""
        self._state = QueueState.CLOSED
        self._cancel_current()

    def _cancel_current(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()

    def end(self) -> BatchSummary:
        """The batch is over (nothing more to start): back to IDLE, and what it did."""
        summary = self.summary()
        if not self.closed:
            self._state = QueueState.IDLE
        self.current = None
        return summary

    def summary(self) -> BatchSummary:
        levels = [j.level for j in self._jobs if j.status == Status.DONE and j.id in self._batch_ids]
        return BatchSummary(done=self._counts[Status.DONE], skipped=self._counts[Status.SKIPPED],
                            failed=self._counts[Status.FAILED],
                            cancelled=self._counts[Status.CANCELLED], waiting=len(self.waiting()),
                            flagged=sum(lv != verdict.GOOD for lv in levels), planned=self.run_size,
                            stopped=self.state is QueueState.STOPPING)
