"""Closing the main window: a running conversion delays it, a live recording and a processing file
ask first (the question follows the queue), and shutdown stops the threads in a fixed order.

A mixin of MainWindow (it uses the window's queue, threads and preferences).
"""
from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox

from app import APP_NAME
from app.gui.presenters import actions, adding


class WindowClosing:
    def closeEvent(self, event) -> None:  # noqa: N802
        if self._conversion is not None:
            self._conversion_phase = actions.Conversion.RUNNING_THEN_CLOSE
            self.message("A model conversion is running; the window closes when it has finished", 60000)
            event.ignore()
            return
        live = getattr(self, "live_window", None)     # issue 31 (live-safety): a live recording asks first
        if live is not None and not live.may_quit():
            event.ignore()
            return
        if self.queue.running and not self._confirm_quit():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def _confirm_quit(self) -> bool:
        """Ask before stopping a file that is processing (modal; tests find it by object name)."""
        box = QMessageBox(QMessageBox.Icon.Question, APP_NAME, "Stop processing and quit?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("confirmQuit")
        box.button(QMessageBox.StandardButton.Yes).setText("Stop and quit")
        box.button(QMessageBox.StandardButton.No).setText("Keep processing")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self._confirm_box = box
        self._update_confirm_quit()
        try:
            answer = box.exec()
        finally:
            self._confirm_box = None
            box.deleteLater()
        return answer == QMessageBox.StandardButton.Yes

    def _update_confirm_quit(self) -> None:
        """The question follows the queue: it names the file it would stop, and once nothing is
        processing any more it says so (quitting then loses nothing)."""
        box = self._confirm_box
        if box is None:
            return
        yes, no = box.button(QMessageBox.StandardButton.Yes), box.button(QMessageBox.StandardButton.No)
        current = self.queue.current
        label = self.model.label(current) if self.queue.running and current is not None else None
        text, informative, yes_text, no_text = adding.quit_question(label)
        box.setText(text)
        box.setInformativeText(informative)
        yes.setText(yes_text)
        no.setText(no_text)

    def shutdown(self) -> None:
        """Cancel the running file, stop the threads, remember the settings. Idempotent.

        Order matters for a clean exit: cancel first so the pipeline returns within a frame or two,
        then stop each BackgroundThread (waits, drops requests never started, delivers results
        already queued, releases ONNX sessions and images) while Python and Qt are fully alive."""
        if self.queue.closed:
            return
        self.queue.close()              # cancels the running file; late results start nothing
        if getattr(self, "live_window", None) is not None:
            self.live_window.close()     # finishes a recording in progress (kept on disk, complete)
        self._preview_timer.stop()
        try:
            self.prefs.set_geometry(self.saveGeometry())
            self.prefs.set_splitter(self.splitter.saveState())
            self.prefs.sync()
        except RuntimeError:
            pass
        self._background.stop()
        self._worker = None
        if self._conversion is not None:
            self._conversion.wait()
        self._prober.stop()
        self._comparer.stop()
        self._file_open.detach(self.add_paths)
        try:
            QApplication.instance().aboutToQuit.disconnect(self.shutdown)
        except (RuntimeError, TypeError):
            pass
