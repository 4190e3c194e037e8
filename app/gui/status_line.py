"""The status bar's notices, never cut mid-word.

QStatusBar paints a temporary message clipped at the bar's width, so a long notice ended in half
a word ("outputs alre") with no way to read the rest. Here the notice is a label that drops whole
words and ends in "…" when it does not fit, and its tooltip holds the full text. currentMessage()
and clearMessage() keep QStatusBar's meaning for the window's callers (and tests).
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget

ELLIPSIS = "…"


def elide_words(text: str, fits: Callable[[str], bool]) -> str:
    """``text`` when it fits, else as many whole words as fit followed by "…" (one word that is
    too long on its own is cut, with the ellipsis: better than nothing)."""
    text = " ".join(text.split())
    if fits(text):
        return text
    words = text.split(" ")
    lo, hi = 0, len(words)          # the most words w with fits(words[:w] + …)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(" ".join(words[:mid]).rstrip(",;:.") + ELLIPSIS):
            lo = mid
        else:
            hi = mid - 1
    if lo > 0:
        return " ".join(words[:lo]).rstrip(",;:.") + ELLIPSIS
    first = words[0]
    n = len(first)
    while n > 0 and not fits(first[:n] + ELLIPSIS):
        n -= 1
    return first[:n] + ELLIPSIS if n else ELLIPSIS


class NoticeLabel(QLabel):
    """A one-line label showing ``full_text`` elided at word boundaries to its width.

    ``text()`` and ``setText()`` are the full text for Python callers; ``own_tooltip``: the
    tooltip is set by the caller (else it is the full text)."""

    def __init__(self, parent: QWidget | None = None, *, own_tooltip: bool = False, min_width: int = 0):
        super().__init__(parent)
        self.full_text = ""
        self._own_tooltip = own_tooltip
        self.setTextFormat(Qt.TextFormat.PlainText)
        if min_width:       # takes its full width when there is room, gives way down to min_width
            self.setMinimumWidth(min_width)
        else:               # takes whatever room is left
            self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        if not self._own_tooltip:
            self.setToolTip(text)
        self.setAccessibleDescription(text)
        self._fit()
        self.updateGeometry()

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel API
        self.set_full_text(text)

    def text(self) -> str:
        return self.full_text

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        hint = super().sizeHint()
        margins = self.contentsMargins()
        return QSize(self.fontMetrics().horizontalAdvance(self.full_text) + margins.left() + margins.right()
                     + 2 * self.margin() + 2, hint.height())

    def _fit(self) -> None:
        metrics, width = self.fontMetrics(), max(0, self.contentsRect().width())
        QLabel.setText(self, elide_words(self.full_text, lambda t: metrics.horizontalAdvance(t) <= width)
                       if self.full_text else "")

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit()


class StatusLine(QStatusBar):
    """QStatusBar whose messages go to a NoticeLabel (left, stretching) instead of being painted cut."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.notice = NoticeLabel(self)
        self.notice.setAccessibleName("Notice")
        self.addWidget(self.notice, 1)
        self._clear = QTimer(self)
        self._clear.setSingleShot(True)
        self._clear.timeout.connect(self.clearMessage)

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 - QStatusBar API
        self.notice.set_full_text(text)
        if timeout > 0:
            self._clear.start(timeout)
        else:
            self._clear.stop()

    def currentMessage(self) -> str:  # noqa: N802 - QStatusBar API
        return self.notice.full_text

    def clearMessage(self) -> None:  # noqa: N802 - QStatusBar API
        self._clear.stop()
        self.notice.set_full_text("")
