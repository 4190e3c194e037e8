"""The main window's run loop: Start, the next file for the worker, progress and previews, a
file's end (app.batch.job_queue.runner maps it to its row), the batch's end, and Cancel.

A mixin of MainWindow (it uses the window's runner, worker, previews and throughput line).
"""
from __future__ import annotations

from app.batch.job_queue.queue import Notice, QueueState
from app.batch.job_queue.runner import outcome_of
from app.engine.midline import DEFAULT_METHOD
from app.gui import safe_question
from app.batch.job_queue.jobs import Status
from app.gui.jobs import queue_eta
from app.gui.worker import JobFinished, JobProgress, ProcessRequest
from app.pipeline.run import Settings

MESSAGE_MS = 12000
PREVIEW_MAX_SIDE = 480      # pixels of the previews made by the pipeline (downscaled there)
PREVIEW_FPS = 20.0          # preview updates per second at most


class WindowRun:
    def start(self) -> None:
        if self.queue.running or self.queue.closed:
            return
        if not self.model_status.can_process:
            self.message("Cannot start: the face detector model is not installed (see the models panel)"
                         if self.models_known else "Cannot start yet: the models are still loading")
            return
        if self._conversion is not None:
            self.message("Cannot start while a model is being converted")
            return
        if not self.queue.start():      # refuses colliding outputs before anything starts
            self.message("Nothing to process: add videos first (drop them on the window or Ctrl+O)")
            return
        self.models_panel.set_busy(True)
        self._update_actions()
        self._preview_timer.start()
        self._start_next()

    def _settings(self, job=None) -> Settings:
        """The one place that turns a job (what it was added with) and the window's options into
        the pipeline's Settings."""
        # 5-point mode: the choice is disabled and cannot apply; send the default so the result
        # does not repeat the window's own explanation as a warning
        midline = DEFAULT_METHOD if self.five_point_mode else self.midline
        subject = job.subject if job is not None else {}
        # a finished file the user chose to process again replaces its own outputs (retry_selected)
        replace = self.overwrite_box.isChecked() or (job is not None and job.replace)
        return Settings(midline=midline, annotated=True, overwrite=replace,
                        preview_max_side=PREVIEW_MAX_SIDE, preview_fps=PREVIEW_FPS,
                        rest=job.rest if job is not None else None,
                        patient=subject.get("patient"), visit=subject.get("visit"))

    def _start_next(self) -> None:
        job = self.runner.next_request()
        if job is None:
            self._finish_queue()
            return
        n_done = self.queue.finished_in_batch
        self.preview.clear()
        self.trace.clear()
        self._update_actions()         # the selected row may be this one: it cannot be removed now
        self.throughput.start_file(self.model.label(job), n_done + 1, max(n_done + 1, self.queue.run_size))
        self._request_process.emit(ProcessRequest(job.id, job.path, self.model.out_dir_for(job), self._settings(job),
                                                  self.queue.cancel_event))

    def _on_notice(self, notice: Notice) -> None:
        self.queue.note(notice.code, notice.text)
        self.message(notice.text, 30000)

    def _on_progress(self, update: JobProgress) -> None:
        if not self.queue.is_current(update.job_id) or self.queue.closed:
            return
        p = update.progress
        frac = min(1.0, p.frames_done / p.frames_total) if p.frames_total else None
        self.model.update_job(update.job_id, frames_done=p.frames_done, progress=frac)
        eta, partial = queue_eta(p.eta_s, self.model.waiting(after=self.queue.current), p.fps)
        self.throughput.update_progress(p, eta, partial)

    def _poll_preview(self) -> None:
        if self.queue.closed or self._worker is None:
            return
        images = self._worker.take_preview()
        if images is not None and self.queue.is_current(images.job_id):
            self.preview.set_images(images.frame_index, images.annotated, images.left, images.right)
            if images.symmetry:
                self.trace.add_sample(images.time_s, images.symmetry)

    def _on_job_finished(self, finished: JobFinished) -> None:
        self._poll_preview()            # the last frames of this file
        job, ending = self.runner.on_result(finished.job_id, outcome_of(finished.result))
        if ending.status == Status.DONE and job is not None:
            self._last_output_dir = job.out_dir
        elif ending.status == Status.CANCELLED:
            self.preview.clear()       # a cancelled file leaves nothing: no last frame of it either
            self.trace.clear()
        elif ending.status == Status.FAILED and job is not None and not self.queue.closed:
            self.message(f"{job.path.name} failed: {ending.error}", 20000)
        if self.queue.closed:
            return
        self._start_next()
        self._update_confirm_quit()

    def _finish_queue(self) -> None:
        self._preview_timer.stop()
        summary = self.queue.end()
        self.models_panel.set_busy(False)
        text = summary.window_text()
        self.throughput.finish(text, summary.outcome, summary.done, max(summary.total, summary.planned))
        if not (summary.failed and not summary.stopped):    # a failure's own message stays up
            said = [n.text for n in self.queue.notices]
            self.message(". ".join([text] + said), MESSAGE_MS + 10000 * len(said))
        self._update_actions()
        self.queue_finished.emit(text)

    def cancel_asked(self) -> None:
        """Esc: ask before stopping the running file (default: keep processing, so any number of
        Esc presses never stops anything)."""
        current = self.queue.current
        if self.queue.state is not QueueState.RUNNING or current is None or self._cancel_box is not None:
            return
        def keep_box(box) -> None:
            self._cancel_box = box
        if safe_question.ask(self, "confirmCancel", "Stop processing?",
                             f"{self.model.label(current)} is being processed: it is stopped and leaves no output; "
                             "the files still waiting stay in the queue.", "Stop processing", "Keep processing",
                             shown=keep_box):
            self.cancel()

    def cancel(self) -> None:
        if not self.queue.request_stop():
            return
        self.message("Cancelling... the current file leaves no output")
        self._update_actions()
