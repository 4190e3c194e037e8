"""`main.py agreement RATINGS.csv [--study STUDY.csv] [--map ITEM=COLUMN] --out DIR [--overwrite]` and
`main.py compare OUTPUTS... --out DIR [--order V1,V2,...] [--overwrite]`.

Exit codes as the rest of the CLI: 0 done, 1 done but nothing could be computed (the files say
why), 2 usage error or bad input (one sentence; nothing written), 130/143/129 on Ctrl-C/SIGTERM/SIGHUP.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from app import APP_NAME, __version__
from app.base.outputs import OutputError

AGREEMENT_FILES = ("agreement.html", "agreement.json")


def add_parser(sub) -> None:
    """The two subcommands' options (app/cli/main.py adds each command's sub-parser)."""
    agr = sub.add_parser("agreement", help="agreement between raters' grades (ICC, correlations, Bland-Altman); "
                                           "needs the stats extra")
    agr.add_argument("ratings", type=Path, help="RATINGS.csv in long format: target, rater, score (and item)")
    agr.add_argument("--study", type=Path, default=None,
                     help="study.csv of FaceMirror's measures: FaceMirror joins as one more rater")
    agr.add_argument("--map", action="append", default=None, metavar="ITEM=COLUMN",
                     help="the study.csv column that grades ITEM (repeatable; default: the column named like the item)")
    agr.add_argument("--out", type=Path, required=True, help="output folder for agreement.html and agreement.json")
    agr.add_argument("--overwrite", action="store_true", help="replace an earlier agreement.html/json")
    cmp_ = sub.add_parser("compare", help="one follow-up page per patient over their visits")
    cmp_.add_argument("outputs", nargs="+", type=Path,
                      help="FaceMirror output folders (searched for NAME_report.json) or a study.csv")
    cmp_.add_argument("--out", type=Path, required=True, help="output folder for compare_PATIENT.html and compare.json")
    cmp_.add_argument("--overwrite", action="store_true", help="replace earlier pages")
    cmp_.add_argument("--no-frames", action="store_true", help="leave out the rest and peak pictures (faster)")
    cmp_.add_argument("--order", default=None, metavar="V1,V2,...",
                      help="the visits' order, by label, for recordings without a date of their own (checked "
                           "against the dates they have)")
    agr.set_defaults(run=agreement_command)
    cmp_.set_defaults(run=compare_command)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# How a command speaks: say(line) for results, say(line, error=True) for warnings and errors. The
# CLI prints (_print); the window collects the lines (compare_messages) and never touches
# sys.stdout, which a redirect would swap for every thread of the process while a compare runs.
Say = Callable[..., None]


def _print(line: str, error: bool = False) -> None:
    print(line, file=sys.stderr if error else sys.stdout)


def _run_guarded(work, say: Say = _print) -> int:
    from app.base import cancel

    previous = cancel.raise_on_signals()     # a signal ends the command; publish's finally removes temp files
    try:
        return work()
    except cancel.Interrupted as exc:
        say("cancelled: nothing was written", error=True)
        return exc.exit_code
    finally:
        cancel.restore(previous)


def agreement_command(args) -> int:
    return _run_guarded(lambda: _agreement(args))


def _agreement(args) -> int:
    from app.followup.agreement import StatsMissing, agreement, require_stats
    from app.followup.publish import write_all
    from app.followup.ratings import RatingsError
    from app.followup.tables import TableError

    finals = [Path(args.out) / name for name in AGREEMENT_FILES]
    try:    # the statistics packages, the inputs (all read before any statistics), then the outputs
        require_stats()
        ratings, maps = _read_grades(args, finals)
        items = agreement(ratings.ratings)
        write_all(_agreement_files(args, maps, ratings, items, finals), args.overwrite)
    except (StatsMissing, RatingsError, OutputError, TableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _say_agreement(ratings, items, finals)


def _read_grades(args, finals: list[Path]) -> tuple:
    """(the raters' grades, with FaceMirror's when --study is given; the --map items). Every input
    problem is found here, before any statistics and before anything is written: RatingsError,
    OutputError (earlier results in the way) or TableError."""
    from app.base import logs
    from app.followup.publish import refuse_existing
    from app.followup.ratings import RatingsError, join_study, parse_maps, read_ratings

    for p in [args.ratings] + ([args.study] if args.study else []):
        logs.note_private(p)
    refuse_existing(finals, args.overwrite)
    maps = parse_maps(args.map)
    if maps and not args.study:
        raise RatingsError("--map needs --study (it names study.csv columns)")
    ratings = read_ratings(Path(args.ratings))
    if args.study:
        ratings = join_study(ratings, Path(args.study), maps)
    return ratings, maps


def _agreement_files(args, maps: dict[str, str], ratings, items: list[dict], finals: list[Path]) -> dict[Path, str]:
    """agreement.html and agreement.json, by their final paths."""
    from app.followup.agreement_page import render

    created = _now()
    sources = {"ratings": Path(args.ratings).name, "study": Path(args.study).name if args.study else None,
               "mapping": maps}
    data = {"app": {"name": APP_NAME, "version": __version__}, "created_utc": created, "sources": sources,
            "method": {"icc": "pingouin intraclass_corr: icc1_1 = ICC(1,1), icc2_1 = ICC(A,1), icc3_1 = ICC(C,1); "
                              "targets not graded by every rater left out", "correlation": "scipy pearsonr, spearmanr",
                       "bland_altman": "difference = first - second rater; limits = bias -/+ 1.96 SD (n - 1)"},
            "notes": ratings.notes, "items": items}
    html = render(items, ratings.ratings, sources=sources, notes=ratings.notes, created=created)
    return {finals[0]: html, finals[1]: _json(data)}


def _agreement_messages(ratings, items: list[dict]) -> list[str]:
    """What the terminal is told about the grades and each item (the page shows the public part)."""
    item_lines = [f"item '{it['item']}': {n}" for it in items for n in it.get("notes", [])]
    return ratings.notes + ratings.private_notes + [it["message"] for it in items if it.get("message")] + item_lines


def _say_agreement(ratings, items: list[dict], finals: list[Path]) -> int:
    """The messages and files on the terminal; the exit code: 1 when no item had enough grades for
    any statistic (the files say why), else 0."""
    for line in _agreement_messages(ratings, items):
        print(line, file=sys.stderr)
    for p in finals:
        print(f"wrote {p}")
    computed = any(it.get("icc2_1") or any("bland_altman" in p for p in it["pairs"]) for it in items)
    if not computed:
        print("error: no item had enough grades for any agreement statistic (see the messages above)", file=sys.stderr)
        return 1
    return 0


def patient_tokens(patients: list[str]) -> dict[str, str]:
    """A file-name-safe token per patient ID (as given, other characters replaced), unique."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for p in patients:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", p).strip("._") or "patient"
        token, n = base, 2
        while token.casefold() in used:
            token, n = f"{base}-{n}", n + 1
        used.add(token.casefold())
        out[p] = token
    return out


