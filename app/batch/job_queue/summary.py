"""The end of a batch: its counts and the one summary text, for the window and for the terminal.

Both front ends count the same things (done, already done, failed, cancelled, not rated good) the
same way here; each says it in its own words, because each points to where the reasons are (the
window's Status column, the terminal's summary table).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from app.results import verdict
from app.batch.job_queue.jobs import SUCCEEDED, Status

NAMED_FAILURES = 10      # the terminal's last line names this many inputs that were not done


@dataclass(frozen=True)
class FileRow:
    """One input's line in a `process` run's summary table (the plain and the Ray runner's)."""
    path: Path
    status: Status
    note: str = ""
    frames: int = 0
    fps: float = 0.0
    verdict: str | None = None       # the verdict level (app.results.verdict) of a finished file

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCEEDED

    @property
    def flagged(self) -> bool:
        """Finished, but not rated good (no verdict is not flagged here: the table shows "-")."""
        return self.succeeded and self.verdict not in (None, verdict.GOOD)


@dataclass
class BatchSummary:
    """What one batch did. `stopped`: the user (or a signal) cancelled it."""
    done: int = 0
    skipped: int = 0                 # already done earlier (--resume): succeeded without running
    failed: int = 0
    cancelled: int = 0
    flagged: int = 0                 # finished but not rated good
    waiting: int = 0                 # still queued (the window's queue outlives a batch)
    planned: int = 0                 # rows the batch was to process (the window's "1 of 4 files done")
    stopped: bool = False
    not_done: list[str] = field(default_factory=list)   # labels of the inputs that did not succeed

    @property
    def total(self) -> int:
        return self.done + self.skipped + self.failed + self.cancelled

    @property
    def succeeded(self) -> int:
        return self.done + self.skipped

    @property
    def outcome(self) -> str:
        """"cancelled", "failed" or "finished" (the window's throughput line shows it)."""
        return "cancelled" if self.stopped else ("failed" if self.failed else "finished")

    @classmethod
    def of_rows(cls, rows: list[FileRow], labels: dict[Path, str]) -> BatchSummary:
        count = Counter(r.status for r in rows)
        return cls(done=count[Status.DONE], skipped=count[Status.SKIPPED], failed=count[Status.FAILED],
                   cancelled=count[Status.CANCELLED], flagged=sum(r.flagged for r in rows),
                   not_done=[labels[r.path] for r in rows if not r.succeeded])

    def window_text(self) -> str:
        """"Queue finished: 2 done (1 not rated good: ...), 1 failed (...), 3 waiting"."""
        head = f"{self.done} done"
        if self.flagged:
            head += f" ({self.flagged} not rated good: see the Status column)"
        parts = [head]
        if self.failed:
            parts.append(f"{self.failed} failed (reason in the Status column)")
        if self.cancelled or self.stopped:
            parts.append(f"{self.cancelled} cancelled")
        if self.waiting:
            parts.append(f"{self.waiting} waiting")
        return ("Cancelled: " if self.stopped else "Queue finished: ") + ", ".join(parts)

    def terminal_text(self) -> str:
        """"3 of 4 succeeded, 1 of them already done earlier (...); not done: a.mp4"."""
        kept = f", {self.skipped} of them already done earlier" if self.skipped else ""
        flagged = f" ({self.flagged} not rated good: read the verdict before use)" if self.flagged else ""
        named = ""
        if self.not_done:
            more = len(self.not_done) - NAMED_FAILURES
            named = f"; not done: {', '.join(self.not_done[:NAMED_FAILURES])}" + (f" and {more} more" if more > 0 else "")
        return f"{self.succeeded} of {self.total} succeeded{kept}{flagged}{named}"
