"""Convert a chosen checkpoint to ONNX in the background (a QThread running the project's converter).

The converters themselves live in app.convert (they need torch and onnx); this module only runs
one of them off the GUI thread and reports its log lines and the outcome.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.base import model_files
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
        self.finished.emit(True, f"converted {self.checkpoint.name} to {self.out}" + self._companions())

    def _companions(self) -> str:
        """Also make the absent models that come from the same checkpoint (STAR's: the live model),
        so that the one checkpoint chosen gives all it can. A failure there is said, but does not
        undo the model asked for. Returns what to add to the message."""
        notes = []
        for key in model_files.models_sharing_checkpoint(self.key):
            out = self.out.with_name(model_files.model_entry(key).filename)
            if out.exists():
                continue
            try:
                _converter(key)(self.checkpoint, out, overwrite=False, log=self.log.emit)
                notes.append(f"; also made {out.name}")
            except Exception as exc:  # noqa: BLE001 - the main model is in place; said, not raised
                logger.exception("conversion of %s failed", out.name)
                notes.append(f"; {out.name} was not made ({exc})")
        return "".join(notes)


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
