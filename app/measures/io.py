"""Read NAME_landmarks.csv; write NAME_measures.csv and NAME_measures.json (Qt-free)."""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.measures.definitions import MEASURE_BY_NAME, SIDES, column_names, face_measures, measures_for
from app.measures.face_frame import STABLE_5, STABLE_98, FaceFrames, face_frames
from app.measures.glitches import GlitchReport, reject_glitches


class MeasuresError(ValueError):
    """The input cannot be analysed; the message is for the user."""


# The pipeline's warning when a video could not be measured (the summary leaves it out of its run warnings).
MEASURES_FAILED = "no symmetry measures: "


@dataclass
class LandmarkTrack:
    """Landmarks of one video, one row per frame (NaN where a frame has no face)."""
    frames: np.ndarray              # (N,) int
    times_ms: np.ndarray            # (N,) float
    points: np.ndarray              # (N, K, 2), K = 98 or 5
    midline_angle_deg: np.ndarray   # (N,) smoothed midline, NaN when absent
    midline_point: np.ndarray       # (N, 2)
    source: Path | None = None
    excluded: dict[str, np.ndarray] = field(default_factory=dict)   # reason -> (N,) bool, from quality columns

    @property
    def n_points(self) -> int:
        return int(self.points.shape[1])

    @property
    def coarse(self) -> bool:
        return self.n_points == 5


@dataclass
class MeasureTable:
    """Per-frame measures: ``columns[key]`` arrays in IPD units / degrees (keys of frame_measures)."""
    frames: np.ndarray
    times_ms: np.ndarray
    n_points: int
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)    # reason -> frames with a face left out
    glitches: GlitchReport = field(default_factory=lambda: GlitchReport(0, 0))
    frames_fit: FaceFrames | None = None                      # each frame's fit (to draw the axis)

    @property
    def times_s(self) -> np.ndarray:
        return self.times_ms / 1000.0

    def side(self, name: str, side: str) -> np.ndarray:
        return self.columns[f"{name}_{side}"]


def player_start_s(report: dict | None) -> float:
    """The player's clock at the recording's first frame, where the landmarks CSV's times start
    at 0 (the run report's input.start_time_s; 0 when there is no report or it does not say)."""
    return float(((report or {}).get("input") or {}).get("start_time_s") or 0.0)


def _float(cell: str) -> float:
    try:
        return float(cell) if cell.strip() else math.nan
    except ValueError:
        return math.nan


# Frames the measures skip (when the CSV has these columns). Roll is handled by the face frame;
# a turned head foreshortens one side, so strong yaw is excluded (a looser limit than the
# 12 deg warning flag, whose 5-point estimate is noisy).
MAX_YAW_DEG = 20.0
MIN_IPD_FRACTION = 0.5       # IPD below half the video's median: profile view or a wrong face


EXCLUSION_COLUMNS = ("q_low_score", "q_partly_outside", "yaw_deg", "q_yaw")


