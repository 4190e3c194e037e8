"""Glitch rejection: per-point temporal outliers replaced before anything is measured (numpy only).

A landmark model sometimes puts one point far off for a frame or a few (a pupil on the brow, a
lid on a reflection). Those frames would become the "peak" of an expression. The head's drift is
taken out first (every point relative to the per-frame median of the steady points, which one
bad point cannot move); then each coordinate of
each point is compared with the median of a centred window of :data:`HALF_WINDOW_S` either side
(a Hampel filter); values further from it than ``K_MAD`` robust standard deviations of the window,
and further than a floor of :data:`FLOOR_IPD` interpupillary distances, are replaced by the window
median and counted.

Why this does not eat real movement: over a window a monotonic rise or fall has its median at the
centre frame, so the onset and release of an expression never deviate from it; a held expression
is its own median. A movement shorter than about half the window (a blink of 100-150 ms) is
treated like a glitch in the lid points, which is wanted: measures compare held expressions.
The window is long enough to remove runs of up to 5 consecutive glitch frames at 30 fps.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

HALF_WINDOW_S = 0.25        # 7 frames either side at 30 fps: runs of <= 5 glitch frames are removed
K_MAD = 3.0                 # robust standard deviations (1.4826 x MAD) from the window median (Hampel)
FLOOR_IPD = 0.06            # ~3.8 mm: never call a smaller jump a glitch (landmark noise is below this)
MIN_FINITE = 5              # frames with a face needed in a window to judge a point


@dataclass
class GlitchReport:
    points_replaced: int      # point-frames replaced (x and y of one point count once)
    frames_affected: int      # frames with at least one replaced point

    def as_dict(self) -> dict:
        return {"points_replaced": self.points_replaced, "frames_affected": self.frames_affected,
                "method": f"Hampel filter per point and coordinate: window +-{HALF_WINDOW_S:g} s, "
                          f"{K_MAD:g} robust SD, floor {FLOOR_IPD:g} IPD"}


def _half_window(times_s: np.ndarray) -> int:
    dt = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 1 / 30
    return max(2, int(round(HALF_WINDOW_S / max(dt, 1e-6))))


CHUNK = 1000                 # frames per median pass


def _median_and_mad(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and median absolute deviation over the last axis, ignoring NaN. np.median where a
    window is complete (most of them; several times faster than np.nanmedian), nanmedian elsewhere."""
    med = np.median(windows, axis=-1)
    gaps = ~np.isfinite(med)
    mad = np.median(np.abs(windows - med[..., None]), axis=-1)
    if gaps.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sub = windows[gaps]
            m = np.nanmedian(sub, axis=-1)
            med[gaps] = m
            mad[gaps] = np.nanmedian(np.abs(sub - m[:, None]), axis=-1)
    return med, mad


def reject_glitches(points: np.ndarray, times_s: np.ndarray, scale_px: float,
                    steady: tuple[int, ...]) -> tuple[np.ndarray, GlitchReport]:
    """``points`` (N, K, 2) in pixels (NaN = no face) -> (cleaned copy, report).

    ``scale_px`` is the face's typical interpupillary distance in pixels (for the floor);
    ``steady`` the indices of points an expression barely moves (their median is the anchor).
    """
    pts = np.asarray(points, np.float64)
    n = len(pts)
    if n < 3 or not np.isfinite(scale_px) or scale_px <= 0:
        return pts.copy(), GlitchReport(0, 0)
    h = min(_half_window(times_s), (n - 1) // 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        anchor = np.nanmedian(pts[:, list(steady)], axis=1)               # (N, 2)
    rel = pts - anchor[:, None, :]
    flat = rel.reshape(n, -1)
    padded = np.pad(flat, ((h, h), (0, 0)), mode="constant", constant_values=np.nan)
    windows = sliding_window_view(padded, 2 * h + 1, axis=0)          # (N, K*2, W), a view
    med = np.empty_like(flat)
    mad = np.empty_like(flat)
    for start in range(0, n, CHUNK):     # chunks: a median copies its windows (~240 MB for 5 minutes)
        part = windows[start:start + CHUNK]
        med[start:start + CHUNK], mad[start:start + CHUNK] = _median_and_mad(part)
    enough = np.sum(np.isfinite(windows), axis=2) >= MIN_FINITE
    limit = np.maximum(K_MAD * 1.4826 * mad, FLOOR_IPD * scale_px)
    bad = enough & np.isfinite(flat) & (np.abs(flat - med) > limit)
    cleaned = np.where(bad, med, flat).reshape(pts.shape) + anchor[:, None, :]
    per_point = bad.reshape(n, -1, 2).any(axis=2)
    return cleaned, GlitchReport(int(per_point.sum()), int(per_point.any(axis=1).sum()))
