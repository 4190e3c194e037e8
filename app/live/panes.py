"""The three live panes (the camera with its midline and landmarks, the left mirrored, the right
mirrored), drawn at the size they are shown, not at the camera's.

One home for the window (app/gui/live_window.py) and the headless session (app/live/session.py,
which the live benchmark measures), so the figures are those of the drawing the clinician sees.
Why the display size: a 720p frame mirrored and annotated at full size costs about 11 ms of CPU
per frame here (mirroring alone), a third of a 30 fps frame's budget on a 2-core machine that also
encodes the recording and runs the landmarks; at a 640-pixel pane it costs a quarter of that.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from app.engine.annotate import annotate_frame
from app.engine.midline import Midline
from app.engine.mirror import MirrorPair, mirror_both

DISPLAY_MIN_WIDTH = 320     # panes never drawn from fewer pixels (a window shown small still looks sharp)
WIDTH_STEP = 64             # drawn widths go in steps, so resizing the window does not re-make buffers per pixel
# The headless session's pane width (`main.py live`, `benchmark live`): a third of a 1920-pixel screen,
# the window's three panes side by side
HEADLESS_PANE_WIDTH = 640


class Panes(NamedTuple):
    camera: np.ndarray      # annotated copy, its own array
    left: np.ndarray        # anatomical left mirrored; reused for the next frame: copy to keep it
    right: np.ndarray       # anatomical right mirrored; reused likewise


def pane_scale(frame_width: int, shown_width: float) -> float:
    """The frame's scale for panes shown ``shown_width`` device pixels wide (1.0: the frame as it is;
    never enlarged). ``shown_width`` <= 0 means full size."""
    if shown_width <= 0:
        return 1.0
    need = max(DISPLAY_MIN_WIDTH, math.ceil(shown_width / WIDTH_STEP) * WIDTH_STEP)
    return min(1.0, need / frame_width)


class PaneDrawer:
    """Draws the panes of one frame; keeps the two mirrored buffers between frames."""

    def __init__(self) -> None:
        self._buffers: MirrorPair | None = None

    def draw(self, image: np.ndarray, line: Midline, points: np.ndarray | None, scale: float) -> Panes:
        """``line`` and ``points`` are in the frame's pixels (as the landmarks give them)."""
        h, w = image.shape[:2]
        if scale < 1.0:
            # area averaging below half size: no aliasing when a 1080p camera is shown small
            interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
            image = cv2.resize(image, (int(round(w * scale)), int(round(h * scale))), interpolation=interpolation)
            line = Midline.from_theta_rho(line.theta, line.rho * scale, (line.ref[0] * scale, line.ref[1] * scale))
            points = None if points is None else np.asarray(points) * scale
        if self._buffers is None or self._buffers.left.shape != image.shape:
            self._buffers = MirrorPair(np.empty_like(image), np.empty_like(image))
        pair = mirror_both(image, line, out=self._buffers)
        return Panes(annotate_frame(image, midline=line, landmarks=points), pair.left, pair.right)
