"""`python main.py study OUT_DIR... --out study.csv [--overwrite]`: one row per processed video.

Every NAME_report.json under the folders (FaceMirror's, recursively) with the NAME_measures.json
beside it becomes one row, ready for R (`read.csv`) or pandas (`read_csv`). Videos rated "not
usable" keep their row, marked `usable=false`; a video without measures keeps its row with the
measure cells empty. Inputs that failed have no report (nothing is published for them) and so no
row. Empty cell = no value. The table is written under a temporary name and renamed into place;
an existing table is never replaced without --overwrite.

COLUMNS is a contract shared with `agreement --study` and `compare`: names and order change only
together with them (README "Study table"). The region cells come from measures.json "headlines",
one object per region: {"region", "measure", "label", "segment", "peak_s", "unit",
"right": {"value", "ci95": [lo, hi]}, "left": {...}, "symmetry_pct", "symmetry_ci95", "weaker"};
anything missing or malformed gives empty cells, never an error.
"""
from __future__ import annotations

import csv
import io
import math
import os
import sys
from pathlib import Path

from app import APP_NAME
from app.outputs import read_json_object, SUFFIX, temp_name
from app.verdict import NOT_USABLE

REGIONS = ("brow", "eyes", "mouth")
REGION_FIELDS = ("measure", "unit", "right", "right_ci_low", "right_ci_high", "left", "left_ci_low",
                 "left_ci_high", "symmetry_pct", "symmetry_ci_low", "symmetry_ci_high", "weaker")
COLUMNS = (["file", "input_sha256", "recorded_at", "patient", "visit", "verdict", "verdict_reasons", "usable",
            "mode", "app_version", "landmark_model_sha256", "detector_model_sha256"]
           + [f"{region}_{f}" for region in REGIONS for f in REGION_FIELDS]
           + ["report_json"])
REASON_SEPARATOR = " | "
REPORT_SUFFIX = SUFFIX["report"]
MEASURES_SUFFIX = SUFFIX["measures_json"]


