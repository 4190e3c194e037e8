"""A whole video's analysis: rest, expression segments, right/left per segment, headlines.

The NAME_measures.json body's analytical part (Qt-free, numpy only). Order: rest (given or the
quietest stretch), the measures taken against the rest position filled in, thresholds from the
rest noise, region activity, segments (one per expression), each segment's sides compared, and
one headline per region: the region's headline measure in the segment where it moved most.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from app.measures.definitions import ASSUMED_IPD_MM, HEADLINE_LABEL, MEASURE_BY_NAME, headline_measure, measures_for, rest_relative
from app.measures.glitches import RUN_MAX_S
from app.measures.io import MeasureTable, MeasuresError
from app.measures.segments import (NOISE_FLOOR, Segment, detect_rest, extend_rest, find_segments, region_activity, rest_from_seconds,
                                   rest_stats)
from app.measures.plateau import median_difference_ci
from app.measures.sides import segment_dict

HEADLINE_REGIONS = ("brow", "eyes", "mouth")


@dataclass
class Analysis:
    result: dict                       # the NAME_measures.json body's analytical part
    rest: tuple[int, int]              # frame indices [start, end)
    segments: list[Segment]
    activity: dict[str, np.ndarray] = field(default_factory=dict)


REST_BLOCK_S = 0.2   # a rest of 2 s holds 10 such blocks (0.5 s blocks: 4, too few for a percentile)


def _difference_ci(table: MeasureTable, name: str, rest: tuple[int, int], difference: float) -> list[float] | None:
    """95 % interval of a resting right - left difference (a difference of the two rest medians):
    the block bootstrap of that difference over the rest frames
    (app.measures.plateau.median_difference_ci), placed around the reported difference."""
    a, b = rest
    right, left = table.columns[f"{name}_right"][a:b], table.columns[f"{name}_left"][a:b]
    lo, hi = median_difference_ci(right, left, _fps(table), REST_BLOCK_S)
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(difference)):
        return None
    both = np.isfinite(right) & np.isfinite(left)
    shift = difference - float(np.median(right[both]) - np.median(left[both]))   # frames one side lacks
    return [lo + shift, hi + shift]


def _fps(table: MeasureTable) -> float:
    return 1.0 / max(float(np.median(np.diff(table.times_s))), 1e-6) if len(table.times_s) > 1 else 30.0


def rest_table(table: MeasureTable, stats, rest: tuple[int, int] | None = None) -> dict[str, dict]:
    """Rest value of every measure; for sided ones also right - left (resting asymmetry) with its
    95 % interval when the rest frames are given (None where it cannot be had)."""
    out: dict[str, dict] = {}
    for m in measures_for(table.n_points):
        if m.sided:
            r, lf = stats.median[f"{m.name}_right"], stats.median[f"{m.name}_left"]
            d: dict = {"right": r, "left": lf, "difference": r - lf}
            ci = _difference_ci(table, m.name, rest, r - lf) if rest and not m.from_rest else None
            d["difference_ci95"] = ci
            if m.mm_unit:
                d.update(right_mm=m.to_mm(r), left_mm=m.to_mm(lf), difference_mm=m.to_mm(r - lf),
                         difference_mm_ci95=[m.to_mm(v) for v in ci] if ci else None)
        else:
            d = {"value": stats.median[m.name]}
            if m.mm_unit:
                d["value_mm"] = m.to_mm(d["value"])
        d["unit"] = m.unit
        out[m.name] = d
    return out


def _side_value(m, d: dict, side: str) -> dict:
    ci = d.get(f"{side}_ci95") or [math.nan, math.nan]
    return {"value": m.to_display(d[side]), "ci95": [m.to_display(v) for v in ci]}


MAX_SYMMETRY_INTERVAL = 30.0   # points: a wider 95 % interval says nothing a clinician could file (docs/MEASURES.md)


def landmark_noise_mm(table: MeasureTable, rest: tuple[int, int]) -> float | None:
    """Typical landmark noise at rest, in mm: the median over points and coordinates of the robust
    SD (1.4826 x MAD) of each point's face-frame position over the rest frames."""
    fit = table.frames_fit
    if fit is None:
        return None
    face = fit.face[rest[0]:rest[1]]
    face = face[np.all(np.isfinite(face), axis=(1, 2))]
    if len(face) < 5:
        return None
    mad = np.median(np.abs(face - np.median(face, axis=0)), axis=0)
    return float(1.4826 * np.median(mad) * ASSUMED_IPD_MM)


def _measurable(entry: dict, noise_mm: float | None) -> None:
    """A headline whose symmetry interval is wider than :data:`MAX_SYMMETRY_INTERVAL` points is
    reported as not measurable at this landmark noise (with the noise), never as a number."""
    ci = entry["symmetry_ci95"]
    if entry["symmetry_pct"] is None:
        return
    if ci and all(v is not None and math.isfinite(v) for v in ci) and ci[1] - ci[0] <= MAX_SYMMETRY_INTERVAL:
        return
    noise = f"about {noise_mm:.1f} mm per landmark at rest" if noise_mm is not None else "unknown"
    entry.update(symmetry_estimate=entry["symmetry_pct"], symmetry_pct=None, weaker=None,
                 not_measurable=f"not measurable at this landmark noise ({noise}): the symmetry's 95 % interval "
                                f"is wider than {MAX_SYMMETRY_INTERVAL:g} points")


