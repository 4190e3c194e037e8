"""Does the landmark model's output match the face? STAR's points against the detector's 5 points.

Qt-free and torch-free (numpy only).

A damaged or untrained landmark model (e.g. random tensors of STAR's shapes) loads and runs like a
trained one; its points are then garbage, and every recording-quality rule computed from them
(head turn, points outside the picture) would blame the recording. The face detector gives, on
every frame where it runs, its own 5 points: the eye centres, the nose tip and the mouth corners.
A trained STAR puts the same anatomy in the same places: pupils (WFLW 96, 97), nose tip (54) and
mouth corners (76, 82). ``point_error(star98, det5)`` is the mean distance of those five pairs,
in units of the detector's pupil distance.

The threshold (``MAX_ERROR_IPD`` = 0.35) comes from measurement (tests/test_model_check.py
prints the figures):

* a consistent model: the detector's own 5 points placed into a synthetic "perfect" STAR with
  3 px of jitter per coordinate (faces ~45 px between the pupils) give 0.09; the two trained
  models' different conventions (RetinaFace's eye point is the eye's centre, STAR's the pupil)
  differ by a few per cent of the face width, so a trained STAR stays well inside 0.35;
* the random-weights STAR (tests/conftest.py star_dev_model) on the shared portrait, three
  poses: 0.79 (its points do not follow the face).

``ModelCheck`` keeps the first ``CHECK_FRAMES`` frames on which both exist and decides on their
median (one bad detection does not condemn the model).
"""
from __future__ import annotations

import numpy as np

# WFLW indices (../shared/DESIGN.md) in RetinaFace's 5-point order:
# image-left eye, image-right eye, nose tip, image-left mouth corner, image-right mouth corner
STAR_FOR_DETECTOR_5 = (96, 97, 54, 76, 82)
MAX_ERROR_IPD = 0.35
CHECK_FRAMES = 10


def point_error(star98, det5) -> float | None:
    """Mean distance between STAR's 5 matching points and the detector's 5, in detector pupil
    distances; None when the detector's eyes coincide (no scale)."""
    s = np.asarray(star98, dtype=np.float64)[list(STAR_FOR_DETECTOR_5)]
    d = np.asarray(det5, dtype=np.float64)
    ipd = float(np.linalg.norm(d[1] - d[0]))
    if not np.isfinite(ipd) or ipd < 1e-6:
        return None
    err = float(np.linalg.norm(s - d, axis=1).mean()) / ipd
    return err if np.isfinite(err) else float("inf")


class ModelCheck:
    """Collects ``point_error`` over the first ``CHECK_FRAMES`` frames with both point sets."""

    def __init__(self, frames: int = CHECK_FRAMES, max_error: float = MAX_ERROR_IPD) -> None:
        self.frames, self.max_error = frames, max_error
        self.errors: list[float] = []

    def add(self, star98, det5) -> None:
        if len(self.errors) >= self.frames or star98 is None or det5 is None:
            return
        e = point_error(star98, det5)
        if e is not None:
            self.errors.append(e)

    @property
    def median(self) -> float | None:
        return float(np.median(self.errors)) if self.errors else None

    @property
    def ok(self) -> bool | None:
        """True/False once any frame was compared; None: nothing to compare (no face, 5-point mode)."""
        m = self.median
        return None if m is None else bool(m <= self.max_error)

    def as_dict(self) -> dict:
        m = self.median
        return {"frames": len(self.errors), "median_error_ipd": None if m is None else round(min(m, 1e6), 4),
                "max_error_ipd": self.max_error, "ok": self.ok,
                "what": "STAR's pupils, nose tip and mouth corners vs the face detector's 5 points"}
