"""Clinicians' grades in long format, and FaceMirror's measures joined as one more rater.

RATINGS.csv: one row per grade, columns ``target`` (what was graded: a recording or a patient at
a visit), ``rater``, ``score`` (any numeric scale: eFACE items 0-100, Sunnybrook 0-100,
House-Brackmann written as 1-6) and optionally ``item`` (e.g. ``smile``, ``brow``; without it
every row belongs to the item ``score``). Instead of ``target`` a file may have ``patient`` and
``visit``; the target is then ``PATIENT/VISIT``. Empty cells and NA / N/A / NaN / . are missing
grades (that rater did not grade that target). Column names are case-insensitive; other columns
are ignored.

FaceMirror as a rater (``--study study.csv``): for each item, the study.csv column named by
``--map ITEM=COLUMN``, or else the column whose name is the item's (an item called
``mouth_symmetry_pct``). A target is matched to a study.csv row by its ``file`` (exact, or
without the extension) or by ``PATIENT/VISIT`` from its ``patient`` and ``visit`` cells. Rows
marked ``usable=false`` (the verdict "not usable") give no FaceMirror grade; nor do empty cells.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from app.base.wording import first_few
from app.followup.tables import Table, TableError, number, read_table, scan_table

FACEMIRROR = "FaceMirror"
DEFAULT_ITEM = "score"
MISSING = frozenset({"", "na", "n/a", "nan", ".", "-"})
# Larger magnitudes are typing or export errors on every clinical scale (and FaceMirror's measures are
# millimetres, degrees and percentages); refusing them also keeps squares and sums of differences
# finite, so no statistic overflows to infinity.
MAX_ABS_SCORE = 1_000_000.0


class RatingsError(ValueError):
    """The grades cannot be used; the message is one sentence for the user."""


class Rating(NamedTuple):
    """One grade (a named tuple: a study has hundreds of thousands, made 3x faster than a dataclass)."""
    target: str
    rater: str
    item: str
    score: float


@dataclass
class Ratings:
    ratings: list[Rating]
    notes: list[str]                  # facts for the page and the terminal (never a target's name)
    private_notes: list[str]          # facts that name targets: the terminal only

    @property
    def items(self) -> list[str]:
        return list(dict.fromkeys(r.item for r in self.ratings))

    def targets(self, item: str | None = None) -> list[str]:
        return list(dict.fromkeys(r.target for r in self.ratings if item is None or r.item == item))


def _target_of(row: dict[str, str], has_target: bool) -> str:
    if has_target:
        return row["target"]
    patient, visit = row.get("patient", ""), row.get("visit", "")
    return f"{patient}/{visit}" if patient and visit else ""


def check_score(score: float | None, text: str, where: str) -> float:
    """A grade as a usable number, or RatingsError naming `where` (e.g. "row 6 of r.csv")."""
    if score is None or not math.isfinite(score):
        raise RatingsError(f"{where}: the score '{text}' is not a number (write grades as "
                           "numbers, e.g. House-Brackmann II as 2)")
    if abs(score) > MAX_ABS_SCORE:
        raise RatingsError(f"{where}: the score '{text}' is beyond +/-{MAX_ABS_SCORE:,.0f}, which no grading scale "
                           "or measure reaches; correct it or leave the cell empty")
    return score


def read_ratings(path: Path) -> Ratings:
    try:
        table, cells_of_rows = scan_table(path)
        return _read_ratings(table, cells_of_rows)
    except TableError as exc:
        raise RatingsError(str(exc)) from None


def _has_target_column(table: Table) -> bool:
    """Whether the table names its targets in one column (else in patient and visit); RatingsError
    naming the columns there are when a needed one is missing."""
    name = table.path.name
    has_target = table.has("target")
    if not has_target and not (table.has("patient") and table.has("visit")):
        raise RatingsError(f"{name} has no 'target' column (nor 'patient' and 'visit'); its columns are: "
                           f"{', '.join(table.columns)}")
    for needed in ("rater", "score"):
        if not table.has(needed):
            raise RatingsError(f"{name} has no '{needed}' column; its columns are: {', '.join(table.columns)}")
    return has_target


def _check_names(target: str, rater: str, line: int, name: str) -> None:
    """A row names its target and a rater, and the rater is not FaceMirror (that name is the
    study's measures, --study)."""
    if not target or not rater:
        raise RatingsError(f"row {line} of {name} has no {'target' if not target else 'rater'}")
    if rater.casefold() == FACEMIRROR.casefold():
        raise RatingsError(f"row {line} of {name} names the rater '{rater}', which is reserved for "
                           "FaceMirror's own measures (--study); rename that rater")


def _ratings_of_rows(table: Table, cells_of_rows, has_target: bool) -> tuple[list[Rating], int]:
    """(the grades, how many score cells were empty or NA). This loop runs once per grade (hundreds
    of thousands in a study), so it stays flat: one dict per row, checks in two calls."""
    name = table.path.name
    wanted = {k: i for i, k in enumerate(table.keys) if k in ("target", "patient", "visit", "rater", "score", "item")}
    seen: dict[tuple[str, str, str], int] = {}
    out: list[Rating] = []
    missing = 0
    same: dict[str, str] = {}       # one string object per distinct name: 10 raters x 10,000 targets share them
    for line, cells in cells_of_rows:
        row = {k: cells[i] for k, i in wanted.items()}
        target, rater = _target_of(row, has_target), row["rater"]
        target, rater = same.setdefault(target, target), same.setdefault(rater, rater)
        item = row.get("item") or DEFAULT_ITEM      # no "item" in a table without the column
        item = same.setdefault(item, item)
        _check_names(target, rater, line, name)
        text = row["score"]
        if text.strip().lower() in MISSING:
            missing += 1
            continue
        score = check_score(number(text, table.separator), text, f"row {line} of {name}")
        key = (target, rater, item)
        if key in seen:
            raise RatingsError(f"rows {seen[key]} and {line} of {name} both give rater {rater}'s score for the "
                               f"same target and item '{item}'; keep one")
        seen[key] = line
        out.append(Rating(target, rater, item, score))
    return out, missing


def _read_ratings(table: Table, cells_of_rows) -> Ratings:
    out, missing = _ratings_of_rows(table, cells_of_rows, _has_target_column(table))
    if not out:
        raise RatingsError(f"{table.path.name} has no scores")
    notes = list(table.notes)
    if missing:
        notes.append(f"{missing} empty (or NA) score cell{'s were' if missing != 1 else ' was'} read as a missing grade")
    return Ratings(out, notes, [])


def parse_maps(texts: Sequence[str] | None) -> dict[str, str]:
    """--map ITEM=COLUMN options -> {item: column}."""
    out: dict[str, str] = {}
    for text in texts or ():
        item, sep, column = text.partition("=")
        if not sep or not item.strip() or not column.strip():
            raise RatingsError(f"--map {text!r} is not ITEM=COLUMN (e.g. --map smile=mouth_symmetry_pct)")
        out[item.strip()] = column.strip()
    return out


def _study_index(table: Table) -> dict[str, list[int]]:
    """Row numbers by file name, file stem and PATIENT/VISIT. Rows marked duplicate_of (the same
    recording as an earlier row, found in a second output folder) are left out: one recording is
    one grade."""
    index: dict[str, list[int]] = {}
    for i, row in enumerate(table.rows):
        if row.get("duplicate_of"):
            continue
        keys = set()
        file_name = row.get("file", "")
        if file_name:
            keys.update({file_name, Path(file_name).stem})
        if row.get("patient") and row.get("visit"):
            keys.add(f"{row['patient']}/{row['visit']}")
        for k in keys:
            index.setdefault(k, []).append(i)
    return index


def _read_study(study_path: Path) -> Table:
    """study.csv as a table, RatingsError when it cannot be read or is not FaceMirror's."""
    try:
        table = read_table(study_path)
    except TableError as exc:
        raise RatingsError(str(exc)) from None
    if not table.has("file"):
        raise RatingsError(f"{table.path.name} is not a FaceMirror study table (it has no 'file' column)")
    return table


def _check_maps(maps: dict[str, str], items: list[str], table: Table) -> None:
    """Every --map names an item of the ratings and a column of the study table."""
    for item, column in maps.items():
        if item not in items:
            raise RatingsError(f"--map names the item '{item}', which is not in the ratings (items: {', '.join(items)})")
        if not table.has(column):
            numeric = [c for c in table.columns if c.endswith(("_pct", "_right", "_left"))]
            raise RatingsError(f"--map {item}={column}: {table.path.name} has no column '{column}' "
                               f"(e.g. {', '.join(numeric[:6])})")


@dataclass
class _Joined:
    """FaceMirror's grades for one item, and the targets that got none (and why)."""
    ratings: list[Rating] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)      # no study.csv row
    unusable: int = 0                                       # the recording is "not usable"
    empty: int = 0                                          # no number in the column

    def notes(self, item: str, column: str) -> tuple[str, list[str]]:
        """(the note for the page and terminal, notes naming targets: terminal only)."""
        parts = [f"item '{item}': FaceMirror's grade is study.csv column '{column}'"]
        private = []
        if self.unmatched:
            parts.append(f"{len(self.unmatched)} target(s) have no study.csv row")
            private.append(f"item '{item}': no study.csv row for " + first_few(self.unmatched, 20))
        if self.unusable:
            parts.append(f"{self.unusable} target(s) left out because their recording is not usable")
        if self.empty:
            parts.append(f"{self.empty} target(s) have no value in that column")
        return "; ".join(parts), private


