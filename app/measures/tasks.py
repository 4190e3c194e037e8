"""Per-task results of a guided exam (Qt-free, numpy only): what each instructed movement did.

Given the measure table, the video's analysis and the exam's record (app.measures.protocol), one
entry per task: the frames inside the task's span (on the player clock) are the task's; its plateau
is picked from its region's activity inside that span only (app.measures.plateau), so a brow raise
next to a smile cannot merge with it; right against left is app.measures.sides.compare_sides on
that plateau, with the same block-bootstrap intervals as every segment. ``headline`` = the measure
the task tests (:data:`TASK_HEADLINE`); ``synkinesis`` = the involuntary movement of the other
region on the same plateau: during smiles each eye's narrowing in % of its own resting palpebral
fissure, during eye closures each mouth corner's movement in mm. Movement outside every task (and
its grace after the task, :data:`AFTER_TASK_S`) is found like any segment and reported apart, as
``untasked``. docs/MEASURES.md "Tasks (guided exam)" explains them for clinicians.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from app.measures.analysis import MAX_SYMMETRY_INTERVAL, Analysis, _measurable, landmark_noise_mm
from app.measures.definitions import (MEASURE_BY_NAME, SIDES, TASK_MEASURES, MeasureDef,
                                      measures_for, task_columns)
from app.measures.io import MeasureTable
from app.measures.plateau import MIN_FRAMES, plateau_frames
from app.measures.protocol import TASKS, ProtocolError, Record
from app.measures.segments import PLATEAU_SMOOTH_S, RestStats, Segment, find_segments, rest_stats
from app.measures.sides import compare_sides, eye_closure, segment_dict

TASK_MEASURE_BY_NAME = {m.name: m for m in TASK_MEASURES}
# task -> (region whose activity picks the plateau, the measure the task tests)
TASK_HEADLINE: dict[str, tuple[str, str] | None] = {
    "rest": None,
    "brow_raise": ("brow", "brow_height"),
    "gentle_eye_closure": ("eyes", "eye_closure"),
    "full_eye_closure": ("eyes", "eye_closure"),
    "smile": ("mouth", "commissure_excursion"),
    "smile_open": ("mouth", "commissure_excursion"),
    "pucker": ("mouth", "commissure_narrowing"),
    "lower_lip": ("mouth", "lower_lip_depression"),
    "nose_wrinkle": ("nose", "ala_height"),
}
HEADLINE_LABELS = {"brow_height": "brow elevation", "eye_closure": "eye closure (lid travel)",
                   "commissure_excursion": "commissure excursion", "commissure_narrowing": "commissure narrowing",
                   "lower_lip_depression": "lower-lip depression", "ala_height": "nasal ala elevation"}
REST_REASON = "rest is the reference every task is measured from: its values are the resting measures"
SMILES = ("smile", "smile_open")
CLOSURES = ("gentle_eye_closure", "full_eye_closure")
AFTER_TASK_S = 1.0    # a movement's relaxation after its task's end (a patient lets go late) is still the task's
BEFORE_TASK_S = 0.3   # and so is an eager start just before the prompt's span


def _player_times(table: MeasureTable, clock_s: float) -> np.ndarray:
    return table.times_s + clock_s


def _task_frames(t: np.ndarray, start_s: float, end_s: float, usable: np.ndarray) -> np.ndarray:
    return np.flatnonzero((t >= start_s - 1e-9) & (t <= end_s + 1e-9) & usable)


def _smoothed(activity: np.ndarray, fps: float) -> np.ndarray:
    """Running median over PLATEAU_SMOOTH_S, as the segments pick their plateaus (app.measures.segments)."""
    k = max(3, int(round(PLATEAU_SMOOTH_S * fps)))
    return np.median(sliding_window_view(np.pad(activity, (k // 2, k - 1 - k // 2), mode="edge"), k), axis=1)


def _fps(table: MeasureTable) -> float:
    return 1.0 / max(float(np.median(np.diff(table.times_s))), 1e-6) if len(table.times_s) > 1 else 30.0


def _flip(ci: list) -> list:
    return [-ci[1], -ci[0]]


def _mm(m: MeasureDef, value: float) -> float:
    return float(m.to_display(value))


def _side_entry(m: MeasureDef, d: dict, side: str, sign: float) -> dict:
    ci = d.get(f"{side}_ci95") or [math.nan, math.nan]
    ci = [_mm(m, sign * v) for v in ci]
    return {"value": _mm(m, sign * d[side]), "ci95": sorted(ci)}


def _headline(table: MeasureTable, stats: RestStats, seg: Segment, rest: slice, name: str,
              noise_mm: float | None) -> dict:
    """The task's measure right against left, in mm (positive in the task's direction)."""
    # a closure is measured as the fissure's decrease
    measure, sign = ("palpebral_fissure", -1.0) if name == "eye_closure" else (name, 1.0)
    m = TASK_MEASURE_BY_NAME.get(measure) or MEASURE_BY_NAME[measure]
    d = compare_sides(table, stats, m, seg, rest)
    entry = {"measure": name, "label": HEADLINE_LABELS[name], "unit": m.display_unit,
             "symmetry_pct": d["symmetry_pct"], "symmetry_ci95": d["symmetry_ci95"], "weaker": d["weaker"],
             "right": _side_entry(m, d, "right", sign), "left": _side_entry(m, d, "left", sign),
             "moved": d["moved"]}
    _measurable(entry, noise_mm)
    if entry["symmetry_pct"] is None and "not_measurable" not in entry:
        entry["note"] = "neither side moved beyond the landmark noise"
    out = {"measure": name, "label": entry["label"], "unit": entry["unit"], "symmetry_pct": entry["symmetry_pct"],
           "ci95": entry["symmetry_ci95"] if entry["symmetry_pct"] is not None else None,
           # "none" says the sides were alike; a headline that could not be measured names no side
           "weaker": entry["weaker"] or (None if "not_measurable" in entry else "none"), "right": entry["right"], "left": entry["left"],
           "moved": entry["moved"]}
    for key in ("not_measurable", "symmetry_estimate", "note"):
        if key in entry:
            out[key] = entry[key]
    return out


def _closure(table: MeasureTable, stats: RestStats, seg: Segment, rest: slice) -> dict:
    """The gap left per side (lagophthalmos) and how much of the resting opening closed, with intervals."""
    out = eye_closure(table, seg, rest, stats)
    for s in SIDES:
        side = out.get(s)
        if side and side.get("rest_mm"):
            side["closed_pct_ci95"] = sorted(100.0 * (1 - g / side["rest_mm"]) for g in side["gap_mm_ci95"])
    return out


def _synkinesis(table: MeasureTable, stats: RestStats, seg: Segment, rest: slice, task: str) -> dict | None:
    if task in SMILES:
        m = MEASURE_BY_NAME["palpebral_fissure"]
        d = compare_sides(table, stats, m, seg, rest)
        out: dict = {"measure": "eye_narrowing_pct", "label": "eye narrowing during the smile",
                     "unit": "% of the resting fissure"}
        for s in SIDES:
            rest_f = stats.median[f"palpebral_fissure_{s}"]
            ok = math.isfinite(rest_f) and rest_f > 0
            out[s] = -100.0 * d[s] / rest_f if ok else None
            out[f"ci95_{s}"] = sorted(-100.0 * v / rest_f for v in d[f"{s}_ci95"]) if ok else None
        out["beyond_noise"] = d["moved"]
        return out
    if task in CLOSURES:
        m = MEASURE_BY_NAME["commissure_excursion"]
        d = compare_sides(table, stats, m, seg, rest)
        out = {"measure": "commissure_movement_mm", "label": "mouth-corner movement during the eye closure",
               "unit": "mm"}
        for s in SIDES:
            out[s] = m.to_mm(d[s])
            out[f"ci95_{s}"] = [m.to_mm(v) for v in d[f"{s}_ci95"]]
        out["beyond_noise"] = d["moved"]
        out["note"] = "signed: positive outwards or upwards, negative inwards and down"
        return out
    return None


def _with_task_columns(table: MeasureTable, rest: slice) -> tuple[MeasureTable, RestStats]:
    cols = dict(table.columns)
    if table.n_points == 98 and table.frames_fit is not None:
        faces = np.where(np.isfinite(table.columns["ipd_px"])[:, None, None], table.frames_fit.face, np.nan)
        cols.update(task_columns(faces, table.columns, rest))
    extended = replace(table, columns=cols)
    stats = rest_stats(table, (rest.start, rest.stop))
    for k in cols:
        if k not in stats.median and any(k.startswith(m.name) for m in TASK_MEASURES):
            at_rest = cols[k][rest][np.isfinite(cols[k][rest])]
            stats.median[k] = float(np.median(at_rest)) if len(at_rest) else math.nan
    return extended, stats


def _available(table: MeasureTable, name: str) -> bool:
    measure = "palpebral_fissure" if name == "eye_closure" else name
    if measure in TASK_MEASURE_BY_NAME:
        return f"{measure}_right" in table.columns
    return any(m.name == measure for m in measures_for(table.n_points))


def _segments_of(span: tuple[float, float], segments: list[dict], clock_s: float) -> list[int]:
    a, b = span
    return [s["index"] for s in segments
            if s["start_s"] + clock_s <= b + AFTER_TASK_S and s["end_s"] + clock_s >= a - BEFORE_TASK_S]


def task_results(table: MeasureTable, analysis: Analysis, record: Record, clock_s: float = 0.0) -> dict:
    """``{"tasks": [...], "untasked": [...], "protocol": {...}}`` for NAME_measures.json."""
    rest = slice(*analysis.rest)
    ext, stats = _with_task_columns(table, rest)
    t = _player_times(table, clock_s)
    usable = np.isfinite(table.columns["ipd_px"])
    fps = _fps(table)
    noise_mm = landmark_noise_mm(table, analysis.rest)
    segments = analysis.result.get("segments") or []
    moving = [k for k in record.tasks if k.task != "rest"]
    if moving and all(len(_task_frames(t, k.start_s, k.end_s, np.ones(len(t), bool))) == 0 for k in moving):
        raise ProtocolError(f"its tasks ({moving[0].start_s:g}-{moving[-1].end_s:g} s) all lie outside the "
                            f"recording ({t[0]:g}-{t[-1]:g} s on the player's clock); is it this recording's record?")
    entries = []
    for task in record.tasks:
        entry: dict = {"task": task.task, "start_s": task.start_s, "end_s": task.end_s, "prompt": TASKS[task.task],
                       "segments": _segments_of((task.start_s, task.end_s), segments, clock_s),
                       "headline": None}
        frames = _task_frames(t, task.start_s, task.end_s, usable)
        entry["frames"] = int(len(frames))
        if not len(_task_frames(t, task.start_s, task.end_s, np.ones(len(t), bool))):
            entry["headline_note"] = f"the task lies outside the recording ({t[0]:g}-{t[-1]:g} s)"
            entries.append(entry)
            continue
        spec = TASK_HEADLINE[task.task]
        if spec is None:
            entry["headline_note"] = REST_REASON
            entries.append(entry)
            continue
        region, name = spec
        if not _available(ext, name) or region not in analysis.activity:
            entry["headline_note"] = "5-point landmarks (no STAR model) cannot measure this task"
            entries.append(entry)
            continue
        if len(frames) < 2 * MIN_FRAMES:
            entry["headline_note"] = (f"only {len(frames)} frame(s) with a measurable face inside the task; "
                                      "nothing to measure")
            entries.append(entry)
            continue
        smooth = _smoothed(analysis.activity[region][frames], fps)
        plateau = frames[plateau_frames(smooth)]
        peak = int(frames[int(np.argmax(smooth))])
        seg = Segment(int(frames[0]), int(frames[-1]), region, [region], peak, int(frames[0]), {region: plateau})
        entry["plateau_s"] = [float(t[plateau[0]]), float(t[plateau[-1]])]
        entry["headline"] = _headline(ext, stats, seg, rest, name, noise_mm)
        if name == "eye_closure":
            entry["closure"] = _closure(ext, stats, seg, rest)
        if table.n_points == 98:
            entry["synkinesis"] = _synkinesis(ext, stats, seg, rest, task.task)
        entries.append(entry)
    return {"tasks": entries, "untasked": untasked(table, analysis, record, clock_s),
            "tasks_compared": compare_closures(entries),
            "protocol": {"name": record.protocol, "version": record.version, "clock": "player (as in the record)",
                         "symmetry_interval_limit_points": MAX_SYMMETRY_INTERVAL}}


def compare_closures(entries: list[dict]) -> dict | None:
    """Gentle against full closure, per side: how much more of the resting opening the full closure
    closed (points), from each closure's own interval (both intervals are printed with it)."""
    by = {e["task"]: e for e in entries if e.get("closure")}
    if not all(k in by for k in CLOSURES):
        return None
    out: dict = {}
    for s in SIDES:
        g, f = by["gentle_eye_closure"]["closure"].get(s), by["full_eye_closure"]["closure"].get(s)
        if not g or not f or g.get("closed_pct") is None or f.get("closed_pct") is None:
            out[s] = None
            continue
        out[s] = {"gentle_closed_pct": g["closed_pct"], "gentle_ci95": g.get("closed_pct_ci95"),
                  "full_closed_pct": f["closed_pct"], "full_ci95": f.get("closed_pct_ci95"),
                  "gentle_gap_mm": g["gap_mm"], "full_gap_mm": f["gap_mm"],
                  "full_minus_gentle_points": f["closed_pct"] - g["closed_pct"]}
    return out


