"""Rest and expression segments (Qt-free, numpy only); docs/MEASURES.md explains them for clinicians.

* Rest: the earliest of the quietest stretches (a window is as quiet as its least quiet measure),
  grown forwards over still frames; or the stretch the user gave (``--rest``).
* Thresholds: per measure ``max(4 x robust sigma at rest, noise floor)``; floors 0.02 IPD
  (1.3 mm), 0.005 IPD^2 (20 mm^2), 3 degrees.
* Region activity: per frame, the largest |value - rest median| / threshold over the region's
  sided measures and both sides (3-frame median). A region is active from where its activity
  reaches 1 until it falls below 0.5; gaps < 0.3 s are bridged and runs < 0.25 s dropped.
* Segments, one per expression: runs of different regions join only when they overlap by half
  of the shorter; each region's plateau (app.measures.plateau) is kept for the peak estimates.
Right against left within a segment: app.measures.sides; the whole video: app.measures.analysis.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from app.measures.definitions import (SIDES, MeasureDef, measures_for,
                                      regions_for)
from app.measures.plateau import plateau_frames
from app.measures.io import MeasureTable, MeasuresError

NOISE_FLOOR = {"length": 0.02, "area": 0.005, "angle": 3.0}
NOISE_K = 4.0
ENTER, EXIT = 1.0, 0.5
MERGE_GAP_S = 0.3
MIN_SEGMENT_S = 0.25
REST_WINDOW_S = 1.5
REST_TOLERANCE = 1.5
ONSET_LOOKBACK_S = 0.5


@dataclass
class Segment:
    start: int          # first frame index (inclusive)
    end: int            # last frame index (inclusive)
    region: str
    regions_active: list[str]
    peak: int           # frame index of the largest activity of ``region``
    search_from: int = 0   # onsets are searched from here (after the previous segment)
    plateaus: dict[str, np.ndarray] = field(default_factory=dict)   # region -> plateau frame indices

    def plateau_for(self, region: str) -> np.ndarray:
        """The plateau of ``region`` when it moved in this segment, else the segment's own."""
        return self.plateaus.get(region, self.plateaus[self.region])


# ---------------------------------------------------------------------------------------------
_TIME = r"\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)\s*"


def _seconds(text: str) -> float:
    m = re.fullmatch(_TIME, text)
    if not m:
        raise ValueError(text)
    parts = [p for p in m.groups() if p is not None]
    value = 0.0
    for p in parts:
        value = value * 60 + float(p)
    return value


def parse_time_range(text: str) -> tuple[float, float]:
    """``"0:00-0:03"``, ``"1.5-4"``, ``"1:02.5-1:05"`` -> (start_s, end_s)."""
    parts = text.split("-")
    try:
        if len(parts) != 2:
            raise ValueError(text)
        start, end = _seconds(parts[0]), _seconds(parts[1])
    except ValueError:
        raise MeasuresError(f"cannot read the time range {text!r}; write it as START-END, "
                            "e.g. 0:00-0:03 or 1.5-4 (seconds)") from None
    if end <= start:
        raise MeasuresError(f"the time range {text!r} ends before it starts")
    return start, end


# ---------------------------------------------------------------------------------------------
def _sided(n_points: int, region: str | None = None) -> list[MeasureDef]:
    return [m for m in measures_for(n_points) if m.sided and (region is None or m.region == region)]


def _window_frames(times_s: np.ndarray, seconds: float) -> int:
    dt = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 1 / 30
    return max(3, int(round(seconds / max(dt, 1e-6))))


def _filled(x: np.ndarray) -> np.ndarray:
    """NaN gaps filled by linear interpolation (for fast percentiles; gaps are masked separately)."""
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x
    idx = np.arange(len(x))
    return np.interp(idx, idx[ok], x[ok])


REST_HINT = ("give the rest position yourself with --rest START-END (e.g. --rest 0:00-0:03), a stretch where "
             "the face is relaxed and seen from the front")
MAX_MISSING_IN_REST = 0.5     # a rest window may miss at most half its frames (scattered detector gaps)


