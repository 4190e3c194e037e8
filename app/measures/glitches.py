"""Glitch rejection: per-point temporal outliers replaced before anything is measured (numpy only).

A landmark model sometimes puts one point far off for a frame or a few (a pupil on the brow, a
lid on a reflection). Those frames would become the "peak" of an expression. The head's drift is
taken out first (every point relative to the per-frame median displacement of the steady points
from their own places, which one bad point cannot move); then each coordinate of
each point is compared with the median of a centred window of :data:`HALF_WINDOW_S` either side
(a Hampel filter); values further from it than ``K_MAD`` robust standard deviations of the window,
and further than a floor of :data:`FLOOR_IPD` interpupillary distances, are replaced by the window
median and counted.

Why this does not eat real movement: over a window a monotonic rise or fall has its median at the
centre frame, so the onset and release of an expression never deviate from it; a held expression
is its own median. A movement shorter than about half the window (a blink of 100-150 ms) is
treated like a glitch in the lid points, which is wanted: measures compare held expressions.
The window is long enough to remove runs of up to 5 consecutive glitch frames at 30 fps.

Longer runs (:func:`bridge_runs`, before the Hampel pass): a point that jumps away in one frame
and back within :data:`RUN_MAX_S` (1 s), staying off in between, is bridged by interpolation
between the frames either side and counted (``runs``, ``longest_run_s``). A point that stays off
longer (jump out and back within :data:`LONG_RUN_MAX_S`) is NOT bridged (a real movement could be
hidden under so long a gap) but counted in ``long_runs``, with its point and times: the analysis
reports the segments it touches as not measurable, with that reason.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

HALF_WINDOW_S = 0.25        # 7 frames either side at 30 fps: runs of <= 5 glitch frames are removed
K_MAD = 3.0                 # robust standard deviations (1.4826 x MAD) from the window median (Hampel)
FLOOR_IPD = 0.06            # ~3.8 mm: never call a smaller jump a glitch (landmark noise is below this)
MIN_FINITE = 5              # frames with a face needed in a window to judge a point


RUN_MAX_S = 1.0             # a point that jumps away and back within this is a glitch run
LONG_RUN_MAX_S = 30.0       # a jump back found later than RUN_MAX_S but within this: a long run, not bridged
RUN_K = 5.0                 # a jump: beyond 5 robust SD of the point's frame-to-frame steps (and the floor)
NEAR_S = 0.25               # a candidate jump back: the one most opposite the jump out within this after it
SHIFT_FRAMES = 3            # frames either side of a jump whose medians tell a shift of level from a noisy frame


@dataclass
class GlitchReport:
    points_replaced: int      # point-frames replaced (x and y of one point count once)
    frames_affected: int      # frames with at least one replaced point
    runs: int = 0             # runs (a point off and back within RUN_MAX_S) found and bridged
    longest_run_s: float = 0.0
    long_runs: list[dict] = field(default_factory=list)   # {point, start_s, end_s}: off longer than RUN_MAX_S

    def as_dict(self) -> dict:
        return {"points_replaced": self.points_replaced, "frames_affected": self.frames_affected,
                "runs": self.runs, "longest_run_s": self.longest_run_s,
                "long_runs": len(self.long_runs), "long_run_list": [dict(r) for r in self.long_runs],
                "method": f"runs: a jump of one point and a jump back within {RUN_MAX_S:g} s, bridged; then a "
                          f"Hampel filter per point and coordinate: window +-{HALF_WINDOW_S:g} s, "
                          f"{K_MAD:g} robust SD, floor {FLOOR_IPD:g} IPD; a point off for longer than {RUN_MAX_S:g} s "
                          f"(and back within {LONG_RUN_MAX_S:g} s) is not bridged: the movements it touches are "
                          "reported as not measurable"}


def bridge_runs(rel: np.ndarray, times_s: np.ndarray, floor: float,
                long_runs: list[tuple[int, int, int]] | None = None) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Glitch runs: a point that jumps away in one frame, stays off, and jumps back (a jump of
    about the opposite vector) within :data:`RUN_MAX_S`. Expressions rise over several frames,
    so their frame-to-frame steps stay far below a glitch's jump. ``rel`` (N, K, 2), points
    relative to the steady anchor. Returns (bridged copy, (N, K) bool mask, run durations).
    Runs longer than RUN_MAX_S (within LONG_RUN_MAX_S) are appended to ``long_runs`` as (point,
    first off frame, last off frame) and left as they are."""
    out = rel.copy()
    n, k = rel.shape[:2]
    bad = np.zeros((n, k), bool)
    durations: list[float] = []
    dt = float(np.median(np.diff(times_s))) if n > 1 else 1 / 30
    max_frames = int(round(RUN_MAX_S / max(dt, 1e-6))) + 1
    long_frames = int(round(LONG_RUN_MAX_S / max(dt, 1e-6))) + 1
    near_frames = max(SHIFT_FRAMES, int(round(NEAR_S / max(dt, 1e-6))))
    steps = np.diff(rel, axis=0)                                     # (N-1, K, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mad = np.nanmedian(np.abs(steps - np.nanmedian(steps, axis=0)), axis=0)   # (K, 2)
        limit = np.maximum(RUN_K * 1.4826 * np.nanmean(mad, axis=1), floor)       # (K,)
    size = np.hypot(steps[..., 0], steps[..., 1])                                  # (N-1, K)
    for p in range(k):
        jumps = np.flatnonzero(np.nan_to_num(size[:, p]) > limit[p])
        # the jump back need only be half as clear: it must also be the jump out reversed
        backs = np.flatnonzero(np.nan_to_num(size[:, p]) > 0.5 * limit[p])
        used: set[int] = set()
        for a in jumps.tolist():
            if a in used:
                continue
            cands = backs[(backs > a) & (backs <= a + long_frames)]
            for b in cands.tolist():
                # the jump back is judged on medians either side (not the two frame-to-frame steps, on
                # which four frames' noise and the face's movement while the point is off add up)
                if _level_shift(rel[:, p], a, b, SHIFT_FRAMES, 0.5 * limit[p]) is None:
                    continue
                # a noise step a few frames before the jump back passes too (its median window after
                # takes in the frames already back), and so does a lid that starts to open while its
                # point is off: of those within NEAR_S, the step most opposite the jump out is the jump back
                near = [c for c in cands[(cands >= b) & (cands <= b + near_frames)].tolist()
                        if _level_shift(rel[:, p], a, c, SHIFT_FRAMES, 0.5 * limit[p]) is not None]
                b = max(near, key=lambda c: -float(np.dot(steps[c, p], steps[a, p])))
                jump = _level_shift(rel[:, p], a, b, SHIFT_FRAMES, 0.5 * limit[p])
                # it stays off in between: the point may move with an expression while off, so its
                # typical place need only be nearer where it jumped to than where it was
                before = np.nanmedian(rel[max(0, a + 1 - SHIFT_FRAMES):a + 1, p], axis=0)
                off = np.nanmedian(rel[a + 1:b + 1, p], axis=0) - before
                if jump is None or not np.hypot(*(off - jump)) < np.hypot(*off):
                    continue
                if b > a + max_frames:
                    # long: not bridged (a real movement could hide under so long a gap). A noise step
                    # before a run (the jump out of a lid that starts closing) would pair with the run's
                    # jump back as well: a later jump out that pairs with it starts the run
                    if any(_level_shift(rel[:, p], a2, b, SHIFT_FRAMES, 0.5 * limit[p]) is not None
                           for a2 in jumps[(jumps > a) & (jumps < b)]):
                        continue
                    if long_runs is not None:
                        long_runs.append((p, int(a) + 1, int(b)))
                    used.update((int(a), int(b)))
                    break
                # frames a+1..b are off; bridge them between the frames either side
                w = (np.arange(a + 1, b + 1) - a) / (b + 1 - a)
                out[a + 1:b + 1, p] = rel[a, p] + w[:, None] * (rel[b + 1, p] - rel[a, p])
                bad[a + 1:b + 1, p] = True
                durations.append(float(times_s[b + 1] - times_s[a + 1]))
                used.update((int(a), int(b)))
                break
    return out, bad, durations


