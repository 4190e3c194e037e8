"""Convert a chosen checkpoint to ONNX in the background (a QThread running the project's converter).

The converters themselves live in app.convert (they need torch and onnx); this module only runs
one of them off the GUI thread and reports its log lines and the outcome.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.gui.background import BackgroundThread

logger = logging.getLogger(__name__)


def _converter(key: str):
    """The converter for a model key, imported only when used (torch; absent from the app bundle)."""
    from app.convert import converter_for
    return converter_for(key)


class ConvertWorker(QObject):
    log = Signal(str)
    finished = Signal(bool, str)    # ok, message for the user

    def __init__(self, key: str, checkpoint: Path, out: Path):
        super().__init__()
        self.key, self.checkpoint, self.out = key, Path(checkpoint), Path(out)

    @Slot()
    def run(self) -> None:
        try:
            from app.convert.common import ConvertError
        except ImportError as exc:  # pragma: no cover - the window checks for the extras first
            self.finished.emit(False, f"the converter cannot be imported: {exc}")
            return
        try:
            convert = _converter(self.key)
            convert(self.checkpoint, self.out, overwrite=False, log=self.log.emit)
        except ConvertError as exc:
            self.finished.emit(False, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown to the user; the window stays up
            logger.exception("conversion failed")
            self.finished.emit(False, f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(True, f"converted {self.checkpoint.name} to {self.out}")


class Conversion(QObject):
    """One running conversion: its worker in a BackgroundThread; emits finished(ok, message) in the
    GUI thread after the thread has stopped."""
    log = Signal(str)
    finished = Signal(bool, str)

    def __init__(self, key: str, checkpoint: Path, out: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.key = key
        worker = ConvertWorker(key, checkpoint, out)
        self._bg = BackgroundThread(worker, f"facemirror-convert-{key}", self)
        self._bg.thread.started.connect(worker.run)
        worker.log.connect(self.log)
        worker.finished.connect(self._done)

    @property
    def thread(self):
        return self._bg.thread

    def start(self) -> None:
        self._bg.start()

    def is_running(self) -> bool:
        return self._bg.is_running()

    @Slot(bool, str)
    def _done(self, ok: bool, message: str) -> None:
        self._bg.stop()
        self.finished.emit(ok, message)

    def wait(self) -> None:
        self._bg.stop()
