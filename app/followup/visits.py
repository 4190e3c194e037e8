"""One record per processed recording, read from FaceMirror output folders or from a study.csv.

From an output folder: every ``NAME_report.json`` that is FaceMirror's (``app.name``), searched
recursively, with ``NAME_measures.json`` beside it. Used fields (the contracts in README "Outputs"):
report ``subject`` {patient, visit, visit_date}, ``input`` {file, sha256, width, height, fps,
recorded_at, recorded_at_source}, ``verdict`` {level, reasons}, ``models`` {star, retinaface:
{sha256}}, ``face_size.pupil_px_median``, ``app.version``; measures ``subject`` (which `measures
--patient/--visit/--visit-date` may have set, so it wins over the report's), ``mode``,
``headlines`` (one entry per region: region, measure, label, unit, peak_s, right/left {value,
ci95}, symmetry_pct, symmetry_ci95, weaker), ``tasks`` (a guided exam's, when present: the task
headlines the trend uses when every visit followed a protocol) and ``rest`` {start_s, end_s, values: {measure:
{right, left, difference, *_mm}}}.

From a study.csv (made by `main.py study`): one row per recording, the region cells
``{region}_measure, _unit, _right, _right_ci_low/_high, _left, ..., _symmetry_pct,
_symmetry_ci_low/_high, _weaker``, ``input_sha256``, ``mode``, ``landmark_model_sha256``,
``detector_model_sha256`` (and ``visit_date`` when the table has it); the row's ``report_json``
(relative to the study.csv's folder) adds the rest values, the recording's conditions and the
video when it can be found there.

Anything missing or malformed becomes "no value", never an error.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from app import APP_NAME
from app.followup.tables import Table, TableError, number, read_table
from app.base.outputs import read_json_object, SUFFIX
from app.results.verdict import NOT_USABLE
from app.video.recorded_at import CONTAINER

# Where a recording's date comes from, in the order the visit order trusts them (docs/FOLLOWUP.md).
DATE_CONTAINER = "the date the video file carries"
DATE_GIVEN = "the date given with --visit-date"
DATE_FILE = "the file's modification time"

REGIONS = ("brow", "eyes", "mouth")
REPORT_SUFFIX = SUFFIX["report"]
MEASURES_SUFFIX = SUFFIX["measures_json"]
ANNOTATED_SUFFIX = SUFFIX["annotated"]


@dataclass
class Side:
    value: float | None
    ci95: tuple[float, float] | None


@dataclass
class Headline:
    region: str
    measure: str
    label: str
    unit: str
    right: Side
    left: Side
    symmetry_pct: float | None
    symmetry_ci95: tuple[float, float] | None
    weaker: str | None
    peak_s: float | None = None

    @property
    def size(self) -> float:
        """How far the region moved (the larger side), to choose among recordings of one visit."""
        return max(abs(v) for v in (self.right.value, self.left.value, 0.0) if v is not None)


@dataclass
class Recording:
    source: str                          # where it was read (a report path or "study.csv row N")
    file: str                            # the recording's file name
    patient: str | None
    visit: str | None
    recorded_at: str | None
    recorded_at_source: str | None
    level: str | None                    # the verdict level (app/results/verdict.py), None when unknown
    reasons: list[str]
    headlines: dict[str, Headline]
    rest: dict[str, dict] = field(default_factory=dict)
    rest_window: tuple[float, float] | None = None
    videos: list[Path] = field(default_factory=list)     # where frames can be read, best first
    sha256: str | None = None
    visit_date: str | None = None        # given by the user (process/measures --visit-date)
    conditions: dict = field(default_factory=dict)       # CONDITIONS: what could explain a difference
    task_headlines: dict[str, Headline] = field(default_factory=dict)   # a guided exam's, per region

    @property
    def usable(self) -> bool:
        return self.level != NOT_USABLE

    @property
    def coarse(self) -> bool | None:
        """True in 5-point mode, False with 98 points, None when the measures do not say."""
        mode = self.conditions.get("mode")
        return None if mode is None else mode.startswith("5-point")

    def date(self) -> tuple[str, str] | None:
        """(ISO date, where it comes from): the container's date, else the user's, else the file time."""
        if self.recorded_at and self.recorded_at_source == CONTAINER:
            return self.recorded_at, DATE_CONTAINER
        if self.visit_date:
            return self.visit_date, DATE_GIVEN
        if self.recorded_at:      # a file time, or a study row whose source is not known: never trusted
            return self.recorded_at, DATE_FILE
        return None


# The recording's conditions compared from visit to visit (key: what the page calls it).
CONDITIONS = {"mode": "landmark mode", "landmark_model": "landmark model (sha256)",
              "detector_model": "face detector model (sha256)", "resolution": "resolution",
              "fps": "frame rate (fps)", "face_px": "face size (pupil distance, px)", "verdict": "verdict",
              "app_version": "FaceMirror version"}


# ---- defensive readers --------------------------------------------------------------------------

def _dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def _text(v) -> str | None:
    return v.strip() if isinstance(v, str) and v.strip() else None


def _float(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _pair(v) -> tuple[float, float] | None:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        lo, hi = _float(v[0]), _float(v[1])
        if lo is not None and hi is not None:
            return (min(lo, hi), max(lo, hi))
    return None


def _side(v) -> Side:
    d = _dict(v)
    return Side(_float(d.get("value")), _pair(d.get("ci95")))


def first_headlines(measures: dict) -> dict[str, dict]:
    """measures.json's "headlines" by region: the first one of each of REGIONS (malformed ones left out)."""
    items = measures.get("headlines")
    first: dict[str, dict] = {}
    for h in map(_dict, items if isinstance(items, list) else []):
        if h.get("region") in REGIONS:
            first.setdefault(h["region"], h)
    return first


