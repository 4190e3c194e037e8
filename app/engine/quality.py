"""Per-frame quality flags: is this frame's midline (and so its mirrored frames) trustworthy?

Qt-free and torch-free (numpy only).

API
---
``assess_frame(frame_size, box=None, score=None, landmarks=None, coarse=None) -> FrameQuality``

* ``frame_size``: (width, height) of the frame.
* ``box``: face box (x1, y1, x2, y2) in frame pixels, or None.
* ``score``: the detector's face score in [0, 1], or None (not checked).
* ``landmarks``: (98, 2) WFLW points or (5, 2) RetinaFace points in frame pixels, or None.
  5 points are in RetinaFace's order [image-left eye, image-right eye, nose tip, image-left mouth
  corner, image-right mouth corner].
* ``coarse``: True when the landmarks are the coarse 5-point fallback; None: inferred from the
  shape (5 points -> coarse).

``FrameQuality`` holds six bool flags plus the two measured angles:

================  ================================================================================
flag              raised when
================  ================================================================================
no_face           neither a box nor landmarks were found
low_score         ``score < LOW_SCORE_THRESHOLD`` (0.90)
partly_outside    a landmark lies outside the frame, or the box extends past the frame border by
                  more than ``BOX_OUTSIDE_TOLERANCE`` (10 %) of its width/height
roll              ``|roll_deg| > ROLL_MAX_DEG`` (15 deg)
yaw               ``|yaw_deg| > YAW_MAX_DEG`` (12 deg)
coarse_landmarks  the midline comes from the detector's 5 points, not the 98-point model
================  ================================================================================

* ``roll_deg``: angle of the eye line (image-left eye centre -> image-right eye centre) from the
  image horizontal; positive when the image-right eye is lower (head tilted clockwise on screen).
  Eye centres: mean of WFLW points 60-67 and 68-75, or RetinaFace points 0 and 1. Mirroring
  follows a tilted line correctly; the roll flag only says the head is not upright.
* ``yaw_deg``: a rough estimate of head turn from where the nose tip lies between the eyes,
  measured along the eye line (so it does not depend on roll). With eye reference points at
  +-a across the face and the nose tip at depth d in front of them, orthographic projection
  gives ``t = 0.5 + (d / 2a) tan(yaw)`` for the nose tip's fractional position ``t`` between the
  two eye points, so ``yaw = atan((2t - 1) * a / d)``. Adult anthropometry gives a / d about 1
  both for the outer eye corners (WFLW 60, 72: half-width about 45 mm, nose tip about 45 mm in
  front) and for the eye centres (RetinaFace: about 31 mm and 32 mm), so ``YAW_GEOMETRY_RATIO``
  = 1.0 for both. Positive yaw: the nose points to the image right (the patient turned towards
  their own left in an unmirrored recording). Expect errors of several degrees (individual
  anatomy, perspective, and in facial palsy an asymmetric face); it is meant for flagging, not
  measurement. The threshold is 12 deg because beyond about 10 deg of turn the near half of the
  face looks clearly wider than the far half, which makes the two mirrored videos hard to compare.

Serialisation: ``FrameQuality.as_dict()`` gives CSV columns (names in ``QUALITY_CSV_COLUMNS``):
``q_no_face, q_low_score, q_partly_outside, q_roll, q_yaw, q_coarse_landmarks`` (0/1),
``roll_deg``, ``yaw_deg`` (empty when unknown) and ``quality_flags`` (raised flag names joined by
";"). ``QualityCounter`` counts flags over a video for the report (``as_dict()``), with
``frames_ok`` (no flag) and ``frames_usable`` (no flag other than ``coarse_landmarks``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "FrameQuality",
    "QualityCounter",
    "assess_frame",
    "estimate_roll_deg",
    "estimate_yaw_deg",
    "QUALITY_FLAGS",
    "QUALITY_CSV_COLUMNS",
    "LOW_SCORE_THRESHOLD",
    "ROLL_MAX_DEG",
    "YAW_MAX_DEG",
    "BOX_OUTSIDE_TOLERANCE",
    "YAW_GEOMETRY_RATIO",
]

LOW_SCORE_THRESHOLD = 0.90
ROLL_MAX_DEG = 15.0
YAW_MAX_DEG = 12.0
BOX_OUTSIDE_TOLERANCE = 0.10
YAW_GEOMETRY_RATIO = 1.0  # a / d, see the module docstring

QUALITY_FLAGS = ("no_face", "low_score", "partly_outside", "roll", "yaw", "coarse_landmarks")

_MESSAGES = {
    "no_face": "no face found",
    "low_score": "uncertain face detection",
    "partly_outside": "face partly outside the frame",
    "roll": "head tilted",
    "yaw": "head turned",
    "coarse_landmarks": "coarse landmarks (5 points)",
}

QUALITY_CSV_COLUMNS = tuple(f"q_{n}" for n in QUALITY_FLAGS) + ("roll_deg", "yaw_deg", "quality_flags")


@dataclass(frozen=True)
class FrameQuality:
    """Quality flags of one frame (see the module docstring). ``ok`` is True when none is raised."""

    no_face: bool = False
    low_score: bool = False
    partly_outside: bool = False
    roll: bool = False
    yaw: bool = False
    coarse_landmarks: bool = False
    roll_deg: float | None = None
    yaw_deg: float | None = None

    @property
    def ok(self) -> bool:
        return not any(getattr(self, n) for n in QUALITY_FLAGS)

    def names(self) -> tuple[str, ...]:
        """Names of the raised flags, in ``QUALITY_FLAGS`` order."""
        return tuple(n for n in QUALITY_FLAGS if getattr(self, n))

    def message(self) -> str:
        """Short human-readable warning ('' when ok), e.g. 'head turned (yaw 18 deg)'."""
        return "; ".join(self.worded(_MESSAGES, lambda name, deg: f" ({name} {deg:+.0f} deg)"))

    def worded(self, words: dict[str, str], angle_text: Callable[[str, float], str]) -> list[str]:
        """The raised flags that `words` names, each as its word; a head tilt or turn whose angle
        is known gets angle_text(flag, degrees) appended (the log and the banner word it apart)."""
        return [words[n] + self._angle_suffix(n, angle_text) for n in self.names() if n in words]

    def _angle_suffix(self, flag: str, angle_text: Callable[[str, float], str]) -> str:
        deg = {"roll": self.roll_deg, "yaw": self.yaw_deg}.get(flag)
        return "" if deg is None else angle_text(flag, deg)

    def as_dict(self) -> dict[str, int | float | str]:
        """CSV row fragment with keys ``QUALITY_CSV_COLUMNS``."""
        d: dict[str, int | float | str] = {f"q_{n}": int(getattr(self, n)) for n in QUALITY_FLAGS}
        d["roll_deg"] = "" if self.roll_deg is None else round(self.roll_deg, 2)
        d["yaw_deg"] = "" if self.yaw_deg is None else round(self.yaw_deg, 2)
        d["quality_flags"] = ";".join(self.names())
        return d


class QualityCounter:
    """Counts raised flags over a video: ``add()`` per frame, ``as_dict()`` for the report."""

    def __init__(self) -> None:
        self.frames = 0
        self.frames_ok = 0
        self.frames_usable = 0      # no flag but coarse_landmarks (which the 5-point mode sets on every frame)
        self.counts = {n: 0 for n in QUALITY_FLAGS}

    def add(self, q: FrameQuality) -> None:
        self.frames += 1
        self.frames_ok += int(q.ok)
        self.frames_usable += int(all(n == "coarse_landmarks" for n in q.names()))
        for n in q.names():
            self.counts[n] += 1

    def extend(self, qs: Iterable[FrameQuality]) -> None:
        for q in qs:
            self.add(q)

    def as_dict(self) -> dict[str, int]:
        return {"frames": self.frames, "frames_ok": self.frames_ok, "frames_usable": self.frames_usable,
                **self.counts}


def eye_centres(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if p.shape[0] == 98:
        return p[60:68].mean(axis=0), p[68:76].mean(axis=0)
    return p[0], p[1]


def _check_landmarks(landmarks) -> np.ndarray:
    p = np.asarray(landmarks, dtype=np.float64)
    if p.shape not in ((98, 2), (5, 2)):
        raise ValueError(f"landmarks must have shape (98, 2) or (5, 2), got {p.shape}")
    return p


def estimate_roll_deg(landmarks) -> float | None:
    """Eye-line angle from horizontal in degrees (positive: image-right eye lower); None if undefined."""
    p = _check_landmarks(landmarks)
    a, b = eye_centres(p)
    e = b - a
    if not np.all(np.isfinite(e)) or np.hypot(*e) < 1e-6:
        return None
    return math.degrees(math.atan2(e[1], e[0]))


def estimate_yaw_deg(landmarks) -> float | None:
    """Rough head-turn estimate in degrees (positive: nose towards the image right); None if undefined.

    98 points: nose tip (54) between the outer eye corners (60, 72). 5 points: nose tip (2)
    between the eye centres (0, 1). See the module docstring for the model.
    """
    p = _check_landmarks(landmarks)
    if p.shape[0] == 98:
        a, b, nose = p[60], p[72], p[54]
    else:
        a, b, nose = p[0], p[1], p[2]
    e = b - a
    ee = float(e @ e)
    if not np.all(np.isfinite(np.stack([a, b, nose]))) or ee < 1e-6:
        return None
    t = float((nose - a) @ e) / ee
    return math.degrees(math.atan((2.0 * t - 1.0) * YAW_GEOMETRY_RATIO))


def _box_partly_outside(box: Sequence[float], w: int, h: int) -> bool:
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
    tx, ty = BOX_OUTSIDE_TOLERANCE * bw, BOX_OUTSIDE_TOLERANCE * bh
    return x1 < -0.5 - tx or y1 < -0.5 - ty or x2 > w - 0.5 + tx or y2 > h - 0.5 + ty


def assess_frame(frame_size: Sequence[int], *, box: Sequence[float] | None = None,
                 score: float | None = None, landmarks=None, coarse: bool | None = None) -> FrameQuality:
    """Quality flags for one frame (see the module docstring)."""
    w, h = int(frame_size[0]), int(frame_size[1])
    if box is None and landmarks is None:
        return FrameQuality(no_face=True)
    p = _check_landmarks(landmarks) if landmarks is not None else None
    if coarse is None:
        coarse = p is not None and p.shape[0] == 5

    outside = False
    if box is not None:
        outside = _box_partly_outside(box, w, h)
    if p is not None and not outside:
        finite = np.all(np.isfinite(p), axis=1)
        x, y = p[finite, 0], p[finite, 1]
        outside = bool(np.any((x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)))

    roll, yaw = (estimate_roll_deg(p), estimate_yaw_deg(p)) if p is not None else (None, None)
    return FrameQuality(
        no_face=False,
        low_score=score is not None and float(score) < LOW_SCORE_THRESHOLD,
        partly_outside=outside,
        roll=roll is not None and abs(roll) > ROLL_MAX_DEG,
        yaw=yaw is not None and abs(yaw) > YAW_MAX_DEG,
        coarse_landmarks=bool(coarse),
        roll_deg=roll,
        yaw_deg=yaw,
    )


# keep dataclass field order and QUALITY_FLAGS in step
assert tuple(f.name for f in fields(FrameQuality))[:len(QUALITY_FLAGS)] == QUALITY_FLAGS
