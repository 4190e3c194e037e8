"""The face's own frame of reference, made in every frame from that frame's landmarks (numpy only).

Measures must not change when a seated patient rolls, shifts or leans towards the camera, and
must not lag behind the head as a smoothed display midline does. So every frame is mapped onto
one reference shape by a least-squares similarity fit (rotation, scale, shift) of points that an
expression barely moves:

* 98 points: the eye corners (60, 64 / 68, 72) and the nasal bridge to the tip (51-54). Brows,
  lids, lips, the alae and the jaw move with expressions and are left out; the lids' points
  are not corners.
* 5 points: the two eye centres (two points fix a similarity exactly).

The reference shape is the median of those points over the video after each frame was put into
its eye-corner frame (origin midway between the two eyes' corner midpoints, x along the line
through them). Face coordinates: origin = that midpoint (so ``x = 0`` is the perpendicular
bisector of the eyes, the measuring midline), ``x`` towards the patient's LEFT (image right of an
unmirrored recording), ``y`` UP, unit = the video's median interpupillary distance (pupils 96-97;
with 5 points the eye-centre distance). The eye line is ``y = 0``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from app.measures.head_pose import DEPTH_IPD_MM, MEAN_DEPTH_MM, POSE_POINTS_98, frontalise

STABLE_98 = POSE_POINTS_98                  # nasal bridge to the tip (51-54), eye corners (60, 64, 68, 72)
EYE_SIMILARITY_98 = (60, 64, 68, 72)
EYE_CORNERS_98 = ((60, 64), (68, 72))       # (patient's right eye), (patient's left eye)
PUPILS_98 = (96, 97)
STABLE_5 = (0, 1)


@dataclass(frozen=True)
class FaceFrames:
    """Every frame's landmarks in face coordinates, and the scale of each frame."""
    face: np.ndarray          # (N, K, 2) face coordinates (IPD units), NaN where a frame has no fit
    ipd_px: np.ndarray        # (N,) pixels per IPD in each frame (from the fit's scale)
    reference: np.ndarray     # (S, 2) the stable points' reference shape (IPD units)
    pose: np.ndarray          # (N, 5) scale, cos, sin, centroid x, centroid y of each frame's fit
    angles: np.ndarray | None = None   # (N, 2) yaw, pitch (deg) against the video's median pose (98 points)

    def to_image(self, i: int, face_pts: np.ndarray) -> np.ndarray:
        """Face coordinates of frame ``i`` back to image pixels (to draw the measuring axis)."""
        scale, c, s, cx, cy = self.pose[i]
        q = (np.asarray(face_pts, np.float64) - self.reference.mean(axis=0)) / scale
        x = c * q[..., 0] + s * q[..., 1] + cx
        y = -s * q[..., 0] + c * q[..., 1] + cy
        return np.stack([x, -y], axis=-1)


