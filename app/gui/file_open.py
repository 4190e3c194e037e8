"""Files opened through the operating system (macOS: dropped on the Dock or Finder icon, "Open With").

macOS delivers them as QFileOpenEvent to the QApplication object, possibly before any window
exists (at launch). An event filter on the application queues them and hands them to the window
once it attaches; while a window is attached they go straight to it.

    opener = file_open.install(app)      # as early as possible, before the window is created
    opener.attach(window.add_paths)      # flushes what arrived earlier
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject

_installed: dict[int, "FileOpenFilter"] = {}


class FileOpenFilter(QObject):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pending: list[str] = []
        self._target: Callable[[list[str]], object] | None = None

    @property
    def pending(self) -> list[str]:
        return list(self._pending)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.FileOpen:
            path = event.file() or event.url().toLocalFile()
            if path:
                self._pending.append(path)
                self._flush()
            return True
        return False

    def attach(self, target: Callable[[list[str]], object]) -> None:
        self._target = target
        self._flush()

    def detach(self, target: Callable | None = None) -> None:
        if target is None or self._target == target:
            self._target = None

    def _flush(self) -> None:
        if self._target is None or not self._pending:
            return
        paths, self._pending = self._pending, []
        self._target(paths)


def install(app: QCoreApplication | None = None) -> FileOpenFilter:
    """The application's file-open filter, installed on first use (idempotent)."""
    app = app or QCoreApplication.instance()
    if app is None:
        raise RuntimeError("create the QApplication first")
    key = id(app)
    f = _installed.get(key)
    if f is None:
        f = FileOpenFilter(app)
        app.installEventFilter(f)
        _installed.clear()  # only one application per process
        _installed[key] = f
    return f
