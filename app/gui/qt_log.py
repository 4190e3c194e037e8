"""Qt's own messages (plugin problems, font warnings) go to the log file, not the terminal."""
from __future__ import annotations

import logging

from PySide6.QtCore import QtMsgType, qInstallMessageHandler

log = logging.getLogger("qt")
_LEVELS = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
           QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
           QtMsgType.QtFatalMsg: logging.CRITICAL}


def _handler(mode, context, message) -> None:
    log.log(_LEVELS.get(mode, logging.WARNING), "%s", message)


def install() -> None:
    qInstallMessageHandler(_handler)
