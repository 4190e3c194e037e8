"""Landmarks for the live panes, in a thread of their own, never holding the display back.

The display hands every frame to :meth:`LatestLandmarks.offer`; the worker takes only the newest
one when it is free (a one-frame slot, overwritten, never a queue), so frames that arrive while
the model is busy are shown with the last midline. STAR where installed, else the detector's 5
points (the same per-frame analysis as the pipeline: app.pipeline.stages.analysis).
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from app.engine.midline import DEFAULT_METHOD, Midline


class _Frame(NamedTuple):
    index: int  # type: ignore[assignment]  # the analyser's field name (shadows tuple.index)
    timestamp_ms: float
    image: np.ndarray
    pts: int | None


class LatestLandmarks:
    def __init__(self, models, frame_size: tuple[int, int], fps: float):
        from app.pipeline.stages.analysis import FrameAnalyzer
        from app.pipeline.stages.channel import StageTimer

        self.analyzer = FrameAnalyzer(models, midline_method=DEFAULT_METHOD, redetect_every=5,
                                      frame_size=frame_size, fps=fps, timer=StageTimer())
        self._slot: _Frame | None = None
        self._cv = threading.Condition()
        self._stop = False
        self.line: Midline = Midline.vertical(frame_size)
        self.points: np.ndarray | None = None
        self.runs = 0
        self.error: BaseException | None = None   # the last failure (the panes keep the last midline)
        self._thread = threading.Thread(target=self._work, name="facemirror-live-landmarks", daemon=True)
        self._thread.start()

    def offer(self, index: int, image: np.ndarray, t_s: float) -> None:
        with self._cv:
            self._slot = _Frame(index, t_s * 1000.0, image, None)
            self._cv.notify()

    def _work(self) -> None:
        while True:
            with self._cv:
                while self._slot is None and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                frame, self._slot = self._slot, None
            try:
                result = self.analyzer.analyze(frame)
            except Exception as exc:  # noqa: BLE001 - the display goes on with the last midline
                self.error = exc
                continue
            self.line, self.points = result.line, result.points
            self.runs += 1

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=30)
