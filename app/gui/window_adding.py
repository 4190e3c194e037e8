"""Adding files to the main window's queue and editing it: dropped or chosen files and folders, a
live exam's recording, Retry, Remove and Move. What happens to each added file is the rule of
app.gui.presenters.adding; this asks the queue and says it.

A mixin of MainWindow (it uses the window's queue model, table and status bar).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QFileDialog

from app.base import logs
from app.base.outputs import VIDEO_EXTENSIONS
from app.gui import safe_question
from app.batch.job_queue.jobs import Job
from app.gui.jobs import collect_videos
from app.gui.presenters import adding
from app.gui.queue_model import ProbeRequest, Probed


class WindowAdding:
    def add_paths(self, paths) -> int:
        """Add video files and folders; refuse anything else with a message. Returns rows added.
        What happens to each file is presenters.adding's rule; this says it and asks the queue."""
        videos, refused = collect_videos(paths)
        known = adding.sort_known(videos, self.model.find_job)
        subject = self.subject_fields.current()
        added, duplicates = self._add_jobs(known.fresh, subject)
        if added and any(subject.values()):
            logs.note_private_words(*subject.values())
            self.subject_fields.remember()      # only when the user asked ("Offer earlier IDs")
        if added:
            self.subject_fields.clear()         # the values belong to these videos, not to the next ones
        again = self.model.retry([self.model.row_of(j.id) for j in known.requeue])
        notes = adding.added_notes(added, again, known.finished, duplicates, refused, subject if added else None)
        if notes:
            self.message(". ".join(notes))
        self._update_actions()
        return len(added)

    def _add_jobs(self, paths, subject: dict, rest: tuple[float, float] | None = None) -> tuple[list[Job], list[Path]]:
        """Queue new files with their per-job settings (what they are added with: the patient and
        visit, a live exam's rest; _settings(job) hands them to the pipeline), and have their
        durations read."""
        added, duplicates = self.model.add_paths(paths)
        for job in added:
            job.subject, job.rest = dict(subject), rest
            self._request_probe.emit(ProbeRequest(job.id, job.path))
        return added, duplicates

    def open_live_exam(self, source_file: Path | None = None) -> None:
        """The live exam window; ``source_file``: a video played as the camera (`main.py live --window`)."""
        from app.gui.live_window import LiveWindow

        source = None
        if source_file is not None:
            from app.gui.camera_source import PushedFileSource
            from app.live.sources import FileSource, LoopedSource

            # paced by the pushing timer, as a camera delivers, so the file is read as fast as asked;
            # looped, as a camera never ends (a demonstration may Record at any moment)
            source = PushedFileSource(LoopedSource(FileSource(Path(source_file), realtime=False)))
        old = getattr(self, "live_window", None)
        if old is not None and not old.is_closed and source is not None:
            old.set_source(source)
        elif old is None or old.is_closed:
            if old is not None:
                old.deleteLater()        # a new exam: a fresh window and camera session
            self.live_window = LiveWindow(self, settings=self.prefs.s, source=source)
            self.live_window.recording_ready.connect(self.add_recording)
        self.live_window.show()
        self.live_window.raise_()

    def add_recording(self, path, rest=None, subject=None) -> bool:
        """A live exam's recording, queued like a dropped file with its own rest window and subject,
        and processed at once (the exam is over: the clinician waits for its summary); behind the
        file being processed when the queue is already running."""
        if self.queue.closed:
            return False        # quitting: the recording stays on disk, complete
        added, _ = self._add_jobs([Path(path)], dict(subject or {}), rest)
        if not added:
            self.message(f"{Path(path).name} is already in the queue")
            return False
        busy = self.queue.running
        self.message(f"Live recording {Path(path).name} queued: it is processed after the current file" if busy
                     else f"Live recording {Path(path).name}: processing it now")
        if not busy:
            self.start()        # says so in the status bar when it cannot start (models, conversion)
        self._update_actions()
        return True

    def retry_selected(self) -> None:
        """Queue the selected failed, cancelled or finished rows again, without re-adding them."""
        rows = self.selected_rows()
        finished = self.queue.finished_among(rows)
        replace = self.overwrite_box.isChecked() or (bool(finished) and self._ask_replace(finished))
        again = self.model.retry(rows, replace_finished=replace)
        kept = [j for j in finished if j not in again]
        self.message(adding.retry_note(again, finished, [self.model.label(j) for j in kept], self.queue.running))
        self._update_actions()

    def _ask_replace(self, finished: list[Job]) -> bool:
        """A finished file's outputs exist: processing it again replaces them. Ask (modal; tests
        find it by object name); the default keeps the results."""
        names = ", ".join(self.model.label(j) for j in finished[:3]) + (
            f" and {len(finished) - 3} more" if len(finished) > 3 else "")
        return safe_question.ask(
            self, "confirmReplace", f"Replace the results of {names}?",
            "Processing a finished file again replaces its outputs (summary, videos, CSV, report, measures) when "
            "the new run has finished. Keep: nothing is queued and the results stay as they are.",
            "Process again and replace", "Keep the results")

    def _ask_videos(self) -> list[str]:
        patterns = " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Add videos", self.prefs.input_start_folder(),
                                                f"Videos ({patterns});;All files (*)")
        return files

    def _ask_folder(self, title: str, start: str) -> str:
        return QFileDialog.getExistingDirectory(self, title, start)

    def add_videos_dialog(self) -> None:
        files = self._ask_videos()
        if files:
            self.prefs.last_input_folder = str(Path(files[0]).parent)
            self.add_paths(files)

    def add_folder_dialog(self) -> None:
        folder = self._ask_folder("Add every video in a folder", self.prefs.input_start_folder())
        if folder:
            self.prefs.last_input_folder = folder
            self.add_paths([folder])

    def _on_probed(self, info: Probed) -> None:
        self.model.update_job(info.job_id, frames=info.frames, fps=info.fps, duration_s=info.duration_s, probed=True)

    # drag and drop anywhere on the window
    @staticmethod
    def _local_paths(mime) -> list[str]:
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = self._local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    # =========================================================================================
    # queue editing
    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def remove_selected(self) -> None:
        rows = self.selected_rows()
        if not rows:
            self.message("Select the files to remove first")
            return
        removed = self.model.remove_rows(rows)
        if removed < len(rows):
            self.message("The file being processed cannot be removed; Cancel stops it")
        self._update_actions()

    def move_selected(self, delta: int) -> None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return
        new = self.model.move(rows[0], delta)
        self.table.selectionModel().setCurrentIndex(
            self.model.index(new, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self._update_actions()