def detect_rest(table: MeasureTable) -> tuple[int, int]:
    """Frame index range [start, end) of the quietest stretch (earliest among near-quietest).

    A window is as quiet as its least quiet measure: each measure's spread in the window, over its
    own typical spread in quiet windows (10th percentile over the video; at least 5 % of its noise
    floor), and the window's cost is the largest of those ratios. A sum would let the many still
    eye measures hide a mouth that is still moving.
    """
    n = len(table.times_ms)
    t = table.times_s
    duration = float(t[-1] - t[0]) if n > 1 else 0.0
    win = min(n, _window_frames(t, min(REST_WINDOW_S, max(0.5, 0.15 * duration))))
    costs = np.zeros(n - win + 1)
    for m in (m for m in _sided(table.n_points) if not m.from_rest):
        for s in SIDES:
            x = table.side(m.name, s)
            if not np.isfinite(x).any():
                costs[:] = np.inf
                continue
            w = sliding_window_view(_filled(x), win)
            spread = np.std(w, axis=1) / NOISE_FLOOR[m.kind]   # not robust: a few moving frames must count
            bad = sliding_window_view(~np.isfinite(x), win).mean(axis=1) > MAX_MISSING_IN_REST
            spread[bad] = np.inf
            ok = spread[np.isfinite(spread)]
            level = max(float(np.percentile(ok, 10)) if len(ok) else 1.0, 0.05)
            costs = np.maximum(costs, spread / level)
    if not np.any(np.isfinite(costs)):
        measured = int(np.isfinite(table.columns["ipd_px"]).sum())
        raise MeasuresError(f"cannot find the rest position: no {win / max(n, 1) * duration:.1f}-second stretch "
                            f"has a measurable face in at least half its frames ({measured} of {n} frames have "
                            f"one); {REST_HINT}")
    best = float(np.min(costs))
    quiet = costs <= best * REST_TOLERANCE + 1e-6
    # A held expression is as quiet as rest; the earliest of the quiet windows is taken, and
    # "quiet" allows for the chance spread of landmark noise between windows (1.5 x the quietest).
    start = int(np.flatnonzero(quiet)[0])
    return start, start + win


def rest_from_seconds(table: MeasureTable, start_s: float, end_s: float, clock_s: float = 0.0) -> tuple[int, int]:
    """Frame range of a rest window given on the player's clock (``clock_s``: the player's time of
    the first frame, which the CSV's time_ms counts from), as the user read it off the video."""
    t = table.times_s + clock_s
    idx = np.flatnonzero((t >= start_s - 1e-9) & (t <= end_s + 1e-9))
    if len(idx) == 0:
        raise MeasuresError(f"the rest window {start_s:g}-{end_s:g} s lies outside the video "
                            f"({t[0]:g}-{t[-1]:g} s on the player's clock)")
    if np.sum(np.isfinite(table.columns["ipd_px"][idx])) < 3:
        raise MeasuresError(f"the rest window {start_s:g}-{end_s:g} s has fewer than 3 frames with a measurable face")
    return int(idx[0]), int(idx[-1]) + 1


REST_MAX_S = 3.0
PLATEAU_SMOOTH_S = 0.5
REST_STILL_S = 0.3


