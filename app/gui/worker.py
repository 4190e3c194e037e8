"""The window's one worker: loads the models once and runs the pipeline for one queued file at a time.

Lives in its own QThread (gui.background.BackgroundThread). The window talks to it only through
queued signals (`load_models`, `process`) and a per-file threading.Event for cancel, which the
window sets directly so a cancel is seen within a frame even while `process` is running.

Signals back to the window (all emitted from the worker's QThread, queued to the GUI thread), each
with one payload object:
  models_ready(ModelStatus)          after each (re)load
  progress(JobProgress)              from the pipeline's calling thread (this QThread), ~5 per second
  job_finished(JobFinished)
  notice(Notice)                     something to say once (app.batch.job_queue.Notice: tested by code)

Previews: the pipeline calls on_preview from its post thread (a plain Python thread) at most
preview_fps per second; the three frames are made into QImages right there and stored as "the
latest" under a lock. The window polls take_preview() on a timer, so the GUI never lags behind a
backlog of frames (latest wins), a slow repaint never slows processing, and no signal is ever
emitted from a thread Qt does not know.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.gui import model_status
from app.gui.preview import bgr_to_qimage
from app.batch.job_queue.queue import Notice
from app.batch.job_queue.queue import STALE_FILES
from app.batch.job_queue.runner import unexpected_error
from app.base.outputs import clean_stale_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessRequest:
    """One queued file for the worker (the window's `process` request)."""
    job_id: int
    input_path: Path
    out_dir: Path
    settings: object                 # app.pipeline.run.Settings
    cancel: threading.Event          # set by the window; seen by the pipeline within a frame


@dataclass(frozen=True)
class JobProgress:
    job_id: int
    progress: object                 # app.pipeline.run.Progress


@dataclass(frozen=True)
class JobFinished:
    job_id: int
    result: object                   # app.pipeline.run.Result


@dataclass(frozen=True)
class PreviewImages:
    """The newest previews of one file, converted for Qt on the pipeline's post thread."""
    job_id: int
    frame_index: int
    annotated: object                # QImage
    left: object
    right: object
    time_s: float
    symmetry: dict | None            # app.measures.region_values of this frame, for the live trace


class PipelineWorker(QObject):
    models_ready = Signal(object)
    progress = Signal(object)          # JobProgress
    job_finished = Signal(object)      # JobFinished
    notice = Signal(object)            # app.batch.job_queue.Notice (stale files removed)

    def __init__(self, threads: int | None = None):
        super().__init__()
        self._threads = threads
        self._models = None
        self._lock = threading.Lock()
        self._latest: PreviewImages | None = None

    # --- called through queued signals, in the worker thread -----------------------------------
    @Slot()
    def load_models(self) -> None:
        self._models = None  # drop old sessions before loading new ones
        models, status = model_status.load_models(self._threads)
        self._models = models
        self.models_ready.emit(status)

    @Slot(object)
    def process(self, request: ProcessRequest) -> None:
        from app.pipeline.run import Pipeline, Result

        job_id, input_path, out_dir = request.job_id, request.input_path, request.out_dir
        settings, cancel = request.settings, request.cancel

        if cancel.is_set():
            self._finished(job_id, Result(input=Path(input_path), ok=False, cancelled=True, error="cancelled"))
            return
        if self._models is None:
            self._finished(job_id, Result(input=Path(input_path), ok=False, error="no face detector model is installed"))
            return
        note = clean_stale_files(Path(out_dir)).message()   # partial files of killed runs
        if note:
            self.notice.emit(Notice(STALE_FILES, note[0].upper() + note[1:]))
        try:
            pipeline = Pipeline(self._models, settings)
            result = pipeline.process(
                input_path, out_dir,
                on_progress=lambda p: self.progress.emit(JobProgress(job_id, p)),
                on_preview=lambda pv: self._on_preview(job_id, pv),
                cancel=cancel)
        except Exception as exc:  # noqa: BLE001 - the pipeline should not raise; never kill the queue
            log.exception("pipeline raised")
            result = Result(input=Path(input_path), ok=False, error=unexpected_error(exc))
        self._finished(job_id, result)

    def _finished(self, job_id: int, result) -> None:
        self.job_finished.emit(JobFinished(job_id, result))

    # --- pipeline post thread ------------------------------------------------------------------
    def _on_preview(self, job_id: int, preview) -> None:
        images = PreviewImages(job_id, preview.frame_index, bgr_to_qimage(preview.annotated),
                               bgr_to_qimage(preview.left), bgr_to_qimage(preview.right), preview.time_s,
                               preview.symmetry)
        with self._lock:
            self._latest = images

    # --- GUI thread ----------------------------------------------------------------------------
    def take_preview(self) -> PreviewImages | None:
        """The newest previews, or None when none came since the last call."""
        with self._lock:
            images, self._latest = self._latest, None
        return images

    def release(self) -> None:
        """Drop the ONNX sessions and images (called by BackgroundThread.stop once the thread ended)."""
        self._models = None
        with self._lock:
            self._latest = None
