"""Symmetry measures over time, rest and expression segments, and the per-video HTML summary.

Qt-free. Entry points:

* :func:`write_measures` - from a NAME_landmarks.csv to NAME_measures.csv, NAME_measures.json
  and NAME_summary.html (written exactly at the given paths; the caller publishes them).
* :func:`frame_measures` - one frame's measures from 98 (or 5) points in pixels;
  :func:`region_values` - the live-trace (right, left) value of each region, for live views.
* :func:`parse_time_range` - ``"0:00-0:03"`` -> (0.0, 3.0) for ``--rest``.

Modules, in the order of the work: io (CSV in, CSV/JSON out), glitches (outliers out),
face_frame (every frame fitted to the face's reference shape, head_pose taking the turn and nod out
with a 3-D mean face), definitions (per-frame measures),
segments (rest, activity, one segment per expression), plateau (robust peaks and intervals),
perspective (how much larger a turned head's nearer half can look: the intervals' head-turn term),
sides (right against left per segment), analysis (the whole video, headlines), figures
(matplotlib SVG charts, pictures), record (who and what the summary is about), summary (HTML),
command (CLI).
"""
from __future__ import annotations

from pathlib import Path
from collections.abc import Callable

import numpy as np

from app.measures.analysis import Analysis, analyse
from app.measures.definitions import ASSUMED_IPD_MM, measures_for
from app.measures.io import (LandmarkTrack, MeasuresError, MeasureTable, compute_table, player_start_s,
                             read_landmarks_csv, write_measures_csv, write_measures_json)
from app.measures.perspective import CAMERA_MIN_MM
from app.measures.plateau import CLIP_SD, PLATEAU_FRACTION, RESAMPLES, WIDEN
from app.measures.protocol import Record
from app.measures.segments import ENTER, EXIT, MERGE_GAP_S, MIN_SEGMENT_S, NOISE_FLOOR, NOISE_K

__all__ = ["write_measures", "analyse_track"]   # the rest has its home in the submodules

SCHEMA = "facemirror.measures/2"   # 2: face frame per frame, plateau peaks with intervals, headlines
TARGET_KEYS = ("measures_csv", "measures_json", "summary_html", "summary_pdf")
# The output kind (app.base.outputs) each target is published as: the pipeline and `measures` both use it.
TARGET_FOR_KIND = {"measures_csv": "measures_csv", "measures_json": "measures_json", "summary": "summary_html",
                   "summary_pdf": "summary_pdf"}
COARSE_WARNING = ("5-point landmarks (no STAR model): only the mouth-corner measures and the eye/mouth line tilts "
                  "are computed, and they are coarse")
FrameProvider = Callable[[list[float]], list]


def _settings() -> dict:
    return {"noise_floor": {"length_ipd": NOISE_FLOOR["length"], "area_ipd2": NOISE_FLOOR["area"],
                            "angle_deg": NOISE_FLOOR["angle"]},
            "threshold": f"max({NOISE_K:g} x robust sigma at rest, noise floor)",
            "segment_enter_exit": [ENTER, EXIT], "merge_gap_s": MERGE_GAP_S, "min_segment_s": MIN_SEGMENT_S,
            "peak": f"mean within {CLIP_SD:g} robust SD of the median over the plateau (frames with at least "
                    f"{PLATEAU_FRACTION:g} of the segment's largest activity) minus that at rest; 95 % intervals from "
                    f"{RESAMPLES} block-bootstrap resamples, their spread widened sqrt(k / (k - 1)) for k blocks and "
                    f"{WIDEN:g} x (measured on known truth); the symmetry's interval also holds every camera distance "
                    f"from {CAMERA_MIN_MM:g} mm to infinity for the head's turn",
            "face_frame": "every frame fitted to the video's reference shape of the eye corners and the nasal "
                          "bridge with a 3-D mean face (turn and nod taken out, frame maps averaged over +-0.1 s); "
                          "midline = the bisector of the eyes"}


def published_csv_name(track: LandmarkTrack, report: dict | None) -> str | None:
    """The landmarks CSV's final path: the pipeline passes its temporary file, whose final name is in
    the report's outputs."""
    from app.base.outputs import parse_temp_name

    if track.source is None:
        return None
    final = ((report or {}).get("outputs") or {}).get("landmarks")
    if parse_temp_name(track.source.name) is not None and final:
        return str(final)
    return str(track.source)


def recording_record(report: dict | None) -> dict:
    """Which recording this is: its file name (no folders), sha256 and when it was made."""
    inp = (report or {}).get("input") or {}
    return {"file": Path(inp["file"]).name if inp.get("file") else None, "sha256": inp.get("sha256"),
            "recorded_at": inp.get("recorded_at"), "recorded_at_source": inp.get("recorded_at_source")}


def subject_record(report: dict | None, given: dict | None) -> dict:
    """Patient ID and visit label (and the visit's date when one was given): as given to `measures`,
    else as the run recorded them."""
    recorded = (report or {}).get("subject") or {}
    given = given or {}
    out = {k: given.get(k) or recorded.get(k) for k in ("patient", "visit")}
    date = given.get("visit_date") or recorded.get("visit_date")
    return {**out, "visit_date": date} if date else out