def weaker_side(value) -> str | None:
    """The weaker side a headline names ("right" or "left"); None when it names none (or garbage)."""
    return value if value in ("right", "left") else None


def _headline(h: dict, region: str, label: str, interval_key: str, peak_s: float | None) -> Headline:
    """A headline of measures.json (a region's, or a guided task's: they differ in the label, the
    key of the symmetry's interval and where the peak time is)."""
    return Headline(region, _text(h.get("measure")) or "", label, _text(h.get("unit")) or "",
                    _side(h.get("right")), _side(h.get("left")), _float(h.get("symmetry_pct")),
                    _pair(h.get(interval_key)), weaker_side(h.get("weaker")), peak_s)


def headlines_of(measures: dict) -> dict[str, Headline]:
    return {region: _headline(h, region, _text(h.get("label")) or region, "symmetry_ci95", _float(h.get("peak_s")))
            for region, h in first_headlines(measures).items()}


# A guided exam's task that gives each region's headline (app.measures.tasks), first found wins.
TASK_FOR_REGION = {"brow": ("brow_raise",), "eyes": ("full_eye_closure", "gentle_eye_closure"),
                   "mouth": ("smile", "smile_open")}


def task_headlines_of(measures: dict) -> dict[str, Headline]:
    """Per region the headline of the guided exam's task that tests it (empty without a protocol)."""
    items = measures.get("tasks")
    tasks = [_dict(t) for t in items] if isinstance(items, list) else []
    out: dict[str, Headline] = {}
    for region, names in TASK_FOR_REGION.items():
        for name in names:
            task = next((t for t in tasks if t.get("task") == name and isinstance(t.get("headline"), dict)), None)
            if task is None:
                continue
            out[region] = _headline(task["headline"], region, f"{name.replace('_', ' ')} (guided task)", "ci95",
                                    _float(task.get("start_s")))
            break
    return out


def _rest_of(measures: dict) -> tuple[dict[str, dict], tuple[float, float] | None]:
    rest = _dict(measures.get("rest"))
    values = {k: v for k, v in _dict(rest.get("values")).items() if isinstance(v, dict)}
    start, end = _float(rest.get("start_s")), _float(rest.get("end_s"))
    return values, ((start, end) if start is not None and end is not None else None)


def _videos(report: dict, report_path: Path) -> list[Path]:
    """The recording itself when it is still where it was processed, else the annotated video."""
    out = []
    original = _text(_dict(report.get("input")).get("file"))
    if original:
        out.append(Path(original))
    name = report_path.name[: -len(REPORT_SUFFIX)]
    out.append(report_path.with_name(name + ANNOTATED_SUFFIX))
    return out


