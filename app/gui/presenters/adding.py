"""The rules for files added to the queue, and what the status bar says about them (no Qt).

A dropped or chosen video is, by its row in the queue (if any): already finished (not added again:
Retry processes it again), failed or cancelled (queued again in its own row), or fresh (added, or
refused by the queue as a duplicate of a waiting or processing row). Files that are not videos, or
FaceMirror's own outputs, are refused with a reason (app.gui.jobs.collect_videos).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from app.batch.job_queue.jobs import Job, Status
from app.gui.jobs import refused_message


@dataclass
class Sorted:
    finished: list[Path] = field(default_factory=list)   # already processed: said, not added
    requeue: list[Job] = field(default_factory=list)     # failed or cancelled rows: queued again in place
    fresh: list[Path] = field(default_factory=list)      # to add (the queue refuses duplicates)


def sort_known(videos: Iterable, find_job: Callable[[Path], Job | None]) -> Sorted:
    """Split added videos by the row the queue already has for each (find_job: the last row)."""
    out = Sorted()
    for v in videos:
        job = find_job(v)
        if job is not None and job.status == Status.DONE:
            out.finished.append(Path(v))
        elif job is not None and job.status in (Status.FAILED, Status.CANCELLED):
            out.requeue.append(job)
        else:
            out.fresh.append(Path(v))
    return out


def _first_and_more(names: list[str]) -> str:
    return names[0] + (f" and {len(names) - 1} more" if len(names) > 1 else "")


def _added_note(added: list[Job], subject: dict | None) -> str:
    named = ", ".join(f"{k} {v}" for k, v in (subject or {}).items() if v)
    return f"Added {len(added)} video{'s' if len(added) != 1 else ''}" + (f" for {named}" if named else "")


def added_notes(added: list[Job], again: list[Job], finished: list[Path], duplicates: list[Path],
                refused: list[tuple[Path, str]] = (), subject: dict | None = None) -> list[str]:
    """What the status bar says after adding (joined with ". "); empty: nothing to say. Each kind
    of file is said only when there is one of its kind, in this order."""
    said = ((added, lambda: _added_note(added, subject)),
            (again, lambda: _first_and_more([j.path.name for j in again])
             + " queued again (had failed or been cancelled)"),
            (finished, lambda: _first_and_more([p.name for p in finished])
             + " already processed (see its row): select it and press Retry to process it again"),
            (duplicates, lambda: f"{len(duplicates)} already in the queue"),
            (refused, lambda: refused_message(list(refused))))
    return [note() for files, note in said if files]


def retry_note(again: list[Job], finished: list[Job], kept_labels: list[str], running: bool) -> str:
    """What Retry says: how many were queued again, which finished ones are replaced or kept."""
    if not again:
        return (_first_and_more(kept_labels) + " not queued again: its results are kept" if kept_labels
                else "Select failed, cancelled or finished files to retry them")
    replaced = sum(j in again for j in finished)
    note = f" ({replaced} finished: {'its' if replaced == 1 else 'their'} outputs are replaced)" if replaced else ""
    kept = len(kept_labels)
    if kept:
        note += f"; {kept} finished kept as {'it is' if kept == 1 else 'they are'}"
    return f"{len(again)} file{'s' if len(again) != 1 else ''} queued again{note}" + ("" if running else ": press Start")


def quit_question(running_label: str | None) -> tuple[str, str, str, str]:
    """The "Stop processing and quit?" box's (text, informative text, yes, no); it follows the
    queue: `running_label` names the file being processed, None once nothing is."""
    if running_label is not None:
        return ("Stop processing and quit?",
                f"{running_label} is being processed: it is stopped and leaves no output; videos already "
                "finished keep their results.", "Stop and quit", "Keep processing")
    return ("Processing has finished. Quit now?", "Every result is written; nothing is lost by quitting.",
            "Quit", "Keep the window open")
