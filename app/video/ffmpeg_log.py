"""Send FFmpeg's own messages to Python logging (loggers named ``libav.*``), never the terminal.

PyAV's default is to drop FFmpeg messages; the decoders and encoders print warnings that are useful
in a log file (damaged data, encoder choices). PyAV's callback filters by level before taking the
GIL, so at WARNING it costs nothing per frame and cannot contend with decoder threads (the known
PyAV deadlocks involve verbose levels from worker threads). ``FACEMIRROR_FFMPEG_LOG=off`` disables
it; ``=info``/``=verbose`` raises the detail for debugging.
"""
from __future__ import annotations

import logging
import os

import av
import av.logging

_LEVELS = {"error": av.logging.ERROR, "warning": av.logging.WARNING, "info": av.logging.INFO,
           "verbose": av.logging.VERBOSE}
_installed = False


def route_ffmpeg_log_to_python() -> None:
    """Install PyAV's Python log callback once per process (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    choice = os.environ.get("FACEMIRROR_FFMPEG_LOG", "warning").strip().lower()
    if choice == "off":
        av.logging.set_level(None)          # FFmpeg messages dropped (PyAV's default)
        return
    level = _LEVELS.get(choice, av.logging.WARNING)
    av.logging.set_level(level)
    av.logging.set_libav_level(level)       # FFmpeg skips formatting messages below it
    logger = logging.getLogger("libav")
    logger.setLevel(logging.DEBUG if level >= av.logging.VERBOSE else logging.WARNING)
    # Without any handler configured, Python prints WARNING records to stderr ("last resort"); a
    # NullHandler keeps them off the terminal while records still reach the app's handlers (log file).
    logger.addHandler(logging.NullHandler())
    logging.getLogger("libav.swscaler").addFilter(_DropDeprecatedFormat())


class _DropDeprecatedFormat(logging.Filter):
    """swscale warns once per frame about JPEG-range formats (MJPEG, phones); nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "deprecated pixel format" not in record.getMessage()


def ffmpeg_version() -> str:
    """FFmpeg library versions of this PyAV build, e.g. 'FFmpeg 8.1.2 (libavcodec 62.28.102), PyAV 18.1.0'."""
    codec = av.library_versions.get("libavcodec", ())
    return (f"FFmpeg {getattr(av, 'ffmpeg_version_info', '?')} (libavcodec {'.'.join(map(str, codec))}), "
            f"PyAV {av.__version__}")