def compare_command(args) -> int:
    return _run_guarded(lambda: _compare(args, _print))


def compare_messages(args) -> tuple[int, list[str]]:
    """`compare` for a caller without a console (the window's background thread): the exit code and
    the lines the command would have printed, in order."""
    said: list[str] = []

    def say(line: str, error: bool = False) -> None:
        said.append(line)

    return _run_guarded(lambda: _compare(args, say), say), said


def parse_order(text: str | None) -> list[str] | None:
    """--order "V1,V2,V3" -> ["V1", "V2", "V3"]; raises ValueError (one sentence) when it cannot be one."""
    if text is None:
        return None
    labels = [t.strip() for t in text.split(",")]
    if not all(labels):
        raise ValueError(f"--order {text!r} has an empty label; give the visit labels separated by commas "
                         "(--order V1,V2,V3)")
    twice = sorted({lb for lb in labels if labels.count(lb) > 1})
    if twice:
        raise ValueError(f"--order names {', '.join(twice)} more than once")
    return labels


def _cross_patient_warnings(recordings: list) -> list[tuple[set[str], str]]:
    """([the patients it concerns], warning): the same recording read more than once, and patient IDs
    that differ only in case or punctuation."""
    from app.followup.visits import near_duplicate_ids, same_recordings

    out = []
    for ids in near_duplicate_ids(sorted({str(r.patient) for r in recordings})):
        out.append((set(ids), f"patient IDs {' and '.join(ids)} differ only in case, punctuation or leading zeros: "
                              "the same patient? They are compared as different patients; correct the ID at "
                              "processing if they are one"))
    for group in same_recordings(recordings):
        where = sorted({f"patient {r.patient} visit {r.visit or '(no label)'}" for r in group})
        named = f"the same recording ({group[0].file}, sha256 {(group[0].sha256 or '')[:12]}...)"
        who = {str(r.patient) for r in group}
        if len(where) > 1:
            out.append((who, f"{named} is under {' and under '.join(where)}: one of them is mislabelled; a recording "
                             "compared with itself shows no change"))
        else:
            out.append((who, f"{named} was found {len(group)} times for {where[0]} (processed or copied twice); its "
                             "values are the same each time"))
    return out


