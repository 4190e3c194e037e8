"""The main window's run loop: the pipeline worker in its thread (it loads the models and
processes one queued file at a time), Start, the next file for the worker, progress and previews,
a file's end (app.batch.job_queue.runner maps it to its row), the batch's end, and Cancel.

`RunControl` receives the queue model and its runner, the options bar, the models (can the
detector run; is a conversion under way), `RunView` (previews, trace, throughput line) and the
models banner (no conversion while a batch runs), ``notify``, ``changed`` (the window re-enables its actions) and
``file_ended`` (the quit question follows the queue). It emits ``queue_finished(text)``.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.batch.job_queue.jobs import Status
from app.batch.job_queue.queue import Notice, QueueState
from app.batch.job_queue.runner import QueueRunner, outcome_of
from app.engine.midline import DEFAULT_METHOD
from app.gui import safe_question
from app.gui.background import BackgroundThread
from app.gui.jobs import queue_eta
from app.gui.models_panel import ModelsPanel
from app.gui.preview import PreviewStrip
from app.gui.queue_model import QueueModel
from app.gui.symmetry_trace import SymmetryTrace
from app.gui.throughput import ThroughputPanel
from app.gui.window_models import ModelsControl
from app.gui.window_options import OptionsBar
from app.gui.window_outputs import Outputs
from app.gui.worker import JobFinished, JobProgress, PipelineWorker, ProcessRequest
from app.pipeline.run import Settings

MESSAGE_MS = 12000
PREVIEW_MAX_SIDE = 480      # pixels of the previews made by the pipeline (downscaled there)
PREVIEW_FPS = 20.0          # preview updates per second at most


class RunView(QWidget):
    """What shows the file being processed: the three previews, the symmetry trace under them and
    the throughput line."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.preview = PreviewStrip(self)
        self.trace = SymmetryTrace(self)
        self.trace.setToolTip("Patient's right (blue) and left (orange) movement of the most active region, "
                              "live; the finished summary has every measure")
        self.throughput = ThroughputPanel(self)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.trace)
        layout.addWidget(self.throughput)

    def clear(self) -> None:
        self.preview.clear()
        self.trace.clear()