def headlines(segments: list[dict], n_points: int, noise_mm: float | None = None) -> list[dict]:
    """One entry per region that moved: its headline measure in the segment where it moved most."""
    out = []
    for region in HEADLINE_REGIONS:
        name = headline_measure(region, n_points)
        own = [s for s in segments if s["region"] == region and name in s["measures"]]
        if not name or not own:
            continue
        best = max(own, key=lambda s: max(abs(s["measures"][name]["right"] or 0.0),
                                          abs(s["measures"][name]["left"] or 0.0)))
        m, d = MEASURE_BY_NAME[name], best["measures"][name]
        entry = {"region": region, "measure": name, "label": HEADLINE_LABEL[region], "segment": best["index"],
                 "peak_s": best["peak_s"], "unit": m.display_unit,
                 "right": _side_value(m, d, "right"), "left": _side_value(m, d, "left"),
                 "symmetry_pct": d["symmetry_pct"], "symmetry_ci95": d["symmetry_ci95"], "weaker": d["weaker"],
                 "moved": d["moved"], "segments_of_region": len(own)}
        if "eye_closure" in best:
            entry["eye_closure"] = best["eye_closure"]
        _measurable(entry, noise_mm)
        out.append(entry)
    return out


# WFLW-98 points each headline region's measures are made of; the face frame's points (eye corners,
# nasal bridge) carry every region. A 5-point track: every point carries every region.
REGION_POINTS_98 = {"brow": set(range(33, 51)), "eyes": set(range(60, 76)) | {96, 97},
                    "mouth": set(range(76, 96))}
FRAME_POINTS_98 = {51, 52, 53, 54, 60, 64, 68, 72}


def _long_run_reason(region: str, start_s: float, end_s: float, long_runs: list[dict], n_points: int,
                     rest_s: tuple[float, float]) -> str | None:
    """Why a region's movement between ``start_s`` and ``end_s`` cannot be measured: a landmark it
    needs (or the rest it is measured from) lay inside a glitch run too long to bridge."""
    needed = REGION_POINTS_98.get(region, set()) | FRAME_POINTS_98 if n_points == 98 else None
    for run in long_runs:
        if needed is not None and run["point"] not in needed:
            continue
        hits_move = run["start_s"] <= end_s and run["end_s"] >= start_s
        hits_rest = run["start_s"] <= rest_s[1] and run["end_s"] >= rest_s[0]
        if hits_move or hits_rest:
            where = "this movement" if hits_move else "the rest it is measured from"
            return (f"not measurable: landmark {run['point']} was off for {run['duration_s']:.1f} s "
                    f"({run['start_s']:.1f}-{run['end_s']:.1f} s) during {where}, a detector glitch longer "
                    "than can be bridged")
    return None


def mark_long_glitches(segments: list[dict], heads: list[dict], long_runs: list[dict], n_points: int,
                       rest_s: tuple[float, float]) -> int:
    """Segments and headlines touched by a glitch run too long to bridge: not measurable, with the
    reason (the numbers are kept as ``symmetry_estimate``, never shown as a result). Returns how
    many segments were marked."""
    marked = 0
    for seg in segments:
        reason = _long_run_reason(seg["region"], seg["start_s"], seg["end_s"], long_runs, n_points, rest_s)
        if reason:
            seg["not_measurable"] = reason
            marked += 1
    by_index = {seg["index"]: seg for seg in segments}
    for h in heads:
        head_seg = by_index.get(h["segment"])
        reason = (_long_run_reason(h["region"], head_seg["start_s"], head_seg["end_s"], long_runs, n_points, rest_s)
                  if head_seg is not None else None)
        if reason:
            if h.get("symmetry_pct") is not None:
                h["symmetry_estimate"] = h["symmetry_pct"]
            h.update(symmetry_pct=None, weaker=None, not_measurable=reason)
    return marked


MIN_REST_S = 0.3
REST_MOVED_FLOORS = 2.0      # a rest in which a measure drifts by more than 2 noise floors was not still


