"""Adding files to the main window's queue and editing it: dropped or chosen files and folders, a
live exam's recording, Retry, Remove and Move, and the durations of added files (read in their own
thread). What happens to each added file is the rule of app.gui.presenters.adding; this asks the
queue and says it.

`QueueEditor` receives what it works on (the queue model, the queue panel's selection, the
subject fields, the options bar, the preferences) and what it reports to (``notify``,
``changed``: the window re-enables its actions; ``start``: the run; ``ask_replace``: the
question before a finished file's outputs are replaced). `FileDrops` adds what is dropped on the
window.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from app.base import logs
from app.base.outputs import VIDEO_EXTENSIONS
from app.batch.job_queue.jobs import Job
from app.gui import safe_question
from app.gui.background import BackgroundThread
from app.gui.jobs import collect_videos
from app.gui.prefs import Prefs
from app.gui.presenters import adding
from app.gui.queue_model import DurationProber, ProbeRequest, Probed, QueueModel
from app.gui.queue_panel import QueuePanel
from app.gui.subject_fields import SubjectFields
from app.gui.window_options import OptionsBar


class QueueEditor(QObject):
    _request_probe = Signal(object)       # queue_model.ProbeRequest, queued to the prober's thread

    def __init__(self, parent: QWidget, model: QueueModel, panel: QueuePanel, *, subject: SubjectFields,
                 options: OptionsBar, prefs: Prefs, notify: Callable[[str], None], changed: Callable[[], None],
                 start: Callable[[], None], ask_replace: Callable[[list[Job]], bool]):
        super().__init__(parent)
        self._parent, self.model, self.panel = parent, model, panel
        self._subject, self._options, self._prefs = subject, options, prefs
        self._notify, self._changed, self._start, self._ask_replace = notify, changed, start, ask_replace
        prober = DurationProber()
        self._prober = BackgroundThread(prober, "facemirror-probe", self)
        self._request_probe.connect(prober.probe)
        prober.probed.connect(self._on_probed)
        self._prober.start()

    def stop(self) -> None:
        self._prober.stop()

    def add_paths(self, paths) -> int:
        """Add video files and folders; refuse anything else with a message. Returns rows added.
        What happens to each file is presenters.adding's rule; this says it and asks the queue."""
        videos, refused = collect_videos(paths)
        known = adding.sort_known(videos, self.model.find_job)
        subject = self._subject.current()
        added, duplicates = self.add_jobs(known.fresh, subject)
        if added and any(subject.values()):
            logs.note_private_words(*subject.values())
            self._subject.remember()      # only when the user asked ("Offer earlier IDs")
        if added:
            self._subject.clear()         # the values belong to these videos, not to the next ones
        again = self.model.retry([self.model.row_of(j.id) for j in known.requeue])
        notes = adding.added_notes(added, again, known.finished, duplicates, refused, subject if added else None)
        if notes:
            self._notify(". ".join(notes))
        self._changed()
        return len(added)

    def add_jobs(self, paths, subject: dict, rest: tuple[float, float] | None = None) -> tuple[list[Job], list[Path]]:
        """Queue new files with their per-job settings (what they are added with: the patient and
        visit, a live exam's rest; the run hands them to the pipeline), and have their durations read."""
        added, duplicates = self.model.add_paths(paths)
        for job in added:
            job.subject, job.rest = dict(subject), rest
            self._request_probe.emit(ProbeRequest(job.id, job.path))
        return added, duplicates

    def add_recording(self, path, rest=None, subject=None) -> bool:
        """A live exam's recording, queued like a dropped file with its own rest window and subject,
        and processed at once (the exam is over: the clinician waits for its summary); behind the
        file being processed when the queue is already running."""
        queue = self.model.queue
        if queue.closed:
            return False        # quitting: the recording stays on disk, complete
        added, _ = self.add_jobs([Path(path)], dict(subject or {}), rest)
        if not added:
            self._notify(f"{Path(path).name} is already in the queue")
            return False
        busy = queue.running
        self._notify(f"Live recording {Path(path).name} queued: it is processed after the current file" if busy
                     else f"Live recording {Path(path).name}: processing it now")
        if not busy:
            self._start()        # says so in the status bar when it cannot start (models, conversion)
        self._changed()
        return True

    def retry_selected(self) -> None:
        """Queue the selected failed, cancelled or finished rows again, without re-adding them."""
        rows = self.panel.selected_rows()
        finished = self.model.queue.finished_among(rows)
        replace = self._options.replace or (bool(finished) and self._ask_replace(finished))
        again = self.model.retry(rows, replace_finished=replace)
        kept = [j for j in finished if j not in again]
        self._notify(adding.retry_note(again, finished, [self.model.label(j) for j in kept], self.model.queue.running))
        self._changed()

    def ask_replace(self, finished: list[Job]) -> bool:
        """A finished file's outputs exist: processing it again replaces them. Ask (modal; tests
        find it by object name); the default keeps the results."""
        names = ", ".join(self.model.label(j) for j in finished[:3]) + (
            f" and {len(finished) - 3} more" if len(finished) > 3 else "")
        return safe_question.ask(
            self._parent, "confirmReplace", f"Replace the results of {names}?",
            "Processing a finished file again replaces its outputs (summary, videos, CSV, report, measures) when "
            "the new run has finished. Keep: nothing is queued and the results stay as they are.",
            "Process again and replace", "Keep the results")

    def add_videos_dialog(self) -> None:
        patterns = " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self._parent, "Add videos", self._prefs.input_start_folder(),
                                                f"Videos ({patterns});;All files (*)")
        if files:
            self._prefs.last_input_folder = str(Path(files[0]).parent)
            self.add_paths(files)

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Add every video in a folder",
                                                  self._prefs.input_start_folder())
        if folder:
            self._prefs.last_input_folder = folder
            self.add_paths([folder])

    def _on_probed(self, info: Probed) -> None:
        self.model.update_job(info.job_id, frames=info.frames, fps=info.fps, duration_s=info.duration_s, probed=True)

    # =========================================================================================
    # queue editing
    def remove_selected(self) -> None:
        rows = self.panel.selected_rows()
        if not rows:
            self._notify("Select the files to remove first")
            return
        removed = self.model.remove_rows(rows)
        if removed < len(rows):
            self._notify("The file being processed cannot be removed; Cancel stops it")
        self._changed()

    def move_selected(self, delta: int) -> None:
        rows = self.panel.selected_rows()
        if len(rows) != 1:
            return
        new = self.model.move(rows[0], delta)
        self.panel.table.selectionModel().setCurrentIndex(
            self.model.index(new, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self._changed()


def local_paths(mime) -> list[str]:
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []


class FileDrops(QObject):
    """Files and folders dropped anywhere on ``window`` go to ``add(paths)``; anything else is refused."""

    def __init__(self, window: QWidget, add: Callable[[list[str]], object]):
        super().__init__(window)
        self._add = add
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return super().eventFilter(obj, event)
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return True
        event.acceptProposedAction()
        if kind == QEvent.Type.Drop:
            self._add(paths)
        return True
