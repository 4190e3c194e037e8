"""A small live right-vs-left trace of one face region, for the window's live view.

Feed it per frame, either with landmarks (``add_frame``: the headline measure of every region is
computed by :func:`app.measures.region_values`, about 0.5 ms) or with values already computed in
the worker (``add_sample`` with the dict ``region_values`` returns). It draws the change from the
baseline (median of the first second of the video: recordings start at rest) in mm (63 mm interpupillary distance assumed), patient's right in
blue, left in vermillion, over the last ``window_s`` seconds. Region "auto" follows the region
that moves most.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.measures.definitions import ASSUMED_IPD_MM, REGIONS, live_measure, region_values
from app.measures.definitions import regions_for
from app.measures.definitions import MEASURE_BY_NAME

RIGHT_COLOUR, LEFT_COLOUR = QColor("#0072B2"), QColor("#D55E00")
WINDOW_S = 10.0
BASELINE_S = 1.0
AUTO_FLOOR_IPD = 0.02        # movement below this never makes a region "active"
AUTO_SWITCH_RATIO = 1.5      # another region must move this much more to take over


class SymmetryTrace(QWidget):
    def __init__(self, parent: QWidget | None = None, region: str = "auto", window_s: float = WINDOW_S):
        super().__init__(parent)
        self.window_s = window_s
        self._region = "auto"
        self._shown = "mouth"
        self._n_points = 98
        self._samples: deque[tuple[float, dict[str, tuple[float, float]]]] = deque()
        self._baseline: list[tuple[float, dict[str, tuple[float, float]]]] = []
        self.set_region(region)
        self.setMinimumSize(160, 70)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Right versus left movement trace")

    def sizeHint(self) -> QSize:   # noqa: N802 - Qt API
        return QSize(320, 90)

    # --- feeding ------------------------------------------------------------------------------
    def set_region(self, region: str) -> None:
        if region != "auto" and region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; choose auto or {', '.join(REGIONS)}")
        self._region = region
        if region != "auto":
            self._shown = region
        self.update()

    def clear(self) -> None:
        self._samples.clear()
        self._baseline.clear()
        self.update()

    def add_frame(self, time_s: float, points: np.ndarray | None) -> None:
        """One frame's landmarks (98 or 5 points, pixels; None when no face): measured in that
        frame's own eye-corner frame, so no midline is needed."""
        if points is None:
            return
        self._n_points = len(points)
        self.add_sample(time_s, region_values(points))

    def add_sample(self, time_s: float, values: dict[str, tuple[float, float]]) -> None:
        # 5 detector points have fewer regions, and other measures per region (for the label and units)
        self._n_points = 5 if set(values) == set(regions_for(5)) else 98
        if self._samples and time_s < self._samples[-1][0]:
            self.clear()                    # a new video started
        self._samples.append((time_s, values))
        if not self._baseline or time_s - self._baseline[0][0] <= BASELINE_S:
            self._baseline.append((time_s, values))
        while self._samples and time_s - self._samples[0][0] > self.window_s:
            self._samples.popleft()
        if self._region == "auto":
            self._shown = self._auto_region()
        self.update()

    # --- data ---------------------------------------------------------------------------------
    @property
    def shown_region(self) -> str:
        return self._shown

    def series(self, region: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times_s, right_change_mm, left_change_mm) of a region over the buffered window."""
        region = region or self._shown
        rows = [(t, *v[region]) for t, v in self._samples if region in v]
        if not rows:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        a = np.array(rows, dtype=float)
        b = np.array([v[region] for _, v in self._baseline if region in v], dtype=float).reshape(-1, 2)
        scale = ASSUMED_IPD_MM if MEASURE_BY_NAME[live_measure(region, self._n_points)].kind == "length" else 1.0
        with np.errstate(all="ignore"):
            base = np.nanmedian(b, axis=0) if np.isfinite(b).all(axis=1).any() else np.full(2, np.nan)
        return a[:, 0], (a[:, 1] - base[0]) * scale, (a[:, 2] - base[1]) * scale

    def _auto_region(self) -> str:
        if not self._samples:
            return self._shown
        now = self._samples[-1][0]
        score = {}
        for region in self._samples[-1][1]:
            t, r, lft = self.series(region)
            recent = t >= now - 1.0
            dev = np.abs(np.concatenate([r[recent], lft[recent]])) / (AUTO_FLOOR_IPD * ASSUMED_IPD_MM)
            score[region] = float(np.nanmax(dev)) if np.isfinite(dev).any() else 0.0
        best = max(score, key=lambda k: score[k])
        current = score.get(self._shown, 0.0)
        if best != self._shown and score[best] > 1.0 and score[best] > AUTO_SWITCH_RATIO * current:
            return best
        return self._shown if self._shown in score else best

    # --- drawing ------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(2, 14, -2, -2)
        p.fillRect(self.rect(), self.palette().base())
        name = MEASURE_BY_NAME[live_measure(self._shown, self._n_points)].label
        p.setPen(self.palette().text().color())
        p.drawText(QRectF(4, 0, self.width() - 8, 14), Qt.AlignmentFlag.AlignLeft,
                   f"{self._shown}: {name} (mm, change)")
        p.setPen(RIGHT_COLOUR)
        p.drawText(QRectF(4, 0, self.width() - 8, 14), Qt.AlignmentFlag.AlignRight, "R")
        p.setPen(LEFT_COLOUR)
        p.drawText(QRectF(4, 0, self.width() - 20, 14), Qt.AlignmentFlag.AlignRight, "L  ")
        t, r, lft = self.series()
        p.setPen(QPen(QColor(128, 128, 128, 120), 1))
        p.drawLine(QPointF(rect.left(), rect.center().y()), QPointF(rect.right(), rect.center().y()))
        if len(t) >= 2:
            with np.errstate(all="ignore"):
                span = max(2.0, float(np.nanmax(np.abs(np.concatenate([r, lft])))) * 1.1)
            t0 = t[-1] - self.window_s
            for ys, colour in ((r, RIGHT_COLOUR), (lft, LEFT_COLOUR)):
                pts = [QPointF(rect.left() + (ti - t0) / self.window_s * rect.width(),
                               rect.center().y() - yi / span * rect.height() / 2)
                       for ti, yi in zip(t, ys) if math.isfinite(yi)]
                p.setPen(QPen(colour, 1.5))
                p.drawPolyline(QPolygonF(pts))
        p.end()
