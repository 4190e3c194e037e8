"""How much a turned head's perspective can make one side look larger (numpy only).

A camera sees the half of a turned face that is nearer to it a little larger: a point ``s`` mm
from the midline of a head turned by ``yaw`` lies ``s sin(yaw)`` nearer to (or further from) the
camera, and a pinhole camera at distance ``D`` magnifies it by about ``1 + s sin(yaw) / D``. So a
right-left ratio is off by about ``2 s sin(yaw) / D``: at 10 deg, 600 mm and a brow 35 mm from the
midline, 2 % (a symmetric brow raise reads 98 %). The 3-D pose fit (:mod:`app.measures.head_pose`)
is weak-perspective (a camera at infinity) and the landmarks do not tell the camera's distance, so
this is NOT corrected: the estimate is the camera-at-infinity one, and the symmetry's interval is
widened to cover every camera distance from :data:`CAMERA_MIN_MM` to infinity
(:func:`app.measures.sides`). The head's yaw per frame is the fitted yaw against the video's median
pose plus the median pose's own yaw, read from how far the nose stands off the eyes' midline
(:func:`reference_yaw_sin`).
"""
from __future__ import annotations

import math

import numpy as np

from app.measures.definitions import ASSUMED_IPD_MM, SIDES, WFLW_SIDES, MeasureDef
from app.measures.head_pose import MEAN_DEPTH_MM
from app.measures.io import MeasureTable

# The nearest camera the intervals allow for: a face filling a phone's or a webcam's picture is
# filmed from 0.4-1 m; 350 mm is nearer than a clinician holds a phone to film a whole face.
CAMERA_MIN_MM = 350.0
NOSE_98 = (51, 52, 53, 54)      # nasal root to tip: in front of the eye corners (MEAN_DEPTH_MM)


def _points(name: str, side: str) -> tuple[int, ...]:
    """WFLW points whose distance from the midline stands for ``name`` on ``side``."""
    ix = WFLW_SIDES[side]
    if name == "brow_height":
        return ix.brow_upper
    if name in ("palpebral_fissure", "mrd1", "mrd2", "eye_area"):
        return ix.eye_ring
    if name == "ala_height":
        return (ix.ala,)
    return (ix.corner,)


def reference_yaw_sin(face: np.ndarray) -> float:
    """sin(yaw) of the video's median pose, positive when the nose points to the patient's LEFT
    (the patient's right half is then the nearer): the nose points' median offset from the
    midline of the frontalised face (which keeps the reference pose's turn) fitted against their
    depth in front of the eye corners (a least-squares slope through 0)."""
    x = np.nanmedian(face[:, list(NOSE_98), 0], axis=0) * ASSUMED_IPD_MM
    z = MEAN_DEPTH_MM[list(NOSE_98)]
    if not np.all(np.isfinite(x)):
        return 0.0
    return float(np.clip(np.dot(x, z) / np.dot(z, z), -1.0, 1.0))


def nearest_camera_gain(table: MeasureTable, m: MeasureDef) -> dict[str, np.ndarray] | None:
    """Per side, each frame's magnification of ``m`` by a camera at :data:`CAMERA_MIN_MM` relative
    to one at infinity (1 + the side's nearness / D; squared for areas), or None when it cannot be
    had (5 points, no pose, angles)."""
    fit = table.frames_fit
    if m.kind == "angle" or table.n_points != 98 or fit is None or fit.angles is None:
        return None
    sin0 = reference_yaw_sin(fit.face)
    rel = np.nan_to_num(fit.angles[:, 0], nan=0.0)
    sin_yaw = np.sin(np.arcsin(sin0) + np.radians(rel))
    out = {}
    for side in SIDES:
        pts = list(_points(m.name, side))
        s_mm = abs(float(np.nanmedian(np.mean(fit.face[:, pts, 0], axis=1)))) * ASSUMED_IPD_MM
        if not math.isfinite(s_mm):
            return None
        nearer = (1.0 if side == "right" else -1.0) * s_mm * sin_yaw
        gain = 1.0 + nearer / CAMERA_MIN_MM
        out[side] = gain ** (2 if m.kind == "area" else 1)
    return out
