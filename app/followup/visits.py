"""One record per processed recording, read from FaceMirror output folders or from a study.csv.

From an output folder: every ``NAME_report.json`` that is FaceMirror's (``app.name``), searched
recursively, with ``NAME_measures.json`` beside it. Used fields (the contracts in README "Outputs"):
report ``subject`` {patient, visit}, ``input`` {file, recorded_at, recorded_at_source},
``verdict`` {level, reasons}; measures ``headlines`` (one entry per region: region, measure,
label, unit, peak_s, right/left {value, ci95}, symmetry_pct, symmetry_ci95, weaker) and ``rest``
{start_s, end_s, values: {measure: {right, left, difference, *_mm}}}.

From a study.csv (made by `main.py study`): one row per recording, the region cells
``{region}_measure, _unit, _right, _right_ci_low/_high, _left, ..., _symmetry_pct,
_symmetry_ci_low/_high, _weaker``; the row's ``report_json`` (relative to the study.csv's folder)
adds the rest values and the video when it can be found there.

Anything missing or malformed becomes "no value", never an error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from app import APP_NAME
from app.followup.tables import Table, TableError, number, read_table
from app.outputs import read_json_object, SUFFIX
from app.verdict import NOT_USABLE

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
    level: str | None                    # the verdict level (app/verdict.py), None when unknown
    reasons: list[str]
    headlines: dict[str, Headline]
    rest: dict[str, dict] = field(default_factory=dict)
    rest_window: tuple[float, float] | None = None
    videos: list[Path] = field(default_factory=list)     # where frames can be read, best first

    @property
    def usable(self) -> bool:
        return self.level != NOT_USABLE


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


def headlines_of(measures: dict) -> dict[str, Headline]:
    out: dict[str, Headline] = {}
    items = measures.get("headlines")
    for h in items if isinstance(items, list) else []:
        h = _dict(h)
        region = h.get("region")
        if region not in REGIONS or region in out:
            continue
        weaker = h.get("weaker") if h.get("weaker") in ("right", "left") else None
        out[region] = Headline(region, _text(h.get("measure")) or "", _text(h.get("label")) or region,
                               _text(h.get("unit")) or "", _side(h.get("right")), _side(h.get("left")),
                               _float(h.get("symmetry_pct")), _pair(h.get("symmetry_ci95")), weaker,
                               _float(h.get("peak_s")))
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
    inp, subject, verdict = _dict(report.get("input")), _dict(report.get("subject")), _dict(report.get("verdict"))
    file_name = (_text(inp.get("file")) or path.name[: -len(REPORT_SUFFIX)]).replace("\\", "/").rsplit("/", 1)[-1]
    reasons = verdict.get("reasons")
    rest, window = _rest_of(measures)
    return Recording(str(path), file_name, _text(subject.get("patient")), _text(subject.get("visit")),
                     _text(inp.get("recorded_at")), _text(inp.get("recorded_at_source")), _text(verdict.get("level")),
                     [str(r) for r in reasons] if isinstance(reasons, list) else [], headlines_of(measures),
                     rest, window, _videos(report, path))


def find_reports(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob(f"*{REPORT_SUFFIX}")
                  if p.is_file() and not p.name.startswith(".") and len(p.name) > len(REPORT_SUFFIX))


# ---- study.csv ----------------------------------------------------------------------------------

def _cell_pair(row: dict[str, str], lo: str, hi: str, sep: str) -> tuple[float, float] | None:
    a, b = number(row.get(lo, ""), sep), number(row.get(hi, ""), sep)
    return _pair([a, b]) if a is not None and b is not None else None


def _study_side(row: dict[str, str], prefix: str, sep: str) -> Side:
    return Side(number(row.get(prefix, ""), sep), _cell_pair(row, f"{prefix}_ci_low", f"{prefix}_ci_high", sep))


def _study_headlines(row: dict[str, str], sep: str) -> dict[str, Headline]:
    out = {}
    for region in REGIONS:
        measure = row.get(f"{region}_measure", "")
        if not measure:
            continue
        weaker = row.get(f"{region}_weaker")
        out[region] = Headline(region, measure, measure.replace("_", " "), row.get(f"{region}_unit", ""),
                               _study_side(row, f"{region}_right", sep), _study_side(row, f"{region}_left", sep),
                               number(row.get(f"{region}_symmetry_pct", ""), sep),
                               _cell_pair(row, f"{region}_symmetry_ci_low", f"{region}_symmetry_ci_high", sep),
                               weaker if weaker in ("right", "left") else None)
    return out


def from_study(path: Path) -> list[Recording]:
    table: Table = read_table(path)
    if not table.has("file"):
        raise TableError(f"{table.path.name} is not a FaceMirror study table (it has no 'file' column)")
    out = []
    for row, line in zip(table.rows, table.row_numbers):
        usable = row.get("usable", "").lower()
        level = row.get("verdict") or (NOT_USABLE if usable == "false" else None)
        rec = Recording(f"{table.path.name} line {line}", row.get("file", ""), row.get("patient") or None,
                        row.get("visit") or None, row.get("recorded_at") or None, None, level,
                        [r.strip() for r in row.get("verdict_reasons", "").split(" | ") if r.strip()],
                        _study_headlines(row, table.separator))
        report_rel = row.get("report_json", "")
        report_path = table.path.parent / report_rel if report_rel else None
        if report_path is not None and report_path.is_file():
            full = from_report(report_path)
            if full is not None:
                # the row's own headline cells may lack the label and peak time: take them from measures.json
                for region, h in full.headlines.items():
                    if region in rec.headlines:
                        rec.headlines[region].label, rec.headlines[region].peak_s = h.label, h.peak_s
                rec.rest, rec.rest_window, rec.videos = full.rest, full.rest_window, full.videos
                rec.recorded_at_source = full.recorded_at_source
        out.append(rec)
    return out


def collect(paths: list[Path]) -> tuple[list[Recording], list[str]]:
    """(recordings, problems). A path is a folder (searched), a NAME_report.json, or a study .csv."""
    recordings: list[Recording] = []
    problems: list[str] = []
    seen: set[str] = set()
    for p in map(Path, paths):
        if p.is_dir():
            reports = find_reports(p)
            found = 0
            for r in reports:
                key = str(r.resolve())
                if key in seen:
                    continue
                seen.add(key)
                rec = from_report(r)
                if rec is not None:
                    recordings.append(rec)
                    found += 1
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