class _Refused(Exception):
    """A usage error or bad input of `compare`: said as one `error:` line, exit code 2, nothing written."""


def _compare(args, say: Say) -> int:
    from app.followup.visit_order import OrderError

    try:
        return _compare_or_refuse(args, say)
    except (_Refused, OrderError, OutputError) as exc:     # the visits' order cannot be told; outputs in the way
        say(f"error: {exc}", error=True)
        return 2


def _compare_or_refuse(args, say: Say) -> int:
    from app.base import logs
    from app.followup.publish import refuse_existing, write_all
    from app.followup.visit_order import natural_key

    for p in args.outputs:
        logs.note_private(p)
    try:
        given = parse_order(getattr(args, "order", None))
    except ValueError as exc:
        raise _Refused(exc) from None
    recordings, without = _recordings_with_patient(args, say)
    by_patient: dict[str, list] = {}
    for r in recordings:
        by_patient.setdefault(str(r.patient), []).append(r)
    tokens = patient_tokens(sorted(by_patient, key=natural_key))
    shared = _cross_patient_warnings(recordings)
    ordered = _ordered_visits(tokens, by_patient, given, shared)
    out = Path(args.out)
    pages = {p: out / f"compare_{tokens[p]}.html" for p in tokens}
    refuse_existing(list(pages.values()) + [out / "compare.json"], args.overwrite)
    created = _now()
    files: dict[Path, str] = {}
    patients = []
    for patient in tokens:
        html, data = _patient_page(patient, *ordered[patient], frames=not args.no_frames, created=created)
        files[pages[patient]] = html
        data["page"] = pages[patient].name
        patients.append(data)
    files[out / "compare.json"] = _json(_compare_summary(created, shared, len(without), patients))
    write_all(files, args.overwrite)
    _say_compared(say, shared, patients, files)
    return 0


def _recordings_with_patient(args, say: Say) -> tuple[list, list]:
    """(the recordings found that have a patient ID, those without one); problems said as warnings."""
    from app.followup.visits import collect

    recordings, problems = collect(list(args.outputs))
    for line in problems:
        say(f"warning: {line}", error=True)
    without = [r for r in recordings if not r.patient]
    recordings = [r for r in recordings if r.patient]
    if without:
        say(f"warning: {len(without)} recording(s) have no patient ID and are left out (process them with "
            "--patient ID)", error=True)
    if not recordings:
        raise _Refused("no processed recording with a patient ID was found in the given outputs")
    return recordings, without


