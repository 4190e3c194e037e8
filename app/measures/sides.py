"""Right against left within one expression segment (Qt-free, numpy only).

Per measure and side: the peak change from rest as a plateau estimate with a 95 % interval
(app.measures.plateau); a side ``moved`` when that estimate reaches the noise floor and its
interval excludes 0; ``symmetry_pct`` = 100 x smaller / larger magnitude with its interval
(0 when both sides move beyond their thresholds in opposite directions, None when neither
moves); ``weaker`` = the side with the smaller magnitude, named only when the symmetry's
interval stays below :data:`EQUAL_PCT` (otherwise the sides cannot be told apart); onset per side
= the first time the change reaches half its own peak; ``onset_lag_ms`` = right - left, with
``onset_lag_ci95_ms`` from the landmark noise over the slope of each rise; not shown (a note
instead) when that interval is wider than +-150 ms.
Eye segments also give the gap left at the fullest closure (lagophthalmos) per side.
"""
from __future__ import annotations

import math

import numpy as np

from app.measures.definitions import ASSUMED_IPD_MM, SIDES, MeasureDef, measures_for
from app.measures.io import MeasureTable
from app.measures.perspective import nearest_camera_gain
from app.measures.plateau import PeakEstimate, ci95, first_component, median_with_ci, paired_peaks, paired_values
from app.measures.segments import NOISE_FLOOR, RestStats, Segment

EQUAL_PCT = 95.0
ONSET_FRACTION = 0.5
SYNK_FISSURE_PCT = 20.0
SYNK_COMMISSURE_IPD = 0.04
COMPLETE_CLOSURE_MM = 1.0    # a gap below this at the fullest closure counts as complete closure


def _fps(table: MeasureTable) -> float:
    return 1.0 / max(float(np.median(np.diff(table.times_s))), 1e-6) if len(table.times_s) > 1 else 30.0


def _signed_length(diff: np.ndarray) -> np.ndarray:
    """Displacement (lateral, height) -> its length, negative when it points inwards and down."""
    sign = np.where(diff[..., 0] + diff[..., 1] >= 0, 1.0, -1.0)
    return sign * np.hypot(diff[..., 0], diff[..., 1])


def _components(table: MeasureTable, m: MeasureDef, side: str) -> list[np.ndarray]:
    if m.name == "commissure_excursion":      # a displacement from the rest position: both coordinates
        return [table.side("commissure_lateral", side), table.side("commissure_height", side)]
    return [table.side(m.name, side)]


def side_peaks(table: MeasureTable, m: MeasureDef, frames: np.ndarray, rest: slice) -> dict[str, PeakEstimate]:
    """Plateau-minus-rest estimate of ``m`` on both sides over ``frames``, each with its value as a
    camera at the nearest distance allowed would have seen it (``near_value``,
    app.measures.perspective; None without a pose)."""
    comps = {s: _components(table, m, s) for s in SIDES}
    plateau = {s: np.column_stack([c[frames] for c in comps[s]]) for s in SIDES}
    at_rest = {s: np.column_stack([c[rest] for c in comps[s]]) for s in SIDES}
    combine = _signed_length if len(comps["right"]) == 2 else first_component
    peaks = paired_peaks(plateau, at_rest, _fps(table), combine)
    gain = nearest_camera_gain(table, m)
    if gain is not None:
        # positions measured by a camera at infinity, undone for one at the nearest distance
        near = paired_values({s: plateau[s] / gain[s][frames, None] for s in SIDES},
                             {s: at_rest[s] / gain[s][rest, None] for s in SIDES}, combine)
        for s in SIDES:
            peaks[s].near_value = near[s]
    return peaks


def moved_beyond_noise(p: PeakEstimate, floor: float) -> bool:
    """A side moved when its plateau estimate is at least the measure's noise floor and its 95 %
    interval excludes no movement. The estimate is a median over many frames, so the per-frame
    threshold (4 robust SD of single frames at rest) would demand far more than the noise allows
    and, at 1 mm of landmark noise, miss clearly different sides."""
    if not math.isfinite(p.value) or abs(p.value) < floor:
        return False
    lo, hi = p.ci95
    return not (math.isfinite(lo) and math.isfinite(hi) and lo <= 0.0 <= hi)