def untasked(table: MeasureTable, analysis: Analysis, record: Record, clock_s: float = 0.0) -> list[dict]:
    """Movement outside every task (and its grace), found like any segment on the activity with the
    tasks' spans taken out, compared right against left like any segment; never part of a task."""
    t = _player_times(table, clock_s)
    inside = np.zeros(len(t), bool)
    for task in record.tasks:
        inside |= (t >= task.start_s - BEFORE_TASK_S) & (t <= task.end_s + AFTER_TASK_S)
    masked = {r: np.where(inside, 0.0, a) for r, a in analysis.activity.items()}
    rest = slice(*analysis.rest)
    stats = rest_stats(table, analysis.rest)
    out = []
    for i, seg in enumerate(find_segments(table, masked)):
        d = segment_dict(table, stats, seg, i, rest)
        d["start_s"], d["end_s"], d["peak_s"] = (d[k] + clock_s for k in ("start_s", "end_s", "peak_s"))
        d["plateau_s"] = [v + clock_s for v in d["plateau_s"]]
        out.append(d)
    return out


def rest_window(record: Record) -> tuple[float, float] | None:
    """The record's first rest task (player clock), the rest every change is measured from."""
    for task in record.tasks:
        if task.task == "rest":
            return task.start_s, task.end_s
    return None


__all__ = ["task_results", "rest_window", "untasked", "TASK_HEADLINE"]