def _ordered_visits(tokens: dict, by_patient: dict[str, list], given, shared: list) -> dict[str, tuple]:
    """Each patient's (visits, order, order note, warnings)."""
    from app.followup.visit_order import group_visits, order_visits

    ordered: dict[str, tuple] = {}
    for patient in tokens:
        visits, group_warnings = group_visits(patient, by_patient[patient])
        visits, order, note, order_warnings = order_visits(patient, visits, given)
        mine = [w for who, w in shared if patient in who]
        ordered[patient] = (visits, order, note, group_warnings + order_warnings + mine)
    return ordered


def _compare_summary(created: str, shared: list, without: int, patients: list) -> dict:
    from app.followup.visit_order import RULE

    return {"app": {"name": APP_NAME, "version": __version__}, "created_utc": created,
            "method": {"order": RULE,
                       "change": "real only beyond the measurement's own error: |difference| > MDC95 = 1.96 x "
                                 "sqrt(SE1^2 + SE2^2), SE = (high - low) / (2 x 1.96) of each visit's 95 % interval; "
                                 "a change of the weaker side (both named) is a change",
                       "rest": "resting asymmetry has no interval in the measures: shown, never called a change",
                       "not_usable": "shown, never in a trend"},
            "warnings": [w for _, w in shared], "left_out_without_patient": without, "patients": patients}


def _say_compared(say: Say, shared: list, patients: list, files: dict) -> None:
    said = [line for _, line in shared]
    for line in said:
        say(f"warning: {line}", error=True)
    for data in patients:
        for line in data["warnings"]:
            if line not in said:            # a warning about several patients is said once, above
                say(f"warning: {line}", error=True)
        say(f"patient {data['patient']}: {len(data['visits'])} visit(s); {data['order_note']}")
        for t in data["regions"]:
            say(f"  {t['sentence']}")
    for p in files:
        say(f"wrote {p}")


def _visit_pictures(visit) -> tuple[list[tuple[str, str]], str | None]:
    """The rest and peak frames of the visit's first recording (usable ones first) whose video can
    be read, and that video's name; ([], None) when none can."""
    from app.followup.compare_page import recording_pictures

    for r in sorted(visit.recordings, key=lambda r: not r.usable):
        pics, source = recording_pictures(r)
        if pics:
            return pics, source
    return [], None


def _patient_page(patient: str, visits: list, order: str, order_note: str, warnings: list[str], *, frames: bool,
                  created: str) -> tuple[str, dict]:
    from app.followup.compare_page import render, rest_rows
    from app.followup.trend import REST_NOT_JUDGED, trends

    region_trends = trends(visits)
    pictures: dict[str, tuple[list[tuple[str, str]], str | None]] | None = None
    reason = "--no-frames was given"
    if frames:
        pictures = {v.label: _visit_pictures(v) for v in visits}
        reason = "neither the recordings nor their annotated videos were found where the reports say"
    html = render(patient, visits, order_note, region_trends, pictures, reason, created, warnings=warnings)
    rest = rest_rows(visits)
    data = {"patient": patient, "order": order, "order_note": order_note, "warnings": warnings,
            "visits": [{**v.as_dict(), "recorded_at": v.date,
                        "recordings": [{"file": r.file, "sha256": r.sha256, "recorded_at": r.recorded_at,
                                        "recorded_at_source": r.recorded_at_source, "visit_date": r.visit_date,
                                        "verdict": r.level, "reasons": r.reasons, "usable": r.usable,
                                        "conditions": r.conditions, "source": r.source}
                                       for r in v.recordings],
                        "rest_asymmetry": {name: vals[i] for name, vals in rest.items()}}
                       for i, v in enumerate(visits)],
            "rest_change": {"judged": False, "reason": REST_NOT_JUDGED},
            "regions": [t.as_dict() for t in region_trends],
            "frames": bool(pictures and any(p for p, _ in pictures.values()))}
    return html, data