def _exclusions(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Frames to leave out, from the quality columns the CSV has (name -> values per frame)."""
    def flag(name: str) -> np.ndarray | None:
        return columns[name] == 1 if name in columns else None
    out = {}
    for reason, name in (("low detector score", "q_low_score"), ("face partly outside the frame", "q_partly_outside")):
        f = flag(name)
        if f is not None:
            out[reason] = f
    if "yaw_deg" in columns:
        out[f"head turned more than {MAX_YAW_DEG:g} deg"] = np.abs(np.nan_to_num(columns["yaw_deg"])) > MAX_YAW_DEG
    elif (f := flag("q_yaw")) is not None:
        out["head turned"] = f
    return out


def _point_count(header: set[str]) -> int:
    def has(n: int) -> bool:
        return all(f"p{i}_{a}" in header for i in range(n) for a in "xy")
    if has(98):
        return 98
    if has(5) and "p5_x" not in header:
        return 5
    missing = [f"p{i}_{a}" for i in range(98) for a in "xy" if f"p{i}_{a}" not in header]
    shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
    raise MeasuresError(f"the CSV lacks landmark columns ({shown}); it needs p0_x, p0_y ... p97_y "
                        "(98 WFLW points) or p0_x ... p4_y (5 points)")


def read_landmarks_csv(path: Path) -> LandmarkTrack:
    """Read a FaceMirror landmarks CSV (or any CSV with frame, time_ms and p0_x ... p97_y)."""
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            head = raw.read(4096)
        fh = open(path, encoding="utf-8-sig", newline="")      # -sig: Excel's "CSV UTF-8" starts with a BOM
    except OSError as exc:
        raise MeasuresError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if b"\0" in head:
        fh.close()
        raise MeasuresError(f"{path.name} is not a text CSV file (it contains binary data); give the "
                            "NAME_landmarks.csv that FaceMirror wrote")
    try:
        with fh:
            return _read_rows(path, fh)
    except UnicodeDecodeError:
        raise MeasuresError(f"{path.name} is not UTF-8 text (perhaps saved as Latin-1 / Windows text); save it "
                            "as \"CSV UTF-8\" and try again") from None
    except csv.Error as exc:
        raise MeasuresError(f"{path.name} is not a readable CSV file ({exc})") from None


def _read_rows(path: Path, fh) -> LandmarkTrack:
    reader = csv.reader(fh)
    header = next(reader, None)
    if not header:
        raise MeasuresError(f"{path.name} is empty or not a CSV file")
    n, quality, wanted = _wanted_columns(path, header)
    values = _wanted_values(reader, wanted)
    if not len(values):
        raise MeasuresError(f"{path.name} has a header but no frames")
    return _track(path, values, n, quality)


def _wanted_columns(path: Path, header: list[str]) -> tuple[int, list[str], list[int]]:
    """(landmark count, quality columns present, the indices of the cells read: frame, time_ms,
    the points' x and y, the midline (-1: absent), the quality columns)."""
    col = {name.strip(): i for i, name in enumerate(header)}
    missing = [c for c in ("frame", "time_ms") if c not in col]
    if missing:
        raise MeasuresError(f"{path.name} lacks the required column(s) {', '.join(missing)}; "
                            "a landmarks CSV needs frame, time_ms and p0_x ... p97_y")
    n = _point_count(set(col))
    pidx = [col[f"p{i}_{a}"] for i in range(n) for a in "xy"]
    mid_cols = [col.get(c, -1) for c in ("midline_angle_deg", "midline_point_x", "midline_point_y")]
    quality = [c for c in EXCLUSION_COLUMNS if c in col]
    wanted = [col["frame"], col["time_ms"]] + pidx + mid_cols + [col[c] for c in quality]
    return n, quality, wanted


def _wanted_values(reader, wanted: list[int]) -> np.ndarray:
    # Only the needed cells, as numbers, row by row: memory stays ~1.6 KB per frame, not the whole
    # text of a long recording's CSV (a 5-minute one held as strings took ~250 MB).
    rows = [np.array([_float(r[i]) if 0 <= i < len(r) else math.nan for i in wanted]) for r in reader if r]
    return np.vstack(rows) if rows else np.empty((0, len(wanted)))


def _track(path: Path, values: np.ndarray, n: int, quality: list[str]) -> LandmarkTrack:
    frames, times = values[:, 0], values[:, 1]
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        raise MeasuresError(f"{path.name}: time_ms must be a number in every row and increase from row to row")
    pts = values[:, 2:2 + 2 * n].reshape(len(values), n, 2).copy()
    mid = values[:, 2 + 2 * n:5 + 2 * n]
    qcols = {c: values[:, 5 + 2 * n + k] for k, c in enumerate(quality)}
    frames = np.where(np.isfinite(frames), frames, np.arange(len(values))).astype(int)
    return LandmarkTrack(frames, times.copy(), pts, mid[:, 0].copy(), mid[:, 1:3].copy(), path, _exclusions(qcols))


def compute_table(track: LandmarkTrack) -> MeasureTable:
    """Per-frame measures of a whole track; excluded frames (quality, profile views) stay NaN.

    Order: glitches out (app.measures.glitches), every frame fitted to the video's reference shape
    (app.measures.face_frame), then the measures of each frame in face coordinates. The rest-
    relative measures stay NaN until the rest is known (definitions.rest_relative).
    """
    keys = column_names(track.n_points) + ["ipd_px"]
    n = len(track.times_ms)
    skip = np.zeros(n, bool)
    for mask in track.excluded.values():
        skip |= mask
    pts = np.where(skip[:, None, None], np.nan, track.points)
    eyes = (96, 97) if track.n_points == 98 else (0, 1)
    raw_ipd = np.hypot(*(pts[:, eyes[1]] - pts[:, eyes[0]]).T)
    scale = float(np.nanmedian(raw_ipd)) if np.isfinite(raw_ipd).any() else math.nan
    steady = STABLE_98 if track.n_points == 98 else STABLE_5
    cleaned, glitches = reject_glitches(pts, track.times_ms / 1000.0, scale, steady)
    # Eyes much closer together than usual (in the image): a profile view or another face. They
    # must not shape the reference shape either.
    with np.errstate(invalid="ignore"):
        small = raw_ipd < MIN_IPD_FRACTION * scale
    fit = face_frames(cleaned, usable=~small, times_s=track.times_ms / 1000.0)
    data = {k: np.full(n, np.nan) for k in keys}
    for i in np.flatnonzero(np.isfinite(fit.ipd_px) & ~small):
        vals = face_measures(fit.face[i])
        for k in keys[:-1]:
            data[k][i] = vals[k]
        data["ipd_px"][i] = fit.ipd_px[i]
    table = MeasureTable(track.frames.copy(), track.times_ms.copy(), track.n_points, data,
                         glitches=glitches, frames_fit=fit)
    table.excluded["eyes less than half their usual distance apart (profile view)"] = int(small.sum())
    for reason, mask in track.excluded.items():
        table.excluded[reason] = int(np.sum(mask & np.all(np.isfinite(track.points), axis=(1, 2))))
    return table


def csv_header(n_points: int) -> list[tuple[str, str, str]]:
    """(CSV column, table key, conversion "ipd" | "mm" | "deg" | "px") in output order."""
    cols = [("ipd_px", "ipd_px", "px")]
    for m in measures_for(n_points):
        keys = [f"{m.name}_{s}" for s in SIDES] if m.sided else [m.name]
        if m.kind == "angle":
            cols += [(f"{k}_deg", k, "deg") for k in keys]
        else:
            base = "ipd" if m.kind == "length" else "ipd2"
            mm = "mm" if m.kind == "length" else "mm2"
            cols += [(f"{k}_{base}", k, "ipd") for k in keys] + [(f"{k}_{mm}", k, "mm") for k in keys]
    return cols


def _measure_of(key: str):
    for suffix in ("_right", "_left"):
        if key.endswith(suffix):
            return MEASURE_BY_NAME[key[: -len(suffix)]]
    return MEASURE_BY_NAME[key]


def write_measures_csv(table: MeasureTable, path: Path) -> None:
    header = csv_header(table.n_points)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "time_ms"] + [h[0] for h in header])
        converted = []
        for _, key, conv in header:
            v = table.columns[key]
            converted.append(_measure_of(key).to_mm(v) if conv == "mm" else v)
        for i in range(len(table.times_ms)):
            row: list[object] = [int(table.frames[i]), round(float(table.times_ms[i]), 3)]
            for arr in converted:
                x = float(arr[i])
                row.append("" if not math.isfinite(x) else round(x, 5))
            w.writerow(row)


def _clean(obj):
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_measures_json(result: dict, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(_clean(result), fh, indent=2, allow_nan=False)
        fh.write("\n")
