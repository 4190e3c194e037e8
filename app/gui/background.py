"""The window's one thread style: a worker QObject living in its own QThread.

    bg = BackgroundThread(SomeWorker(...), "facemirror-something", parent=window)
    request.connect(bg.worker.do_it)     # requests: queued signals into the worker's thread
    bg.worker.done.connect(window.on_done)   # results: signals queued back to the GUI thread
    bg.start()
    ...
    bg.stop()                            # when closing (idempotent)

Used for processing (gui.worker.PipelineWorker), model conversion (gui.model_convert) and reading
durations (gui.queue_model.DurationProber). No other threads are started by the window, and no
signal is emitted from a thread Qt does not know (the pipeline's own threads only store data the
window polls).

`stop()` tears down in an order that is safe at interpreter shutdown: the thread's event loop is
asked to quit and waited for; requests that never started are removed; results already queued to
the GUI thread are delivered now (the window ignores them while closing); the worker's resources
(ONNX sessions, images) are released and the worker is deleted, all while Python is fully alive
and in the GUI thread. Before this, events carrying Python objects could be destroyed only when
the QApplication was torn down during interpreter finalization, one cause of the crash at exit.
"""
from __future__ import annotations

import logging

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QThread

log = logging.getLogger(__name__)


class BackgroundThread(QObject):
    def __init__(self, worker: QObject, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.worker: QObject | None = worker
        self.thread = QThread(self)
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop(self) -> None:
        """Quit after the current request, wait for it, release and delete the worker. Idempotent."""
        worker = self.worker
        if worker is None:
            return
        self.thread.quit()
        if not self.thread.wait(60_000):       # a request ignores its cancel: say so, keep waiting
            log.error("%s did not stop within 60 s; waiting", self.thread.objectName())
            self.thread.wait()
        QCoreApplication.removePostedEvents(worker)     # requests that never started
        QCoreApplication.sendPostedEvents()             # results on their way to the GUI thread
        release = getattr(worker, "release", None)
        if callable(release):
            release()
        self.worker = None
        if shiboken6.isValid(worker):
            shiboken6.delete(worker)
