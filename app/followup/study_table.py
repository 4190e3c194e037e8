"""`python main.py study OUT_DIR... --out study.csv [--overwrite]`: one row per processed video.

Every NAME_report.json under the folders (FaceMirror's, recursively) with the NAME_measures.json
beside it becomes one row, ready for R (`read.csv`) or pandas (`read_csv`). Videos rated "not
usable" keep their row, marked `usable=false`; a video without measures keeps its row with the
measure cells empty. Inputs that failed have no report (nothing is published for them) and so no
row. Empty cell = no value. The table is written under a temporary name and renamed into place;
an existing table is never replaced without --overwrite.

Nothing found is dropped silently: every set of outputs found (files NAME_<kind> of one NAME in
one folder) is a row or a named problem, counted at the end (exit 1): outputs without their
report, a report that is not readable JSON, a measures file the report lists but that is missing
or unreadable (the row is kept, its measure cells empty). The same video (input sha256) found in
two places gives a row each, the later ones marked `duplicate_of` = the first one's report_json,
and a warning (not a problem: every row is there). Paths in the table (`report_json`, `duplicate_of`) are relative to the table's own
folder, so every row resolves from there whatever folder it was found through.

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
from app.base.wording import first_few, plural
from app.base.outputs import read_json_object, SUFFIX, temp_name
from app.results.verdict import NOT_USABLE
from app.followup.visits import REGIONS, first_headlines, weaker_side

REGION_FIELDS = ("measure", "unit", "right", "right_ci_low", "right_ci_high", "left", "left_ci_low",
                 "left_ci_high", "symmetry_pct", "symmetry_ci_low", "symmetry_ci_high", "weaker")
COLUMNS = (["file", "input_sha256", "recorded_at", "patient", "visit", "verdict", "verdict_reasons", "usable",
            "mode", "app_version", "landmark_model_sha256", "detector_model_sha256"]
           + [f"{region}_{f}" for region in REGIONS for f in REGION_FIELDS]
           + ["report_json", "duplicate_of"])
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
    for region, h in first_headlines(measures).items():
        right, left = _dict(h.get("right")), _dict(h.get("left"))
        values = {"measure": _text(h.get("measure")), "unit": _text(h.get("unit")),
                  "right": _number(right.get("value")), "left": _number(left.get("value")),
                  "symmetry_pct": _number(h.get("symmetry_pct")), "weaker": weaker_side(h.get("weaker")) or ""}
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
           "report_json": report_rel, "duplicate_of": ""}
    row.update(region_cells(_dict(measures)))
    return row


def find_output_sets(folder: Path) -> dict[tuple[Path, str], list[str]]:
    """Every set of FaceMirror outputs under `folder`: (its folder, NAME) -> the kinds found
    (hidden temporary files left out)."""
    sets: dict[tuple[Path, str], list[str]] = {}
    for path in sorted(folder.rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        for kind, suffix in SUFFIX.items():
            if path.name.endswith(suffix) and len(path.name) > len(suffix):
                sets.setdefault((path.parent, path.name[: -len(suffix)]), []).append(kind)
                break
    return sets


def _where(path: Path, table_dir: Path) -> str:
    """`path` relative to the table's folder ("/" separated), absolute when there is no relative
    path (another drive)."""
    try:
        return Path(os.path.relpath(path.resolve(), table_dir.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def collect(folders: list[Path], table_dir: Path | None = None) -> tuple[list[dict[str, str]], list[str], int]:
    """(rows, problems: output sets that give no row or an incomplete one, how many report files
    were not FaceMirror's). A set found through two of the given folders is listed once (under the
    first). Paths in the rows are relative to `table_dir` (default: the current folder)."""
    table_dir = Path(table_dir) if table_dir is not None else Path.cwd()
    rows, problems, foreign = [], [], 0
    seen: set[Path] = set()
    for folder in folders:
        for (where, stem), kinds in find_output_sets(folder).items():
            report_path = where / f"{stem}{REPORT_SUFFIX}"
            key = report_path.resolve()
            if key in seen:
                continue
            seen.add(key)
            others = first_few([f"{stem}{SUFFIX[k]}" for k in kinds], 3, more=", ...")
            if "report" not in kinds:
                problems.append(f"{where / stem}: outputs ({others}) without their {stem}{REPORT_SUFFIX}; no row "
                                "(a run that failed or was cut short, or a copied folder: process it again)")
                continue
            report = read_json_object(report_path)
            if report is None:
                problems.append(f"{report_path}: not readable as JSON; no row for this video")
                continue
            if _dict(report.get("app")).get("name") != APP_NAME:
                foreign += 1
                continue
            measures = _measures_of(where / f"{stem}{MEASURES_SUFFIX}", "measures_json" in kinds, report, problems)
            rows.append(row_for(report, measures, _where(report_path, table_dir)))
    return rows, problems, foreign


def _measures_of(path: Path, found: bool, report: dict, problems: list[str]) -> dict | None:
    """The set's measures (None without them); a measures file that is unreadable, or missing
    although the report lists it, is a problem (the row is kept, its measure cells empty)."""
    if not found:
        if "measures_json" in _dict(report.get("outputs")):
            problems.append(f"{path}: missing although the report lists it (its row has no measures)")
        return None
    measures = read_json_object(path)
    if measures is None:
        problems.append(f"{path}: not readable as JSON (its row has no measures)")
    return measures


def mark_duplicates(rows: list[dict[str, str]]) -> list[str]:
    """Rows of the same video (input_sha256) after the first get duplicate_of = its report_json;
    returns one warning per duplicated video."""
    first: dict[str, dict[str, str]] = {}
    copies: dict[str, list[str]] = {}
    for row in rows:
        digest = row["input_sha256"]
        if not digest:
            continue
        if digest in first:
            row["duplicate_of"] = first[digest]["report_json"]
            copies.setdefault(digest, []).append(row["report_json"])
        else:
            first[digest] = row
    return [f"the same video (input sha256 {d[:12]}...) has {len(c) + 1} rows: {first[d]['report_json']}, "
            f"{', '.join(c)}; the later rows are marked duplicate_of" for d, c in copies.items()]


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
        tmp.unlink(missing_ok=True)


def _refusal(folders: list[Path], target: Path, overwrite: bool) -> str | None:
    """Why the command cannot start (one sentence, checked before any work), else None."""
    try:
        return _refusal_of_paths(folders, target, overwrite)
    except OSError as exc:      # e.g. a file name longer than the file system allows (ENAMETOOLONG)
        return f"cannot use {exc.filename or target}: {exc.strerror or exc}"


def _refusal_of_paths(folders: list[Path], target: Path, overwrite: bool) -> str | None:
    missing = [f for f in folders if not f.is_dir()]
    if missing:
        return f"{missing[0]} is not a folder"
    if target.is_dir():
        return f"--out {target} is a folder; give the table's file name, e.g. {target / 'study.csv'}"
    if os.path.lexists(target) and not overwrite:
        return f"{target} already exists; nothing was changed (use --overwrite to replace it)"
    if not target.parent.is_dir():
        return f"the folder {target.parent} does not exist"
    return None


def _write_failure(target: Path, rows: list[dict[str, str]], overwrite: bool) -> tuple[int, str] | None:
    """Write the table; (exit code, message) when it could not be, else None. A name taken meanwhile
    is bad input (2); a disk or permission error is a failed run (1)."""
    try:
        write_table(target, table_text(rows), overwrite)
    except StudyError as exc:
        return 2, str(exc)
    except OSError as exc:
        return 1, f"cannot write {target}: {exc.strerror or exc}"
    return None


def _wrote(target: Path, rows: list[dict[str, str]]) -> str:
    unusable = sum(1 for r in rows if r["usable"] == "false")
    duplicates = sum(1 for r in rows if r["duplicate_of"])
    return (f"wrote {target}: {plural(len(rows), 'row')}"
            + (f", {unusable} marked not usable" if unusable else "")
            + (f", {duplicates} marked duplicate_of" if duplicates else ""))


def add_parser(sub) -> None:
    """`study`'s options (app/cli/main.py adds each command's sub-parser)."""
    study = sub.add_parser("study", help="one table (CSV) of every processed video under output folders, for R or pandas")
    study.add_argument("folders", nargs="+", metavar="OUT_DIR", help="folders holding NAME_report.json files (searched recursively)")
    study.add_argument("--out", type=Path, required=True, help="the table to write, e.g. study.csv")
    study.add_argument("--overwrite", action="store_true", help="replace an existing table")
    study.set_defaults(run=study_command)


def study_command(args, out=sys.stdout, err=sys.stderr) -> int:
    folders = [Path(f) for f in args.folders]
    target = Path(args.out)
    refused = _refusal(folders, target, args.overwrite)
    if refused:
        print(f"error: {refused}", file=err)
        return 2
    rows, problems, foreign = collect(folders, target.parent)
    for problem in problems + mark_duplicates(rows):      # marks the rows' duplicate_of: before writing
        print(f"warning: {problem}", file=err)
    if foreign:
        print(f"ignored {plural(foreign, f'*{REPORT_SUFFIX} file')} not written by {APP_NAME}", file=out)
    if not rows:
        print(f"error: no {APP_NAME} reports (NAME{REPORT_SUFFIX}) under {', '.join(map(str, folders))}; "
              "nothing was written", file=err)
        return 1
    failure = _write_failure(target, rows, args.overwrite)
    if failure:
        code, message = failure
        print(f"error: {message}", file=err)
        return code
    print(_wrote(target, rows), file=out)
    if problems:
        print(f"{plural(len(problems), 'problem')} (named above); the table is incomplete where they say", file=err)
    return 1 if problems else 0
