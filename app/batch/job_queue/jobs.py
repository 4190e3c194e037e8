"""One queued video and its status (Qt-free: the window's table shows these, the CLI runs them)."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from app.results import verdict


class Status(str, enum.Enum):
    WAITING = "waiting"
    PROCESSING = "processing"
    DONE = "done"
    SKIPPED = "skipped"          # `process --resume`: the finished set was kept (counts as succeeded)
    FAILED = "failed"
    CANCELLED = "cancelled"


SUCCEEDED = (Status.DONE, Status.SKIPPED)
RETRYABLE = (Status.FAILED, Status.CANCELLED, Status.DONE)


@dataclass
class Job:
    id: int
    path: Path
    status: Status = Status.WAITING
    frames: int | None = None          # estimate from the container
    fps: float | None = None
    duration_s: float | None = None
    probed: bool = False
    progress: float | None = 0.0       # 0..1; None while the total is unknown
    frames_done: int = 0
    message: str = ""                  # failure reason, or warnings of a finished file
    out_dir: Path | None = None        # fixed when processing starts
    outputs: dict = field(default_factory=dict)
    verdict: dict | None = None        # the report's verdict (app.results.verdict) of a finished file
    # Per-job settings: what the file was added with (a new one is a field here, and
    # MainWindow._settings(job) passes it to the pipeline's Settings).
    subject: dict = field(default_factory=dict)   # patient / visit
    rest: tuple[float, float] | None = None       # a live exam's rest capture (s), the measures' rest
    replace: bool = False              # a finished file queued again: its run replaces its outputs (the user agreed)

    @property
    def level(self) -> str:
        """The verdict level of a finished file: "good", "usable with warnings", "not usable", or
        "unknown" (no verdict: never shown as good); "" for a file that has not finished."""
        if self.status != Status.DONE:
            return ""
        return (self.verdict or {}).get("level") or verdict.UNKNOWN

    @property
    def reasons(self) -> list[str]:
        """What the verdict found, then this file's own warnings not already said."""
        reasons = list((self.verdict or {}).get("reasons") or [])
        extra = [self.message] if self.message and self.message not in reasons else []
        return reasons + extra

    @property
    def status_text(self) -> str:
        if self.status == Status.FAILED and self.message:
            return f"failed: {self.message}"
        if self.status == Status.DONE:
            level = self.level
            head = {verdict.GOOD: "done: good", verdict.WARNINGS: "done: usable with warnings",
                    verdict.NOT_USABLE: "done: NOT USABLE"}.get(level, "done: no verdict")
            reasons = self.reasons
            return head + (f" - {'; '.join(reasons)}" if reasons else "")
        return self.status.value

    @property
    def status_tooltip(self) -> str:
        """Every reason on its own line, and what to do for a failed or cancelled file."""
        if self.status == Status.DONE:
            lines = [{verdict.GOOD: "Good: no problem found; the outputs can be used as they are.",
                      verdict.WARNINGS: "Usable with warnings: check these before relying on the outputs:",
                      verdict.NOT_USABLE: "NOT USABLE: do not use these outputs clinically:"}.get(
                          self.level, "No verdict: this file's report has none; check it before use:")]
            lines += [f"• {r}" for r in self.reasons]
            lines += [f"(note: {n})" for n in (self.verdict or {}).get("notes") or []]
            return "\n".join(lines)
        if self.status == Status.FAILED:
            return f"Failed: {self.message or 'unknown error'}\nSelect the row and press Retry to try again."
        if self.status == Status.CANCELLED:
            return "Cancelled: no output was written. Select the row and press Retry to process it."
        return self.status.value
