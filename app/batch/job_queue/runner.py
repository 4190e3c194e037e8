"""The queue's run loop without Qt: what runs next, and what a finished run means for its row.

`QueueRunner` drives a JobQueue the same way for the window (app.gui.main_window: one file per
worker request, results arrive later as signals) and for `process` (app.batch.process: a plain
loop): `next_request()` gives the next job with its output folder, `on_result()` records its end.

`ending_of` is the ONE place that maps a pipeline run (app.pipeline.run.Result, or its picklable
facts from `outcome_of`, as a Ray task returns them) to a job Status and the row's text; an
exception from the pipeline is a failure through `unexpected_error`. The window and the terminal
only differ in how they tell the user to replace existing outputs (`exists_hint`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from app.base import notices
from app.batch.job_queue.jobs import Job, Status
from app.batch.job_queue.queue import JobQueue

# what to do when a file's outputs already exist, in the words of each front end
WINDOW_EXISTS_HINT = ' Tick "Replace existing outputs" to replace them, or choose another output folder.'
CLI_EXISTS_HINT = " Use --overwrite to replace them or --out to write elsewhere."


def outcome_of(result) -> dict:
    """The plain facts of one app.pipeline.run.Result that a row needs (picklable: a Ray task
    returns it to the driver). Fields a result-like object lacks take the Result's defaults."""
    ok = bool(result.ok)
    report = _field(result, "report", {}) if ok else {}     # only a finished run's report is read
    verdict = report.get("verdict") or {}
    return {"ok": ok, "cancelled": bool(getattr(result, "cancelled", False)),
            "error": _field(result, "error", ""),
            "outputs_exist": bool(getattr(result, "outputs_exist", False)),
            "warnings": list(_field(result, "warnings", [])),
            "verdict": verdict.get("level"), "reasons": list(verdict.get("reasons") or []),
            "verdict_dict": dict(verdict) if verdict else None,
            "outputs": dict(_field(result, "outputs", {})) if ok else {},
            "frames": int(_field(result, "frames", 0)), "fps": float(_field(result, "fps", 0.0)),
            "protocol_record": (report.get("measures") or {}).get("protocol_record")}


def _field(result, name: str, default):
    """A Result's field; `default` where a result-like object lacks it or holds None."""
    return getattr(result, name, None) or default


def unexpected_error(exc: BaseException) -> str:
    """The error text of a run that raised (the pipeline should not; the queue goes on)."""
    return f"unexpected error: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Ending:
    """How one run ended, for its row: the status, this file's own warnings (the run's notices,
    said once for the whole run, are left out), the verdict, or the error."""
    status: Status
    warnings: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    error: str = ""
    verdict_level: str | None = None
    verdict: dict | None = None
    outputs: dict = field(default_factory=dict)
    frames: int = 0
    fps: float = 0.0

    @property
    def message(self) -> str:
        """The job's message: a finished file's own warnings (its verdict's reasons are the
        verdict's), or why it failed; "" for a cancelled file."""
        return "; ".join(self.warnings) if self.status == Status.DONE else self.error

    @property
    def note(self) -> str:
        """The summary row's note: each fact once (reasons, then warnings not among them)."""
        if self.status != Status.DONE:
            return self.error
        return "; ".join(list(self.reasons) + [w for w in self.warnings if w not in self.reasons])


def ending_of(outcome: dict, exists_hint: str) -> Ending:
    """A run's facts (outcome_of) -> its Ending."""
    frames, fps = int(outcome.get("frames") or 0), float(outcome.get("fps") or 0.0)
    if outcome["ok"]:
        return Ending(Status.DONE, tuple(notices.file_warnings(outcome["warnings"])), tuple(outcome["reasons"]),
                      verdict_level=outcome["verdict"], verdict=outcome.get("verdict_dict"),
                      outputs=dict(outcome.get("outputs") or {}), frames=frames, fps=fps)
    if outcome["cancelled"]:
        return Ending(Status.CANCELLED, error=outcome["error"], frames=frames)
    error = outcome["error"] or "unknown error"
    if outcome["outputs_exist"]:
        error += exists_hint
    return Ending(Status.FAILED, error=error, frames=frames)


class QueueRunner:
    """Runs a JobQueue's batch one job at a time: next request, then its result."""

    def __init__(self, queue: JobQueue, exists_hint: str):
        self.queue = queue
        self.exists_hint = exists_hint

    def next_request(self, cancel=None) -> Job | None:
        """The next job to run (its out_dir fixed), or None when the batch is over; a set `cancel`
        (a signal, for `process`) stops the batch first, so the rest never starts."""
        if cancel is not None and cancel.is_set():
            self.queue.request_stop()
        return self.queue.next_job()

    def on_result(self, job_id: int, outcome: dict) -> tuple[Job | None, Ending]:
        """Record a finished run (its outcome_of facts) on its row; returns the row (None when it
        was removed) and the Ending."""
        return self.finish(job_id, ending_of(outcome, self.exists_hint))

    def finish(self, job_id: int, ending: Ending) -> tuple[Job | None, Ending]:
        """Record an ending decided elsewhere (e.g. `process --resume` kept a finished set)."""
        changes: dict = {"message": "" if ending.status == Status.CANCELLED else ending.message}
        if ending.status == Status.DONE:
            changes.update(progress=1.0, outputs=dict(ending.outputs), verdict=ending.verdict)
        return self.queue.finish(job_id, ending.status, **changes), ending