def from_report(path: Path) -> Recording | None:
    """The recording of a FaceMirror report (None when the file is not one)."""
    report = read_json_object(path)
    if report is None or _dict(report.get("app")).get("name") != APP_NAME:
        return None
    measures = read_json_object(path.with_name(path.name[: -len(REPORT_SUFFIX)] + MEASURES_SUFFIX)) or {}
    inp, verdict = _dict(report.get("input")), _dict(report.get("verdict"))
    # `measures --patient/--visit/--visit-date` writes the measures' subject; the report keeps the run's
    subject = {**_dict(report.get("subject")),
               **{k: v for k, v in _dict(measures.get("subject")).items() if _text(v)}}
    file_name = (_text(inp.get("file")) or path.name[: -len(REPORT_SUFFIX)]).replace("\\", "/").rsplit("/", 1)[-1]
    reasons = verdict.get("reasons")
    rest, window = _rest_of(measures)
    return Recording(str(path), file_name, _text(subject.get("patient")), _text(subject.get("visit")),
                     _text(inp.get("recorded_at")), _text(inp.get("recorded_at_source")), _text(verdict.get("level")),
                     [str(r) for r in reasons] if isinstance(reasons, list) else [], headlines_of(measures),
                     rest, window, _videos(report, path), sha256=_text(inp.get("sha256")),
                     visit_date=_text(subject.get("visit_date")), conditions=_conditions(report, measures),
                     task_headlines=task_headlines_of(measures))


def _conditions(report: dict, measures: dict) -> dict:
    inp, models = _dict(report.get("input")), _dict(report.get("models"))
    width, height = _float(inp.get("width")), _float(inp.get("height"))
    fps, face = _float(inp.get("fps")), _float(_dict(report.get("face_size")).get("pupil_px_median"))
    mode = _text(measures.get("mode"))
    if mode is None and _text(models.get("landmark_model")):
        mode = "5-point (coarse)" if str(models["landmark_model"]).startswith("5-point") else "98-point WFLW"
    return {k: v for k, v in {
        "mode": mode, "landmark_model": _text(_dict(models.get("star")).get("sha256")),
        "detector_model": _text(_dict(models.get("retinaface")).get("sha256")),
        "resolution": f"{width:.0f}x{height:.0f}" if width and height else None,
        "fps": round(fps, 3) if fps else None, "face_px": round(face, 1) if face else None,
        "verdict": _text(_dict(report.get("verdict")).get("level")),
        "app_version": _text(_dict(report.get("app")).get("version"))}.items() if v is not None}


def find_reports(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob(f"*{REPORT_SUFFIX}")
                  if p.is_file() and not p.name.startswith(".") and len(p.name) > len(REPORT_SUFFIX))


# ---- study.csv ----------------------------------------------------------------------------------

def _cell_pair(row: dict[str, str], lo: str, hi: str, sep: str) -> tuple[float, float] | None:
    a, b = number(row.get(lo, ""), sep), number(row.get(hi, ""), sep)
    return _pair([a, b])        # None when either cell is empty


def _study_side(row: dict[str, str], prefix: str, sep: str) -> Side:
    return Side(number(row.get(prefix, ""), sep), _cell_pair(row, f"{prefix}_ci_low", f"{prefix}_ci_high", sep))


def _study_headlines(row: dict[str, str], sep: str) -> dict[str, Headline]:
    out = {}
    for region in REGIONS:
        measure = row.get(f"{region}_measure", "")
        if not measure:
            continue
        out[region] = Headline(region, measure, measure.replace("_", " "), row.get(f"{region}_unit", ""),
                               _study_side(row, f"{region}_right", sep), _study_side(row, f"{region}_left", sep),
                               number(row.get(f"{region}_symmetry_pct", ""), sep),
                               _cell_pair(row, f"{region}_symmetry_ci_low", f"{region}_symmetry_ci_high", sep),
                               weaker_side(row.get(f"{region}_weaker")))
    return out


def from_study(path: Path) -> list[Recording]:
    table: Table = read_table(path)
    if not table.has("file"):
        raise TableError(f"{table.path.name} is not a FaceMirror study table (it has no 'file' column)")
    out = []
    for row, line in zip(table.rows, table.row_numbers):
        rec = _study_row(table, row, line)
        _complete_from_report(rec, table, row)
        out.append(rec)
    return out


def _cell(row: dict[str, str], column: str) -> str | None:
    """A study table's cell; None when it is empty or the table has no such column (no value)."""
    return row.get(column) or None


