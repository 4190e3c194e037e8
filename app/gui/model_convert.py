"""Convert a chosen checkpoint to ONNX in the background (a QThread running the project's converter).

The converters themselves live in app.convert (they need torch and onnx); this module only runs
one of them off the GUI thread and reports its log lines and the outcome.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot



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
            logging.getLogger(__name__).exception("unexpected error in the background")
            self.finished.emit(False, f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(True, f"converted {self.checkpoint.name} to {self.out}")


class Conversion(QObject):
    """One running conversion: owns its thread; emits finished(ok, message) in the GUI thread."""
    log = Signal(str)
    finished = Signal(bool, str)

    def __init__(self, key: str, checkpoint: Path, out: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.key = key
        self.thread = QThread()
        self.thread.setObjectName(f"facemirror-convert-{key}")
        self.worker = ConvertWorker(key, checkpoint, out)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.log.connect(self.log)
        self.worker.finished.connect(self._done)

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    @Slot(bool, str)
    def _done(self, ok: bool, message: str) -> None:
        self.thread.quit()
        self.thread.wait()
        self.finished.emit(ok, message)

    def wait(self) -> None:
        self.thread.quit()
        self.thread.wait()
