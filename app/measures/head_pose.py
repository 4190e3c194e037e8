"""Head turning (yaw) and nodding (pitch) taken out of every frame with a 3-D mean face (numpy only).

A landmark detector sees a 3-D face projected onto the image. When the head turns, points that
stand out from the face (the nose, the lips) slide sideways against points that lie further back
(the eye corners), and when it nods they slide up or down: a turning nose would be read as a
rolling head, and a mouth corner in front of the eyes as a mouth corner that moved. So every
frame is fitted with a 3-D face:

* Each point has a depth from :data:`MEAN_DEPTH_MM`, a mean adult face written from round
  anthropometric figures (mm towards the camera, relative to the mean of the four eye corners, for
  an interpupillary distance of 63 mm). Depths scale with the face's size; only depth
  *differences* between points matter, so a flatter or deeper face than the mean changes the
  correction in proportion (docs/MEASURES.md gives the residual errors for faces 25 % flatter
  and 30 % deeper).
* The pose points (eye corners 60, 64, 68, 72 and the nasal bridge to the tip 51-54; an
  expression barely moves them) of each frame, already in that frame's eye-corner frame, are
  fitted by linear least squares to the video's reference shape (their median over the video)
  under a weak-perspective camera with a small residual roll ``w``::

      x = a X + b Z - w Y + tx          a ~ s cos(yaw),   b ~ s sin(yaw)
      y = p Y + q Z + w X + ty          p ~ s cos(pitch), q ~ s sin(pitch)

  (exact for a turn about a vertical axis even when the reference itself is turned: a and b
  are then free coefficients). A frame's own ``p`` is unsteady (it trades with the nod ``q``
  along the nose), so it is tied to that frame's scale hypot(a, b) by the video's median ratio
  (a refit with the tie; one pseudo-inverse per distinct turn angle).
* Every point is then put back into the reference pose with its own depth (frontalised): the
  2x2 system above solved for (X, Y). The yaw and pitch found are *relative to the video's
  median pose*: a head held turned throughout only foreshortens (cos 10 deg = 0.985), while a
  turn between the rest and an expression is what moves points against each other.
"""
from __future__ import annotations

import numpy as np

POSE_POINTS_98 = (51, 52, 53, 54, 60, 64, 68, 72)
DEPTH_IPD_MM = 63.0    # the mean face's interpupillary distance, for the depths below


def _mean_depth() -> np.ndarray:
    z = np.zeros(98)
    # jaw outline, ear level (0 / 32) to the chin (16): the cheeks' edge lies far behind the eyes
    z[:17] = (-38, -35, -31, -27, -23, -18, -13, -8, -4, 0, 4, 7, 10, 12, 14, 15, 16)
    z[17:33] = z[15::-1]
    z[33:38] = (-4, 1, 5, 8, 10)          # right brow, upper edge, lateral to medial
    z[38:42] = (9, 7, 4, 0)               # right brow, lower edge, medial to lateral
    z[42:47] = z[37:32:-1]                # left brow, upper edge, medial to lateral
    z[47:51] = z[41:37:-1]                # left brow, lower edge, lateral to medial
    z[51:55] = (10, 18, 25, 30)           # nasal root to the tip
    z[55:60] = (15, 20, 23, 20, 15)       # alae and the columella base
    z[60:68] = (-8, -3, 0, 3, 8, 3, 0, -3)          # right eye from its outer corner (60), inner corner 64
    z[68:76] = (8, 3, 0, -3, -8, -3, 0, 3)          # left eye from its inner corner (68), outer corner 72
    z[76:83] = (5, 13, 18, 20, 18, 13, 5)           # outer upper lip, corner to corner
    z[83:88] = (12, 16, 17, 16, 12)                 # outer lower lip
    z[88:96] = (6, 14, 16, 14, 6, 13, 15, 13)       # inner lips
    z[96:98] = 2                                    # pupils (the cornea in front of the lid corners)
    return z


MEAN_DEPTH_MM = _mean_depth()