def _symmetry(r: np.ndarray, lf: np.ndarray, moved_r: bool, moved_l: bool) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        sym = 100.0 * np.minimum(np.abs(r), np.abs(lf)) / np.maximum(np.abs(r), np.abs(lf))
    if moved_r and moved_l:
        sym = np.where(np.sign(r) != np.sign(lf), 0.0, sym)
    return sym


MAX_ONSET_HALF_MS = 150.0


def _onset_sd(change: np.ndarray, t: np.ndarray, window: slice, rest: slice, onset: float | None,
              peak: float) -> float:
    """Standard deviation (s) of an onset time from the landmark noise: the noise of the change at
    rest (robust SD) over the slope of the rise where it crosses half the peak (a line fitted over
    +-0.1 s), plus one frame's quantisation. Infinite when the rise cannot be timed."""
    if onset is None or not math.isfinite(peak):
        return math.inf
    at_rest = change[rest][np.isfinite(change[rest])]
    if len(at_rest) < 5:
        return math.inf
    sigma = 1.4826 * float(np.median(np.abs(at_rest - np.median(at_rest))))
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1 / 30
    near = np.flatnonzero(np.abs(t - onset) <= 0.1 + 1e-9)
    near = near[(near >= (window.start or 0)) & np.isfinite(change[near])]
    if len(near) < 3:
        return math.inf
    slope = float(np.polyfit(t[near], np.sign(peak) * change[near], 1)[0])
    if slope <= 0:
        return math.inf
    return math.hypot(sigma / slope, dt / math.sqrt(12))


def _symmetry_interval(r: PeakEstimate, lf: PeakEstimate, both_moved: bool) -> list[float]:
    """95 % interval of the symmetry from the interval of the ratio of the two sides.

    The symmetry folds the ratio at 1 (100 x smaller / larger), so a percentile interval of the
    folded values can never reach 100 % for truly equal sides (any noise makes one side the
    smaller): it then misses the truth in every recording. The ratio's own interval has no such
    edge; folded, it reaches 100 % whenever the ratio's interval holds 1."""
    big, small = (lf, r) if abs(lf.value) >= abs(r.value) else (r, lf)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo, hi = ci95(small.samples / big.samples)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [math.nan, math.nan]
    lo, hi = _with_perspective(lo, hi, small, big)

    def fold(x: float) -> float:
        if x < 0 and both_moved:
            return 0.0
        x = abs(x)
        return 100.0 * min(x, 1.0 / x) if x > 0 else 0.0
    ends = [fold(lo), fold(hi)]
    top = 100.0 if lo <= 1.0 <= hi or (not both_moved and lo <= -1.0 <= hi) else max(ends)
    bottom = 0.0 if lo <= 0.0 <= hi else min(ends)
    return [bottom, top]


def _with_perspective(lo: float, hi: float, small: PeakEstimate, big: PeakEstimate) -> tuple[float, float]:
    """The ratio's interval stretched to hold the ratio a camera at the nearest allowed distance
    would give (app.measures.perspective): the truth lies between the camera-at-infinity estimate
    and that one for every distance in between, so the interval must reach both."""
    if small.near_value is None or big.near_value is None or not big.near_value or not big.value:
        return lo, hi
    shift = small.near_value / big.near_value - small.value / big.value
    if not math.isfinite(shift):
        return lo, hi
    return lo + min(0.0, shift), hi + max(0.0, shift)


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