def build_result(track: LandmarkTrack, table: MeasureTable, analysis: Analysis,
                 report: dict | None = None, subject: dict | None = None) -> dict:
    """The NAME_measures.json body."""
    import datetime as dt
    ipd = table.columns["ipd_px"]
    measured = int(np.sum(np.isfinite(ipd)))
    warnings = [COARSE_WARNING] if track.coarse else []
    for reason, count in table.excluded.items():
        if count:
            warnings.append(f"{count} frame(s) left out of the measures: {reason}")
    if measured < len(ipd):
        warnings.append(f"{len(ipd) - measured} of {len(ipd)} frames have no measures (no face or left out)")
    warnings += analysis.result.get("analysis_warnings", [])
    if table.glitches.points_replaced:
        warnings.append(f"{table.glitches.points_replaced} landmark position(s) in {table.glitches.frames_affected} "
                        "frame(s) jumped far from their neighbours and were replaced before measuring")
    defs = {m.name: {"label": m.label, "region": m.region, "unit": m.unit, "mm_unit": m.mm_unit, "sided": m.sided,
                     "coarse": track.coarse} for m in measures_for(track.n_points)}
    return {
        "schema": SCHEMA,
        "analysed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "recording": recording_record(report),
        "subject": subject_record(report, subject),
        "source": {"landmarks_csv": published_csv_name(track, report),
                   "input_video": ((report or {}).get("input") or {}).get("file")},
        "mode": "5-point (coarse)" if track.coarse else "98-point WFLW",
        "coarse": track.coarse,
        "sides": "patient's right and left (patient's right = image left in an unmirrored recording)",
        "scale": {"basis": "interpupillary distance (points 96-97)" if not track.coarse
                  else "distance between the eye centres (5-point p0-p1)",
                  "assumed_ipd_mm": ASSUMED_IPD_MM,
                  "ipd_px_median": float(np.nanmedian(ipd)) if measured else None},
        "frames": {"total": len(ipd), "measured": measured, "excluded": dict(table.excluded)},
        **analysis.result,
        "measures": defs,
        "settings": _settings(),
        "warnings": warnings,
    }


def analyse_track(track: LandmarkTrack, rest: tuple[float, float] | None = None,
                  report: dict | None = None, subject: dict | None = None,
                  record: Record | None = None) -> tuple[MeasureTable, Analysis, dict]:
    """``record``: a guided exam's record (app.measures.protocol); its rest task is the rest unless
    ``rest`` is given, and the result gets "tasks" and "untasked" (app.measures.tasks)."""
    from app.measures.tasks import rest_window, task_results

    record_rest = rest_window(record) if rest is None and record is not None else None
    rest = rest or record_rest
    table = compute_table(track)
    if not np.any(np.isfinite(table.columns["ipd_px"])):
        raise MeasuresError("no frame has usable landmarks; nothing to measure")
    # --rest is read off a player, whose clock starts at the recording's first timestamp
    clock_s = player_start_s(report)
    analysis = analyse(table, rest, clock_s)
    result = build_result(track, table, analysis, report, subject)
    if record is not None:
        if record_rest is not None:
            result["rest"]["source"] = "the protocol's rest task"
        result.update(task_results(table, analysis, record, clock_s))
    return table, analysis, result


def write_measures(landmarks_csv: Path, targets: dict[str, Path], *, rest: tuple[float, float] | None = None,
                   report: dict | None = None, frame_provider: FrameProvider | None = None,
                   subject: dict | None = None, record: Record | None = None) -> dict:
    """Compute the measures of a landmarks CSV and write the files named in ``targets``.

    ``targets`` maps any of "measures_csv", "measures_json", "summary_html", "summary_pdf" to the exact path to
    write (the caller publishes them). ``rest`` = (start_s, end_s) on the player's clock overrides the rest detection;
    ``report`` = the NAME_report.json dict (verdict, models, settings) for the summary;
    ``frame_provider(times_ms)`` returns upright BGR frames (or None each) for its pictures.
    ``record`` = a guided exam's record (app.measures.protocol): per-task results under "tasks".
    Returns the JSON body. Raises MeasuresError for unusable input.
    """
    unknown = set(targets) - set(TARGET_KEYS)
    if unknown:
        raise ValueError(f"unknown target(s) {sorted(unknown)}; expected {TARGET_KEYS}")
    track = read_landmarks_csv(Path(landmarks_csv))
    table, analysis, result = analyse_track(track, rest, report, subject, record)
    if "measures_csv" in targets:
        write_measures_csv(table, Path(targets["measures_csv"]))
    if "measures_json" in targets:
        write_measures_json(result, Path(targets["measures_json"]))
    if "summary_html" in targets:
        from app.measures.summary import render_summary   # matplotlib only when a summary is wanted
        text = render_summary(track, table, analysis, result, report, frame_provider)
        Path(targets["summary_html"]).write_text(text, encoding="utf-8")
    if "summary_pdf" in targets:
        from app.measures.summary import write_summary_pdf
        write_summary_pdf(Path(targets["summary_pdf"]), track, table, analysis, result, report, frame_provider)
    return result