def _facemirror_grades(targets: list[str], item: str, column: str, table: Table,
                       index: dict[str, list[int]]) -> _Joined:
    """FaceMirror's grade of each target from its one study.csv row; RatingsError when a target
    matches several rows (which recording was graded cannot be told)."""
    name = table.path.name
    joined = _Joined()
    for target in targets:
        rows = index.get(target, [])
        if len(rows) > 1:
            files = ", ".join(table.rows[i].get("file", "?") for i in rows[:3])
            raise RatingsError(f"the target '{target}' matches {len(rows)} rows of {name} ({files}); "
                               "name the recording's file as the target")
        if not rows:
            joined.unmatched.append(target)
            continue
        row = table.rows[rows[0]]
        if row.get("usable", "").lower() == "false":
            joined.unusable += 1
            continue
        text = row.get(column, "")
        value = number(text, table.separator)
        if value is None or not math.isfinite(value):
            joined.empty += 1
            continue
        value = check_score(value, text, f"row {table.row_numbers[rows[0]]} of {name}, column '{column}'")
        joined.ratings.append(Rating(target, FACEMIRROR, item, value))
    return joined


def join_study(ratings: Ratings, study_path: Path, maps: dict[str, str]) -> Ratings:
    """``ratings`` plus FaceMirror's grades from study.csv for every item with a mapped column."""
    table = _read_study(study_path)
    items = ratings.items
    _check_maps(maps, items, table)
    index = _study_index(table)
    out = list(ratings.ratings)
    notes, private = list(ratings.notes) + table.notes, list(ratings.private_notes)
    for item in items:
        mapped = maps.get(item) or (item if table.has(item) else None)
        if mapped is None:
            notes.append(f"item '{item}': no study.csv column of that name and no --map; FaceMirror is not a rater here")
            continue
        column = mapped.lower()
        joined = _facemirror_grades(ratings.targets(item), item, column, table, index)
        out += joined.ratings
        note, named = joined.notes(item, column)
        notes.append(note)
        private += named
    return Ratings(out, notes, private)
