"""Scene cuts with a face-geometry comparison: is the face after a cut still the same person?

Qt-free and torch-free (numpy only).

The tracker finds cuts (the whole picture changes; app/engine/tracking.py SceneCutDetector) and
looks for the face again there. A cut from one person to another standing in the same place is
the case that matters: both would be measured as one patient. ``CutLog`` keeps, for every cut,
the face's proportions over up to ``WINDOW`` frames before and after it (the median of each) and
the largest change.

Proportions (``face_proportions``), from the 5 points (the detector's, or STAR's pupils, nose tip
and mouth corners), in pupil distances: mouth width, eye-line-centre to mouth-centre distance,
eye-line-centre to nose tip. Measured with the real detector on the shared portraits (8 poses
each, rotation up to 4 deg, scale 5 %, pixel noise): per-frame spread 0.01-0.02; between the two
people 0.19 (mouth width) and 0.14 (eyes to mouth). Through the pipeline
(tests/test_verdict_pipeline.py): a cut from one portrait to the other changes the proportions
by 0.17; a cut to the same face mirrored, recoloured and shifted by 0.06 (the detector
places its points a little differently on the changed picture). ``CHANGE_IPD`` = 0.10 lies
between the two. An expression held across the cut (a smile widens the mouth) can also exceed it,
so the verdict says "probably another person" and asks to check, it does not decide.

Only near-frontal faces are compared: a turned head shortens the pupil distance the proportions
are divided by, so they grow without bound (a profile pose on the shared press clip gave a
"change" of 17.9 pupil distances, meaningless as a fingerprint). A face whose nose tip lies more
than ``FRONTAL_NOSE_OFFSET_IPD`` from the middle of the eyes, along the eye line, or whose eyes
are implausibly close for its eyes-to-mouth distance (``MAX_EYES_TO_MOUTH_IPD``), has no
proportions; a cut with no frontal face on one side is reported as not judged (None).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from app.engine.model_check import STAR_FOR_DETECTOR_5

WINDOW = 10
CHANGE_IPD = 0.10
# the nose tip's offset along the eye line from the eyes' midpoint, in pupil distances: 0.03 and 0.12 on
# the two shared portraits; 0.25 is about 12 deg of yaw (the nose tip ~1.2 pupil distances in front
# of the eyes), the turn beyond which the verdict already counts a frame as turned
FRONTAL_NOSE_OFFSET_IPD = 0.25
# eyes-to-mouth in pupil distances: 1.0-1.2 on frontal faces; in a profile the detector's two eye
# points fall almost together (7.7 on the press clip) while the nose can still sit between them
MAX_EYES_TO_MOUTH_IPD = 2.0
SCENE_CUT = "scene cut"
FACE_CHANGE = "another face in the patient's place"   # app.engine.face_change: the box's content changed


def face_proportions(points) -> np.ndarray | None:
    """(mouth width, eyes-to-mouth, eyes-to-nose) / pupil distance from (5, 2) or (98, 2) points;
    None for a face turned too far to compare (see FRONTAL_NOSE_OFFSET_IPD)."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape[0] == 98:
        p = p[list(STAR_FOR_DETECTOR_5)]
    ipd = float(np.linalg.norm(p[1] - p[0]))
    if not np.isfinite(ipd) or ipd < 1e-6:
        return None
    eyes, mouth = (p[0] + p[1]) / 2, (p[3] + p[4]) / 2
    along_eyes = (p[1] - p[0]) / ipd
    if abs(float(np.dot(p[2] - eyes, along_eyes))) / ipd > FRONTAL_NOSE_OFFSET_IPD:
        return None
    if np.linalg.norm(mouth - eyes) / ipd > MAX_EYES_TO_MOUTH_IPD:
        return None
    return np.array([np.linalg.norm(p[4] - p[3]), np.linalg.norm(mouth - eyes), np.linalg.norm(p[2] - eyes)]) / ipd


class CutLog:
    """``add(time_ms, cut, points)`` per frame; ``as_dict()`` for the report's ``scene_cuts``."""

    def __init__(self, window: int = WINDOW, change: float = CHANGE_IPD) -> None:
        self.window, self.change = window, change
        self._recent: deque = deque(maxlen=window)
        self._open: dict | None = None
        self.cuts: list[dict] = []

    def add(self, time_ms: float, cut: bool, points, kind: str = SCENE_CUT) -> None:
        if cut:
            self._close()
            before = np.median(np.array(self._recent), axis=0) if self._recent else None
            self._open = {"time_ms": float(time_ms), "before": before, "after": [], "kind": kind}
            self._recent.clear()
        d = face_proportions(points) if points is not None else None
        if d is None:
            return
        self._recent.append(d)
        if self._open is not None:
            self._open["after"].append(d)
            if len(self._open["after"]) >= self.window:
                self._close()

    def _close(self) -> None:
        c, self._open = self._open, None
        if c is None:
            return
        change = None
        if c["before"] is not None and c["after"]:
            change = float(np.max(np.abs(np.median(np.array(c["after"]), axis=0) - c["before"])))
        identity = None if change is None else bool(change > self.change)
        if c["kind"] == FACE_CHANGE:
            identity = True      # seen directly: the face in the box changed and a face is there
        self.cuts.append({"time_s": round(c["time_ms"] / 1000.0, 3), "kind": c["kind"],
                          "proportion_change_ipd": None if change is None else round(change, 4),
                          "identity_change": identity})

    def as_dict(self) -> dict:
        self._close()
        return {"count": len(self.cuts), "times_s": [c["time_s"] for c in self.cuts], "cuts": list(self.cuts),
                "identity_change_limit_ipd": self.change}
