"""Logging: module loggers everywhere, one rotating log file per user, native noise kept out of
the user's terminal.

The log lives where the platform's tools look (macOS: ~/Library/Logs/FaceMirror, shown by
Console.app; Linux: $XDG_STATE_HOME/FaceMirror/log). Errors a packaged app hits would otherwise
be lost: a .app has no terminal. The window's "Show log" and "Copy diagnostic info" read it.

Privacy: file names of recordings often carry the patient's name, and the log is what a user is
asked to send to support. Every line is redacted before it is written or kept: folders are
dropped and each file name becomes an opaque token that stays the same for the same name
(``<file 3fa2c1>.mp4``), so support can follow one file through the log without learning its name.
"""
from __future__ import annotations

import faulthandler
import hashlib
import logging
import logging.handlers
import os
import re
import sys
import threading
from collections import deque
from pathlib import Path

from app import APP_NAME

from app.base import paths

LOG_NAME = "facemirror.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
_MAX_BYTES = 2_000_000
_BACKUPS = 3


_PATH = re.compile(r"""(?:[A-Za-z]:)?(?:[\\/][^\s\\/:'"<>|,;()\[\]]+)+[\\/]?""")
# recordings, pictures and FaceMirror's outputs (and their temporary files); program files, module
# names and numbers are kept
_PRIVATE_SUFFIXES = ("mp4|mov|m4v|avi|mkv|webm|mts|m2ts|3gp|wmv|mpg|mpeg|mxf|csv|json|html|tmp|jpg|jpeg|png|"
                     "heic|tif|tiff|bmp")
_FILE = re.compile(r"""(?<![\w<])([^\s\\/:'"<>|,;()\[\]]+)\.(""" + _PRIVATE_SUFFIXES + r""")\b""", re.IGNORECASE)
_KEEP_SUFFIXES = {"py", "onnx", "dylib", "so", "dll", "log"}   # program files say nothing about patients


def _token(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:6]


def _file(m: re.Match) -> str:
    stem, ext = m.group(1), m.group(2)
    return f"<file {_token(stem + '.' + ext)}>.{ext}"


def _path(m: re.Match) -> str:
    whole = m.group(0).rstrip("/\\")
    name = re.split(r"[\\/]", whole)[-1]
    if "." in name and name.rsplit(".", 1)[1].lower() not in _KEEP_SUFFIXES:
        ext = name.rsplit(".", 1)[1]
        return f"<file {_token(name)}>.{ext}"
    return "<folder>" if "." not in name else f"<program file>/{name}"


_private: set[str] = set()


def note_private(path) -> None:
    """Names the log must never show, whatever their form in a message (a file name with spaces
    cannot be told from the words around it): a recording's name, stem and folder name."""
    p = Path(path)
    for part in (str(p), p.name, p.stem, p.parent.name):
        if len(part) >= 3:
            _private.add(part)


def note_private_words(*words: str | None) -> None:
    """Words the log must never show either: a patient ID or a visit label."""
    for word in words:
        if word and len(word.strip()) >= 3:
            _private.add(word.strip())


_private_pattern: tuple[int, re.Pattern | None] = (0, None)


def _private_regex() -> re.Pattern | None:
    """The private names as one pattern, longest first, each only where it is not part of a longer
    word: a folder named "out" must not turn "outputs" into "<name ...>puts". An underscore, a dot
    or a space ends a word here, so "Anna Berg blink_annotated.mp4" still loses "Anna Berg blink"."""
    global _private_pattern
    if _private_pattern[0] != len(_private):
        names = sorted(_private, key=len, reverse=True)
        body = "|".join(re.escape(n) for n in names)
        _private_pattern = (len(names), re.compile(rf"(?<![^\W_])(?:{body})(?![^\W_])") if names else None)
    return _private_pattern[1]


def redact(text: str) -> str:
    """The text with folders and recording/output file names replaced by opaque tokens."""
    pattern = _private_regex()
    if pattern is not None:
        text = pattern.sub(lambda m: f"<name {_token(m.group(0))}>", text)
    return _FILE.sub(_file, _PATH.sub(_path, text))


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


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


class _CrashTracingFileHandler(logging.handlers.RotatingFileHandler):
    """The log file, which also receives Python's fatal-error trace (faulthandler): an abort in a
    native library (a segfault, "Fatal Python error: ...") runs no Python code, so without this a
    packaged app's crash left nothing anywhere. faulthandler writes to a file descriptor, so it
    is pointed at the new file after each rotation. Its trace names program files and functions
    only, never a patient's file."""

    def trace_crashes(self) -> None:
        try:
            if self.stream is None:
                self.stream = self._open()
            self.stream.write(f"--- {APP_NAME} process {os.getpid()}: a fatal error trace, if any, follows "
                              "(faulthandler) ---\n")
            self.stream.flush()
            faulthandler.enable(file=self.stream, all_threads=True)
        except (OSError, ValueError):
            pass        # a full disk (or a size limit) at start: the app runs on; a crash goes to stderr

    def doRollover(self) -> None:
        super().doRollover()
        if faulthandler.is_enabled() and self.stream is not None:
            faulthandler.enable(file=self.stream, all_threads=True)


def _log_unhandled_exceptions() -> None:
    """An exception nobody caught (in a Qt slot, a worker thread) goes to the log with its
    traceback: a packaged window has no terminal to print it to."""
    previous, previous_thread = sys.excepthook, threading.excepthook

    def hook(exc_type, exc, tb) -> None:
        if not issubclass(exc_type, KeyboardInterrupt):
            logging.getLogger(__name__).critical("unhandled error", exc_info=(exc_type, exc, tb))
        previous(exc_type, exc, tb)

    def thread_hook(args) -> None:
        if args.exc_type is not SystemExit:
            logging.getLogger(__name__).critical(
                "unhandled error in thread %s", getattr(args.thread, "name", "?"),
                exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
        previous_thread(args)

    sys.excepthook, threading.excepthook = hook, thread_hook


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
    fmt = _RedactingFormatter(_FORMAT)
    recent_errors.setFormatter(fmt)
    root.addHandler(recent_errors)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    try:
        log_dir().mkdir(parents=True, exist_ok=True)
        handler = _CrashTracingFileHandler(log_file(), maxBytes=_MAX_BYTES, backupCount=_BACKUPS,
                                           encoding="utf-8", delay=False)
    except OSError:
        return None
    handler.setFormatter(fmt)
    handler.setLevel(level)
    root.addHandler(handler)
    # A log line that cannot be written (a full disk) is dropped, never a traceback on the
    # user's terminal in the middle of the command's own plain message.
    logging.raiseExceptions = False
    handler.trace_crashes()
    _log_unhandled_exceptions()
    quiet_native_libraries()
    _configured = log_file()
    # the command only: its arguments are patients' files
    logging.getLogger(__name__).info("%s started: %s (version %s)", APP_NAME, " ".join(sys.argv[1:2]) or "window",
                                     _version())
    return _configured


def _version() -> str:
    from app import __version__
    return __version__


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
