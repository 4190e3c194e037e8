"""The window's "Compare this patient's visits" action: the `compare` page of one patient, made
in the background from the output folders of the queue's finished files with that patient ID
(earlier recordings of the patient already in those folders count too), then opened.

The page goes to a "compare" folder beside the selected file's outputs and replaces an earlier
page there (a newer visit makes the old page out of date).
"""
from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.batch.job_queue.jobs import Job, Status

COMPARE_FOLDER = "compare"


def patient_of(job: Job | None) -> str | None:
    return (job.subject or {}).get("patient") if job is not None and job.status == Status.DONE else None


def folders_for(jobs: list[Job], patient: str) -> list[Path]:
    """Output folders of the finished files of ``patient``, each once, in queue order."""
    out: list[Path] = []
    for j in jobs:
        if patient_of(j) == patient and j.out_dir is not None and j.out_dir not in out:
            out.append(j.out_dir)
    return out


class CompareWorker(QObject):
    done = Signal(str, str)      # (page path or "", message)

    @Slot(object, object, str)
    def compare(self, folders: list, out_dir: object, patient: str) -> None:
        from app.followup.commands import compare_messages

        out = Path(str(out_dir))
        args = argparse.Namespace(outputs=[Path(f) for f in folders], out=out, overwrite=True, no_frames=False)
        # The command hands back what it has to say: redirecting sys.stdout here would swap it for
        # every thread of the process (the processing worker's and the log's lines included).
        try:
            code, said = compare_messages(args)
        except Exception as exc:  # noqa: BLE001 - the window says it; the queue goes on
            self.done.emit("", f"The comparison failed: {exc}")
            return
        page = None
        if code == 0:
            with contextlib.suppress(OSError, ValueError):
                summary = json.loads((out / "compare.json").read_text(encoding="utf-8"))
                page = next((out / d["page"] for d in summary.get("patients", []) if d.get("patient") == patient),
                            None)
        if page is None:
            last = [line for line in said if line.strip()]
            self.done.emit("", last[-1] if last else "The comparison could not be made")
            return
        self.done.emit(str(page), "")
