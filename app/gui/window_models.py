"""The main window's models: what the banner and status bar say about them, the midline choice in
5-point mode, and converting a checkpoint (model_convert.Conversion, one at a time).

A mixin of MainWindow (it uses the window's panels, queue and `_conversion_phase`).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from app.base import notices
from app.engine.midline import FALLBACK_CHOICE_REASON
from app.gui import model_status as status_info
from app.gui.model_convert import Conversion
from app.gui.model_status import (ModelStatus, SHORT_NAME, checkpoint_names, conversion_target_dir,
                                  converter_missing_hint, model_filename)
from app.gui.presenters import actions
from app.gui.window_bars import MIDLINE_TOOLTIP


class WindowModels:
    def _show_model_status(self, status: ModelStatus) -> None:
        self.model_status = status
        self.models_panel.show_status(status)
        self.backend_label.setText(status.backend_text)
        warn, colour = "", "#b35c00"
        if notices.UNTRAINED in status.notices:
            warn, colour = f"WARNING: {notices.SHORT[notices.UNTRAINED]}", "#c62828"
        elif notices.COARSE in status.notices and status.loaded:
            warn = f"WARNING: {notices.SHORT[notices.COARSE]}"
        elif status.error:
            warn = "WARNING: models failed to load"
        self.warning_label.setText(warn)
        self.warning_label.setStyleSheet(f"QLabel {{ color: {colour}; font-weight: bold; }}")
        self.warning_label.setToolTip("\n".join(status.warnings + ([status.error] if status.error else [])))
        self.warning_label.setVisible(bool(warn))
        self._show_midline_choice()

    @property
    def five_point_mode(self) -> bool:
        """The models are loaded without STAR: the midline choice cannot apply."""
        return self.model_status.loaded and notices.COARSE in self.model_status.notices

    def _show_midline_choice(self) -> None:
        coarse = self.five_point_mode
        self.midline_combo.setEnabled(not coarse)
        self.midline_combo.setToolTip(FALLBACK_CHOICE_REASON if coarse else MIDLINE_TOOLTIP)
        self.midline_note_action.setVisible(coarse)
        # the note takes the disabled choice's place: both side by side pushed the end of the
        # toolbar into its overflow menu at 1024 px
        self.midline_combo_action.setVisible(not coarse)

    def _on_models_ready(self, status: ModelStatus) -> None:
        if self.queue.closed:
            return
        self.models_known = True
        self._show_model_status(status)
        self._update_actions()
        self.models_changed.emit(status)

    def _ask_checkpoint(self, key: str) -> str:
        ckpt = checkpoint_names([key])[0]
        path, _ = QFileDialog.getOpenFileName(
            self, f"Choose the {SHORT_NAME[key]} checkpoint ({ckpt})", self.prefs.input_start_folder(),
            "PyTorch checkpoints (*.pkl *.pth *.pt);;All files (*)")
        return path

    def convert_model(self, key: str) -> None:
        if not status_info.converter_available():
            self.message(converter_missing_hint(), 30000)
            return
        if self.queue.running or self._conversion is not None:
            self.message("Wait until processing (or the running conversion) has finished")
            return
        checkpoint = self._ask_checkpoint(key)
        if not checkpoint:
            return
        out = conversion_target_dir() / model_filename(key)
        self._conversion = Conversion(key, Path(checkpoint), out, self)
        self._conversion.log.connect(self.models_panel.show_log)
        self._conversion.finished.connect(self._on_conversion_finished)
        self.models_panel.set_converting(True, f"Converting {Path(checkpoint).name} to {out} ... "
                                                "(this takes a minute)")
        self._conversion.start()
        self._conversion_phase = actions.Conversion.RUNNING
        self._update_actions()

    def _on_conversion_finished(self, ok: bool, message: str) -> None:
        self._conversion = None
        if self._conversion_phase is not actions.Conversion.RUNNING_THEN_CLOSE:
            self._conversion_phase = actions.Conversion.NONE
        self.models_panel.set_converting(False, ("Done: " if ok else "Conversion failed: ") + message)
        if self._conversion_phase is actions.Conversion.RUNNING_THEN_CLOSE:
            self._conversion_phase = actions.Conversion.NONE
            self.close()
            return
        if ok:
            self.models_known = False
            self.backend_label.setText("Loading models...")
            self._request_load.emit()
        else:
            self.message(f"Conversion failed: {message}")
        self._update_actions()