def _study_row(table: Table, row: dict, line: int) -> Recording:
    """The recording as far as its row of the study table says."""
    usable = row.get("usable", "").lower()
    level = row.get("verdict") or (NOT_USABLE if usable == "false" else None)
    return Recording(f"{table.path.name} line {line}", row.get("file", ""), _cell(row, "patient"),
                     _cell(row, "visit"), _cell(row, "recorded_at"), None, level,
                     [r.strip() for r in row.get("verdict_reasons", "").split(" | ") if r.strip()],
                     _study_headlines(row, table.separator), sha256=_cell(row, "input_sha256"),
                     visit_date=_cell(row, "visit_date"),
                     conditions={k: v for k, v in (("mode", row.get("mode")),
                                                   ("landmark_model", row.get("landmark_model_sha256")),
                                                   ("detector_model", row.get("detector_model_sha256")),
                                                   ("verdict", level),
                                                   ("app_version", row.get("app_version"))) if v})


def _complete_from_report(rec: Recording, table: Table, row: dict) -> None:
    """What the row leaves out, from the report it names when that report is where it says."""
    report_rel = row.get("report_json", "")
    full = from_report(table.path.parent / report_rel) if report_rel else None    # None: not there, or not a report
    if full is None:
        return
    # the row's own headline cells may lack the label and peak time: take them from measures.json
    for region, h in full.headlines.items():
        if region in rec.headlines:
            rec.headlines[region].label, rec.headlines[region].peak_s = h.label, h.peak_s
    rec.rest, rec.rest_window, rec.videos = full.rest, full.rest_window, full.videos
    rec.task_headlines = full.task_headlines
    rec.recorded_at_source = full.recorded_at_source
    rec.conditions = {**full.conditions, **rec.conditions}
    rec.visit_date = rec.visit_date or full.visit_date


def _from_folder(folder: Path, seen: set[str]) -> list[Recording]:
    """The recordings of the FaceMirror reports under `folder` not met before (`seen`: resolved
    report paths, updated here)."""
    found = []
    for r in find_reports(folder):
        key = str(r.resolve())
        if key in seen:
            continue
        seen.add(key)
        rec = from_report(r)
        if rec is not None:
            found.append(rec)
    return found


def collect(paths: list[Path]) -> tuple[list[Recording], list[str]]:
    """(recordings, problems). A path is a folder (searched), a NAME_report.json, or a study .csv."""
    recordings: list[Recording] = []
    problems: list[str] = []
    seen: set[str] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found = _from_folder(p, seen)
            recordings += found
            if not found:
                problems.append(f"{p}: no FaceMirror report (NAME_report.json) found in this folder")
        elif p.is_file() and p.name.endswith(REPORT_SUFFIX):
            rec = from_report(p)
            if rec is None:
                problems.append(f"{p}: not a FaceMirror report")
            elif str(p.resolve()) not in seen:
                seen.add(str(p.resolve()))
                recordings.append(rec)
        elif p.is_file() and p.suffix.lower() in (".csv", ".tsv", ".txt"):
            try:
                recordings += from_study(p)
            except TableError as exc:
                problems.append(str(exc))
        elif p.exists():
            problems.append(f"{p}: neither an output folder, a NAME_report.json nor a study.csv")
        else:
            problems.append(f"{p}: no such file or folder")
    return recordings, problems


# ---- the same recording twice, the same patient under two IDs -----------------------------------

def id_key(patient: str) -> str:
    """What is left of a patient ID when case, punctuation, spaces and leading zeros are ignored."""
    text = re.sub(r"[^0-9a-z]+", "", patient.casefold())
    return re.sub(r"\d+", lambda m: str(int(m.group(0))), text)


def near_duplicate_ids(patients: list[str]) -> list[list[str]]:
    """Groups of distinct patient IDs that differ only in case, punctuation or leading zeros."""
    groups: dict[str, list[str]] = {}
    for p in patients:
        groups.setdefault(id_key(p), []).append(p)
    return [sorted(set(g)) for g in groups.values() if len(set(g)) > 1]


def same_recordings(recordings: list[Recording]) -> list[list[Recording]]:
    """Groups of records of one recording (the same sha256), read from more than one place."""
    groups: dict[str, list[Recording]] = {}
    for r in recordings:
        if r.sha256:
            groups.setdefault(r.sha256.lower(), []).append(r)
    return [g for g in groups.values() if len(g) > 1]