def compare_sides(table: MeasureTable, stats: RestStats, m: MeasureDef, seg: Segment, rest: slice) -> dict:
    """Peak change from rest for right and left with intervals, symmetry, weaker side, onset lag."""
    t = table.times_s
    peaks = side_peaks(table, m, seg.plateau_for(m.region), rest)
    out: dict = {"unit": m.unit}
    moved, onsets, spread = {}, {}, {}
    for s in SIDES:
        k = f"{m.name}_{s}"
        p = peaks[s]
        moved[s] = moved_beyond_noise(p, NOISE_FLOOR[m.kind])
        # commissure_excursion is itself a displacement from rest; every other column is a position
        change = table.columns[k] - (0.0 if m.name == "commissure_excursion" else stats.median[k])
        window = slice(seg.search_from, seg.end + 1)
        onsets[s] = _onset_s(change[window], t[window], p.value) if moved[s] else None
        spread[s] = _onset_sd(change, t, window, rest, onsets[s], p.value)
        out[s], out[f"{s}_ci95"] = p.value, list(p.ci95)
        if m.mm_unit:
            out[f"{s}_mm"], out[f"{s}_mm_ci95"] = m.to_mm(p.value), [m.to_mm(v) for v in p.ci95]
        out[f"rest_{s}"] = stats.median[k]
    if m.mm_unit:
        out["unit_mm"] = m.mm_unit
    sym, sym_ci, weaker = _symmetry_and_weaker(peaks, moved)
    out.update(symmetry_pct=sym, symmetry_ci95=sym_ci, weaker=weaker, moved=dict(moved),
               onset_s=dict(onsets))
    out.update(_onset_lag(onsets, spread))
    return out


def _symmetry_and_weaker(peaks: dict, moved: dict) -> tuple:
    """(symmetry %, its interval, the weaker side or None); all None when neither side moved."""
    r, lf = peaks["right"], peaks["left"]
    if not (moved["right"] or moved["left"]):
        return None, None, None
    sym = float(_symmetry(np.array(r.value), np.array(lf.value), moved["right"], moved["left"]))
    sym_ci = _symmetry_interval(r, lf, moved["right"] and moved["left"])
    sym_ci = [min(sym_ci[0], sym), max(sym_ci[1], sym)] if math.isfinite(sym_ci[0]) else sym_ci
    distinct = sym < EQUAL_PCT and not (math.isfinite(sym_ci[1]) and sym_ci[1] >= EQUAL_PCT)
    weaker = min(SIDES, key=lambda s: abs(peaks[s].value)) if distinct else None
    return sym, sym_ci, weaker


def _onset_lag(onsets: dict, spread: dict) -> dict:
    """Right minus left onset in ms with its interval, or a note when the noise hides it."""
    out: dict[str, float | list[float] | str | None] = {"onset_lag_ms": None, "onset_lag_ci95_ms": None,
                                                        "onset_lag_note": None}
    on_r, on_l = onsets["right"], onsets["left"]
    if on_r is not None and on_l is not None:
        lag = 1000.0 * (on_r - on_l)
        half = 1000.0 * 1.96 * math.hypot(spread["right"], spread["left"])
        if math.isfinite(half) and half <= MAX_ONSET_HALF_MS:
            out["onset_lag_ms"], out["onset_lag_ci95_ms"] = lag, [lag - half, lag + half]
        else:
            out["onset_lag_note"] = (f"not shown: at this landmark noise the onsets cannot be timed within "
                                     f"±{MAX_ONSET_HALF_MS:g} ms")
    return out


def eye_closure(table: MeasureTable, seg: Segment, rest: slice, stats: RestStats) -> dict:
    """Per side: the palpebral fissure left at the fullest closure (plateau median, with interval),
    in mm, how much of the rest opening closed, and whether the closure was complete."""
    frames = seg.plateau_for("eyes")
    out: dict = {"complete_below_mm": COMPLETE_CLOSURE_MM}
    for s in SIDES:
        x = table.side("palpebral_fissure", s)
        rest_mm = stats.median[f"palpebral_fissure_{s}"] * ASSUMED_IPD_MM
        gap, ci = median_with_ci(x[frames], _fps(table))
        if not math.isfinite(gap):
            out[s] = None
            continue
        gap = max(0.0, gap * ASSUMED_IPD_MM)       # lids cannot overlap: the reported gap is clipped
        out[s] = {"gap_mm": gap, "gap_mm_ci95": [max(0.0, v * ASSUMED_IPD_MM) for v in ci], "rest_mm": rest_mm,
                  "closed_pct": 100.0 * (1 - gap / rest_mm) if rest_mm > 0 else None,
                  "complete": gap < COMPLETE_CLOSURE_MM}
    return out


