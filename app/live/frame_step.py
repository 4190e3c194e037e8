"""What the live exam does with each frame, Qt-free: one home for the window's frame handler
(app/gui/live_window.py) and the headless session's loop (app/live/session.py).

Every frame: offered to the landmark slot (never waiting for the model), and while recording
written to the recorder's thread on the recording's clock (never waiting for the encoder; every
frame, drawn or not) and the clock handed on (the guided exam runs on it, so its record matches
the file). Then, when the caller wants a picture, the three panes are drawn with the last
midline found (the picture's vertical centre line before the landmarks have one).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.engine.midline import Midline
from app.live.exam_state import ExamState
from app.live.landmarks import LatestLandmarks
from app.live.panes import PaneDrawer, Panes
from app.live.recorder import RecorderThread


class LiveFrameStep:
    """``marks``: an app.live.landmarks.LatestLandmarks or None (no models); ``writer``: the
    app.live.recorder.RecorderThread of the recording under way, or None. Both are set by the
    owner as they come and go. ``on_recorded(t)``: called with each recorded frame's time."""

    def __init__(self, exam: ExamState, *, on_recorded: Callable[[float], object] | None = None):
        self.exam = exam
        self.marks: LatestLandmarks | None = None
        self.writer: RecorderThread | None = None
        self.drawer = PaneDrawer()
        self.on_recorded = on_recorded

    def take(self, index: int, image: np.ndarray, t: float, arrived: float | None = None) -> float | None:
        """The landmark slot and the recorder. Returns the frame's time on the recording's clock,
        None when it is not recorded."""
        if self.marks is not None:
            self.marks.offer(index, image, t)
        if self.writer is None or not self.exam.recording:
            return None
        rec_t = self.exam.frame(t, arrived)
        self.writer.write(image, rec_t)        # the source gives a new array each frame: no copy
        if self.on_recorded is not None:
            self.on_recorded(rec_t)
        return rec_t

    def draw(self, image: np.ndarray, scale: float) -> Panes:
        """The three panes at ``scale`` of the frame, with the last midline and landmarks found."""
        if self.marks is not None:
            line, points = self.marks.line, self.marks.points
        else:
            h, w = image.shape[:2]
            line, points = Midline.vertical((w, h)), None
        return self.drawer.draw(image, line, points, scale)
