"""Whether the main window may close now: a live recording asks first (its own question), then a
processing file ("Stop processing and quit?", a question that follows the queue: it names the file
it would stop, and once nothing is processing any more it says so). A running conversion delays
the close (window_models); the order of the shutdown is the window's.

`QuitQuestion` receives the parent of its box, the queue model and ``live_window()`` (the open
live exam window, or None).
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from app import APP_NAME
from app.gui.presenters import adding
from app.gui.queue_model import QueueModel


class QuitQuestion:
    def __init__(self, parent: QWidget, model: QueueModel, live_window: Callable[[], object]):
        self._parent, self.model, self._live_window = parent, model, live_window
        self.box: QMessageBox | None = None     # "Stop processing and quit?" while it is asked

    def may_quit(self) -> bool:
        live = self._live_window()     # issue 31 (live-safety): a live recording asks first
        if live is not None and not live.may_quit():
            return False
        return not self.model.queue.running or self.confirm()

    def confirm(self) -> bool:
        """Ask before stopping a file that is processing (modal; tests find it by object name)."""
        box = QMessageBox(QMessageBox.Icon.Question, APP_NAME, "Stop processing and quit?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self._parent)
        box.setObjectName("confirmQuit")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self.box = box
        self.follow_queue()
        try:
            answer = box.exec()
        finally:
            self.box = None
            box.deleteLater()
        return answer == QMessageBox.StandardButton.Yes

    def follow_queue(self) -> None:
        """The open question says what quitting would stop now (nothing, once the queue is done)."""
        box = self.box
        if box is None:
            return
        queue, current = self.model.queue, self.model.queue.current
        label = self.model.label(current) if queue.running and current is not None else None
        text, informative, yes_text, no_text = adding.quit_question(label)
        box.setText(text)
        box.setInformativeText(informative)
        box.button(QMessageBox.StandardButton.Yes).setText(yes_text)
        box.button(QMessageBox.StandardButton.No).setText(no_text)