def extend_rest(rest: tuple[int, int], activity: dict[str, np.ndarray], times_s: np.ndarray) -> tuple[int, int]:
    """The detected rest window grown forwards over still frames (no region active), up to
    :data:`REST_MAX_S`: more rest frames, steadier rest values, narrower intervals. Only forwards:
    the window is the earliest quiet one, so what precedes it is less quiet."""
    if not activity:
        return rest
    # "Still" over 0.3 s: one noisy frame above the threshold must not end the rest (at 1 mm of
    # landmark noise single frames do), a movement lasting 0.15 s or more does.
    level = np.max(np.vstack(list(activity.values())), axis=0)
    k = _window_frames(times_s, REST_STILL_S)
    padded = np.pad(level, (k // 2, k - 1 - k // 2), mode="edge")
    still = np.median(sliding_window_view(padded, k), axis=1) < ENTER
    a, b = rest
    while b < len(still) and still[b] and times_s[b] - times_s[a] <= REST_MAX_S:
        b += 1
    if b < len(still) and not still[b]:
        # a movement's first frames lie below the threshold: stop short of it by the smoothing span
        b = max(rest[1], b - _window_frames(times_s, REST_STILL_S))
    return a, b


@dataclass
class RestStats:
    median: dict[str, float]
    threshold: dict[str, float]


def rest_stats(table: MeasureTable, rest: tuple[int, int]) -> RestStats:
    med, thr = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for m in measures_for(table.n_points):
            keys = [f"{m.name}_{s}" for s in SIDES] if m.sided else [m.name]
            for k in keys:
                x = table.columns[k][rest[0]:rest[1]]
                med[k] = float(np.nanmedian(x))
                sigma = 1.4826 * float(np.nanmedian(np.abs(x - med[k])))
                thr[k] = max(NOISE_K * sigma if math.isfinite(sigma) else 0.0, NOISE_FLOOR[m.kind])
    return RestStats(med, thr)


def _median3(x: np.ndarray) -> np.ndarray:
    if len(x) < 3:
        return x
    padded = np.concatenate([x[:1], x, x[-1:]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(sliding_window_view(padded, 3), axis=1)


def region_activity(table: MeasureTable, stats: RestStats) -> dict[str, np.ndarray]:
    out = {}
    for region in regions_for(table.n_points):
        devs = [np.abs(table.columns[k] - stats.median[k]) / stats.threshold[k]
                for m in _sided(table.n_points, region) for k in (f"{m.name}_{s}" for s in SIDES)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            a = np.nanmax(np.vstack(devs), axis=0)
        out[region] = np.nan_to_num(_median3(a), nan=0.0)
    return out


def _runs(active: np.ndarray, times_s: np.ndarray) -> list[tuple[int, int]]:
    """Hysteresis runs [start, end] (inclusive) of an activity signal, bridged and filtered."""
    runs: list[list[int]] = []
    on = False
    for i, a in enumerate(active):
        if a >= (EXIT if on else ENTER):    # a run starts above ENTER and lasts while above EXIT
            if not on:
                runs.append([i, i])
            runs[-1][1] = i
            on = True
        else:
            on = False
    merged: list[list[int]] = []
    for r in runs:
        if merged and times_s[r[0]] - times_s[merged[-1][1]] < MERGE_GAP_S:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [(a, b) for a, b in merged if times_s[b] - times_s[a] >= MIN_SEGMENT_S]


SAME_EXPRESSION_OVERLAP = 0.5   # runs of two regions are one expression when they overlap this much


def _group_runs(runs: list[tuple[int, int, str]]) -> list[list]:
    """One group per expression: runs of different regions join only when they overlap by at least
    half of the shorter (a smile narrowing the eyes); a brow raise just before or after a smile, or
    overlapping it a little, stays its own expression."""
    groups: list[list] = []
    for a, b, region in sorted(runs):
        for g in groups:
            overlap = min(b, g[1]) - max(a, g[0]) + 1
            if overlap >= SAME_EXPRESSION_OVERLAP * min(b - a + 1, g[1] - g[0] + 1) and region not in g[2]:
                g[0], g[1] = min(a, g[0]), max(b, g[1])
                g[2].add(region)
                break
        else:
            groups.append([a, b, {region}])
    return sorted(groups, key=lambda g: (g[0], g[1]))


def find_segments(table: MeasureTable, activity: dict[str, np.ndarray]) -> list[Segment]:
    t = table.times_s
    runs = [(a, b, region) for region, act in activity.items() for a, b in _runs(act, t)]
    segments: list[Segment] = []
    lookback = _window_frames(t, ONSET_LOOKBACK_S)
    # The plateau is picked on the activity's running median over 0.5 s: picked on single frames,
    # it would keep the frames whose noise happened to push the activity up, and the plateau's
    # median would inherit that noise as a bias its bootstrap interval cannot see.
    k = _window_frames(t, PLATEAU_SMOOTH_S)
    smooth = {r: np.median(sliding_window_view(np.pad(act, (k // 2, k - 1 - k // 2), mode="edge"), k), axis=1)
              for r, act in activity.items()}
    for a, b, regions in _group_runs(runs):
        peaks = {r: float(np.max(activity[r][a:b + 1])) for r in regions}
        region = max(peaks, key=lambda r: peaks[r])
        peak = a + int(np.argmax(activity[region][a:b + 1]))
        ordered = [r for r in activity if r in regions]
        previous_end = max((s.end for s in segments), default=-1)
        search_from = max(a - lookback, previous_end + 1) if previous_end < a else a
        plateaus = {r: a + plateau_frames(smooth[r][a:b + 1]) for r in ordered}
        segments.append(Segment(a, b, region, ordered, peak, max(0, search_from), plateaus))
    return segments



__all__ = ["Segment", "RestStats", "detect_rest", "extend_rest", "find_segments", "parse_time_range", "region_activity",
           "rest_from_seconds", "rest_stats"]
