"""Logging: module loggers everywhere, one rotating log file per user, native noise kept out of
the user's terminal.

The log lives where the platform's tools look (macOS: ~/Library/Logs/FaceMirror, shown by
Console.app; Linux: $XDG_STATE_HOME/FaceMirror/log). Errors a packaged app hits would otherwise
be lost: a .app has no terminal. The window's "Show log" and "Copy diagnostic info" read it.
"""
from __future__ import annotations

import logging
import logging.handlers
import sys
from collections import deque
from pathlib import Path

from app import APP_NAME, paths

LOG_NAME = "facemirror.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
_MAX_BYTES = 2_000_000
_BACKUPS = 3


class _RecentErrors(logging.Handler):
    """Keeps the last few warnings and errors for "Copy diagnostic info"."""

    def __init__(self, size: int = 20):
        super().__init__(logging.WARNING)
        self.records: deque[str] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never raise
            pass


recent_errors = _RecentErrors()
_configured: Path | None = None


def log_dir() -> Path:
    return paths.user_log_dir()


def log_file() -> Path:
    return log_dir() / LOG_NAME


def setup(level: int = logging.INFO) -> Path | None:
    """Route the app's loggers to the rotating file (once per process). Returns the file, or None
    when it cannot be written (then only the recent-errors buffer keeps records)."""
    global _configured
    root = logging.getLogger()
    if _configured is not None or recent_errors in root.handlers:
        return _configured
    fmt = logging.Formatter(_FORMAT)
    recent_errors.setFormatter(fmt)
    root.addHandler(recent_errors)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    try:
        log_dir().mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(log_file(), maxBytes=_MAX_BYTES, backupCount=_BACKUPS,
                                                       encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setFormatter(fmt)
    handler.setLevel(level)
    root.addHandler(handler)
    quiet_native_libraries()
    _configured = log_file()
    logging.getLogger(__name__).info("%s started: %s", APP_NAME, " ".join(sys.argv))
    return _configured


def quiet_native_libraries() -> None:
    """Native libraries print to the terminal by themselves; keep only what matters, via logging."""
    try:
        import onnxruntime as ort
        ort.set_default_logger_severity(3)   # errors only; the session's own failures raise anyway
    except Exception:  # noqa: BLE001 - optional at this point
        pass
    try:
        import cv2
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except Exception:  # noqa: BLE001
        pass