def rest_stillness(table: MeasureTable, rest: tuple[int, int]) -> dict:
    """How still the rest window was: per sided measure, the spread of the medians of the window's
    three thirds (a drift or a movement inside it; landmark noise averages out over a third), and
    the largest in noise floors, with what moved."""
    a, b = rest
    thirds = np.array_split(np.arange(a, b), 3)
    worst: dict[str, object] = {"measure": None, "side": None, "change": 0.0, "floors": 0.0}
    worst_floors = 0.0
    for m in measures_for(table.n_points):
        if not m.sided or m.from_rest:
            continue
        for side in ("right", "left"):
            x = table.side(m.name, side)
            meds = [float(np.nanmedian(x[idx])) for idx in thirds if len(idx) and np.isfinite(x[idx]).any()]
            if len(meds) < 2:
                continue
            change = max(meds) - min(meds)
            floors = change / NOISE_FLOOR[m.kind]
            if floors > worst_floors:
                worst_floors = floors
                worst = {"measure": m.name, "side": side, "change": change, "floors": floors,
                         "change_display": m.to_display(change), "unit": m.display_unit, "region": m.region}
    worst["still"] = worst_floors <= REST_MOVED_FLOORS
    return worst


def head_pose_summary(table: MeasureTable) -> dict | None:
    """Yaw and pitch against the video's median pose (98 points): 5th-95th percentile, degrees."""
    fit = table.frames_fit
    if fit is None or fit.angles is None or not np.isfinite(fit.angles).any():
        return None
    lo, hi = np.nanpercentile(fit.angles, [5, 95], axis=0)
    return {"yaw_deg_p5_p95": [float(lo[0]), float(hi[0])], "pitch_deg_p5_p95": [float(lo[1]), float(hi[1])],
            "method": "3-D mean face fitted per frame (eye corners, nasal bridge); angles relative to the "
                      "video's median pose, scaled by the mean face's depth (a deeper face reads larger)"}


def analyse(table: MeasureTable, rest_s: tuple[float, float] | None = None, clock_s: float = 0.0) -> Analysis:
    """Rest, segments and right/left comparisons of a measure table (fills its rest-relative columns).
    ``rest_s`` is on the player's clock, whose time at the first frame is ``clock_s``."""
    if len(table.times_ms) < 3:
        raise MeasuresError("the video has fewer than 3 frames; nothing to measure")
    if rest_s is not None and rest_s[1] - rest_s[0] < MIN_REST_S:
        raise MeasuresError(f"the rest window {rest_s[0]:g}-{rest_s[1]:g} s is shorter than {MIN_REST_S:g} s; "
                            "give a stretch of at least a second where the face is relaxed")
    rest = rest_from_seconds(table, *rest_s, clock_s) if rest_s is not None else detect_rest(table)
    rest_relative(table.columns, slice(*rest))
    stats = rest_stats(table, rest)
    activity = region_activity(table, stats)
    if rest_s is None:
        grown = extend_rest(rest, activity, table.times_s)
        if grown != rest:
            rest = grown
            rest_relative(table.columns, slice(*rest))
            stats = rest_stats(table, rest)
            activity = region_activity(table, stats)
    rest_slice = slice(*rest)
    segments = find_segments(table, activity)
    t = table.times_s
    seg_dicts = [segment_dict(table, stats, seg, i, rest_slice) for i, seg in enumerate(segments)]
    noise_mm = landmark_noise_mm(table, rest)
    stillness = rest_stillness(table, rest)
    warnings = []
    if not stillness["still"]:
        where, advice = ("the rest window you gave", "") if rest_s else \
            ("the detected rest window", " or give another with --rest")
        warnings.append(f"{where} was not still: the {stillness['region']} moved in it "
                        f"({MEASURE_BY_NAME[stillness['measure']].label}, patient's {stillness['side']}, "
                        f"{stillness['change_display']:.1f} {stillness['unit']}); every change is measured from "
                        f"this rest, so check it{advice}")
    heads = headlines(seg_dicts, table.n_points, noise_mm)
    long_runs = table.glitches.long_runs
    rest_times = (float(t[rest[0]]), float(t[rest[1] - 1]))
    if long_runs:
        marked = mark_long_glitches(seg_dicts, heads, long_runs, table.n_points, rest_times)
        warnings.append(f"{len(long_runs)} landmark glitch run(s) longer than {RUN_MAX_S:g} s (not bridged); "
                        f"{marked} movement segment(s) they touch are reported as not measurable")
    # the rest as given, on the CSV's clock as every time here, or as detected
    start_s, end_s = (float(rest_s[0]) - clock_s, float(rest_s[1]) - clock_s) if rest_s else rest_times
    result = {
        "rest": {"start_s": start_s, "end_s": end_s,
                 "source": "given" if rest_s else "detected (quietest stretch)",
                 "frames": rest[1] - rest[0], "values": rest_table(table, stats, rest),
                 "stillness": {"still": stillness["still"], "largest_change": stillness.get("change_display"),
                               "unit": stillness.get("unit"), "measure": stillness["measure"],
                               "side": stillness["side"], "noise_floors": stillness["floors"]}},
        "analysis_warnings": warnings,
        "headlines": heads,
        "landmark_noise_mm": noise_mm,
        "head_pose": head_pose_summary(table),
        "segments": seg_dicts,
        "thresholds": dict(stats.threshold),
        "glitches": table.glitches.as_dict(),
    }
    return Analysis(result, rest, segments, activity)
