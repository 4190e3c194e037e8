"""The main window's models: what is known of them (`ModelStatus`, shown by the models banner, the
status bar and the midline choice in 5-point mode), and converting a checkpoint
(model_convert.Conversion, one at a time; its phase is part of the window's busy value).

`ModelsControl` receives the widgets that show the models, the queue (nothing converts while it
runs), ``load`` (asks the worker to load the models again), ``notify``, ``changed`` (the window
re-enables its actions) and ``close_window`` (a close that waited for the conversion).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from app.base import notices
from app.batch.job_queue.queue import JobQueue
from app.gui import model_status as status_info
from app.gui.model_convert import Conversion
from app.gui.model_status import (ModelStatus, SHORT_NAME, checkpoint_names, conversion_target_dir,
                                  converter_missing_hint, model_filename)
from app.gui.models_panel import ModelsPanel
from app.gui.prefs import Prefs
from app.gui.presenters import actions
from app.gui.window_bars import WindowStatusBar
from app.gui.window_options import OptionsBar


class ModelsControl(QObject):
    models_changed = Signal(object)     # ModelStatus, after a load attempt

    def __init__(self, parent: QWidget, status: ModelStatus, *, panel: ModelsPanel, status_bar: WindowStatusBar,
                 options: OptionsBar, queue: JobQueue, prefs: Prefs, load: Callable[[], None],
                 notify: Callable[..., None], changed: Callable[[], None], close_window: Callable[[], object]):
        super().__init__(parent)
        self._parent, self._panel, self._status_bar, self._options = parent, panel, status_bar, options
        self._queue, self._prefs, self._load = queue, prefs, load
        self._notify, self._changed, self._close_window = notify, changed, close_window
        self.status = status
        self.known = False                          # a load attempt has finished
        self.conversion: Conversion | None = None   # the running conversion (waited for on quit)
        self.phase = actions.Conversion.NONE
        panel.convert_requested.connect(self.convert_model)
        self.show_status(status)

    def show_status(self, status: ModelStatus) -> None:
        self.status = status
        self._panel.show_status(status)
        self._status_bar.show_models(status)
        self._options.show_five_point(self.five_point_mode)

    @property
    def five_point_mode(self) -> bool:
        """The models are loaded without STAR: the midline choice cannot apply."""
        return self.status.loaded and notices.COARSE in self.status.notices

    def on_models_ready(self, status: ModelStatus) -> None:
        if self._queue.closed:
            return
        self.known = True
        self.show_status(status)
        self._changed()
        self.models_changed.emit(status)

    def ask_checkpoint(self, key: str) -> str:
        ckpt = checkpoint_names([key])[0]
        path, _ = QFileDialog.getOpenFileName(
            self._parent, f"Choose the {SHORT_NAME[key]} checkpoint ({ckpt})", self._prefs.input_start_folder(),
            "PyTorch checkpoints (*.pkl *.pth *.pt);;All files (*)")
        return path

    def convert_model(self, key: str) -> None:
        if not status_info.converter_available():
            self._notify(converter_missing_hint(), 30000)
            return
        if self._queue.running or self.conversion is not None:
            self._notify("Wait until processing (or the running conversion) has finished")
            return
        checkpoint = self.ask_checkpoint(key)
        if not checkpoint:
            return
        out = conversion_target_dir() / model_filename(key)
        self.conversion = Conversion(key, Path(checkpoint), out, self._parent)
        self.conversion.log.connect(self._panel.show_log)
        self.conversion.finished.connect(self._on_conversion_finished)
        self._panel.set_converting(True, f"Converting {Path(checkpoint).name} to {out} ... (this takes a minute)")
        self.conversion.start()
        self.phase = actions.Conversion.RUNNING
        self._changed()

    def close_after_conversion(self) -> bool:
        """The window is asked to close: while a conversion runs it closes when that has finished
        (True: the close waits)."""
        if self.conversion is None:
            return False
        self.phase = actions.Conversion.RUNNING_THEN_CLOSE
        self._notify("A model conversion is running; the window closes when it has finished", 60000)
        return True

    def wait(self) -> None:
        if self.conversion is not None:
            self.conversion.wait()

    def _on_conversion_finished(self, ok: bool, message: str) -> None:
        self.conversion = None
        closing, self.phase = self.phase is actions.Conversion.RUNNING_THEN_CLOSE, actions.Conversion.NONE
        self._panel.set_converting(False, ("Done: " if ok else "Conversion failed: ") + message)
        if closing:
            self._close_window()
            return
        if ok:
            self.known = False
            self._status_bar.backend_label.setText("Loading models...")
            self._load()
        else:
            self._notify(f"Conversion failed: {message}")
        self._changed()
