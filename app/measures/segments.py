"""Rest, expression segments and per-segment right/left comparison (Qt-free, numpy only).

Method (documented for clinicians in docs/MEASURES.md):

* Rest: the quietest stretch. For every window of ``rest_window_s`` (2 s, or 15 % of a short
  video, at least 0.5 s) the standard deviation of every sided measure is divided by that
  measure's noise floor and summed; among the windows within 25 % of the quietest, the
  EARLIEST wins (clinical protocols record rest first; a held expression is also quiet). A given
  ``rest=(start_s, end_s)`` overrides the search.
* Thresholds: per measure ``max(4 x robust sigma at rest, noise floor)``; floors 0.02 IPD
  (1.3 mm), 0.005 IPD^2 (20 mm^2), 3 degrees.
* Region activity: per frame, the largest |value - rest median| / threshold over the region's
  sided measures and both sides (3-frame median against single-frame glitches). A region is
  active from where its activity reaches 1 until it falls below 0.5; gaps < 0.3 s are bridged
  and runs < 0.25 s dropped.
* Segments: overlapping active runs of all regions form one segment (one expression); its
  ``region`` is the one with the largest activity, ``regions_active`` lists all.
* Per measure and side: robust peak change from rest = the 95th (or 5th, whichever is larger in
  magnitude) percentile of value - rest median over the segment; ``symmetry_pct`` = 100 x
  smaller / larger magnitude (0 when the sides move in opposite directions, None when neither
  side moves beyond its threshold); ``weaker`` = the side with the smaller magnitude (None when
  within 5 % or no movement); onset per side = first time the change reaches half its own peak
  (linear interpolation between frames); ``onset_lag_ms`` = right onset - left onset.
* Synkinesis hint: palpebral fissure narrowing (% of its rest height) during a mouth segment,
  flagged from 20 %; commissure height change during an eye segment, flagged from 0.04 IPD.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from app.measures.definitions import (ASSUMED_IPD_MM, SIDES, MeasureDef, measures_for,
                                      regions_for)
from app.measures.io import MeasureTable, MeasuresError

NOISE_FLOOR = {"length": 0.02, "area": 0.005, "angle": 3.0}
NOISE_K = 4.0
ENTER, EXIT = 1.0, 0.5
MERGE_GAP_S = 0.3
MIN_SEGMENT_S = 0.25
REST_WINDOW_S = 2.0
REST_TOLERANCE = 1.25
ROBUST_PCT = 95.0
EQUAL_PCT = 95.0
ONSET_FRACTION = 0.5
ONSET_LOOKBACK_S = 0.5
SYNK_FISSURE_PCT = 20.0
SYNK_COMMISSURE_IPD = 0.04


@dataclass
class Segment:
    start: int          # first frame index (inclusive)
    end: int            # last frame index (inclusive)
    region: str
    regions_active: list[str]
    peak: int           # frame index of the largest activity of ``region``
    search_from: int = 0   # onsets are searched from here (after the previous segment)


@dataclass
class Analysis:
    result: dict                       # the NAME_measures.json body
    rest: tuple[int, int]              # frame indices [start, end)
    segments: list[Segment]
    activity: dict[str, np.ndarray] = field(default_factory=dict)


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


def detect_rest(table: MeasureTable) -> tuple[int, int]:
    """Frame index range [start, end) of the quietest stretch (earliest among near-quietest)."""
    n = len(table.times_ms)
    t = table.times_s
    duration = float(t[-1] - t[0]) if n > 1 else 0.0
    win = min(n, _window_frames(t, min(REST_WINDOW_S, max(0.5, 0.15 * duration))))
    costs = np.zeros(n - win + 1)
    for m in _sided(table.n_points):
        for s in SIDES:
            x = table.side(m.name, s)
            if not np.isfinite(x).any():
                costs += np.inf
                continue
            w = sliding_window_view(_filled(x), win)
            spread = np.std(w, axis=1)      # not a robust spread: a few moving frames must count
            bad = sliding_window_view(~np.isfinite(x), win).mean(axis=1) > 0.2
            costs += np.where(bad, np.inf, spread / NOISE_FLOOR[m.kind])
    if not np.any(np.isfinite(costs)):
        raise MeasuresError("no stretch of the video has a face in most frames; cannot find the rest position")
    best = float(np.min(costs))
    n_measures = 2 * len(_sided(table.n_points))
    start = int(np.flatnonzero(costs <= best * REST_TOLERANCE + 0.05 * n_measures)[0])
    return start, start + win


def rest_from_seconds(table: MeasureTable, start_s: float, end_s: float) -> tuple[int, int]:
    t = table.times_s
    idx = np.flatnonzero((t >= start_s - 1e-9) & (t <= end_s + 1e-9))
    if len(idx) == 0:
        raise MeasuresError(f"the rest window {start_s:g}-{end_s:g} s lies outside the video "
                            f"({t[0]:g}-{t[-1]:g} s)")
    key = f"{_sided(table.n_points)[0].name}_right"
    if np.sum(np.isfinite(table.columns[key][idx])) < 3:
        raise MeasuresError(f"the rest window {start_s:g}-{end_s:g} s has fewer than 3 frames with a face")
    return int(idx[0]), int(idx[-1]) + 1


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
        if not on and a >= ENTER:
            on = True
            runs.append([i, i])
        elif on and a >= EXIT:
            runs[-1][1] = i
        elif on:
            on = False
    merged: list[list[int]] = []
    for r in runs:
        if merged and times_s[r[0]] - times_s[merged[-1][1]] < MERGE_GAP_S:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [(a, b) for a, b in merged if times_s[b] - times_s[a] >= MIN_SEGMENT_S]


def find_segments(table: MeasureTable, activity: dict[str, np.ndarray]) -> list[Segment]:
    t = table.times_s
    runs = sorted((a, b, region) for region, act in activity.items() for a, b in _runs(act, t))
    groups: list[list] = []
    for a, b, region in runs:
        if groups and t[a] - t[groups[-1][1]] < MERGE_GAP_S:
            groups[-1][1] = max(groups[-1][1], b)
            groups[-1][2].add(region)
        else:
            groups.append([a, b, {region}])
    segments: list[Segment] = []
    lookback = _window_frames(t, ONSET_LOOKBACK_S)
    for a, b, regions in groups:
        peaks = {r: float(np.max(activity[r][a:b + 1])) for r in regions}
        region = max(peaks, key=lambda r: peaks[r])
        peak = a + int(np.argmax(activity[region][a:b + 1]))
        ordered = [r for r in activity if r in regions]
        after_previous = segments[-1].end + 1 if segments else 0
        segments.append(Segment(a, b, region, ordered, peak, max(after_previous, a - lookback)))
    return segments


# ---------------------------------------------------------------------------------------------
def robust_peak(change: np.ndarray) -> float:
    c = change[np.isfinite(change)]
    if len(c) == 0:
        return math.nan
    hi, lo = np.percentile(c, ROBUST_PCT), np.percentile(c, 100 - ROBUST_PCT)
    return float(hi if abs(hi) >= abs(lo) else lo)


def _onset_s(change: np.ndarray, times_s: np.ndarray, peak: float) -> float | None:
    target = ONSET_FRACTION * abs(peak)
    mag = np.sign(peak) * change
    hits = np.flatnonzero(np.nan_to_num(mag, nan=-np.inf) >= target)
    if len(hits) == 0:
        return None
    j = int(hits[0])
    if j == 0 or not math.isfinite(mag[j - 1]):
        return float(times_s[j])
    frac = (target - mag[j - 1]) / (mag[j] - mag[j - 1])
    return float(times_s[j - 1] + frac * (times_s[j] - times_s[j - 1]))


def compare_sides(table: MeasureTable, stats: RestStats, m: MeasureDef, seg: Segment) -> dict:
    """Peak change from rest for right and left, symmetry, weaker side, onset lag."""
    t = table.times_s
    look0 = seg.search_from
    out: dict = {"unit": m.unit}
    peaks, moved, onsets = {}, {}, {}
    for s in SIDES:
        k = f"{m.name}_{s}"
        change = table.columns[k] - stats.median[k]
        peaks[s] = robust_peak(change[seg.start:seg.end + 1])
        moved[s] = math.isfinite(peaks[s]) and abs(peaks[s]) >= stats.threshold[k]
        onsets[s] = _onset_s(change[look0:seg.end + 1], t[look0:seg.end + 1], peaks[s]) if moved[s] else None
        out[s] = peaks[s]
        if m.mm_unit:
            out[f"{s}_mm"] = m.to_mm(peaks[s])
        out[f"rest_{s}"] = stats.median[k]
    if m.mm_unit:
        out["unit_mm"] = m.mm_unit
    mag = {s: abs(peaks[s]) for s in SIDES}
    if not (moved["right"] or moved["left"]):
        sym, weaker = None, None
    elif moved["right"] and moved["left"] and np.sign(peaks["right"]) != np.sign(peaks["left"]):
        sym, weaker = 0.0, min(SIDES, key=lambda s: mag[s])
    else:
        sym = 100.0 * min(mag.values()) / max(mag.values())
        weaker = None if sym >= EQUAL_PCT else min(SIDES, key=lambda s: mag[s])
    out.update(symmetry_pct=sym, weaker=weaker, moved={s: moved[s] for s in SIDES},
               onset_s={s: onsets[s] for s in SIDES})
    on_r, on_l = onsets["right"], onsets["left"]
    out["onset_lag_ms"] = 1000.0 * (on_r - on_l) if on_r is not None and on_l is not None else None
    return out


def synkinesis_hint(seg: Segment, measures: dict) -> dict | None:
    if seg.region == "mouth" and "palpebral_fissure" in measures:
        pf = measures["palpebral_fissure"]
        sides = {}
        for s in SIDES:
            rest = pf[f"rest_{s}"]
            pct = 100.0 * max(0.0, -pf[s]) / rest if rest and rest > 0 and math.isfinite(pf[s]) else None
            sides[s] = {"fissure_narrowing_pct": pct, "flag": pct is not None and pct >= SYNK_FISSURE_PCT}
        return {"kind": "eye narrowing during a mouth movement", **sides,
                "flag": any(sides[s]["flag"] for s in SIDES),
                "note": "a full smile narrows both eyes a little; marked or one-sided narrowing suggests "
                        "oral-ocular synkinesis"}
    if seg.region == "eyes" and "commissure_height" in measures:
        ch = measures["commissure_height"]
        sides = {s: {"commissure_change_mm": ch[s] * ASSUMED_IPD_MM if math.isfinite(ch[s]) else None,
                     "flag": math.isfinite(ch[s]) and abs(ch[s]) >= SYNK_COMMISSURE_IPD} for s in SIDES}
        return {"kind": "mouth-corner movement during an eye movement", **sides,
                "flag": any(sides[s]["flag"] for s in SIDES),
                "note": "a mouth corner that moves with eye closure suggests ocular-oral synkinesis"}
    return None


def whole_face(table: MeasureTable, stats: RestStats, seg: Segment) -> dict:
    """One-value measures (FAI, tilts): rest value, value at the robust peak, change."""
    out = {}
    for m in measures_for(table.n_points):
        if m.sided:
            continue
        rest = stats.median[m.name]
        change = robust_peak(table.columns[m.name][seg.start:seg.end + 1] - rest)
        d = {"rest": rest, "peak": rest + change, "change": change, "unit": m.unit}
        if m.mm_unit:
            d.update(rest_mm=m.to_mm(rest), peak_mm=m.to_mm(rest + change), change_mm=m.to_mm(change))
        out[m.name] = d
    return out


def _segment_dict(table: MeasureTable, stats: RestStats, seg: Segment, index: int) -> dict:
    t = table.times_s
    measures = {m.name: compare_sides(table, stats, m, seg) for m in _sided(table.n_points)}
    return {"index": index, "start_s": float(t[seg.start]), "end_s": float(t[seg.end]),
            "peak_s": float(t[seg.peak]), "duration_s": float(t[seg.end] - t[seg.start]),
            "region": seg.region, "regions_active": seg.regions_active, "measures": measures,
            "whole_face": whole_face(table, stats, seg), "synkinesis_hint": synkinesis_hint(seg, measures)}


def rest_table(table: MeasureTable, stats: RestStats) -> dict[str, dict]:
    """Rest value of every measure; for sided ones also right - left (resting asymmetry)."""
    out: dict[str, dict] = {}
    for m in measures_for(table.n_points):
        if m.sided:
            r, lf = stats.median[f"{m.name}_right"], stats.median[f"{m.name}_left"]
            d: dict = {"right": r, "left": lf, "difference": r - lf}
            if m.mm_unit:
                d.update(right_mm=m.to_mm(r), left_mm=m.to_mm(lf), difference_mm=m.to_mm(r - lf))
        else:
            d = {"value": stats.median[m.name]}
            if m.mm_unit:
                d["value_mm"] = m.to_mm(d["value"])
        d["unit"] = m.unit
        out[m.name] = d
    return out


def analyse(table: MeasureTable, rest_s: tuple[float, float] | None = None) -> Analysis:
    """Rest, segments and right/left comparisons of a measure table."""
    if len(table.times_ms) < 3:
        raise MeasuresError("the video has fewer than 3 frames; nothing to measure")
    rest = rest_from_seconds(table, *rest_s) if rest_s is not None else detect_rest(table)
    stats = rest_stats(table, rest)
    activity = region_activity(table, stats)
    segments = find_segments(table, activity)
    t = table.times_s
    rest_values = rest_table(table, stats)
    result = {
        "rest": {"start_s": float(rest_s[0]) if rest_s else float(t[rest[0]]),
                 "end_s": float(rest_s[1]) if rest_s else float(t[rest[1] - 1]),
                 "source": "given" if rest_s else "detected (quietest stretch)",
                 "frames": rest[1] - rest[0], "values": rest_values},
        "segments": [_segment_dict(table, stats, seg, i) for i, seg in enumerate(segments)],
        "thresholds": {k: v for k, v in stats.threshold.items()},
    }
    return Analysis(result, rest, segments, activity)


__all__ = ["Analysis", "Segment", "analyse", "detect_rest", "parse_time_range", "robust_peak"]