def _level_shift(track: np.ndarray, a: int, b: int, m: int, least: float) -> np.ndarray | None:
    """The shift of level at the step after frame ``a`` of one point's (N, 2) ``track``, if the step
    after frame ``b`` shifts it back; else None. Both are judged on medians of up to ``m`` frames
    either side of each step, and both must exceed ``least``. At 60 fps a 1 s run has 60
    frame-to-frame noise steps, and one of them now and then looks like the jump back (large enough,
    about the jump out reversed) though the point stays off after it: the medians see that it does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        before = np.nanmedian(track[max(0, a + 1 - m):a + 1], axis=0)
        first = np.nanmedian(track[a + 1:min(b + 1, a + 1 + m)], axis=0)
        last = np.nanmedian(track[max(a + 1, b + 1 - m):b + 1], axis=0)
        after = np.nanmedian(track[b + 1:b + 1 + m], axis=0)
    out, back = first - before, after - last
    big = max(np.hypot(*out), np.hypot(*back))
    if min(np.hypot(*out), np.hypot(*back)) > least and np.hypot(*(out + back)) < 0.5 * big:
        return out
    return None


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
        # the steady points' typical displacement from their own places: a per-frame median of
        # their raw positions would jump whenever two of them swap rank (a turning nose passes an
        # eye corner), and every point would seem to jump with it
        own = np.nanmedian(pts[:, list(steady)], axis=0)                    # (S, 2)
        anchor = np.nanmedian(pts[:, list(steady)] - own, axis=1)          # (N, 2)
    rel = pts - anchor[:, None, :]
    long_found: list[tuple[int, int, int]] = []
    rel, run_bad, durations = bridge_runs(rel, times_s, FLOOR_IPD * scale_px, long_found)
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
    per_point = bad.reshape(n, -1, 2).any(axis=2) | run_bad
    long_runs = [{"point": p, "start_s": float(times_s[a]), "end_s": float(times_s[b]),
                  "duration_s": float(times_s[b] - times_s[a] + (times_s[1] - times_s[0] if n > 1 else 0.0))}
                 for p, a, b in sorted(long_found, key=lambda r: r[1])]
    return cleaned, GlitchReport(int(per_point.sum()), int(per_point.any(axis=1).sum()), len(durations),
                                 max(durations, default=0.0), long_runs)