class StudyError(RuntimeError):
    """The table cannot be made; the message is one sentence for the user."""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _number(value) -> str:
    """A finite number as Python writes it back exactly (R and pandas read it); anything else empty."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _pair(value) -> tuple[str, str]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _number(value[0]), _number(value[1])
    return "", ""


def region_cells(measures: dict) -> dict[str, str]:
    """The {region}_* cells from measures.json "headlines" (the first headline of each region)."""
    cells = {f"{region}_{f}": "" for region in REGIONS for f in REGION_FIELDS}
    headlines = measures.get("headlines")
    if not isinstance(headlines, list):
        return cells
    seen: set[str] = set()
    for h in headlines:
        region = _dict(h).get("region")
        if region not in REGIONS or region in seen:
            continue
        seen.add(region)
        right, left = _dict(h.get("right")), _dict(h.get("left"))
        values = {"measure": _text(h.get("measure")), "unit": _text(h.get("unit")),
                  "right": _number(right.get("value")), "left": _number(left.get("value")),
                  "symmetry_pct": _number(h.get("symmetry_pct")),
                  "weaker": h.get("weaker") if h.get("weaker") in ("right", "left") else ""}
        values["right_ci_low"], values["right_ci_high"] = _pair(right.get("ci95"))
        values["left_ci_low"], values["left_ci_high"] = _pair(left.get("ci95"))
        values["symmetry_ci_low"], values["symmetry_ci_high"] = _pair(h.get("symmetry_ci95"))
        cells.update({f"{region}_{k}": v for k, v in values.items()})
    return cells


def row_for(report: dict, measures: dict | None, report_rel: str) -> dict[str, str]:
    """One row from a report (and its measures, None when there are none)."""
    inp, subject = _dict(report.get("input")), _dict(report.get("subject"))
    verdict, models = _dict(report.get("verdict")), _dict(report.get("models"))
    level = _text(verdict.get("level"))
    reasons = verdict.get("reasons")
    reasons = reasons if isinstance(reasons, list) else []
    file_name = _text(inp.get("file")).replace("\\", "/").rsplit("/", 1)[-1]
    row = {"file": file_name, "input_sha256": _text(inp.get("sha256")),
           "recorded_at": _text(inp.get("recorded_at")),
           "patient": _text(subject.get("patient")), "visit": _text(subject.get("visit")),
           "verdict": level, "verdict_reasons": REASON_SEPARATOR.join(str(r) for r in reasons),
           # unknown when the report has no verdict level, not "usable"
           "usable": ("false" if level == NOT_USABLE else "true") if level else "",
           "mode": _text(_dict(measures).get("mode")), "app_version": _text(_dict(report.get("app")).get("version")),
           "landmark_model_sha256": _text(_dict(models.get("star")).get("sha256")),
           "detector_model_sha256": _text(_dict(models.get("retinaface")).get("sha256")),
           "report_json": report_rel}
    row.update(region_cells(_dict(measures)))
    return row


def find_reports(folder: Path) -> list[Path]:
    """NAME_report.json files under `folder`, sorted; temporary (hidden) files left out."""
    return sorted(p for p in folder.rglob(f"*{REPORT_SUFFIX}")
                  if p.is_file() and not p.name.startswith(".") and len(p.name) > len(REPORT_SUFFIX))


def collect(folders: list[Path]) -> tuple[list[dict[str, str]], list[str], int]:
    """(rows, problems: reports that could not be read, how many JSON files were not FaceMirror's).
    A report found through two of the given folders is listed once (under the first)."""
    rows, problems, foreign = [], [], 0
    seen: set[Path] = set()
    for folder in folders:
        for path in find_reports(folder):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            report = read_json_object(path)
            if report is None:
                problems.append(f"{path}: not readable as JSON")
                continue
            if _dict(report.get("app")).get("name") != APP_NAME:
                foreign += 1
                continue
            measures_path = path.with_name(path.name[: -len(REPORT_SUFFIX)] + MEASURES_SUFFIX)
            measures = read_json_object(measures_path) if measures_path.exists() else None
            if measures_path.exists() and measures is None:
                problems.append(f"{measures_path}: not readable as JSON (its row has no measures)")
            rows.append(row_for(report, measures, path.relative_to(folder).as_posix()))
    return rows, problems, foreign


def table_text(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_table(path: Path, text: str, overwrite: bool) -> None:
    """Write under a temporary name in the same folder, then rename into place: readers see the
    complete table or the earlier one. Without `overwrite` an existing file is never replaced, even
    one that appears meanwhile."""
    path = Path(path)
    tmp = path.with_name(temp_name("partial", ".csv"))
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)          # fails if the name exists
        except FileExistsError:
            raise StudyError(f"{path} appeared while the table was made; nothing was changed") from None
        except OSError:                 # file systems without hard links
            if os.path.lexists(path):
                raise StudyError(f"{path} appeared while the table was made; nothing was changed") from None
            os.rename(tmp, path)
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass


def study_command(args, out=sys.stdout, err=sys.stderr) -> int:
    folders = [Path(f) for f in args.folders]
    target = Path(args.out)
    missing = [f for f in folders if not f.is_dir()]
    if missing:
        print(f"error: {missing[0]} is not a folder", file=err)
        return 2
    if target.is_dir():
        print(f"error: --out {target} is a folder; give the table's file name, e.g. {target / 'study.csv'}", file=err)
        return 2
    if os.path.lexists(target) and not args.overwrite:
        print(f"error: {target} already exists; nothing was changed (use --overwrite to replace it)", file=err)
        return 2
    if not target.parent.is_dir():
        print(f"error: the folder {target.parent} does not exist", file=err)
        return 2
    rows, problems, foreign = collect(folders)
    for problem in problems:
        print(f"warning: {problem}", file=err)
    if foreign:
        print(f"ignored {foreign} *{REPORT_SUFFIX} file{'s' if foreign != 1 else ''} not written by {APP_NAME}", file=out)
    if not rows:
        print(f"error: no {APP_NAME} reports (NAME{REPORT_SUFFIX}) under {', '.join(map(str, folders))}; "
              "nothing was written", file=err)
        return 1
    try:
        write_table(target, table_text(rows), args.overwrite)
    except StudyError as exc:
        print(f"error: {exc}", file=err)
        return 2
    except OSError as exc:
        print(f"error: cannot write {target}: {exc.strerror or exc}", file=err)
        return 1
    unusable = sum(1 for r in rows if r["usable"] == "false")
    print(f"wrote {target}: {len(rows)} video{'s' if len(rows) != 1 else ''}"
          + (f", {unusable} marked not usable" if unusable else ""), file=out)
    return 1 if problems else 0