def synkinesis_hint(seg: Segment, measures: dict) -> dict | None:
    if seg.region == "mouth" and "palpebral_fissure" in measures:
        pf = measures["palpebral_fissure"]
        sides = {}
        for s in SIDES:
            rest = pf[f"rest_{s}"]               # a float (NaN when the rest had no measure)
            pct = 100.0 * max(0.0, -pf[s]) / rest if rest > 0 and math.isfinite(pf[s]) else None
            sides[s] = {"fissure_narrowing_pct": pct, "flag": pct is not None and pct >= SYNK_FISSURE_PCT}
        kind = "eye narrowing during a mouth movement"
        note = "a full smile narrows both eyes a little; marked or one-sided narrowing suggests oral-ocular synkinesis"
    elif seg.region == "eyes" and "commissure_height" in measures:
        ch = measures["commissure_height"]
        sides = {s: {"commissure_change_mm": ch[s] * ASSUMED_IPD_MM if math.isfinite(ch[s]) else None,
                     "flag": math.isfinite(ch[s]) and abs(ch[s]) >= SYNK_COMMISSURE_IPD} for s in SIDES}
        kind = "mouth-corner movement during an eye movement"
        note = "a mouth corner that moves with eye closure suggests ocular-oral synkinesis"
    else:
        return None
    return {"kind": kind, **sides, "flag": any(sides[s]["flag"] for s in SIDES), "note": note}


def whole_face(table: MeasureTable, stats: RestStats, seg: Segment, rest: slice) -> dict:
    """One-value measures (FAI, tilts): rest value, value on the plateau, change."""
    out = {}
    frames = seg.plateau_for(seg.region)
    for m in measures_for(table.n_points):
        if m.sided:
            continue
        x = table.columns[m.name]
        if m.name == "fai":   # |right - left| of medians: the median of an absolute value grows with noise
            x = table.side("eye_mouth_distance", "right") - table.side("eye_mouth_distance", "left")
        on, at_rest = x[frames][np.isfinite(x[frames])], x[rest][np.isfinite(x[rest])]
        change = float(np.median(on) - np.median(at_rest)) if len(on) and len(at_rest) else math.nan
        value_at_rest = stats.median[m.name]
        if m.name == "fai" and len(at_rest):
            value_at_rest = abs(float(np.median(at_rest)))
            change = abs(float(np.median(at_rest)) + change) - value_at_rest
        d = {"rest": value_at_rest, "peak": value_at_rest + change, "change": change, "unit": m.unit}
        if m.mm_unit:
            d.update(rest_mm=m.to_mm(value_at_rest), peak_mm=m.to_mm(value_at_rest + change),
                     change_mm=m.to_mm(change))
        out[m.name] = d
    return out


def segment_dict(table: MeasureTable, stats: RestStats, seg: Segment, index: int, rest: slice) -> dict:
    t = table.times_s
    sided = [m for m in measures_for(table.n_points) if m.sided]
    measures = {m.name: compare_sides(table, stats, m, seg, rest) for m in sided}
    out = {"index": index, "start_s": float(t[seg.start]), "end_s": float(t[seg.end]),
           "peak_s": float(t[seg.peak]), "duration_s": float(t[seg.end] - t[seg.start]),
           "plateau_s": [float(t[seg.plateau_for(seg.region)[0]]), float(t[seg.plateau_for(seg.region)[-1]])],
           "region": seg.region, "regions_active": seg.regions_active, "measures": measures,
           "whole_face": whole_face(table, stats, seg, rest), "synkinesis_hint": synkinesis_hint(seg, measures)}
    if seg.region == "eyes" and "palpebral_fissure" in measures:
        out["eye_closure"] = eye_closure(table, seg, rest, stats)
    return out


__all__ = ["compare_sides", "eye_closure", "segment_dict", "side_peaks", "EQUAL_PCT"]