class RunControl(QObject):
    request_load = Signal()
    request_process = Signal(object)     # worker.ProcessRequest, queued to the worker's thread
    queue_finished = Signal(str)

    def __init__(self, parent: QWidget, model: QueueModel, runner: QueueRunner, *, options: OptionsBar,
                 models: ModelsControl, outputs: Outputs, view: RunView, models_panel: ModelsPanel, threads: int | None,
                 notify: Callable[..., None], changed: Callable[[], None], file_ended: Callable[[], None]):
        super().__init__(parent)
        self.model, self.queue, self.runner = model, model.queue, runner
        self._options, self._models, self._outputs = options, models, outputs
        self._view, self._models_panel = view, models_panel
        self._notify, self._changed, self._file_ended = notify, changed, file_ended
        self._cancel_box = None                 # "Stop processing?" (Esc) while it is asked
        self.preview_timer = QTimer(self)
        self.preview_timer.setInterval(max(10, int(1000 / PREVIEW_FPS)))
        self.preview_timer.timeout.connect(self.poll_preview)
        self.worker: PipelineWorker | None = PipelineWorker(threads)
        self._background = BackgroundThread(self.worker, "facemirror-worker", self)
        self.request_load.connect(self.worker.load_models)
        self.request_process.connect(self.worker.process)
        self.worker.models_ready.connect(models.on_models_ready)
        self.worker.progress.connect(self._on_progress)
        self.worker.job_finished.connect(self.on_job_finished)
        self.worker.notice.connect(self._on_notice)

    def begin(self) -> None:
        """The worker's thread starts and loads the models."""
        self._background.start()
        self.request_load.emit()

    @property
    def worker_thread(self) -> QThread:
        return self._background.thread

    def stop(self) -> None:
        """The queue is closed: the previews stop and the worker's thread ends (background.py's order)."""
        self.preview_timer.stop()
        self._background.stop()
        self.worker = None

    def start(self) -> None:
        if self.queue.running or self.queue.closed:
            return
        problem = self._cannot_start()
        if problem:
            self._notify(problem)
            return
        if not self.queue.start():      # refuses colliding outputs before anything starts
            self._notify("Nothing to process: add videos first (drop them on the window or Ctrl+O)")
            return
        self._models_panel.set_busy(True)
        self._changed()
        self.preview_timer.start()
        self._start_next()

    def _cannot_start(self) -> str:
        if not self._models.status.can_process:
            return ("Cannot start: the face detector model is not installed (see the models panel)"
                    if self._models.known else "Cannot start yet: the models are still loading")
        return "Cannot start while a model is being converted" if self._models.conversion is not None else ""

    def settings(self, job=None) -> Settings:
        """The one place that turns a job (what it was added with) and the window's options into
        the pipeline's Settings."""
        # 5-point mode: the choice is disabled and cannot apply; send the default so the result
        # does not repeat the window's own explanation as a warning
        midline = DEFAULT_METHOD if self._models.five_point_mode else self._options.midline
        subject = job.subject if job is not None else {}
        # a finished file the user chose to process again replaces its own outputs (Retry)
        replace = self._options.replace or (job is not None and job.replace)
        return Settings(midline=midline, annotated=True, overwrite=replace,
                        preview_max_side=PREVIEW_MAX_SIDE, preview_fps=PREVIEW_FPS,
                        rest=job.rest if job is not None else None,
                        patient=subject.get("patient"), visit=subject.get("visit"))

    def _start_next(self) -> None:
        job = self.runner.next_request()
        if job is None:
            self.finish_queue()
            return
        n_done = self.queue.finished_in_batch
        self._view.clear()
        self._changed()         # the selected row may be this one: it cannot be removed now
        self._view.throughput.start_file(self.model.label(job), n_done + 1, max(n_done + 1, self.queue.run_size))
        self.request_process.emit(ProcessRequest(job.id, job.path, self.model.out_dir_for(job), self.settings(job),
                                                 self.queue.cancel_event))

    def _on_notice(self, notice: Notice) -> None:
        self.queue.note(notice.code, notice.text)
        self._notify(notice.text, 30000)

    def _on_progress(self, update: JobProgress) -> None:
        if not self.queue.is_current(update.job_id) or self.queue.closed:
            return
        p = update.progress
        frac = min(1.0, p.frames_done / p.frames_total) if p.frames_total else None
        self.model.update_job(update.job_id, frames_done=p.frames_done, progress=frac)
        eta, partial = queue_eta(p.eta_s, self.model.waiting(after=self.queue.current), p.fps)
        self._view.throughput.update_progress(p, eta, partial)

    def poll_preview(self) -> None:
        if self.queue.closed or self.worker is None:
            return
        images = self.worker.take_preview()
        if images is not None and self.queue.is_current(images.job_id):
            self._view.preview.set_images(images.frame_index, images.annotated, images.left, images.right)
            if images.symmetry:
                self._view.trace.add_sample(images.time_s, images.symmetry)

    def on_job_finished(self, finished: JobFinished) -> None:
        self.poll_preview()            # the last frames of this file
        job, ending = self.runner.on_result(finished.job_id, outcome_of(finished.result))
        if ending.status == Status.DONE and job is not None:
            self._outputs.last_output_dir = job.out_dir
        elif ending.status == Status.CANCELLED:
            self._view.clear()         # a cancelled file leaves nothing: no last frame of it either
        elif ending.status == Status.FAILED and job is not None and not self.queue.closed:
            self._notify(f"{job.path.name} failed: {ending.error}", 20000)
        if self.queue.closed:
            return
        self._start_next()
        self._file_ended()

    def finish_queue(self) -> None:
        self.preview_timer.stop()
        summary = self.queue.end()
        self._models_panel.set_busy(False)
        text = summary.window_text()
        self._view.throughput.finish(text, summary.outcome, summary.done, max(summary.total, summary.planned))
        if not (summary.failed and not summary.stopped):    # a failure's own message stays up
            said = [n.text for n in self.queue.notices]
            self._notify(". ".join([text] + said), MESSAGE_MS + 10000 * len(said))
        self._changed()
        self.queue_finished.emit(text)

    def cancel_asked(self) -> None:
        """Esc: ask before stopping the running file (default: keep processing, so any number of
        Esc presses never stops anything)."""
        current = self.queue.current
        if self.queue.state is not QueueState.RUNNING or current is None or self._cancel_box is not None:
            return

        def keep_box(box) -> None:
            self._cancel_box = box
        if safe_question.ask(self.parent(), "confirmCancel", "Stop processing?",
                             f"{self.model.label(current)} is being processed: it is stopped and leaves no output; "
                             "the files still waiting stay in the queue.", "Stop processing", "Keep processing",
                             shown=keep_box):
            self.cancel()

    def cancel(self) -> None:
        if not self.queue.request_stop():
            return
        self._notify("Cancelling... the current file leaves no output")
        self._changed()