def _eye_axes(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin, unit x (to the image right) and the eye distance of each frame: (N,2), (N,2), (N,)."""
    if pts.shape[1] == 98:
        (a, b), (c, d) = EYE_CORNERS_98
        right_eye = (pts[:, a] + pts[:, b]) / 2
        left_eye = (pts[:, c] + pts[:, d]) / 2
    else:
        right_eye, left_eye = pts[:, 0], pts[:, 1]
    v = left_eye - right_eye
    dist = np.hypot(v[:, 0], v[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        u = v / dist[:, None]
    return (right_eye + left_eye) / 2, u, dist


def eye_frame(pts: np.ndarray) -> np.ndarray:
    """(N, K, 2) pixels -> coordinates in each frame's own eye-corner frame (x right, y up,
    unit = that frame's eye distance). Also the live views' frame (no reference needed)."""
    origin, u, dist = _eye_axes(pts)
    rel = pts - origin[:, None, :]
    x = rel[..., 0] * u[:, None, 0] + rel[..., 1] * u[:, None, 1]
    y = rel[..., 0] * u[:, None, 1] - rel[..., 1] * u[:, None, 0]   # up = (u_y, -u_x) in image axes
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([x, y], axis=-1) / dist[:, None, None]


def _similarity_to(src: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares rotation+scale (no reflection) taking each frame's ``src`` (N,S,2; y up) onto
    ``ref`` (S,2): returns (scale, cos, sin, src centroid) with ref centroid implied."""
    sc = src.mean(axis=1)
    p = src - sc[:, None, :]
    q = ref - ref.mean(axis=0)
    a = np.sum(p[..., 0] * q[..., 0] + p[..., 1] * q[..., 1], axis=1)
    b = np.sum(p[..., 0] * q[..., 1] - p[..., 1] * q[..., 0], axis=1)
    norm = np.sum(p ** 2, axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.hypot(a, b)
        return r / norm, a / r, b / r, sc


def face_frames(points: np.ndarray, usable: np.ndarray | None = None,
                times_s: np.ndarray | None = None) -> FaceFrames:
    """Fit every frame of ``points`` (N, K, 2 pixels; K = 98 or 5) to the video's reference shape.

    ``usable`` (N,) bool marks frames allowed to shape the reference (e.g. not turned away).
    ``times_s`` (N,): with them, the 98-point frame maps are smoothed over :data:`POSE_SMOOTH_S`.
    98 points: the head's turn and nod are taken out with a 3-D mean face
    (:mod:`app.measures.head_pose`); 5 points: a similarity fit of the eye centres.
    """
    pts = np.asarray(points, np.float64)
    n, k = pts.shape[:2]
    stable = STABLE_98 if k == 98 else STABLE_5
    local = eye_frame(pts)
    ok = np.all(np.isfinite(local[:, stable]), axis=(1, 2))
    if usable is not None:
        ok &= usable
    nan = np.full((n, k, 2), np.nan)
    if not ok.any():
        return FaceFrames(nan, np.full(n, np.nan), np.full((len(stable), 2), np.nan), np.full((n, 5), np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref_local = np.median(local[ok][:, stable], axis=0)
        ipd = float(np.median(np.hypot(*(local[ok][:, PUPILS_98[1]] - local[ok][:, PUPILS_98[0]]).T))) \
            if k == 98 else 1.0
    # Put the reference itself into its eye-corner frame and IPD units, so that the midline of the
    # measures is the bisector of the reference eyes and the eye line is y = 0.
    ref_full = np.full((1, k, 2), np.nan)
    ref_full[0, list(stable)] = ref_local
    ref = eye_frame(_to_image(ref_full))[0, list(stable)] / ipd
    # The similarity (roll, scale, shift; for the pictures' axis, and the whole fit with 5 points)
    # uses the eye corners only: a turning nose must not be read as roll.
    sim = [stable.index(i) for i in (EYE_SIMILARITY_98 if k == 98 else stable)]
    flipped = pts.copy()
    flipped[..., 1] *= -1                      # image y points down; face y points up
    scale, c, s, centroid = _similarity_to(flipped[:, [stable[j] for j in sim]], ref[sim])
    valid = np.all(np.isfinite(flipped[:, stable]), axis=(1, 2)) & np.isfinite(scale) & (scale > 0)
    angles = np.full((n, 2), np.nan)
    if k == 98:
        face, ipd_px, angles = _frontal_face(pts, local, ref_local, ipd)
        if times_s is not None:
            face = smooth_maps(pts, face, times_s, usable)
    else:
        rel = flipped - centroid[:, None, :]
        x = c[:, None] * rel[..., 0] - s[:, None] * rel[..., 1]
        y = s[:, None] * rel[..., 0] + c[:, None] * rel[..., 1]
        face = np.stack([x, y], axis=-1) * scale[:, None, None] + ref[sim].mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ipd_px = 1.0 / scale
    valid &= np.isfinite(ipd_px) & (ipd_px > 0)
    face[~valid] = np.nan
    ipd_px = np.where(valid, ipd_px, np.nan)
    angles[~valid] = np.nan
    return FaceFrames(face, ipd_px, ref[sim], np.column_stack([scale, c, s, centroid]), angles)


def _frontal_face(pts: np.ndarray, local: np.ndarray, ref_local: np.ndarray,
                  ipd: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """98 points: every frame frontalised to the reference pose (app.measures.head_pose), then put
    into the reference's eye-corner frame in IPD units. Returns (face, ipd_px, yaw/pitch deg)."""
    front, s, angles = frontalise(local, ref_local, ipd / DEPTH_IPD_MM)
    corners = [STABLE_98.index(i) for i in EYE_SIMILARITY_98]          # 60, 64, 68, 72
    right_eye = (ref_local[corners[0]] + ref_local[corners[1]]) / 2
    left_eye = (ref_local[corners[2]] + ref_local[corners[3]]) / 2
    v = left_eye - right_eye
    d = float(np.hypot(*v))
    ux, uy = v / d
    rel = front - (right_eye + left_eye) / 2
    face = np.stack([rel[..., 0] * ux + rel[..., 1] * uy, -rel[..., 0] * uy + rel[..., 1] * ux], axis=-1) / (d * ipd)
    _, _, eye_px = _eye_axes(pts)
    return face, s * eye_px * d * ipd, angles


POSE_SMOOTH_S = 0.1        # half-window: a seated head's pose changes little in 0.2 s


def smooth_maps(pts: np.ndarray, face: np.ndarray, times_s: np.ndarray,
                usable: np.ndarray | None = None) -> np.ndarray:
    """The frame maps (image -> face coordinates) averaged over +-:data:`POSE_SMOOTH_S`.

    Each frame's map is affine in the image position and the point's model depth
    (face = A img + B z + c): eight numbers, recovered exactly from the frame's 98 points. A map
    made from eight noisy pose points carries their noise into every measured point (the mouth
    corners sit 70 mm from the eye line, so a roll error of 1 deg moves them 1.2 mm); the head's
    pose changes slowly, so averaging the maps over 7 frames (at 30 fps) removes most of that
    noise and leaves the points' own movement untouched. Frames not ``usable`` (profile views)
    lend their maps to no other frame."""
    n = len(pts)
    if n < 3:
        return face
    depth = MEAN_DEPTH_MM / DEPTH_IPD_MM
    design = np.concatenate([pts, np.broadcast_to(depth[None, :, None], (n, 98, 1)), np.ones((n, 98, 1))], axis=2)
    ok = np.all(np.isfinite(design), axis=(1, 2)) & np.all(np.isfinite(face), axis=(1, 2))
    if usable is not None:
        ok &= usable
    params = np.full((n, 4, 2), np.nan)
    if ok.any():
        d, f = design[ok], face[ok]
        params[ok] = np.linalg.solve(np.einsum("nki,nkj->nij", d, d), np.einsum("nki,nkj->nij", d, f))
    dt = float(np.median(np.diff(times_s))) if n > 1 else 1 / 30
    h = max(1, int(round(POSE_SMOOTH_S / max(dt, 1e-6))))
    flat = np.where(ok[:, None], params.reshape(n, 8), 0.0)
    csum = np.vstack([np.zeros((1, 8)), np.cumsum(flat, axis=0)])
    ccount = np.concatenate([[0], np.cumsum(ok)])
    lo, hi = np.clip(np.arange(n) - h, 0, n), np.clip(np.arange(n) + h + 1, 0, n)
    count = (ccount[hi] - ccount[lo])[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = ((csum[hi] - csum[lo]) / count).reshape(n, 4, 2)
    out = np.einsum("nki,nij->nkj", design, smooth)
    out[~ok] = np.nan
    return out


def _to_image(face_like: np.ndarray) -> np.ndarray:
    """Face-style coordinates (y up) as image-style (y down), for :func:`eye_frame`."""
    out = face_like.copy()
    out[..., 1] *= -1
    return out