def _design(ref: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(2S, 7) rows of the x and y equations for unknowns (a, b, tx, p, q, ty, w)."""
    x, y = ref[:, 0], ref[:, 1]
    one, zero = np.ones(len(ref)), np.zeros(len(ref))
    rows_x = np.column_stack([x, depth, one, zero, zero, zero, -y])
    rows_y = np.column_stack([zero, zero, zero, y, depth, one, x])
    return np.vstack([rows_x, rows_y])


def _design_tied(ref: np.ndarray, depth: np.ndarray, rho: float) -> np.ndarray:
    """(2S, 6) rows for unknowns (a, b, tx, q, ty, w) with the vertical scale p = rho x a."""
    x, y = ref[:, 0], ref[:, 1]
    one, zero = np.ones(len(ref)), np.zeros(len(ref))
    rows_x = np.column_stack([x, depth, one, zero, zero, -y])
    rows_y = np.column_stack([rho * y, zero, zero, depth, one, x])
    return np.vstack([rows_x, rows_y])


def _tied_fit(rhs: np.ndarray, ref: np.ndarray, depth: np.ndarray, rho: float,
              cos_yaw: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each frame refitted with p = rho x hypot(a, b), i.e. p = rho / cos(yaw) x a with the frame's
    own turn from the free fit (the design then differs per frame only through that one number;
    frames are grouped by it to 0.001 so that a still head needs a single pseudo-inverse)."""
    out = np.empty((len(rhs), 6))
    key = np.round(np.clip(cos_yaw, 0.2, 1.0), 3)
    for k in np.unique(key):
        rows = key == k
        out[rows] = rhs[rows] @ np.linalg.pinv(_design_tied(ref, depth, rho / k)).T
    return tuple(out.T)


def frontalise(local: np.ndarray, ref: np.ndarray, depth_units: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every frame's points in the reference pose.

    ``local`` (N, 98, 2): each frame in its own eye-corner frame (y up); ``ref`` (S, 2): the
    reference shape of :data:`POSE_POINTS_98` in the same units; ``depth_units``: the length of
    one millimetre of the mean face in those units. Returns (frontalised (N, 98, 2) in reference
    units, the frame's scale against the reference along the eye line (N,), angles (N, 2) = yaw
    and pitch in degrees, relative to the reference).
    """
    depth = MEAN_DEPTH_MM * depth_units
    pose = list(POSE_POINTS_98)
    pinv = np.linalg.pinv(_design(ref, depth[pose]))             # (7, 2S): the same for every frame
    rhs = np.hstack([local[:, pose, 0], local[:, pose, 1]])       # (N, 2S)
    a, b, tx, p, q, ty, w = (rhs @ pinv.T).T
    # Along the nose depth grows as the height falls, so a frame's own vertical scale p and its nod
    # q are nearly interchangeable there, and landmark noise trades one for the other (points off
    # the nose line, the brows, then move by millimetres). So p is tied to the frame's scale: the
    # video's median ratio of p to hypot(a, b), the scale along the eye line with the turn taken
    # out (a alone shrinks by cos(yaw) as the head turns, and a p tied to it stretched every frame
    # of a 10 deg turn 1.5 % upwards: the mouth corners 0.85 mm down, the brows 0.4 mm up).
    # Frames are refitted with that tie, solving for hypot(a, b) through the fitted turn angle.
    scale = np.hypot(a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = float(np.nanmedian(p / scale)) if np.isfinite(p / scale).any() else 1.0
        cos_yaw = np.where(np.isfinite(a / scale), a / scale, 1.0)
    a, b, tx, q, ty, w = _tied_fit(rhs, ref, depth[pose], rho, cos_yaw)
    p = rho * np.hypot(a, b)
    rx = local[..., 0] - b[:, None] * depth[None, :] - tx[:, None]
    ry = local[..., 1] - q[:, None] * depth[None, :] - ty[:, None]
    det = a * p + w * w
    with np.errstate(invalid="ignore", divide="ignore"):
        fx = (p[:, None] * rx + w[:, None] * ry) / det[:, None]
        fy = (-w[:, None] * rx + a[:, None] * ry) / det[:, None]
    angles = np.degrees(np.column_stack([np.arctan2(b, a), np.arctan2(q, p)]))
    return np.stack([fx, fy], axis=-1), a, angles
